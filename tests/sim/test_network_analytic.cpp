// Analytic network cases: every expected time is derived by hand in a comment and must match the
// simulation to 1e-9 relative (CM02, no cross-traffic, TCP-gamma off, precision 1e-13, latency-free
// links: docs/simgrid-and-nccl.md, "Exact network model").
#include "fixtures.hpp"
#include "sim/simulation.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;

namespace {
constexpr double rel = 1e-9;
}

// The star platforms' NVLink links of B GB/s count, for NCCL, round(B / 25) links of 20.6 GB/s on
// sm90 (core/nccl_model.hpp); the ring search results used below are derived in
// tests/core/test_nccl_model.cpp: 82.4 GB/s (B = 100) -> 4 channels x 20 GB/s.

TEST_CASE("ring all-reduce of S bytes on 4 GPUs: NCCL's bandwidth, not the links'", "[quick][sim]")
{
  // N = 4, links B = 100 GB/s per direction, S = 64 MiB. NCCL sees 82.4 GB/s and runs 4 channels
  // of 20 GB/s: bus bandwidth 80. It picks ring/Simple: 28.8 + S / (80 x 4/6 GB/s) = 1287.1 us,
  // against LL128 25.4 + S / (73.6 x 4/6) = 1393 us and tree Simple 32.4 + S / (36.8 x 0.8).
  // Each rank sends 1.5 S to its successor at 80 GB/s x 0.95 (the measured fraction of a Simple
  // ring) = 76 GB/s, below the 100 GB/s links: X = 1.5 S / 76e9 = 1324.5 us. alpha = NCCL's base
  // 8.4 us, less Hopper's 1.73 us a collective call (core/costs.hpp nvlink_latency; its 0.334 a hop
  // goes with NCCL's Simple step), plus what the Simple pipeline shows beyond X (core/costs.hpp,
  // Hopper's 7.95 us a step): max(6 x 7.95 + X x 7/12, X) - X = 0 (820.3 < 1324.5).
  // Expected: 6.67e-6 + 1.5 S / 76e9.
  const double S = 64.0 * 1024 * 1024, B = 1e11;
  Simulation sim(star_platform("ring_ar", 4, B));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, S);
  SimOutput out = sim.run(s);
  REQUIRE(out.algorithms.at("all_reduce ring/Simple") == 1);
  REQUIRE(out.timeline.step_time == Approx(6.67e-6 + 1.5 * S / 76e9).epsilon(rel));
  // Every flow crosses two nvlink link directions: 4 flows * 1.5 S * 2.
  REQUIRE(out.link_bytes.at("nvlink") == Approx(4 * 1.5 * S * 2).epsilon(rel));
}

TEST_CASE("ring all-gather of S bytes on 8 GPUs", "[quick][sim]")
{
  // N = 8, B = 50 GB/s: NCCL sees 2 x 20.6 = 41.2 GB/s; the search keeps 1 x 40 (30, 24 and 2 x 20
  // are no more), doubled to 2 x 20: bus bandwidth 40. Ring/Simple (LL128's bus is 0.92 x 40).
  // Each rank forwards 0.875 S at 40 x 0.85 = 34 GB/s: X = 6908.3 us, which hides the Simple
  // pipeline's 7 steps (7 x 7.95 + X x 8/14 = 4003 us < X): alpha = NCCL's base 8.4 us less
  // Hopper's 1.73 a call: 6.67 us.
  const double S = 256.0 * 1024 * 1024, B = 5e10;
  Simulation sim(star_platform("ring_ag", 8, B));
  Schedule s = empty_schedule(8);
  add_collective(s, OpKind::all_gather, S);
  SimOutput out = sim.run(s);
  REQUIRE(out.timeline.step_time == Approx(6.67e-6 + 0.875 * S / 34e9).epsilon(rel));
}

