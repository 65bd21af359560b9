// Costs: pure functions from numbers to seconds. The roofline for compute ops; for collectives,
// NCCL's own model (core/nccl_model.hpp) with the transport terms its tables leave out.
#pragma once
#include "core/dtype.hpp"
#include "core/nccl_model.hpp"
#include "core/schedule.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

struct GpuSpec {
  std::string model;
  double mem_bytes = 0;
  double mem_bw = 0;          // B/s, datasheet
  double mem_bw_eff = 1;      // achievable fraction
  double flops_eff = 1;       // achievable fraction of tensor peak
  double kernel_overhead = 0; // s per kernel, GPU side
  std::map<Dtype, double> flops; // FLOP/s per natively supported dtype (bf16 always present)

  // Tensor-core rate for math on `d`: its own rate when supported, else bf16 (the weights are
  // dequantised to bf16 first).
  double peak_flops(Dtype d) const;
};

// Roofline: kernels * overhead + max(flops / (peak * eff), bytes / (bw * eff)).
double roofline_seconds(const GpuSpec& gpu, double flops, double bytes, Dtype dtype, int kernels);
double roofline_seconds(const GpuSpec& gpu, const Op& op);

// ---- collectives: NCCL's model, and what its tables leave out -----------------------------------
// What the simulator knows of one communicator, its members in group order (sim/ builds it from the
// platform's routes).
struct CommShape {
  NcclComm nccl;                                 // what NCCL's tuner sees
  std::vector<std::vector<Transport>> transport; // [i][j]: how member i reaches member j
  std::vector<std::vector<double>> path_gbs;     // [i][j]: NCCL's view of that path's tightest link, GB/s
  std::vector<double> pcie_gbs;                  // per member: its PCIe link, effective GB/s (0: none)
  int rings = 1;                                 // parallel rings (one per rail across nodes)
  std::optional<double> p2p_alpha;               // fixed cost of a send or all-to-all, replacing the model's (s)
  int size() const { return static_cast<int>(transport.size()); }
};

// Terms NCCL's tables leave out, measured on this project's 4x H200 machine (NCCL 2.28.3,
// NCCL_NVLS_ENABLE=0, 2026-11-27; platforms/calibration/nvswitch-4x-h200[-nop2p].yaml at 256 MiB
// and 1 KiB): properties of NCCL's kernels and transports, used on every platform until it has its
// own calibration. docs/collectives.md gives the derivations.
struct TransportTerms {
  // Simple-protocol ring collectives reach this fraction of NCCL's bus bandwidth: all-reduce 341.6
  // of 360 GB/s on 4 GPUs and 302.2 on 2; all-gather and reduce-scatter (308.1 + 300.8) / 2 of 360
  // on 4 and (246.0 + 231.2) / 2 on 2 (a two-rank ring is one GPU pair, both ways).
  double ring_all_reduce = 0.95, ring_all_reduce_pair = 0.84;
  double ring_gather = 0.85, ring_gather_pair = 0.66;
  // Sends and all-to-alls reach this fraction of NCCL's view of the sender's link: all-to-all on
  // 4 GPUs 301.4 of 370.8 GB/s.
  double p2p = 0.81;
  // SHM: the receiving GPU reads the staged bytes from host memory over PCIe, at this fraction of
  // its link (sendrecv on 2 GPUs without P2P, 23.7 of 53 GB/s), shared by everything it receives
  // through host memory. LL's lines are read too, flags and all: half the rate in payload
  // (all-reduce of 128-512 KiB on 4 GPUs without P2P, LL: about 10 GB/s of bus bandwidth).
  double shm_read = 0.45;
  // SHM: each hop through host memory adds a PCIe round trip for the flag to NCCL's per-hop latency
  // (all-reduce of 1 KiB on 4 GPUs without P2P: 19.4 us against NCCL's PCI estimate of 12.6 us
  // over 6 hops).
  double shm_hop_us = 1.2;
};

struct CollChoice {
  CollAlgo algo = CollAlgo::ring;
  Proto proto = Proto::simple;
  double alpha = 0;         // fixed cost, s
  double wire_factor = 1;   // bytes on the wire per payload byte (LL 2, LL128 128/120)
  double rate = 0;          // B/s on the wire: every flow of a ring or tree; a sender's total in an all-to-all or send
  double shm_rate = 0;      // B/s on the wire a member reads through host memory (0: no hop through it)
  int channels = 0;         // channels the call runs on (collectives), or per peer (p2p)
  bool calibrated = false;  // alpha and rate from a measured curve, not NCCL's model
};

// NCCL's pick for the collective (nccl_pick) and its costs on this communicator: alpha = NCCL's
// latency plus, per hop through host memory, terms.shm_hop_us; the flows' rate = NCCL's bus
// bandwidth (Simple: times the measured fraction), no faster than an SHM hop's receiver reads.
// All-to-all, send and recv take NCCL's p2p path: LL or Simple per peer size, alpha = the ring base
// latency plus one hop of the slowest transport (or shape.p2p_alpha), rate per sender = terms.p2p x
// NCCL's view of its link. `only` restricts all-reduce's algorithm like NCCL_ALGO.
CollChoice choose_collective(const CommShape& shape, OpKind kind, double bytes,
                             std::optional<CollAlgo> only = std::nullopt, const TransportTerms& terms = {});

// Per-flow rate caps of a direct all-to-all(v) (B/s, on the wire): member i sends at most
// send_rate[i] in all, shared out in proportion to bytes[i][j]; a flow through host memory
// (shm[i][j]) is also held to its share of the receiver's read rate recv_rate[j], in proportion to
// what j receives through host memory. 0 where no bytes flow.
// The same one flow at a time, without the n x n table (a 1,024-member all-to-all has a million
// flows): DirectShares holds what every sender sends and every receiver takes through host memory.
struct DirectShares {
  std::vector<double> sent, staged_in;
};
// `rows[i]`: member i's row of bytes (rows[i][j] above), not copied.
DirectShares direct_shares(const std::vector<const std::vector<double>*>& rows,
                           const std::vector<std::vector<bool>>& shm);
// The rate of flow i -> j (i != j, (*rows[i])[j] > 0): direct_flow_rates(...)[i][j].
double direct_flow_rate(const DirectShares& d, const std::vector<const std::vector<double>*>& rows, size_t i,
                        size_t j, double send_rate_i, bool shm_ij, double recv_rate_j);
std::vector<std::vector<double>> direct_flow_rates(const std::vector<std::vector<double>>& bytes,
                                                   const std::vector<double>& send_rate,
                                                   const std::vector<std::vector<bool>>& shm,
                                                   const std::vector<double>& recv_rate);

} // namespace moesim
