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
  // Every field equal: two GPUs that time every op alike (the replay shares compute times between them).
  bool operator==(const GpuSpec&) const = default;
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
  std::vector<int> node;                         // per member: its NCCL node (nccl_nodes), 0 first
  // The ring search on what the links carry, where NCCL's view differs (a CPU link seen at NCCL's
  // figure for it, nccl_intel_inter_cpu_gbs): a Simple ring's flows run at its bandwidth times the
  // measured fraction, NCCL's figure being a constant of its table, not the link's. Unset: NCCL's graph.
  std::optional<NcclGraph> link_graph;
  int size() const { return static_cast<int>(transport.size()); }
};

// NCCL's nodes among a communicator's members: members that reach each other by any path but the
// network share a node. That is a host, or a whole NVLink domain across hosts (MNNVL: NCCL fuses the
// topologies of a clique, graph/topo.cc ncclTopoGetSystem, and counts one node per ring graph's
// first rank, init.cc; NCCL 2.29.2). Numbered from 0 in the group order of their first member.
std::vector<int> nccl_nodes(const std::vector<std::vector<Transport>>& transport);

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
  // SHM: each hop through host memory adds a PCIe round trip for the flag to NCCL's per-hop latency.
  // All-reduce of 1 KiB on 4 GPUs, same machine and timing, without P2P 19.36 us (NCCL's PCI
  // estimate 6.6 + 6 x 1.0 = 12.6: 6.76 more) and with P2P over NVLink 11.46 us (NCCL's NVLink
  // estimate 6.6 + 6 x 0.6 = 10.2: 1.26 more, what the event timing and NCCL's base latency leave
  // whatever the transport): (6.76 - 1.26) / 6 hops = 0.917 us. (Charging all 6.76 to the hops, as
  // before, gave 1.2 and made the 8 RTX PRO 6000 server's small all-reduces 14-44% slow.)
  double shm_hop_us = 0.917;
  // Over PCIe a channel (one thread block) moves a bounded amount with the Simple protocol: its
  // P2P writes through a PCIe switch, and its reads of what a peer staged in host memory (SHM),
  // each a latency-bound stream of PCIe transactions. An NVLink GPU runs enough channels that this
  // never binds; a PCIe box runs few (the 8-GPU server 2: NCCL sees its CPU link at 22 GB/s,
  // nccl_intel_inter_cpu_gbs, and fits one graph channel, run twice; 4 on one socket), and an
  // all-to-all's peers share them as NCCL maps its rounds to channels (nccl_p2p_channel). Fitted to
  // NVIDIA's published nccl-tests sweeps of the 8x RTX PRO 6000 Server (ai-dynamo/aiconfigurator
  // 095f58a51, validate/public/aiconfigurator-nccl.csv, 64-256 MiB), each on NCCL's channels:
  // P2P from alltoall on 2 GPUs (one peer under one switch on its 2 channels: 25.6-26.0 GB/s of
  // bus bandwidth, median / 2 = 12.84); SHM in a ring from all_gather and reduce_scatter on 8 GPUs
  // (rings with hops through host memory on 2 channels: 22.7-23.2 GB/s, median / 2 = 11.43); SHM
  // in a send from alltoall on 4 GPUs (23.5-24.2 GB/s: rank 1's busiest channel carries half of
  // each of its two peers through host memory, so it moves 3 peers' bytes in one channel's time
  // for one: median / 3 = 8.06). A send streams through 128 KiB p2p chunks where a ring's steps are
  // 512 KiB, so its channel moves less. validate/public/fit_pcie_channels.sh recomputes them; the
  // all-reduces, the rings on 2 and 4 GPUs (on 4 the host-memory read binds, not the channels) and
  // the all-to-all on 8 GPUs are out of sample.
  double pcie_p2p_channel_gbs = 12.84;
  double shm_channel_gbs = 8.06;      // a send's channel through host memory
  double shm_ring_channel_gbs = 11.43; // a ring's channel through host memory
};

