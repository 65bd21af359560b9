// NCCL's own cost model (core/nccl_model.hpp): every expected number derived by hand from NCCL
// 2.29's tables (docs/collectives.md) in a comment, then asserted.
#include "core/nccl_model.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

TEST_CASE("NCCL's view of the links", "[quick][nccl]")
{
  CHECK(nccl_arch(80) == NcclArch::ampere);
  CHECK(nccl_arch(89) == NcclArch::ampere);
  CHECK(nccl_arch(90) == NcclArch::hopper);
  CHECK(nccl_arch(120) == NcclArch::blackwell);
  // H100: 450 GB/s = 18 NVLink4 links of 25 GB/s; NCCL counts 20.6 each: 370.8.
  CHECK(nccl_nvlink_gbs(90, 450) == Approx(370.8));
  // B200: 900 GB/s = 18 NVLink5 links of 50; 40.1 each: 721.8. A100: 300 = 12 x 25; 20 each: 240.
  CHECK(nccl_nvlink_gbs(100, 900) == Approx(721.8));
  CHECK(nccl_nvlink_gbs(80, 300) == Approx(240));
  // An A100 mesh pair of 4 links (100 GB/s): 80.
  CHECK(nccl_nvlink_gbs(80, 100) == Approx(80));
  // PCIe Gen5 / Gen4 x16, effective 53 / 26.5 GB/s: NCCL's 48 / 24.
  CHECK(nccl_pcie_gbs(53) == Approx(48));
  CHECK(nccl_pcie_gbs(26.5) == Approx(24));
}

TEST_CASE("the ring search: channels and bandwidth per channel", "[quick][nccl]")
{
  // H100, 370.8 GB/s: pass 1 from 60 (6 channels = 360), 50 (7 = 350), 40 (9 = 360), 30 (12 = 360),
  // stopping at 24 (24/60 < 0.49): keeps 6 x 60. Doubled: 12 x 30. Pass 2: 12 x 40 = 480 does not fit.
  NcclGraph h = nccl_ring_search(90, 370.8, 370.8);
  CHECK(h.channels == 12);
  CHECK(h.bw == 30);
  // B200, 721.8: 90 (8 = 720), 80 (9 = 720), 70 (10), 60 (12 = 720), 50 (14), 45 (16 = 720), stop at
  // 40 (40/90 < 0.49); keeps 8 x 90, doubled to 16 x 45; 16 x 50 = 800 does not fit.
  NcclGraph b = nccl_ring_search(100, 721.8, 721.8);
  CHECK(b.channels == 16);
  CHECK(b.bw == 45);
  // A100, 240: 40 x 6 = 240 fills it at once; doubled (sm80 is not past sm80): 12 x 20.
  NcclGraph a = nccl_ring_search(80, 240, 240);
  CHECK(a.channels == 12);
  CHECK(a.bw == 20);
  // A Gen5 PCIe P2P pair on sm120, 48: 45 (1), 40 (1), 30 (1), 24 (2 = 48, fills it); 24 < 25: not
  // doubled; 2 x 30 = 60 does not fit.
  NcclGraph p = nccl_ring_search(120, 48, 48);
  CHECK(p.channels == 2);
  CHECK(p.bw == 24);
  // Through an Intel root complex (SHM) on sm90, 48 / 1.2 = 40: 40 x 1 fills it; doubled to 2 x 20
  // (only 1 channel, so not kept at 40); 2 x 24 = 48 does not fit.
  NcclGraph s = nccl_ring_search(90, 40, 40);
  CHECK(s.channels == 2);
  CHECK(s.bw == 20);
  // sm90 past sm80 with a slow speed and many channels is not doubled: 100 GB/s of NVLink seen as
  // 4 x 20.6 = 82.4: 60 (1), 50 (1), 40 (2 = 80), 30 (2), 24 (3 = 72), 20 (4 = 80, not more), stop
  // at 15; 2 x 40 doubled to 4 x 20; 4 x 24 = 96 does not fit.
  NcclGraph m = nccl_ring_search(90, 82.4, 82.4);
  CHECK(m.channels == 4);
  CHECK(m.bw == 20);
  // Across nodes, the inter-node ladder: 8 NICs of 50 GB/s behind H100 NVLink: capacity 370.8, one
  // channel at most 50: 48 (7 = 336), 45 (8 = 360), 42 (8), 40 (9 = 360), 30 (12 = 360), 24 (15 =
  // 360), 22 (.46 of 45: stop); keeps 8 x 45; 45 >= 25 but < 50 with 8 > 4 channels: not doubled;
  // pass 2 tries 48: 8 x 48 = 384 does not fit.
  NcclGraph n = nccl_ring_search(90, 370.8, 50, true);
  CHECK(n.channels == 8);
  CHECK(n.bw == 45);
}

