// Analytic network cases: every expected time is derived by hand in a comment and must match the
// simulation to 1e-9 relative (CM02, no cross-traffic, TCP-gamma off, precision 1e-13, latency-free
// links: docs/simgrid-and-nccl.md, "Exact network model").
#include "core/costs.hpp"
#include "fixtures.hpp"
#include "sim/simulation.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;

namespace {
constexpr double rel = 1e-9;
const NcclLatencies nccl;
}

TEST_CASE("ring all-reduce of S bytes on 4 GPUs over ideal links", "[quick][sim]")
{
  // N = 4 GPUs, each link B = 100 GB/s per direction, S = 64 MiB (large: NCCL picks Ring/Simple).
  // Each rank sends 2(N-1)/N * S = 1.5 S to its successor; flow i->i+1 uses l_i UP and l_{i+1}
  // DOWN, so every link direction carries exactly one flow at full rate B.
  // Fixed cost (NVLink, Ring, Simple): alpha = 8.4 + 2(N-1)*3.4 = 28.8 us.
  // Expected: 28.8e-6 + 1.5 * 67108864 / 1e11 = 28.8e-6 + 1.00663296e-3 = 1.03543296e-3 s.
  const double S = 64.0 * 1024 * 1024, B = 1e11;
  Simulation sim(star_platform("ring_ar", 4, B));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, S);
  SimOutput out = sim.run(s);
  REQUIRE(out.algorithms.at("all_reduce ring/Simple") == 1);
  REQUIRE(out.timeline.step_time == Approx(28.8e-6 + 1.5 * S / B).epsilon(rel));
  // Every flow crosses two nvlink link directions: 4 flows * 1.5 S * 2.
  REQUIRE(out.link_bytes.at("nvlink") == Approx(4 * 1.5 * S * 2).epsilon(rel));
}

TEST_CASE("ring all-gather of S bytes on 8 GPUs over ideal links", "[quick][sim]")
{
  // N = 8, B = 50 GB/s, S = 256 MiB output. Each rank forwards (N-1)/N * S = 0.875 S.
  // alpha (NVLink, Ring, Simple, N-1 = 7 hops) = 8.4 + 7*3.4 = 32.2 us.
  // Expected: 32.2e-6 + 0.875 * 268435456 / 5e10 = 32.2e-6 + 4.69762048e-3 = 4.72982048e-3 s.
  const double S = 256.0 * 1024 * 1024, B = 5e10;
  Simulation sim(star_platform("ring_ag", 8, B));
  Schedule s = empty_schedule(8);
  add_collective(s, OpKind::all_gather, S);
  SimOutput out = sim.run(s);
  REQUIRE(out.timeline.step_time == Approx(32.2e-6 + 0.875 * S / B).epsilon(rel));
}

TEST_CASE("reduce-scatter matches the all-gather mirror", "[quick][sim]")
{
  // N = 4 over PCIe-class links (no LL128): S = 32 MiB input, B = 25 GB/s; each rank sends 0.75 S.
  // alpha (PCI, Ring, Simple, 3 hops) = 8.4 + 3*5.7 = 25.5 us. Expected 25.5e-6 + 0.75*S/B.
  const double S = 32.0 * 1024 * 1024, B = 2.5e10;
  Simulation sim(star_platform("ring_rs", 4, B, "pci"));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::reduce_scatter, S);
  SimOutput out = sim.run(s);
  REQUIRE(out.timeline.step_time == Approx(25.5e-6 + 0.75 * S / B).epsilon(rel));
}

TEST_CASE("small all-reduce takes the tree with LL", "[quick][sim]")
{
  // N = 4, S = 4 KiB on NVLink at 100 GB/s. Candidates (alpha + per-rank wire bytes / B):
  //   ring LL     : 6.6 + 6*0.6 = 10.2 us + 1.5*4096*2 / 1e11  = 10.32288 us
  //   tree LL     : 6.8 + 6*0.6 = 10.4 us + 2*4096*2   / 1e11  = 10.56384 us
  //   ring LL128  : 14.0 + 6*1.9 = 25.4 us ...; ring Simple: 8.4 + 6*3.4 = 28.8 us ...
  // so NCCL's rule picks ring/LL. Its flows carry 1.5 S * 2 (LL doubles the bytes): the time is
  // 10.2e-6 + 1.5*4096*2/1e11 = 10.32288e-6 s.
  const double S = 4096, B = 1e11;
  CollChoice c = choose_collective(nccl, OpKind::all_reduce, 4, S, LinkClass::nvlink, B, 0);
  REQUIRE(c.algo == CollAlgo::ring);
  REQUIRE(c.proto == Proto::ll);
  Simulation sim(star_platform("small_ar", 4, B));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, S);
  SimOutput out = sim.run(s);
  REQUIRE(out.timeline.step_time == Approx(10.2e-6 + 1.5 * S * 2 / B).epsilon(rel));
}

