// NCCL's own cost model, as NCCL 2.29 computes it when a communicator is created and when a
// collective is enqueued: its view of the links (topo.h), the ring search that fixes the channels
// and the bandwidth per channel (search.cc), the latency and bandwidth tables per algorithm and
// protocol (tuning.cc), the choice between them and the channels a call actually uses (enqueue.cc),
// and the point-to-point path's protocol and channel rules. docs/collectives.md states the facts
// with their sources. Pure functions in NCCL's own units: GB/s (1e9 B/s) and microseconds.
#pragma once
#include "core/schedule.hpp"

#include <optional>
#include <string_view>
#include <vector>

namespace moesim {

// NCCL's version as NCCL_VERSION_CODE writes it, major x 10000 + minor x 100 + patch (2.27.3 is
// 22703). The tables below are 2.29.2's; the rules that changed between releases follow a
// communicator's version (NcclComm::version).
inline constexpr int nccl_version_modelled = 22902;
// "2.27.3" -> 22703 (three whole numbers, minor and patch below 100); nullopt for anything else.
std::optional<int> parse_nccl_version(std::string_view text);

enum class Proto { ll, ll128, simple };
const char* to_string(Proto p);

// NCCL's compute-capability classes (Volta, Ampere, Hopper, Blackwell) from sm = major*10+minor.
enum class NcclArch { volta, ampere, hopper, blackwell };
NcclArch nccl_arch(int sm);

// How two ranks exchange data (src/transport): NVLink or PCIe peer-to-peer, SHM through a
// host-memory buffer, or the network.
enum class Transport { nvlink, p2p, shm, net };
const char* to_string(Transport t);

// ---- NCCL's view of the links (topo.h, topo.cc) ------------------------------------------------
// A GPU's NVLinks as NCCL counts them: links x NCCL's per-link figure for the architecture
// (sm80 20, sm86 12, sm90 20.6, sm100+ 40.1 GB/s), the links being the line rate divided by
// 25 GB/s per link (NVLink3/4) or 50 (NVLink5, sm100+).
double nccl_nvlink_gbs(int sm, double line_gbs);
double nccl_nvlink_per_link_gbs(int sm);
// A PCIe link as NCCL tabulates it (width x GT/s / 80: Gen4 x16 24, Gen5 x16 48 GB/s), from the
// effective rate moesim's platforms give (Gen4 x16 26.5, Gen5 x16 53 GB/s): x 48/53.
double nccl_pcie_gbs(double effective_gbs);
// NCCL charges GPU-to-GPU traffic through an Intel root complex 6/5 of its bytes on PCIe.
inline constexpr double intel_p2p_overhead = 1.2;
// NCCL's figure for the link between two Intel CPU sockets (topo.h, topo.cc ncclTopoGetInterCpuBw),
// by CPU model (family 6): 6 GB/s before Skylake, 10 from model 0x55 (Skylake to Ice Lake), 22 from
// 0x8F (Sapphire Rapids, and Granite Rapids, model 0xAD, Xeon 6), 40 from 0xCF (Emerald Rapids).
// moesim's platforms with two sockets are Sapphire or Granite Rapids: 22. A ring across the sockets
// crosses that link once each way, so the ring search fits one 20 GB/s channel where the PCIe links
// alone would give two (a Gen5 path through host memory, 48 / 1.2 = 40 GB/s).
inline constexpr double nccl_intel_inter_cpu_gbs = 22.0;

// ---- the ring search (search.cc ncclTopoCompute) ----------------------------------------------
// Channels and per-channel bandwidth of NCCL's ring graph. `capacity_gbs`: what each link a ring
// crosses can give all channels together (the tightest one); `path_gbs`: the fastest GPU-to-GPU
// (or GPU-to-NIC when `inter`) path, which caps one channel. The speed ladder is the architecture's
// (intra-node, or inter-node when `inter`); the search keeps the most channels x speed that fit,
// trying lower speeds while they are above half the best so far, then doubles the channels at half
// the speed (unless the speed is below 25, or below 50 with more than 4 channels past sm80), then
// raises the speed again while the doubled channels still fit. At most 32 channels.
struct NcclGraph {
  int channels = 0;
  double bw = 0; // GB/s per channel
};
NcclGraph nccl_ring_search(int sm, double capacity_gbs, double path_gbs, bool inter = false);

// ---- the tuning tables (tuning.cc ncclTopoTuneModel) ------------------------------------------
// What NCCL's tuner knows of a communicator.
struct NcclComm {
  int ranks = 1;
  int nodes = 1;              // NCCL's nodes: hosts, or NVLink domains across hosts (nccl_nodes)
  int sm = 90;
  bool nvlink = false;        // every intra-node path is NVLink: NVLINK latency row, LL128 (or ppn 1)
  bool amd_cpu = false;       // network overhead 2 us instead of 1; AMD columns of llMaxBw
  NcclGraph graph;            // ring search result (the tree graph uses as many channels)
  double net_latency_us = 0;  // the network plugin's latency (InfiniBand, RoCE, sockets: 0)
  int version = nccl_version_modelled; // NCCL_VERSION_CODE of the NCCL that runs the calls
};

// One (algorithm, protocol) entry of NCCL's tables for a collective: latency and bandwidths.
struct NcclCost {
  CollAlgo algo = CollAlgo::ring;
  Proto proto = Proto::simple;
  double latency_us = 0;
  double busbw_gbs = 0;  // after the protocol refinements, before conversion to algorithm bandwidth
  double algbw_gbs = 0;  // what NCCL divides the bytes by
};
// The enabled entries for all_reduce, all_gather or reduce_scatter: ring, and tree for all_reduce,
// each with LL, LL128 (NVLink, or one rank a node) and Simple. NVLS and CollNet are off (no
// CollNet plugin, NCCL_NVLS_ENABLE=0); PAT, which NCCL runs only with one GPU per node, is not modelled.
std::vector<NcclCost> nccl_costs(const NcclComm& comm, OpKind kind);

// NCCL's latency table (tuning.cc) as the simulator reuses it outside nccl_costs: the base
// latency of an algorithm and protocol, and its per-hop latency over a transport (NVLink: the NVLINK
// row; PCIe P2P and SHM: the PCI row; the network: the NET row).
double nccl_base_latency_us(CollAlgo a, Proto p);
double nccl_hop_latency_us(Transport t, CollAlgo a, Proto p);
// Hops inside a node that nccl_costs charges a collective on this communicator: a ring's steps but
// its network steps (2(n-1) or n-1, less 2(N-1) or N-1 across N nodes), a tree's 2(ppn-1).
int nccl_intra_hops(const NcclComm& comm, OpKind kind, CollAlgo a);

// The entry NCCL picks for `bytes` (nccl-tests' size) by the least estimated time
// latency + bytes / (1000 * algbw), the tree's bandwidth scaled by NCCL's size correction table and
// a multi-node ring/Simple all-reduce's latency by 1.4 (1.9 before sm80). `only` restricts the
// algorithm like NCCL_ALGO. `channels`: the channels the call runs on: the communicator's (twice the
// graph's) reduced one by one while bytes < channels x threads x per-thread threshold (enqueue.cc).
struct NcclPick {
  NcclCost cost;
  double time_us = 0;
  double algbw_gbs = 0; // the bandwidth the time was estimated with (the tree's after its correction)
  int channels = 0;
  int comm_channels = 0;
};
NcclPick nccl_pick(const NcclComm& comm, OpKind kind, double bytes, std::optional<CollAlgo> only = std::nullopt);

// ---- point-to-point (send/recv, all-to-all: enqueue.cc addP2pToPlan, paths.cc) ----------------
// Channels a peer's sends may start on (enqueue.cc scheduleP2pTasksToPlan, "one channel per
// operation"): `peer_channels` (p2pnChannelsPerPeer: NVLink 2 x links, PCIe and SHM 2, network one
// per NIC, each a power of two) halved while `ranks` peers (self included) times it exceed the
// call's p2p channels `comm_channels` (nccl_p2p_comm_channels), at least 1. 8 B200s: 32 per peer,
// 32 in all -> 4; 2 of them -> 16.
int nccl_p2p_min_channels(int peer_channels, int comm_channels, int ranks);
// Channels a send of `bytes` to one peer runs on (enqueue.cc addP2pToPlan): one per minimum part
// (the protocol's step / 8 on one node, / 2 across nodes; steps: Simple's p2p chunk, 512 KiB over
// NVLink and 128 KiB otherwise, LL's 64 KiB, its buffer over NCCL_STEPS), at most `min_channels`,
// then doubled while a part is above the maximum (the step x 32 on one node, one step across nodes)
// and the doubling stays within `max_channels` (the peer's).
int nccl_p2p_channels(double bytes, int min_channels, int max_channels, bool nvlink, bool multi_node,
                      Proto proto = Proto::simple);
// Channels every send and receive of a call share (paths.cc ncclTopoComputeP2pChannels): the
// communicator's channels (twice the graph's), rounded up to a power of two. Each peer's sends take
// nccl_p2p_channels of them, peers sharing channels where there are more of them than fit.
int nccl_p2p_comm_channels(const NcclComm& comm);
// The p2p channel that part `part` of round `round` runs on, one node (channel.h
// ncclP2pChannelBaseForRound, device.h ncclP2pChannelForPart): round d sends to rank + d and receives
// from rank - d (init.cc ncclP2pSchedule); it starts on d's low log2(p2p_channels) bits reversed, its
// part k on that channel + k (mod p2p_channels). On 4 channels rounds 1..7 start on 2, 1, 3, 0, 2,
// 1, 3: 7 peers on 4 channels put two peers on three of them, not 7/4 on each.
int nccl_p2p_channel(int round, int part, int p2p_channels);
// LL when bytes <= channels x 16 KiB (NCCL_P2P_LL_THRESHOLD), else Simple; never LL128.
Proto nccl_p2p_proto(double bytes, int channels);
// A send's protocol and channels as NCCL `version` picks them (enqueue.cc addP2pToPlan). From 2.29
// the channels come first, counted with Simple's step, and LL is taken where the bytes fit those
// channels x 16 KiB: over NVLink on one node a send up to 64 KiB runs on one channel, so LL ends at
// 16 KiB. Before 2.29 the protocol comes first, LL up to the peer's channels (`max_channels`,
// p2pnChannelsPerPeer) x 16 KiB, and an LL send's channels are counted with LL's 64 KiB step: on an
// HGX A100 (32 a peer) LL up to 512 KiB, one channel per 8 KiB.
struct NcclP2pSend {
  Proto proto = Proto::simple;
  int channels = 1;
};
NcclP2pSend nccl_p2p_send(double bytes, int min_channels, int max_channels, bool nvlink, bool multi_node,
                          int version = nccl_version_modelled);

// Bytes on the wire per payload byte: LL sends 8-byte lines holding 4 data bytes, LL128 128-byte
// lines holding 120, Simple the payload.
double wire_factor(Proto p);

} // namespace moesim
