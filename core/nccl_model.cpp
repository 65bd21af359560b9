#include "core/nccl_model.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace moesim {
namespace {

constexpr int ll = 0, ll128 = 1, simple = 2;
constexpr int hw_nvlink = 0, hw_pci = 1, hw_net = 2;
constexpr int a_tree = 0, a_ring = 1;

// Latencies (us): base[algo][proto] and per hop hw[link][algo][proto], algo = tree, ring.
constexpr double base_latency[2][3] = {{6.8, 14.0, 8.4}, {6.6, 14.0, 8.4}};
constexpr double hw_latency[3][2][3] = {
    {{0.6, 1.25, 4.0}, {0.6, 1.9, 3.4}},  // NVLink
    {{1.0, 1.9, 4.0}, {1.0, 2.5, 5.7}},   // PCI
    {{5.0, 8.5, 14.0}, {2.7, 4.0, 14.0}}, // network
};
// Bandwidth caps (GB/s) [arch][1 node, 2 nodes, more]; llMaxBw's rows are the GPU architecture on
// one node and the CPU vendor (row 0 Intel, row 1 AMD) across nodes.
constexpr double ll_max_bw[4][3] = {{39.0, 39.0, 20.4}, {87.7, 22.5, 19.0}, {141.0, 45.0, 35.0}, {282.0, 90.0, 70.0}};
constexpr double per_ch_ring_ll128[4][3] = {{20.0, 20.0, 20.0}, {20.0, 20.0, 20.0}, {36.7, 36.7, 36.7}, {34.5, 34.6, 34.5}};
constexpr double per_ch_tree_ll128[4][3] = {{20.0, 20.0, 20.0}, {20.0, 20.0, 20.0}, {36.7, 36.7, 29.0}, {55.6, 31.67, 20.0}};
constexpr double per_ch_tree[4][3] = {{26.5, 18.5, 10.0}, {24.0, 23.6, 17.8}, {38.7, 41.4, 36.0}, {70.0, 42.8, 24.0}};
// The tree's measured shortfall at mid sizes: bandwidth factor by log2(bytes / 64), per protocol.
constexpr double tree_correction[3][23] = {
    {1.0, 1.0, 1.0, 1.0, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1.0, 1.0, 1.0, 1.0},
    {1.0, 1.0, 1.0, 1.0, 1.0, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9, 1.0, 1.0},
    {.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9, .9}};

// Speed ladders (GB/s per channel) the search walks, intra-node and inter-node.
const std::vector<double> ladder_intra = {40.0, 30.0, 20.0, 18.0, 15.0, 12.0, 10.0, 9.0, 7.0, 6.0, 5.0, 4.0, 3.0};
const std::vector<double> ladder_inter = {48.0, 30.0, 28.0, 24.0, 20.0, 18.0, 15.0, 12.0, 10.0, 9.0,
                                          7.0,  6.0,  5.0,  4.0,  3.0,  2.4,  1.2,  0.24, 0.12};
const std::vector<double> ladder_intra_sm90 = {60.0, 50.0, 40.0, 30.0, 24.0, 20.0, 15.0, 12.0, 11.0, 6.0, 3.0};
const std::vector<double> ladder_inter_sm90 = {48.0, 45.0, 42.0, 40.0, 30.0, 24.0, 22.0, 20.0, 17.5,
                                               15.0, 12.0, 6.0,  3.0,  2.4,  1.2,  0.24, 0.12};
const std::vector<double> ladder_intra_sm100 = {90.0, 80.0, 70.0, 60.0, 50.0, 45.0, 40.0, 30.0, 24.0, 20.0, 19.0, 18.0};
const std::vector<double> ladder_inter_sm100 = {96.0, 48.0, 45.1, 42.0, 40.0, 30.0, 24.0, 22.0, 20.0,
                                                17.5, 15.0, 12.0, 6.0,  3.0,  2.4,  1.2,  0.24, 0.12};

constexpr int max_ring_channels = 32; // MAXCHANNELS / 2
constexpr double eps = 1e-9;

int log2i(double x)
{
  int l = -1;
  for (double v = std::floor(x); v >= 1; v = std::floor(v / 2))
    l++;
  return l;
}

int comm_channels(const NcclComm& c)
{
  // The communicator runs the graph's channels twice (connect.cc), and on sm90+ across nodes with
  // fast NVLink twice again while under 16.
  int n = std::min(64, 2 * c.graph.channels);
  if (c.sm >= 90 && c.nodes > 1 && c.graph.bw > 45.0 && n < 16)
    n *= 2;
  return n;
}

} // namespace

