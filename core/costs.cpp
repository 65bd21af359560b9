#include "core/costs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace moesim {

double GpuSpec::peak_flops(Dtype d) const
{
  if (auto it = flops.find(d); it != flops.end())
    return it->second;
  return flops.at(Dtype::bf16);
}

double roofline_seconds(const GpuSpec& gpu, double flops, double bytes, Dtype dtype, int kernels)
{
  const double t_math = flops > 0 ? flops / (gpu.peak_flops(dtype) * gpu.flops_eff) : 0.0;
  const double t_mem = bytes > 0 ? bytes / (gpu.mem_bw * gpu.mem_bw_eff) : 0.0;
  return kernels * gpu.kernel_overhead + std::max(t_math, t_mem);
}

double roofline_seconds(const GpuSpec& gpu, const Op& op)
{
  return roofline_seconds(gpu, op.flops, op.bytes, op.dtype, op.kernels);
}

namespace {

bool is_p2p(OpKind k)
{
  return k == OpKind::all_to_all || k == OpKind::send || k == OpKind::recv;
}

// What one Simple channel of a send moves over this transport (GB/s), or 0 where nothing bounds it.
double channel_gbs(const TransportTerms& t, Transport x, int sm)
{
  switch (x) {
    case Transport::p2p: return t.pcie_p2p_channel_gbs;
    case Transport::shm: return t.shm_channel_gbs;
    case Transport::nvlink: return nvlink_p2p_channel_gbs(sm);
    case Transport::net: return 0;
  }
  return 0;
}

// A ring's channels through PCIe (P2P or SHM): no NVLink term bounds them (the ring's own rate is
// NCCL's bus bandwidth times the measured fraction).
double ring_channel_gbs(const TransportTerms& t, Transport x)
{
  return x == Transport::nvlink ? 0 : x == Transport::shm ? t.shm_ring_channel_gbs : channel_gbs(t, x, 0);
}

double simple_fraction(const TransportTerms& t, OpKind kind, int n)
{
  if (kind == OpKind::all_reduce)
    return n == 2 ? t.ring_all_reduce_pair : t.ring_all_reduce;
  return n == 2 ? t.ring_gather_pair : t.ring_gather;
}

} // namespace

double simple_pipeline_us(int steps, double step_us, double x_us)
{
  if (steps < 1)
    return x_us;
  return std::max(steps * step_us + x_us * (steps + 1) / (2.0 * steps), x_us);
}

double nvlink_simple_step_us(int sm)
{
  if (sm >= 100)
    return 11.05; // B300, GB200, GB300 (costs.hpp)
  if (sm >= 90)
    return 7.95; // H100, H200 at 2 and 4 GPUs
  if (sm >= 80)
    return 11.65; // A100 at 2 and 8 GPUs, with nvlink_simple_call_us
  return nccl_hop_latency_us(Transport::nvlink, CollAlgo::ring, Proto::simple) + nvlink_latency(sm).hop_us;
}

double nvlink_simple_call_us(int sm)
{
  return sm >= 80 && sm < 90 ? 7.6 : 0; // A100 at 2 and 8 GPUs (costs.hpp)
}

double nvlink_p2p_channel_gbs(int sm)
{
  return sm >= 100 ? 20.95 : sm >= 90 ? 17.89 : sm >= 80 ? 10.13 : 0;
}

double nvlink_p2p_ll_channel_gbs(int sm)
{
  return sm >= 100 ? 4.40 : sm >= 90 ? 7.23 : sm >= 80 ? 2.51 : 0; // costs.hpp
}

double nvlink_ring_ll_channel_gbs(int sm)
{
  return sm >= 100 ? 10.78 : sm >= 90 ? 8.75 : sm >= 80 ? 4.34 : 0; // costs.hpp
}

int ll_ring_calls(OpKind kind, int ranks)
{
  return kind == OpKind::all_reduce ? 2 * ranks - 1 : ranks;
}

double nvlink_p2p_tail_us(int sm, double channel_bytes)
{
  constexpr double p2p_nvl_chunk = 512.0 * 1024; // init.cc NCCL_P2P_NVL_CHUNKSIZE default
  constexpr double exposed = 0.32;               // fitted with the channel rates (costs.hpp)
  const double gbs = nvlink_p2p_channel_gbs(sm);
  return gbs > 0 ? exposed * std::min(channel_bytes, p2p_nvl_chunk) / (gbs * 1e3) : 0;
}

NvlinkLatency nvlink_latency(int sm, bool p2p)
{
  if (sm >= 100)
    return {1.30, 0.68}; // NVLink5: B300, GB200, GB300 (costs.hpp)
  if (sm >= 90)
    return p2p ? NvlinkLatency{} : NvlinkLatency{-1.73, 0.334}; // Hopper: H100, H200 at 2 and 4 GPUs
  if (sm >= 80)
    return {2.68, 0.415}; // NVLink3: A100 SXM at 2 GPUs (costs.hpp)
  return {};
}