// What a call costs on NVLink GPUs beyond NCCL's latency table, which is one table for every
// architecture (tuning.cc: base 6.6 us and 0.6 us per NVLink hop for ring LL, since v2.4): a fixed
// cost per call and a cost per NVLink hop (each step of a ring, each hop of a tree, the one hop of
// a send), added to every protocol's. Fitted by least squares to NVIDIA's published nccl-tests
// sweeps (ai-dynamo/aiconfigurator 095f58a51, validate/public/aiconfigurator-nccl.csv: all_reduce,
// all_gather and reduce_scatter at 4, 8 and 16 KiB, where NCCL runs ring LL) as measured time -
// (6.6 + 0.6 x steps); validate/public/fit_nvlink_latency.sh recomputes them. Those fits and what
// they leave out:
struct NvlinkLatency {
  double call_us = 0; // per call
  double hop_us = 0;  // per NVLink hop
};
// sm100+ (NVLink5): fitted on B300, GB200 and GB300 (63 cells): +1.30 us per call, +0.68 us per
// step (a step measures 1.28 us where NCCL's table says 0.6). B200 is left out of the fit, so the
// comparison with it is out of sample. sm90 (Hopper): fitted on H100 and H200 at 2 and 4 GPUs (36
// cells): -1.73 us per call, +0.334 us per step (a step 0.93 us); the 8-GPU cells are out of sample
// (alone they give -0.83 and +0.20). On Hopper these are a collective's only: a send (`p2p`) keeps
// NCCL's table, with which Hopper's send terms were fitted (with these its LL send's fit cells go
// from 4.3% to 7.6% median error, the held-out ones from 10.1% to 22.7%: fit_nvlink_ll.py).
// sm80-89 (NVLink3): fitted on A100 SXM at 2 GPUs only (9 cells): +2.68 us per call, +0.415 us per
// step; the A100's 4- and 8-GPU cells are out of sample.
NvlinkLatency nvlink_latency(int sm, bool p2p = false);