namespace {
NcclComm h100(int ranks, int nodes = 1)
{
  NcclComm c;
  c.ranks = ranks;
  c.nodes = nodes;
  c.sm = 90;
  c.nvlink = true;
  c.graph = {12, 30};
  return c;
}
const NcclCost& entry(const std::vector<NcclCost>& v, CollAlgo a, Proto p)
{
  for (const NcclCost& e : v)
    if (e.algo == a && e.proto == p)
      return e;
  FAIL("no entry");
  return v.front();
}
} // namespace

TEST_CASE("the tuning tables for 8 H100s", "[quick][nccl]")
{
  const auto t = nccl_costs(h100(8), OpKind::all_reduce);
  // Ring Simple: 8.4 + 14 x 3.4 = 56 us; bus 12 x 30 = 360; algorithm bandwidth 360 x 8 / 14.
  CHECK(entry(t, CollAlgo::ring, Proto::simple).latency_us == Approx(56));
  CHECK(entry(t, CollAlgo::ring, Proto::simple).algbw_gbs == Approx(360.0 * 8 / 14));
  // Ring LL: 6.6 + 14 x 0.6 = 15 us; bus min(141, 0.5 x 360) = 141.
  CHECK(entry(t, CollAlgo::ring, Proto::ll).latency_us == Approx(15));
  CHECK(entry(t, CollAlgo::ring, Proto::ll).busbw_gbs == Approx(141));
  // Ring LL128: 14 + 14 x 1.9 = 40.6 us; bus min(0.92 x 360, 12 x 36.7) = 331.2.
  CHECK(entry(t, CollAlgo::ring, Proto::ll128).latency_us == Approx(40.6));
  CHECK(entry(t, CollAlgo::ring, Proto::ll128).busbw_gbs == Approx(331.2));
  // Tree Simple: 8.4 + 2 x 7 x 4.0 = 64.4 us; bus min(0.92 x 360, 12 x 38.7) = 331.2, algbw half.
  CHECK(entry(t, CollAlgo::tree, Proto::simple).latency_us == Approx(64.4));
  CHECK(entry(t, CollAlgo::tree, Proto::simple).algbw_gbs == Approx(165.6));
  // Tree LL128: 14 + 2 x 7 x 1.25 = 31.5 us; bus min(331.2 x 7/9, 440.4) = 257.6.
  CHECK(entry(t, CollAlgo::tree, Proto::ll128).busbw_gbs == Approx(331.2 * 7 / 9));
  // All-gather has no tree: 3 protocols of the ring; LL128 needs NVLink: none on PCIe.
  CHECK(nccl_costs(h100(8), OpKind::all_gather).size() == 3);
  NcclComm pci = h100(4);
  pci.nvlink = false;
  CHECK(nccl_costs(pci, OpKind::all_gather).size() == 2);
  CHECK(entry(nccl_costs(pci, OpKind::all_gather), CollAlgo::ring, Proto::simple).latency_us == Approx(8.4 + 3 * 5.7));
}