TEST_CASE("tree all-reduce: reduce up, then broadcast down", "[quick][sim]")
{
  // Tree forced (moesim.nccl_algo = tree, like NCCL_ALGO=Tree) on 4 GPUs, S = 1.2 MB, B = 100 GB/s
  // (SimGrid payloads are whole bytes: S*128/120 = 1.28e6 exactly).
  // Protocol: tree LL    alpha 6.8 + 6*0.6  = 10.4 us, wire 2S*2/B      = 48 us    -> 58.4 us
  //           tree LL128 alpha 14 + 6*1.25  = 21.5 us, wire 2S*128/120/B = 25.6 us -> 47.1 us (chosen)
  //           tree Simple alpha 8.4 + 6*4.0 = 32.4 us, wire 2S/B         = 24 us    -> 56.4 us
  // Binary tree 0 <- 1, 0 <- 2, 1 <- 3 with S' = S*128/120 bytes per flow.
  // Phase 1: 1->0 and 2->0 share l0 DOWN (B/2 each), 3->1 alone: ends at 2 S'/B.
  // Phase 2: 0->1 and 0->2 share l0 UP: another 2 S'/B.
  // Expected: 21.5e-6 + 4 * 1.28e6 / 1e11 = 21.5e-6 + 51.2e-6 = 72.7e-6 s.
  const double S = 1.2e6, B = 1e11, Sw = S * 128.0 / 120.0;
  Simulation sim(star_platform("tree", 4, B, "nvlink", {}, "<prop id=\"moesim.nccl_algo\" value=\"tree\"/>\n"));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, S);
  SimOutput out = sim.run(s);
  REQUIRE(out.algorithms.at("all_reduce tree/LL128") == 1);
  REQUIRE(out.timeline.step_time == Approx(21.5e-6 + 4 * Sw / B).epsilon(rel));
}

TEST_CASE("direct all-to-all of S bytes per peer on 4 GPUs", "[quick][sim]")
{
  // N = 4, each rank sends S = 8 MB to each of the 3 others, B = 50 GB/s per link direction.
  // l_i UP carries rank i's 3 outgoing flows, l_j DOWN carries 3 incoming: max-min gives every flow
  // B/3, all finish together at 3 S / B = 24e6 / 5e10 = 480 us. alpha = the platform's p2p alpha
  // (Simple ring base + one NVLink hop = 8.4 + 3.4 = 11.8 us).
  const double S = 8e6, B = 5e10;
  Simulation sim(star_platform("a2a", 4, B));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_to_all, 3 * S);
  for (int r = 0; r < 4; r++) {
    s.ranks[r].ops[0].peer_bytes.assign(4, S);
    s.ranks[r].ops[0].peer_bytes[r] = 0;
  }
  SimOutput out = sim.run(s);
  REQUIRE(sim.platform().p2p_alpha() == Approx(11.8e-6).epsilon(rel));
  REQUIRE(out.timeline.step_time == Approx(11.8e-6 + 3 * S / B).epsilon(rel));
}

TEST_CASE("a point-to-point transfer", "[quick][sim]")
{
  // One send of S = 10 MB from gpu0 to gpu1 over B = 25 GB/s links: alpha + S/B = 11.8e-6 + 400e-6.
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
  REQUIRE(out.timeline.step_time == Approx(11.8e-6 + S / B).epsilon(rel));
}

TEST_CASE("two flows sharing a link split its bandwidth", "[quick][sim]")
{
  // gpu0 -> gpu2 and gpu1 -> gpu2 at once, S = 10 MB each, B = 20 GB/s: both cross l2 DOWN, each gets
  // B/2, both end at alpha + 2 S / B = 11.8e-6 + 1e-3.
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
  REQUIRE(out.timeline.step_time == Approx(11.8e-6 + 2 * S / B).epsilon(rel));
}