const char* to_string(Proto p)
{
  switch (p) {
    case Proto::ll: return "LL";
    case Proto::ll128: return "LL128";
    case Proto::simple: return "Simple";
  }
  return "?";
}

const char* to_string(Transport t)
{
  switch (t) {
    case Transport::nvlink: return "NVLink";
    case Transport::p2p: return "PCIe P2P";
    case Transport::shm: return "SHM";
    case Transport::net: return "network";
  }
  return "?";
}

NcclArch nccl_arch(int sm)
{
  return sm >= 100 ? NcclArch::blackwell : sm >= 90 ? NcclArch::hopper : sm >= 80 ? NcclArch::ampere : NcclArch::volta;
}

double nccl_nvlink_per_link_gbs(int sm)
{
  return sm >= 100 ? 40.1 : sm >= 90 ? 20.6 : sm == 86 ? 12.0 : sm >= 70 ? 20.0 : 18.0;
}

double nccl_nvlink_gbs(int sm, double line_gbs)
{
  const double line_per_link = sm >= 100 ? 50.0 : 25.0;
  const double links = std::max(1.0, std::round(line_gbs / line_per_link));
  return links * nccl_nvlink_per_link_gbs(sm);
}

double nccl_pcie_gbs(double effective_gbs)
{
  return effective_gbs * 48.0 / 53.0;
}

double wire_factor(Proto p)
{
  switch (p) {
    case Proto::ll: return 2.0;
    case Proto::ll128: return 128.0 / 120.0;
    case Proto::simple: return 1.0;
  }
  return 1.0;
}

NcclGraph nccl_ring_search(int sm, double capacity_gbs, double path_gbs, bool inter)
{
  const std::vector<double>& ladder = sm >= 100 ? (inter ? ladder_inter_sm100 : ladder_intra_sm100)
                                      : sm >= 90 ? (inter ? ladder_inter_sm90 : ladder_intra_sm90)
                                                 : (inter ? ladder_inter : ladder_intra);
  const int last = static_cast<int>(ladder.size()) - 1;
  auto fit = [&](double speed) { return std::min(max_ring_channels, static_cast<int>(capacity_gbs / speed + eps)); };
  // Pass 1: the first speed at most one path's bandwidth, then lower ones while they are above
  // half the best speed found; keep the largest channels x speed (the first on a tie).
  int i = 0;
  while (i < last && ladder[i] > path_gbs + eps)
    i++;
  NcclGraph best;
  for (;;) {
    const int n = fit(ladder[i]);
    if (n >= 1 && n * ladder[i] > best.channels * best.bw + eps)
      best = {n, ladder[i]};
    if (best.channels * best.bw >= capacity_gbs - eps)
      break;
    if (i < last && (best.channels == 0 || ladder[i + 1] / best.bw > 0.49)) {
      i++;
      continue;
    }
    break;
  }
  if (best.channels == 0)
    return {1, ladder[last]};
  // Channels doubled at half the speed.
  if (best.bw >= 25.0 && !(sm > 80 && best.bw < 50.0 && best.channels > 4)) {
    const int doubled = std::min(2 * best.channels, max_ring_channels);
    best.bw /= std::ceil(double(doubled) / best.channels);
    best.channels = doubled;
  }
  // Pass 2: faster channels, as many, while they fit.
  int j = 0;
  while (j < last && ladder[j] > best.bw + eps)
    j++;
  while (j > 0) {
    j--;
    if (best.channels * ladder[j] <= capacity_gbs + eps)
      best.bw = ladder[j];
  }
  return best;
}