TEST_CASE("NCCL's pick and the channels a call runs on", "[quick][nccl]")
{
  // 8 KiB: ring LL 15 + 8192 / (1000 x 80.57) = 15.10 us; tree LL 15.2 + 8192 / (43.58 x 0.7
  // [log2(8192/64) = 7]) -> 15.47; LL128 and Simple start at 31.5 and more: ring LL.
  NcclPick s = nccl_pick(h100(8), OpKind::all_reduce, 8192);
  CHECK(s.cost.algo == CollAlgo::ring);
  CHECK(s.cost.proto == Proto::ll);
  CHECK(s.time_us == Approx(15 + 8192 / (1000 * 141.0 * 8 / 14)));
  // The communicator runs 24 channels; LL's threshold is 8 x 8 ranks bytes per thread, 512 threads:
  // 8192 < c x 512 x 64 down to c = 1.
  CHECK(s.comm_channels == 24);
  CHECK(s.channels == 1);
  // 256 MiB: ring Simple 56 + 1304.9 us against LL128's 40.6 + 1418.4: Simple, on all 24 channels.
  NcclPick b = nccl_pick(h100(8), OpKind::all_reduce, 268435456);
  CHECK(b.cost.proto == Proto::simple);
  CHECK(b.channels == 24);
  // NCCL_ALGO=Tree.
  CHECK(nccl_pick(h100(8), OpKind::all_reduce, 268435456, CollAlgo::tree).cost.algo == CollAlgo::tree);
  // Two nodes of 8 (16 ranks): ring Simple latency 8.4 + (30 - 2) x max(3.4, 1 x 3) + 2 x 14 =
  // 131.6 us, times 1.4 once bytes / (24 channels x 16 ranks) >= 64 (the ring's plateau).
  const auto t = nccl_costs(h100(16, 2), OpKind::all_reduce);
  CHECK(entry(t, CollAlgo::ring, Proto::simple).latency_us == Approx(131.6));
  // Tree across two nodes: 8.4 + 2 x ((8 - 1) x 4.0 + log2(2) x 14) = 92.4 us.
  CHECK(entry(t, CollAlgo::tree, Proto::simple).latency_us == Approx(92.4));
  // The network plugin's latency (moesim.latency.nic, 2 us) counts on every inter-node step, twice
  // for Simple (the receive flush): 8.4 + 28 x 3.4 + 2 x (14 + 2 + 2) = 139.6 us; LL 6.6 + 28 x
  // max(0.6, 1) + 2 x (2.7 + 2) = 44 us.
  NcclComm lat = h100(16, 2);
  lat.net_latency_us = 2;
  CHECK(entry(nccl_costs(lat, OpKind::all_reduce), CollAlgo::ring, Proto::simple).latency_us == Approx(139.6));
  CHECK(entry(nccl_costs(lat, OpKind::all_reduce), CollAlgo::ring, Proto::ll).latency_us == Approx(44));
  NcclPick m = nccl_pick(h100(16, 2), OpKind::all_reduce, 268435456, CollAlgo::ring);
  CHECK(m.cost.proto == Proto::simple);
  CHECK(m.time_us - 268435456 / (1000 * m.algbw_gbs) == Approx(131.6 * 1.4));
}

TEST_CASE("the p2p path: channels per peer and LL or Simple", "[quick][nccl]")
{
  // NVLink on one node: a part is 512 KiB / 8 = 64 KiB; 16 KiB -> 1 channel, LL (<= 16 KiB);
  // 32 KiB -> 1 channel, Simple.
  CHECK(nccl_p2p_channels(16384, 16, 16, true, false) == 1);
  CHECK(nccl_p2p_proto(16384, 1) == Proto::ll);
  CHECK(nccl_p2p_proto(32768, nccl_p2p_channels(32768, 16, 16, true, false)) == Proto::simple);
  // 1 MiB over NVLink: 16 parts, at most 16 channels: 16.
  CHECK(nccl_p2p_channels(1048576, 16, 16, true, false) == 16);
  // PCIe: 128 KiB / 8 = 16 KiB parts, 2 channels at most: 32 KiB -> 2 channels, LL (<= 2 x 16 KiB);
  // 48 KiB -> 2 channels, Simple.
  CHECK(nccl_p2p_channels(32768, 2, 2, false, false) == 2);
  CHECK(nccl_p2p_proto(32768, 2) == Proto::ll);
  CHECK(nccl_p2p_proto(49152, 2) == Proto::simple);
  // Across nodes: 128 KiB / 2 = 64 KiB parts.
  CHECK(nccl_p2p_channels(131072, 8, 8, false, true) == 2);
  CHECK(wire_factor(Proto::ll) == 2.0);
  CHECK(wire_factor(Proto::ll128) == Approx(128.0 / 120));
}