TEST_CASE("reduce-scatter over PCIe P2P", "[quick][sim]")
{
  // N = 4 over PCIe (no LL128), B = 25 GB/s: NCCL sees 25 x 48/53 = 22.64 GB/s; the search: 20 (1),
  // 15 (1), 12 (1), 11 (2 = 22), 6 (3 = 18), stop at 3: 2 x 11 = 22, too slow to double.
  // S = 32 MiB: Simple (25.5 + S / (22 x 4/3) = 1169 us) over LL (9.6 + S / (11 x 4/3) = 2298 us).
  // 0.75 S per rank at 22 x 0.85 = 18.7 GB/s (its 4 channels would move 4 x 12.84): X = 1345.77 us.
  // NCCL's table charges 8.4 + 3 x 5.7 = 25.5 us; the ring's pipeline of 3 steps of 5.7 us hides
  // under X (17.1 + X x 4/6 = 914.3 us < X): alpha = NCCL's base 8.4 us.
  const double S = 32.0 * 1024 * 1024, B = 2.5e10;
  Simulation sim(star_platform("ring_rs", 4, B, "pci"));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::reduce_scatter, S);
  SimOutput out = sim.run(s);
  REQUIRE(out.timeline.step_time == Approx(8.4e-6 + 0.75 * S / (22e9 * 0.85)).epsilon(rel));
}

TEST_CASE("small all-reduce takes the ring with LL", "[quick][sim]")
{
  // N = 4, S = 4 KiB, B = 100 GB/s (NCCL: 4 x 20). Candidates (NCCL's estimate, us):
  //   ring LL   : 6.6 + 6 x 0.6 = 10.2 + 4096 / (1000 x 40 x 4/6)            = 10.35
  //   tree LL   : 6.8 + 6 x 0.6 = 10.4 + 4096 / (1000 x 19.37 / 2 x 0.7)     = 11.00
  //   LL128, Simple: 25.4, 28.8 and more.
  // Ring/LL. Its flows move what the ring's 8 channels (the graph's 4 doubled) stream, 7 calls a
  // chunk for 6 steps (core/costs.hpp nvlink_ring_ll_channel_gbs): 8 x 8.75 x 6/7 = 60 GB/s of
  // payload, 120 on the wire (LL lines are half flags), above the 100 GB/s links, which then set
  // the pace: each rank sends 1.5 S x 2 at 100 GB/s. alpha: NCCL's 10.2 us, less Hopper's 1.73 a
  // call, plus its 0.334 a step (core/costs.hpp nvlink_latency): 10.2 - 1.73 + 6 x 0.334 = 10.474.
  const double S = 4096, B = 1e11;
  Simulation sim(star_platform("small_ar", 4, B));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, S);
  SimOutput out = sim.run(s);
  REQUIRE(out.algorithms.at("all_reduce ring/LL") == 1);
  REQUIRE(out.timeline.step_time == Approx(10.474e-6 + 1.5 * S * 2 / 100e9).epsilon(rel));
}

TEST_CASE("tree all-reduce: a chain, reduce up, then broadcast down", "[quick][sim]")
{
  // Tree forced (moesim.nccl_algo = tree, like NCCL_ALGO=Tree) on 4 GPUs, S = 1.2 MB, B = 100 GB/s
  // (NCCL: 4 x 20). Tree bus bandwidth min(0.92 x 80, 4 x 38.7) = 73.6; per protocol, with NCCL's
  // correction at log2(S / 64) = 14 (LL 0.4, LL128 0.6, Simple 0.5):
  //   LL    10.4 us + S / (1000 x 19.37 / 2 x 0.4)                    = 320 us
  //   LL128 21.5 us + S / (1000 x min(73.6 x 7/9, 146.8) / 2 x 0.6)   = 21.5 + 69.88 us (chosen)
  //   Simple 32.4 us + S / (1000 x 36.8 x 0.5)                        = 97.6 us
  // The chain 0 <- 1 <- 2 <- 3: phase 1 every member sends S x 128/120 to its predecessor, phase 2
  // the reverse, each flow at 2 x NCCL's algorithm bandwidth (57.244 / 2 x 0.6 = 17.173 GB/s of
  // payload) on the wire: each phase lasts S / (2 x 17.173e9), so the call takes NCCL's estimate,
  // 21.5 us + S / 17.173e9, and Hopper's latency beyond NCCL's table (core/costs.hpp nvlink_latency):
  // -1.73 a call, 0.334 per tree hop, 2 x 3 of them: 21.5 - 1.73 + 6 x 0.334 = 21.774 us.
  const double S = 1.2e6, B = 1e11;
  Simulation sim(star_platform("tree", 4, B, "nvlink", {}, "<prop id=\"moesim.nccl_algo\" value=\"tree\"/>\n"));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, S);
  SimOutput out = sim.run(s);
  REQUIRE(out.algorithms.at("all_reduce tree/LL128") == 1);
  const double algbw = 80 * 0.92 * 7 / 9 / 2 * 0.6 * 1e9;
  REQUIRE(out.timeline.step_time == Approx(21.774e-6 + S / algbw).epsilon(rel));
}