// A Simple-protocol ring on NVLink, as NCCL's kernel runs it (src/device/all_reduce.h runRing,
// prims_simple.h): a channel's share of the buffer is cut into one chunk per rank, each chunk into
// SlicePerChunk = 2 slices (collectives.h ALLREDUCE/ALLGATHER/REDUCESCATTER_CHUNKSTEPS /
// SLICESTEPS); up to 2 MiB a chunk (4 MiB buffer / NCCL_STEPS x 4), so below 64 MiB a channel on 8
// ranks makes one pass and the chunk shrinks to fit. Step k on a rank waits for step k-1's first
// slice from its predecessor, `step_us` later (the flag's round trip and the copy's start); a rank
// sends its 2 x steps slices back to back. A call moving X at full rate (bytes x steps / ranks at
// the flows' rate) thus takes
//   max(steps x step_us + X (steps + 1) / (2 steps), X)
// beyond NCCL's base latency: the per-step latency dominates mid sizes and hides under the
// transfer from where X reaches about steps x step_us. NCCL's own estimate charges 3.4 us per
// NVLink step (tuning.cc hwLat, ring Simple) on top of X, never overlapped, and picks the protocol
// with it; the call then costs what the pipeline costs, so a call just past NCCL's switch to Simple
// is slower than NCCL expected (B200 all_reduce on 4 GPUs: 36 us at 4 MiB with LL128, 85 at 8 MiB
// with Simple). Fitted by least squares to NVIDIA's published nccl-tests sweeps
// (ai-dynamo/aiconfigurator 095f58a51, validate/public/aiconfigurator-nccl.csv: all_reduce,
// all_gather and reduce_scatter from 1 MiB where NCCL's pick is ring Simple), each on cells the
// comparison labels as fit: sm100+ 11.05 us (B300, GB200, GB300, 121 cells; every B200 cell out of
// sample), sm90 7.95 us (H100 and H200 at 2 and 4 GPUs, 82 cells; 8 GPUs out of sample), sm80-89
// 16.5 us (A100 at 2 GPUs, 25 cells; 4 and 8 out of sample); NCCL's 3.4 + nvlink_latency's hop
// elsewhere. validate/public/fit_nvlink_simple.py recomputes them. Over PCIe and through host
// memory (one node) a Simple ring runs the same pipeline with the per-step latency NCCL's table
// charges there: its PCI row (5.7 us) plus the step's share of the host-memory round trips
// (TransportTerms::shm_hop_us); nothing fitted.
double nvlink_simple_step_us(int sm);
// A Simple ring's fixed cost per call on NVLink beyond NCCL's base latency and nvlink_latency's
// call term, the pipeline's fill before its first step: 0 but on sm80-89 (NVLink3), 7.6 us, fitted
// with that architecture's step (11.65 us) by least squares to A100 SXM at 2 and 8 GPUs
// (validate/public/fit_nvlink_simple.py); 2 GPUs alone (one or two steps per call) cannot tell a
// call's cost from a step's, and put 16.5 us on the step, 35% too slow at 4 GPUs.
double nvlink_simple_call_us(int sm);
// That pipeline's time (us) for `steps` steps of `step_us` and a transfer of `x_us` at full rate.
double simple_pipeline_us(int steps, double step_us, double x_us);
// What one channel (one thread block) moves with the Simple protocol in a send over NVLink, GB/s.
// NCCL gives a peer nccl_p2p_min_channels of the call's channels: 16 on 2 GPUs of an HGX board, 8 on
// 4, 4 on 8, so a 2- or 4-GPU all-to-all is bound by its channels, not by NVLink. A send streams its
// bytes through the receiver's buffer in p2p chunks (512 KiB over NVLink: init.cc
// NCCL_P2P_NVL_CHUNKSIZE, one chunk a step); the last chunk's hand-over is exposed beyond the
// stream: nvlink_p2p_tail_us, a fraction of that chunk's time on its channel (the channel's part of
// the send, at most one chunk). Fitted together to the same sweeps, all-to-all from 1 MiB:
// the tail's fraction 0.32 by least squares over every fit set below, each architecture's rate as
// (bytes per peer / channels + 0.32 x 512 KiB) / (time - NCCL's Simple send latency) at 64-256 MiB,
// median, the two iterated to a fixed point: sm100+ 20.95 (B300, GB200, GB300 at 2, 4 and 8 GPUs,
// 21 cells), sm90 17.89 (H100 and H200 at 2 GPUs, 6 cells), sm80-89 10.13 (A100 at 2 GPUs, 3 cells);
// 0 (not bounded, no tail) before sm80. validate/public/fit_nvlink_simple.py recomputes them.
double nvlink_p2p_channel_gbs(int sm);
double nvlink_p2p_tail_us(int sm, double channel_bytes);
// What one channel moves in an LL send over NVLink, GB/s of payload. NCCL 2.29 sends a peer's bytes
// with LL only where they fit 16 KiB per channel (enqueue.cc addP2pToPlan: bytes <= nChannels x
// NCCL_P2P_LL_THRESHOLD), and over NVLink a send up to a part of 64 KiB (P2P_NVL_CHUNKSIZE / 8)
// runs on one channel: every LL send, up to 16 KiB, is one thread block's stream of 16-byte lines
// (8 of payload, 8 of flags) that the receiver polls, bound by that block, not by NVLink. Before
// 2.29 a send is LL up to the peer's channels x 16 KiB (512 KiB on an HGX A100) and runs on one
// channel per 8 KiB (nccl_p2p_send). Peers run on their own channels, side by side. Fitted by least
// squares to NVIDIA's published nccl-tests sweeps (ai-dynamo/aiconfigurator 095f58a51,
// validate/public/aiconfigurator-nccl.csv: the alltoall cells from 8 KiB that the sweep's NCCL sent
// with LL) as time - the LL send's latency = bytes per peer / (channels x rate), on the cells the
// comparison labels fit: sm100+ 4.40 (B300, GB200, GB300 at 2, 4 and 8 GPUs, 26 cells, NCCL 2.29;
// every B200 cell out of sample), sm90 7.23 (H100 and H200 at 2 and 4, 14 cells, 2.29; 8 out of
// sample), sm80-89 2.51 (A100 at 2, 8 cells up to 512 KiB a peer, NCCL 2.27.3; 4 and 8 out of
// sample); 0 (not bounded) before sm80. validate/public/fit_nvlink_ll.py recomputes them.
double nvlink_p2p_ll_channel_gbs(int sm);
// What one channel moves in an LL ring on one NVLink node, GB/s of the buffer per kernel call
// (payload). NCCL's table bounds an LL ring by llMaxBw (tuning.cc: 87.7 / 141 / 282 GB/s of bus
// bandwidth on Ampere / Hopper / Blackwell), a planning figure its kernel does not obey (the sweeps'
// 8-GPU H100 reduce_scatter runs at 260 GB/s). The kernel (src/device/all_gather.h,
// reduce_scatter.h, all_reduce.h, runRing) makes one primitive call per step on each chunk of a
// channel, plus the first send: n calls for all-gather and reduce-scatter, 2n - 1 for all-reduce
// (ll_ring_calls). With LL each call streams the chunk's lines through the channel's thread block
// (lines stored with their flags, received lines polled), so a channel takes calls x chunk / rate,
// the chunk being bytes / (n x channels), on the communicator's channels: the ring's flows move at
// channels x rate x steps / calls (bus bandwidth). Fitted by least squares through the origin to
// NVIDIA's published nccl-tests sweeps (ai-dynamo/aiconfigurator 095f58a51,
// validate/public/aiconfigurator-nccl.csv: all_reduce, all_gather, reduce_scatter from 8 KiB where
// NCCL's pick is ring LL) as time - latency = calls x bytes / (n x channels x rate), on the cells
// the comparison labels fit: sm100+ 10.78 (B300, GB200, GB300 at 2, 4 and 8 GPUs, 206 cells; every
// B200 cell out of sample), sm90 8.75 (H100 and H200 at 2 and 4, 106 cells; 8 out of sample),
// sm80-89 4.34 (A100 at 2, 23 cells; 4 and 8 out of sample); 0 (NCCL's llMaxBw kept) before sm80.
// validate/public/fit_nvlink_ll_ring.py recomputes them.
double nvlink_ring_ll_channel_gbs(int sm);
// The LL ring kernel's primitive calls per chunk: 2n - 1 for all-reduce, n for all-gather and
// reduce-scatter.
int ll_ring_calls(OpKind kind, int ranks);

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
// latency plus, per hop through host memory, terms.shm_hop_us, and on NVLink nvlink_latency(sm)
// per call and per intra-node hop; the flows' rate = NCCL's bus bandwidth (Simple: times the
// measured fraction), no faster than an SHM hop's receiver reads. All-to-all, send and recv take
// NCCL's p2p path: LL or Simple per peer size, alpha = the ring base latency plus one hop of the
// slowest transport (on NVLink plus nvlink_latency's call and hop), or shape.p2p_alpha; rate per
// sender = terms.p2p x NCCL's view of its link. `only` restricts all-reduce's algorithm like
// NCCL_ALGO.
//
// per_root: an all_gather or reduce_scatter that the engine runs as one NCCL broadcast, resp.
// reduce, per member in one group call (Op::per_root). NCCL lays a group's operations over the
// call's channels by their traffic, one after another (enqueue.cc scheduleCollTasksToPlan), so each
// root's operation, a chain through the other members, gets 1/n of the channels. A ring moves
// (n-1)/n of the buffer per member on every channel; the n chains move all of it, each on its
// share: where the channels bind (Simple over PCIe P2P or host memory) the ring's channel cap
// becomes channels x per-channel rate x (n-1)/n. Latency and every other term stay the ring's.
CollChoice choose_collective(const CommShape& shape, OpKind kind, double bytes,
                             std::optional<CollAlgo> only = std::nullopt, const TransportTerms& terms = {},
                             bool per_root = false);

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
DirectShares direct_shares(const std::vector<const PeerBytes*>& rows, const std::vector<std::vector<bool>>& shm);
// The rate of flow i -> j of `bytes_ij` = rows[i][j] > 0 bytes (i != j): direct_flow_rates(...)[i][j].
double direct_flow_rate(const DirectShares& d, double bytes_ij, size_t i, size_t j, double send_rate_i, bool shm_ij,
                        double recv_rate_j);
std::vector<std::vector<double>> direct_flow_rates(const std::vector<std::vector<double>>& bytes,
                                                   const std::vector<double>& send_rate,
                                                   const std::vector<std::vector<bool>>& shm,
                                                   const std::vector<double>& recv_rate);

} // namespace moesim