std::vector<int> nccl_nodes(const std::vector<std::vector<Transport>>& transport)
{
  const int n = static_cast<int>(transport.size());
  std::vector<int> node(n, -1);
  int next = 0;
  for (int first = 0; first < n; first++) {
    if (node[first] >= 0)
      continue;
    // Everything reached from `first` without the network.
    node[first] = next;
    std::vector<int> todo{first};
    while (!todo.empty()) {
      const int i = todo.back();
      todo.pop_back();
      for (int j = 0; j < n; j++)
        if (node[j] < 0 && (transport[i][j] != Transport::net || transport[j][i] != Transport::net)) {
          node[j] = next;
          todo.push_back(j);
        }
    }
    next++;
  }
  return node;
}

CollChoice choose_collective(const CommShape& s, OpKind kind, double bytes, std::optional<CollAlgo> only,
                             const TransportTerms& terms, bool per_root)
{
  const int n = s.size();
  CollChoice c;
  // What a member reads through host memory, on the wire (before the protocol's factor).
  double shm_read = 0;
  for (int i = 0; i < n; i++)
    if (s.pcie_gbs.size() > size_t(i) && s.pcie_gbs[i] > 0)
      shm_read = shm_read == 0 ? terms.shm_read * s.pcie_gbs[i] * 1e9 : std::min(shm_read, terms.shm_read * s.pcie_gbs[i] * 1e9);
  if (is_p2p(kind)) {
    c.algo = kind == OpKind::all_to_all ? CollAlgo::direct : CollAlgo::p2p;
    const double per_peer = kind == OpKind::all_to_all && n > 1 ? bytes / (n - 1) : bytes;
    bool net = false, shm = false, nvlink = true;
    double send_gbs = 0;
    for (int i = 0; i < n; i++) {
      double mine = 0;
      for (int j = 0; j < n; j++) {
        if (i == j)
          continue;
        net = net || s.transport[i][j] == Transport::net;
        shm = shm || s.transport[i][j] == Transport::shm;
        nvlink = nvlink && s.transport[i][j] == Transport::nvlink;
        mine = std::max(mine, s.path_gbs[i][j]);
      }
      send_gbs = i == 0 ? mine : std::min(send_gbs, mine);
    }
    // Channels per peer: NVLink 2 per link, rounded up to a power of two (at most 32); PCIe and SHM
    // 2; the network one per NIC (the parallel rings).
    int peer_channels = 2;
    if (net)
      peer_channels = std::max(2, s.rings);
    else if (nvlink) {
      const double links = n > 1 ? s.path_gbs[0][1] / nccl_nvlink_per_link_gbs(s.nccl.sm) : 1;
      peer_channels = 1;
      while (peer_channels < std::min(32.0, 2 * std::max(1.0, std::floor(links + 1e-9))))
        peer_channels *= 2;
    }
    // NCCL starts a peer's sends on nccl_p2p_min_channels of the call's channels. An all-to-all
    // over PCIe and SHM on one node takes NCCL's channels and their mapping to rounds (below); a
    // send there keeps a peer on up to all of its own (2).
    const int call_channels = nccl_p2p_comm_channels(s.nccl);
    const bool mapped = !nvlink && !net && kind == OpKind::all_to_all;
    const int min_channels =
        nvlink || mapped ? nccl_p2p_min_channels(peer_channels, call_channels, n) : peer_channels;
    const NcclP2pSend send = nccl_p2p_send(per_peer, min_channels, peer_channels, nvlink, s.nccl.nodes > 1, s.nccl.version);
    c.channels = send.channels;
    c.proto = send.proto;
    // Over NVLink a peer has the channels NCCL gives it for a long send (min_channels): a short
    // one, on fewer, is bound by its latency, not by its channels.
    const int used = nvlink ? std::max(c.channels, min_channels) : c.channels;
    const Transport slowest = net ? Transport::net : nvlink ? Transport::nvlink : Transport::p2p;
    double alpha_us = nccl_base_latency_us(CollAlgo::ring, c.proto) + nccl_hop_latency_us(slowest, CollAlgo::ring, c.proto);
    if (shm)
      alpha_us += terms.shm_hop_us;
    // Across nodes a send is one network step: the network's own latency (NCCL's latencyInter,
    // moesim.latency.nic; 0 for InfiniBand), once more for Simple's receive flush, as tuning.cc
    // charges a collective's network step.
    if (net)
      alpha_us += s.nccl.net_latency_us * (c.proto == Proto::simple ? 2 : 1);
    if (nvlink) {
      const NvlinkLatency nv = nvlink_latency(s.nccl.sm, /*p2p=*/true);
      alpha_us += nv.call_us + nv.hop_us;
      // A Simple send's last p2p chunk, exposed beyond the stream (nvlink_p2p_tail_us).
      if (c.proto == Proto::simple && s.nccl.nodes == 1)
        alpha_us += nvlink_p2p_tail_us(s.nccl.sm, per_peer / used);
    }
    c.alpha = s.p2p_alpha ? *s.p2p_alpha : alpha_us * 1e-6;
    c.wire_factor = wire_factor(c.proto);
    c.rate = terms.p2p * send_gbs * 1e9 * c.wire_factor;
    // Simple: every peer's sends share the call's channels, each moving at most its transport's
    // per-channel rate; the slowest pair's channels pace a sender (a uniform all-to-all ends with
    // its slowest flow).
    if (c.proto == Proto::simple && mapped) {
      // Over PCIe and SHM: round d (member i sending to i + d) runs its c.channels parts on the
      // channels nccl_p2p_channel maps it to; a channel moves its parts one after the other at its
      // transport's per-channel rate, and a sender ends with its busiest channel. Every peer gets
      // bytes / (n - 1): member i moves n - 1 of them in the busiest channel's time.
      std::vector<double> load(call_channels);
      for (int i = 0; i < n; i++) {
        std::fill(load.begin(), load.end(), 0.0);
        for (int d = 1; d < n; d++)
          if (const double ch = channel_gbs(terms, s.transport[i][(i + d) % n], s.nccl.sm); ch > 0)
            for (int part = 0; part < c.channels; part++)
              load[nccl_p2p_channel(d, part, call_channels)] += 1.0 / (c.channels * ch * 1e9);
        if (const double busiest = *std::max_element(load.begin(), load.end()); busiest > 0)
          c.rate = std::min(c.rate, (n - 1) / busiest);
      }
    } else if (c.proto == Proto::simple) {
      const int peers = kind == OpKind::all_to_all ? n - 1 : 1;
      const double share = std::min<double>(used, double(call_channels) / peers);
      for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
          if (const double ch = i != j ? channel_gbs(terms, s.transport[i][j], s.nccl.sm) : 0; ch > 0)
            c.rate = std::min(c.rate, peers * share * ch * 1e9);
    }
    // LL over NVLink: each of a peer's channels streams its lines at nvlink_p2p_ll_channel_gbs
    // (payload; on the wire, lines and flags, twice that).
    if (c.proto == Proto::ll && nvlink && s.nccl.nodes == 1)
      if (const double ll = nvlink_p2p_ll_channel_gbs(s.nccl.sm); ll > 0) {
        const int peers = kind == OpKind::all_to_all ? n - 1 : 1;
        c.rate = std::min(c.rate, peers * c.channels * ll * 1e9 * c.wire_factor);
      }
    c.shm_rate = shm ? shm_read : 0;
    return c;
  }
  const NcclPick pick = nccl_pick(s.nccl, kind, bytes, only);
  c.algo = pick.cost.algo;
  c.proto = pick.cost.proto;
  c.channels = pick.channels;
  c.wire_factor = wire_factor(c.proto);
  // Hops through host memory along the ring (member i -> i+1), charged on every step in proportion.
  int shm_hops = 0;
  for (int i = 0; i < n; i++)
    shm_hops += s.transport[i][(i + 1) % n] == Transport::shm;
  const int nsteps = kind == OpKind::all_reduce ? 2 * (n - 1) : n - 1;
  double latency_us = pick.time_us - bytes / (1000 * pick.algbw_gbs);
  latency_us += double(nsteps) * shm_hops / n * terms.shm_hop_us;
  // A ring member sends nsteps / n of the buffer, a tree (chain) member the whole buffer up and
  // again down: at NCCL's algorithm bandwidth the flows run at these rates.
  double flow_gbs = c.algo == CollAlgo::ring ? pick.algbw_gbs * nsteps / n : 2 * pick.algbw_gbs;
  // A Simple ring's bus bandwidth is its graph's channels x speed: on what the links carry where
  // NCCL's view of a CPU link differs (CommShape::link_graph).
  if (c.algo == CollAlgo::ring && c.proto == Proto::simple && s.link_graph)
    flow_gbs = s.link_graph->channels * s.link_graph->bw;
  const double fraction = c.proto == Proto::simple ? simple_fraction(terms, kind, n) : 1.0;
  c.rate = flow_gbs * fraction * 1e9 * c.wire_factor;
  // Simple over PCIe: a ring moves no faster than its channels through its slowest hop; one
  // operation per root rank (per_root) has 1/n of them each for all of its bytes (costs.hpp).
  const bool roots = per_root && (kind == OpKind::all_gather || kind == OpKind::reduce_scatter) && n > 1;
  const double root_share = roots ? (n - 1.0) / n : 1.0;
  if (c.proto == Proto::simple)
    for (int i = 0; i < n; i++)
      if (const double ch = ring_channel_gbs(terms, s.transport[i][(i + 1) % n]); ch > 0)
        c.rate = std::min(c.rate, c.channels * ch * 1e9 * root_share);
  // LL ring on one NVLink node: bound by its channels' thread blocks (nvlink_ring_ll_channel_gbs),
  // calls x chunk each, in place of NCCL's llMaxBw.
  if (c.algo == CollAlgo::ring && c.proto == Proto::ll && s.nccl.nvlink && s.nccl.nodes == 1 && shm_hops == 0)
    if (const double ll = nvlink_ring_ll_channel_gbs(s.nccl.sm); ll > 0)
      c.rate = pick.comm_channels * ll * nsteps / ll_ring_calls(kind, n) * 1e9 * c.wire_factor;
  if (s.nccl.nvlink) {
    const NvlinkLatency nv = nvlink_latency(s.nccl.sm);
    const int hops = nccl_intra_hops(s.nccl, kind, c.algo);
    latency_us += nv.call_us + nv.hop_us * hops;
    // A Simple ring on one NVLink node: its steps' latency as the kernel's pipeline exposes it
    // (nvlink_simple_step_us), in place of NCCL's per-step estimate; the flows keep their rate.
    if (c.algo == CollAlgo::ring && c.proto == Proto::simple && s.nccl.nodes == 1 && shm_hops == 0) {
      const double x_us = bytes * nsteps / n * c.wire_factor / c.rate * 1e6;
      latency_us -= hops * (nccl_hop_latency_us(Transport::nvlink, CollAlgo::ring, Proto::simple) + nv.hop_us);
      latency_us += simple_pipeline_us(nsteps, nvlink_simple_step_us(s.nccl.sm), x_us) - x_us;
      latency_us += nvlink_simple_call_us(s.nccl.sm);
    }
  } else if (c.algo == CollAlgo::ring && c.proto == Proto::simple && s.nccl.nodes == 1) {
    // The same pipeline over PCIe and through host memory, with the per-step latency NCCL's table
    // charges there (its PCI row, plus each step's share of the host-memory round trips): nothing
    // fitted.
    const double rate = shm_hops ? std::min(c.rate, shm_read) : c.rate;
    const double x_us = bytes * nsteps / n * c.wire_factor / rate * 1e6;
    const double step_us = nccl_hop_latency_us(Transport::p2p, CollAlgo::ring, Proto::simple) +
                           double(shm_hops) / n * terms.shm_hop_us;
    latency_us -= nsteps * step_us;
    latency_us += simple_pipeline_us(nsteps, step_us, x_us) - x_us;
  }
  c.alpha = latency_us * 1e-6;
  c.shm_rate = shm_hops ? shm_read : 0;
  return c;
}