std::vector<NcclCost> nccl_costs(const NcclComm& c, OpKind kind)
{
  std::vector<NcclCost> out;
  const int n = c.ranks, nodes = c.nodes;
  if (n < 2 || (kind != OpKind::all_reduce && kind != OpKind::all_gather && kind != OpKind::reduce_scatter))
    return out;
  const int arch = static_cast<int>(nccl_arch(c.sm));
  const int col = nodes <= 2 ? nodes - 1 : 2;
  const int ll_row = nodes == 1 ? arch : c.amd_cpu ? 1 : 0;
  const double ppn = double(n) / nodes;
  const int nsteps = kind == OpKind::all_reduce ? 2 * (n - 1) : n - 1;
  const int intra_hw = c.nvlink ? hw_nvlink : hw_pci;
  for (int a : {a_tree, a_ring}) {
    if (a == a_tree && kind != OpKind::all_reduce)
      continue;
    for (int p : {ll, ll128, simple}) {
      // LL128 only over NVLink inside the node, on sm70+ (and through GPUDirect or PXN across nodes).
      // With one rank per node there is no intra-node path (tuning.cc: typeIntra LOC is within NVB).
      if (p == ll128 && (!(c.nvlink || n == nodes) || c.sm < 70))
        continue;
      const int nch = c.graph.channels;
      double bus = nch * c.graph.bw;
      if (a == a_ring && p == ll)
        bus = std::min(ll_max_bw[ll_row][col], bus * 0.5);
      if (a == a_ring && p == ll128)
        bus = std::min(bus * 0.92, nch * per_ch_ring_ll128[arch][col]);
      if (a == a_tree)
        bus = std::min(bus * 0.92, nch * per_ch_tree[arch][col]);
      if (a == a_tree && p == ll)
        bus = std::min(bus / 3.8, ll_max_bw[ll_row][col]);
      if (a == a_tree && p == ll128)
        bus = std::min(bus * (nodes == 1 ? 7.0 / 9.0 : 120.0 / 128.0), nch * per_ch_tree_ll128[arch][col]);
      const double alg = a == a_ring ? bus * n / nsteps : bus * 0.5;
      double lat = base_latency[a][p];
      const double intra = hw_latency[intra_hw][a][p];
      double inter = (ppn == 1 ? hw_latency[hw_net][a_tree][p] : hw_latency[hw_net][a][p]) + c.net_latency_us;
      if (p == simple)
        inter += c.net_latency_us; // the receive flush
      if (a == a_ring) {
        double overhead = 0;
        if (nodes > 1)
          overhead = (c.amd_cpu ? 2.0 : 1.0) * (p == simple ? 3.0 : 1.0);
        const int inter_steps = nodes == 1 ? 0 : kind == OpKind::all_reduce ? 2 * (nodes - 1) : nodes - 1;
        lat += (nsteps - inter_steps) * std::max(intra, overhead) + inter_steps * inter;
      } else {
        lat += 2 * ((n / nodes - 1) * intra + log2i(nodes) * inter);
      }
      NcclCost e;
      e.algo = a == a_tree ? CollAlgo::tree : CollAlgo::ring;
      e.proto = static_cast<Proto>(p);
      e.latency_us = lat;
      e.busbw_gbs = bus;
      e.algbw_gbs = alg;
      out.push_back(e);
    }
  }
  return out;
}

double nccl_base_latency_us(CollAlgo a, Proto p)
{
  return base_latency[a == CollAlgo::tree ? a_tree : a_ring][static_cast<int>(p)];
}

double nccl_hop_latency_us(Transport t, CollAlgo a, Proto p)
{
  const int row = t == Transport::nvlink ? hw_nvlink : t == Transport::net ? hw_net : hw_pci;
  return hw_latency[row][a == CollAlgo::tree ? a_tree : a_ring][static_cast<int>(p)];
}

int nccl_intra_hops(const NcclComm& c, OpKind kind, CollAlgo a)
{
  if (a == CollAlgo::tree)
    return 2 * (c.ranks / c.nodes - 1);
  const int nsteps = kind == OpKind::all_reduce ? 2 * (c.ranks - 1) : c.ranks - 1;
  const int inter_steps = c.nodes == 1 ? 0 : kind == OpKind::all_reduce ? 2 * (c.nodes - 1) : c.nodes - 1;
  return nsteps - inter_steps;
}