TEST_CASE("the p2p path: NCCL before 2.29 picks LL by the peer's channels", "[quick][nccl]")
{
  // An HGX A100 (32 channels a peer, 4 of them on 8 ranks). NCCL 2.29: 256 KiB is 4 parts of
  // 64 KiB on 4 channels, LL up to 4 x 16 KiB = 64 KiB: Simple. NCCL 2.27.3: LL up to 32 x 16 KiB =
  // 512 KiB, the channels counted with LL's step (64 KiB, parts of 8 KiB): 32 parts held to 4.
  const NcclP2pSend s29 = nccl_p2p_send(262144, 4, 32, true, false);
  CHECK(s29.proto == Proto::simple);
  CHECK(s29.channels == 4);
  const NcclP2pSend s27 = nccl_p2p_send(262144, 4, 32, true, false, 22703);
  CHECK(s27.proto == Proto::ll);
  CHECK(s27.channels == 4);
  // 16 KiB: 2.29 one channel (a 64 KiB part), LL; 2.27.3 two (8 KiB parts), LL.
  CHECK(nccl_p2p_send(16384, 4, 32, true, false).channels == 1);
  CHECK(nccl_p2p_send(16384, 4, 32, true, false, 22703).channels == 2);
  CHECK(nccl_p2p_channels(16384, 4, 32, true, false, Proto::ll) == 2);
  // 512 KiB is the last LL size under 2.27.3; one byte more is Simple, on Simple's parts (64 KiB:
  // 9 of them, held to 4).
  CHECK(nccl_p2p_send(524288, 4, 32, true, false, 22703).proto == Proto::ll);
  const NcclP2pSend over = nccl_p2p_send(524289, 4, 32, true, false, 22703);
  CHECK(over.proto == Proto::simple);
  CHECK(over.channels == 4);
  // Across nodes an LL part is at least 64 KiB / 2 = 32 KiB, at most 64 KiB: 256 KiB on 2 channels
  // (min_channels) is 128 KiB a part, doubled to 4 (64 KiB), within the peer's 8.
  CHECK(nccl_p2p_channels(262144, 2, 8, false, true, Proto::ll) == 4);
}

TEST_CASE("NCCL versions read as NCCL_VERSION_CODE", "[quick][nccl]")
{
  // major x 10000 + minor x 100 + patch.
  CHECK(parse_nccl_version("2.27.3") == 22703);
  CHECK(parse_nccl_version("2.29.2") == nccl_version_modelled);
  CHECK(parse_nccl_version("2.9.10") == 20910);
  CHECK_FALSE(parse_nccl_version("2.27"));
  CHECK_FALSE(parse_nccl_version("2.27.3.1"));
  CHECK_FALSE(parse_nccl_version("2.100.1"));
  CHECK_FALSE(parse_nccl_version("v2.27.3"));
  CHECK_FALSE(parse_nccl_version("2.-1.3"));
  CHECK_FALSE(parse_nccl_version(""));
}