TEST_CASE("direct all-to-all of S bytes per peer on 4 GPUs", "[quick][sim]")
{
  // N = 4, each rank sends S = 8 MB to each of the 3 others, B = 50 GB/s (NCCL: 41.2 GB/s per path).
  // p2p path, Simple; alpha = ring Simple base + one NVLink hop = 8.4 + 3.4 = 11.8 us, plus the
  // last p2p chunk's exposed part: NCCL runs 4 p2p channels (2 graph channels, doubled) and gives
  // each of 4 ranks 1 (4 per peer, halved while 4 ranks x it > 4), so a peer's 8 MB go on one
  // channel and its last 512 KiB chunk shows 0.32 x 524288 / 17.89e3 B/us = 9.378 us. A sender
  // moves 0.81 x 41.2 = 33.372 GB/s in all (its 3 channels could move 3 x 17.89), 11.124 to each
  // peer; its link carries 3 of them (33.372 < 50), so all end at 3 S / 33.372e9.
  const double S = 8e6, B = 5e10;
  Simulation sim(star_platform("a2a", 4, B));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_to_all, 3 * S);
  for (int r = 0; r < 4; r++) {
    s.ranks[r].ops[0].peer_bytes.assign(4, S);
    s.ranks[r].ops[0].peer_bytes.set(r, 0);
  }
  SimOutput out = sim.run(s);
  REQUIRE(out.algorithms.at("all_to_all direct/Simple") == 1);
  REQUIRE(out.timeline.step_time == Approx(11.8e-6 + 0.32 * 524288 / 17.89e9 + 3 * S / (0.81 * 41.2e9)).epsilon(rel));
}

TEST_CASE("a point-to-point transfer", "[quick][sim]")
{
  // One send of S = 10 MB from gpu0 to gpu1 over B = 25 GB/s links (NCCL: one link, 20.6 GB/s),
  // on one channel (17.89 GB/s would allow more): alpha + S / (0.81 x 20.6 GB/s), alpha = 11.8 us
  // plus the last 512 KiB chunk's exposed 0.32 x 524288 / 17.89e3 B/us = 9.378 us.
  const double S = 1e7, B = 2.5e10;
  Simulation sim(star_platform("p2p", 2, B));
  Schedule s = empty_schedule(2);
  Op send;
  send.kind = OpKind::send;
  send.peer = 1;
  send.tag = 7;
  send.comm_bytes = S;
  add_op(s, 0, send);
  Op recv;
  recv.kind = OpKind::recv;
  recv.peer = 0;
  recv.tag = 7;
  recv.comm_bytes = S;
  add_op(s, 1, recv);
  SimOutput out = sim.run(s);
  REQUIRE(out.timeline.step_time == Approx(11.8e-6 + 0.32 * 524288 / 17.89e9 + S / (0.81 * 20.6e9)).epsilon(rel));
}

