// Costs: pure functions from numbers to seconds. The roofline for compute ops and NCCL's own
// latency table and protocol choice for collectives (docs/simgrid-and-nccl.md, "NCCL's cost model").
#pragma once
#include "core/dtype.hpp"
#include "core/schedule.hpp"

#include <map>
#include <optional>
#include <string>

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

// ---- NCCL cost model -------------------------------------------------------------------------
enum class LinkClass { nvlink, pci };
enum class Proto { ll, ll128, simple };
const char* to_string(Proto p);

struct CollChoice {
  CollAlgo algo = CollAlgo::ring;
  Proto proto = Proto::simple;
  double alpha = 0;        // fixed latency, s
  double wire_factor = 1;  // bytes on the wire per payload byte (LL: 2, LL128: 128/120)
  bool calibrated = false; // alpha and wire factor from a measured curve, not NCCL's tuning model
};

// NCCL 2.23+ defaults (tuning.cc): base latency [algo][proto] and per-hop latency [link][algo][proto], in us.
struct NcclLatencies {
  double base_ring[3] = {6.6, 14.0, 8.4};
  double base_tree[3] = {6.8, 14.0, 8.4};
  double hw_ring[2][3] = {{0.6, 1.9, 3.4}, {1.0, 2.5, 5.7}};
  double hw_tree[2][3] = {{0.6, 1.25, 4.0}, {1.0, 1.9, 4.0}};
};

// Fixed cost of one collective call, single node: ring all-reduce base + 2(n-1) hops, ring
// all-gather / reduce-scatter base + (n-1) hops, tree all-reduce base + 2(n-1) hops (chain).
double nccl_alpha(const NcclLatencies& t, OpKind kind, CollAlgo algo, Proto proto, int n, LinkClass link);

// Picks algorithm and protocol like NCCL's tuner: minimum of alpha + wire bytes / bandwidth over the
// eligible pairs. `bus_bw` is a rank's bottleneck bandwidth to its peers (B/s). All-to-all and p2p
// use the direct/p2p algorithm with Simple (LL below 16 KiB per peer, as NCCL's p2p path does) and
// `p2p_alpha` as their fixed cost.
// `only` restricts the algorithm as NCCL_ALGO does (nullopt = NCCL's own choice).
CollChoice choose_collective(const NcclLatencies& t, OpKind kind, int n, double bytes, LinkClass link, double bus_bw,
                             double p2p_alpha, std::optional<CollAlgo> only = std::nullopt);

} // namespace moesim