TEST_CASE("the p2p path: a peer's share of the call's channels", "[quick][nccl]")
{
  // An HGX B200 board: 18 NVLinks per pair give 2 x 18 = 36 channels per peer, rounded up to 64 and
  // held to the call's 32 p2p channels (16 graph channels, run twice). Halved while ranks (self
  // included) x channels exceed 32: 2 ranks 16, 4 ranks 8, 8 ranks 4.
  CHECK(nccl_p2p_min_channels(32, 32, 2) == 16);
  CHECK(nccl_p2p_min_channels(32, 32, 4) == 8);
  CHECK(nccl_p2p_min_channels(32, 32, 8) == 4);
  // A PCIe box (2 channels per peer, 4 in all): 2 on 2 GPUs, 1 from 4; never below 1.
  CHECK(nccl_p2p_min_channels(2, 4, 2) == 2);
  CHECK(nccl_p2p_min_channels(2, 4, 4) == 1);
  CHECK(nccl_p2p_min_channels(2, 4, 64) == 1);
  // 8 ranks, 32 MiB to a peer: 512 parts of 64 KiB, held to the 4: 8 MiB a channel, below the
  // 512 KiB x 32 = 16 MiB maximum part. 128 MiB: 32 MiB parts on 4, doubled to 8 (8 <= 32 / 2)
  // for 16 MiB, no longer above the maximum.
  CHECK(nccl_p2p_channels(33554432, 4, 32, true, false) == 4);
  CHECK(nccl_p2p_channels(134217728, 4, 32, true, false) == 8);
}

TEST_CASE("the p2p path: rounds mapped to channels", "[quick][nccl]")
{
  // 4 p2p channels (2 bits): round d starts on its two low bits reversed: 1 (01) -> 2 (10), 2 (10)
  // -> 1, 3 -> 3, 4 (100: low bits 00) -> 0, 5 -> 2, 6 -> 1, 7 -> 3; 0 (the copy to self) on 0.
  const std::vector<int> first = {0, 2, 1, 3, 0, 2, 1, 3};
  for (int d = 0; d < 8; d++) {
    INFO("round " << d);
    CHECK(nccl_p2p_channel(d, 0, 4) == first[d]);
  }
  // A round's second part on the next channel, wrapping: round 3 on 3 then 0.
  CHECK(nccl_p2p_channel(3, 1, 4) == 0);
  CHECK(nccl_p2p_channel(1, 1, 4) == 3);
  // 2 channels: odd rounds on 1, even on 0; 1 channel: everything on 0.
  CHECK(nccl_p2p_channel(7, 0, 2) == 1);
  CHECK(nccl_p2p_channel(6, 0, 2) == 0);
  CHECK(nccl_p2p_channel(7, 1, 2) == 0);
  CHECK(nccl_p2p_channel(5, 0, 1) == 0);
  // 8 channels (3 bits): 1 (001) -> 4 (100), 3 (011) -> 6 (110), 6 (110) -> 3 (011).
  CHECK(nccl_p2p_channel(1, 0, 8) == 4);
  CHECK(nccl_p2p_channel(3, 0, 8) == 6);
  CHECK(nccl_p2p_channel(6, 0, 8) == 3);
}

TEST_CASE("the ring search across two Intel sockets: one channel", "[quick][nccl]")
{
  // NCCL sees the link between Sapphire or Granite Rapids sockets at 22 GB/s. An 8-GPU ring
  // through it, with a PCIe Gen5 pair (48) the fastest path: on sm100's ladder (90 ... 24, 20, 19,
  // 18) the first speed a channel fits is 20: 1 x 20; below 25 GB/s it is not doubled, and 1 x 24
  // no longer fits. On the PCIe links alone (48 / 1.2 = 40 through host memory): 1 x 40, doubled to
  // 2 x 20.
  const NcclGraph sys = nccl_ring_search(120, nccl_intel_inter_cpu_gbs, 48);
  CHECK(sys.channels == 1);
  CHECK(sys.bw == 20);
  const NcclGraph pcie = nccl_ring_search(120, 40, 48);
  CHECK(pcie.channels == 2);
  CHECK(pcie.bw == 20);
}