TEST_CASE("two flows sharing a link split its bandwidth", "[quick][sim]")
{
  // gpu0 -> gpu2 and gpu1 -> gpu2 at once, S = 10 MB each, B = 20 GB/s: each send could move
  // 0.81 x 20.6 = 16.686 GB/s, but both cross l2 DOWN: B/2 each, both end at alpha + 2 S / B,
  // alpha = 11.8 us + the last chunk's 0.32 x 524288 / 17.89e3 B/us (as above).
  const double S = 1e7, B = 2e10;
  Simulation sim(star_platform("share", 3, B));
  Schedule s = empty_schedule(3);
  for (int src : {0, 1}) {
    Op send;
    send.kind = OpKind::send;
    send.peer = 2;
    send.tag = src;
    send.comm_bytes = S;
    add_op(s, src, send);
  }
  // Two receives on separate streams so that neither waits for the other.
  for (int src : {0, 1}) {
    Op recv;
    recv.kind = OpKind::recv;
    recv.peer = src;
    recv.tag = src;
    recv.comm_bytes = S;
    recv.stream = src;
    add_op(s, 2, recv);
  }
  SimOutput out = sim.run(s);
  REQUIRE(out.timeline.step_time == Approx(11.8e-6 + 0.32 * 524288 / 17.89e9 + 2 * S / B).epsilon(rel));
}

TEST_CASE("a platform's moesim.nccl_version sets its communicators' NCCL rules", "[quick][sim]")
{
  // 8 A100s (sm 80) on a 300 GB/s NVSwitch star (NCCL's view: 12 links x 20 = 240 GB/s), NCCL
  // 2.27.3: an all-to-all of 7 x 512 KiB sends each peer LL on 4 channels
  // (tests/core/test_costs.cpp), where the default 2.29.2 sends it Simple.
  GpuProps a100;
  a100.sm = 80;
  Simulation sim(star_platform("nccl_version_2273", 8, 300e9, "nvlink", a100,
                               "<prop id=\"moesim.nccl_version\" value=\"2.27.3\"/>\n"));
  CHECK(sim.platform().nccl_version() == 22703);
  const CommShape s = sim.platform().comm_shape({0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(s.nccl.version == 22703);
  const CollChoice c = choose_collective(s, OpKind::all_to_all, 7 * 524288.0);
  CHECK(c.proto == Proto::ll);
  CHECK(c.channels == 4);
  // Overridden (moesim nccl-tests --nccl-version): 2.29.2's rule, Simple.
  sim.set_nccl_version(nccl_version_modelled);
  CHECK(choose_collective(sim.platform().comm_shape({0, 1, 2, 3, 4, 5, 6, 7}), OpKind::all_to_all, 7 * 524288.0).proto ==
        Proto::simple);
}

TEST_CASE("NCCL sees the link between CPU sockets at its table's figure", "[quick][sim]")
{
  // The shipped 8x RTX PRO 6000 server: pairs under one PCIe Gen5 switch are P2P (NCCL: 53 x 48/53
  // = 48 GB/s); pairs under two switches of one socket go through host memory (48 / 1.2 = 40, the
  // Intel root-complex charge); across the sockets NCCL takes the CPU link at 22 GB/s (Sapphire or
  // Granite Rapids, topo.cc) and no root-complex charge, where the links alone carry 40.
  Simulation sim(std::string(MOESIM_SOURCE_DIR) + "/platforms/server-8x-rtxpro6000-pcie-switches.xml");
  const Platform& p = sim.platform();
  CHECK(p.route(0, 1).nccl_gbs == Approx(48));
  CHECK(p.route(0, 2).nccl_gbs == Approx(40));
  CHECK(p.route(0, 2).link_gbs == Approx(40));
  CHECK(p.route(0, 4).transport == Transport::shm);
  CHECK(p.route(0, 4).nccl_gbs == Approx(22));
  CHECK(p.route(0, 4).link_gbs == Approx(40));
  // The 8-GPU ring crosses the sockets: NCCL's search fits 1 channel of 20 GB/s
  // (tests/core/test_nccl_model.cpp), run twice; on the links alone it would be 2 x 20.
  const CommShape all = p.comm_shape({0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(all.nccl.graph.channels == 1);
  CHECK(all.nccl.graph.bw == 20);
  REQUIRE(all.link_graph);
  CHECK(all.link_graph->channels == 2);
  CHECK(all.link_graph->bw == 20);
  CHECK(nccl_p2p_comm_channels(all.nccl) == 2);
  // One socket's four GPUs do not cross it: 2 x 20 either way.
  const CommShape four = p.comm_shape({0, 1, 2, 3});
  CHECK(four.nccl.graph.channels == 2);
  REQUIRE(four.link_graph);
  CHECK(four.link_graph->channels == 2);
}