NcclPick nccl_pick(const NcclComm& c, OpKind kind, double bytes, std::optional<CollAlgo> only)
{
  NcclPick best;
  best.time_us = std::numeric_limits<double>::infinity();
  best.comm_channels = comm_channels(c);
  for (const NcclCost& e : nccl_costs(c, kind)) {
    if (only && e.algo != *only)
      continue;
    double bw = e.algbw_gbs, lat = e.latency_us;
    if (bw <= 0)
      continue;
    const int log_size = log2i(bytes / 64);
    if (e.algo == CollAlgo::tree && kind == OpKind::all_reduce && log_size >= 0 && log_size < 23)
      bw *= tree_correction[static_cast<int>(e.proto)][log_size];
    if (e.algo == CollAlgo::ring && e.proto == Proto::simple && c.nodes > 1 && kind == OpKind::all_reduce &&
        bytes / (best.comm_channels * c.ranks) >= 64)
      lat *= c.sm < 80 ? 1.9 : 1.4;
    const double t = lat + bytes / (1000 * bw);
    if (t < best.time_us) {
      best.time_us = t;
      best.algbw_gbs = bw;
      best.cost = e;
    }
  }
  if (!std::isfinite(best.time_us)) {
    // NCCL_ALGO excluded every entry (e.g. tree for an all-gather): NCCL falls back to the ring.
    return only ? nccl_pick(c, kind, bytes, std::nullopt) : best;
  }
  // Channels the call runs on: fewer for small buffers (threads x per-thread threshold each).
  const Proto p = best.cost.proto;
  const CollAlgo a = best.cost.algo;
  const int threads = p == Proto::ll128                                                          ? 640
                      : p == Proto::simple && a == CollAlgo::ring && c.graph.channels * c.graph.bw <= 12.0 ? 256
                                                                                                 : 512;
  const double per_thread = p == Proto::simple ? 64.0 : p == Proto::ll && a == CollAlgo::ring ? 8.0 * c.ranks : 8.0;
  int nc = best.comm_channels;
  while (bytes < nc * threads * per_thread && nc >= 2)
    nc--;
  best.channels = nc;
  return best;
}

int nccl_p2p_min_channels(int peer_channels, int comm_channels, int ranks)
{
  int n = std::max(1, peer_channels);
  while (n * ranks > comm_channels && n > 1)
    n /= 2;
  return n;
}

int nccl_p2p_channels(double bytes, int min_channels, int max_channels, bool nvlink, bool multi_node, Proto proto)
{
  // LL's buffer: 8 lines per thread x 512 threads x NCCL_STEPS x 16 B, one step an eighth of it.
  const double step = proto == Proto::ll ? 65536.0 : nvlink && !multi_node ? 512.0 * 1024 : 128.0 * 1024;
  const double min_part = multi_node ? step / 2 : step / 8;
  const double max_part = multi_node ? step : step * 32;
  int n = std::max(1, std::min(min_channels, static_cast<int>(std::ceil(bytes / min_part))));
  while (std::ceil(bytes / n) > max_part && n <= max_channels / 2)
    n *= 2;
  return n;
}

int nccl_p2p_comm_channels(const NcclComm& c)
{
  int n = 1;
  while (n < comm_channels(c))
    n *= 2;
  return n;
}

int nccl_p2p_channel(int round, int part, int p2p_channels)
{
  int bits = 0;
  while ((1 << bits) < p2p_channels)
    bits++;
  int base = 0;
  for (int b = 0; b < bits; b++)
    if (round & (1 << b))
      base |= 1 << (bits - 1 - b);
  return (base + part) & ((1 << bits) - 1);
}

Proto nccl_p2p_proto(double bytes, int channels)
{
  return bytes <= channels * 16384.0 ? Proto::ll : Proto::simple;
}

NcclP2pSend nccl_p2p_send(double bytes, int min_channels, int max_channels, bool nvlink, bool multi_node, int version)
{
  NcclP2pSend s;
  if (version >= 22900) {
    s.channels = nccl_p2p_channels(bytes, min_channels, max_channels, nvlink, multi_node);
    s.proto = nccl_p2p_proto(bytes, s.channels);
  } else {
    s.proto = nccl_p2p_proto(bytes, max_channels);
    s.channels = nccl_p2p_channels(bytes, min_channels, max_channels, nvlink, multi_node, s.proto);
  }
  return s;
}

std::optional<int> parse_nccl_version(std::string_view text)
{
  int parts[3] = {0, 0, 0};
  const char* p = text.data();
  const char* end = p + text.size();
  for (int k = 0; k < 3; k++) {
    if (k > 0) {
      if (p == end || *p != '.')
        return std::nullopt;
      ++p;
    }
    const auto [next, ec] = std::from_chars(p, end, parts[k]);
    if (ec != std::errc() || next == p || parts[k] < 0)
      return std::nullopt;
    p = next;
  }
  if (p != end || parts[1] > 99 || parts[2] > 99)
    return std::nullopt;
  return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

} // namespace moesim