TEST_CASE("across nodes NCCL's estimate never falls as nodes are added", "[quick][nccl]")
{
  // 8 H100s a node; one node searches NVLink (12 x 30), more search the NICs (8 x 45, the
  // inter-node ladder above). At fixed bytes per GPU (the all-reduce's buffer; the all-gather's
  // and reduce-scatter's share, their size ranks x share) every protocol's latency grows with the
  // network steps (ring: 2(N-1) or N-1 of them; tree: log2 N) and its bandwidth shrinks with the
  // ranks (ring n / 2(n-1)) and with the per-node caps (llMaxBw 39 on 2 nodes, 20.4 from 3): the
  // least estimate grows too.
  auto comm = [](int nodes) {
    NcclComm c = h100(8 * nodes, nodes);
    if (nodes > 1)
      c.graph = {8, 45};
    return c;
  };
  for (OpKind kind : {OpKind::all_reduce, OpKind::all_gather, OpKind::reduce_scatter})
    for (double share = 1024; share <= 1 << 30; share *= 4) {
      double before = 0;
      for (int nodes : {1, 2, 3, 4, 8, 16, 32, 64}) {
        const double bytes = kind == OpKind::all_reduce ? share : share * 8 * nodes;
        const double t = nccl_pick(comm(nodes), kind, bytes).time_us;
        INFO(to_string(kind) << " " << share << " B a GPU on " << nodes << " nodes");
        CHECK(t >= before);
        before = t;
      }
    }
  // The tree across nodes: 16 nodes of 8 (128 ranks), all-reduce of 64 KiB. Ring LL pays
  // 6.6 + (254 - 30) x max(0.6, 1) + 30 x 2.7 = 311.6 us; tree LL 6.8 + 2 x (7 x 0.6 + log2(16) x 5)
  // = 55.2 us and, at bus min(0.92 x 360, 8 x 36) = 288 / 3.8 capped at 20.4 (llMaxBw from 3 nodes),
  // half of it with the correction 0.6 (log2(65536 / 64) = 10): 55.2 + 65536 / (1000 x 10.2 x 0.6).
  const NcclPick t = nccl_pick(comm(16), OpKind::all_reduce, 65536);
  CHECK(t.cost.algo == CollAlgo::tree);
  CHECK(t.cost.proto == Proto::ll);
  CHECK(t.time_us == Approx(55.2 + 65536 / (1000 * 10.2 * 0.6)));
  // On one node the ring keeps it: ring LL 15 + 65536 / (1000 x 141 x 8 / 14) = 15.81 us against
  // tree LL 15.2 + 65536 / (1000 x 43.58 x 0.6) = 17.71 us.
  CHECK(nccl_pick(comm(1), OpKind::all_reduce, 65536).cost.algo == CollAlgo::ring);
}

TEST_CASE("one rank per node: the network's tree row, LL128 allowed", "[quick][nccl]")
{
  // 4 nodes of one GPU, no intra-node path (nvlink false: no pair inside a node). NCCL takes the
  // network's tree latency for every protocol (ppn = 1, tuning.cc), and LL128 stays on (its typeIntra
  // is LOC, within NVB). Ring LL128 all-reduce: 6 steps, all across nodes: 14 + 6 x 8.5 = 65 us;
  // tree LL128: 14 + 2 x (0 x 1.9 + log2(4) x 8.5) = 48 us; ring LL: 6.6 + 6 x 5.0 = 36.6 us.
  NcclComm c;
  c.ranks = 4;
  c.nodes = 4;
  c.sm = 90;
  c.graph = {2, 24};
  const auto t = nccl_costs(c, OpKind::all_reduce);
  CHECK(t.size() == 6);
  CHECK(entry(t, CollAlgo::ring, Proto::ll128).latency_us == Approx(65));
  CHECK(entry(t, CollAlgo::tree, Proto::ll128).latency_us == Approx(48));
  CHECK(entry(t, CollAlgo::ring, Proto::ll).latency_us == Approx(36.6));
}