std::vector<std::vector<double>> direct_flow_rates(const std::vector<std::vector<double>>& bytes,
                                                   const std::vector<double>& send_rate,
                                                   const std::vector<std::vector<bool>>& shm,
                                                   const std::vector<double>& recv_rate)
{
  const size_t n = bytes.size();
  const std::vector<PeerBytes> sparse(bytes.begin(), bytes.end());
  std::vector<const PeerBytes*> rows;
  for (const PeerBytes& row : sparse)
    rows.push_back(&row);
  const DirectShares d = direct_shares(rows, shm);
  std::vector<std::vector<double>> rate(n, std::vector<double>(n, 0));
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      if (i != j && bytes[i][j] > 0)
        rate[i][j] = direct_flow_rate(d, bytes[i][j], i, j, send_rate[i], shm[i][j], recv_rate[j]);
  return rate;
}

DirectShares direct_shares(const std::vector<const PeerBytes*>& rows, const std::vector<std::vector<bool>>& shm)
{
  const size_t n = rows.size();
  DirectShares d{std::vector<double>(n, 0), std::vector<double>(n, 0)};
  for (size_t i = 0; i < n; i++)
    for (const PeerBytes::Entry& e : rows[i]->entries()) {
      const size_t j = static_cast<size_t>(e.member);
      if (i != j && e.bytes > 0) {
        d.sent[i] += e.bytes;
        if (shm[i][j])
          d.staged_in[j] += e.bytes;
      }
    }
  return d;
}

double direct_flow_rate(const DirectShares& d, double bytes_ij, size_t i, size_t j, double send_rate_i, bool shm_ij,
                        double recv_rate_j)
{
  double r = send_rate_i * bytes_ij / d.sent[i];
  if (shm_ij && recv_rate_j > 0)
    r = std::min(r, recv_rate_j * bytes_ij / d.staged_in[j]);
  return r;
}

} // namespace moesim
