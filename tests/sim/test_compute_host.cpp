// Compute ops through the simulator (the roofline, timed by SimGrid), the host launch model, host
// synchronisations, and load imbalance at a collective. Expected times derived by hand.
#include "core/costs.hpp"
#include "fixtures.hpp"
#include "sim/simulation.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace moesim;
using namespace moesim::test;

namespace {
constexpr double rel = 1e-9;

Op compute_op(double flops, double bytes, int kernels = 1)
{
  Op op;
  op.kind = OpKind::gemm;
  op.flops = flops;
  op.bytes = bytes;
  op.kernels = kernels;
  return op;
}
} // namespace

TEST_CASE("a memory-bound and a compute-bound GEMM on one GPU", "[quick][sim]")
{
  // GPU: 1e15 FLOP/s bf16, 2e12 B/s, 3 us per kernel, efficiencies 1.
  // Decode GEMM 1x4096x4096: bytes 33570816 -> 16.785408 us (+3 us overhead) = 19.785408 us.
  // Prefill GEMM 8192^3: 2*8192^3 = 1099511627776 flops -> 1.099511627776 ms (+3 us).
  GpuProps g;
  g.kernel_overhead = 3e-6;
  Simulation sim(star_platform("gemm", 1, 1e11, "nvlink", g));
  Schedule s = empty_schedule(1);
  add_op(s, 0, compute_op(2.0 * 4096 * 4096, 33570816));
  add_op(s, 0, compute_op(2.0 * 8192 * 8192 * 8192, 402653184));
  SimOutput out = sim.run(s);
  const auto& ev = out.timeline.events;
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].end - ev[0].start == Approx(3e-6 + 33570816 / 2e12).epsilon(rel));
  CHECK(ev[1].end - ev[1].start == Approx(3e-6 + 1099511627776 / 1e15).epsilon(rel));
  CHECK(out.timeline.step_time == Approx(6e-6 + 33570816 / 2e12 + 1099511627776 / 1e15).epsilon(rel));
}

// An engine's MoE kernel fractions replace the platform's on a grouped GEMM the datasheet times.
// GPU: 1e15 FLOP/s bf16, 2e12 B/s, 3 us per kernel, efficiencies 1; no calibration, so every op is the
// datasheet roofline's. A grouped GEMM of 4e11 FLOPs and 1e9 B: 400 us of math, 500 us of memory,
// max + 3 us = 503 us with the platform's efficiencies. A dense GEMM of the same size beside it keeps
// the platform's 503 us whatever the engine says. SimGrid runs one simulation per process, so each
// setting is its own test case.
namespace {
// Runs the grouped GEMM and the dense GEMM under the engine's fractions; checks the grouped GEMM's
// time and that the dense GEMM keeps the platform's 503 us.
void check_moe_fraction_step(double bw, double flops, double moe_seconds)
{
  GpuProps g;
  g.kernel_overhead = 3e-6;
  // A file per setting: ctest runs these cases as processes side by side, and one writing the file
  // while another loads it was a malformed-XML failure.
  Simulation sim(star_platform("moe_fraction_" + std::to_string(std::lround(bw * 100)) + "_" +
                                   std::to_string(std::lround(flops * 100)),
                               1, 1e11, "nvlink", g));
  Schedule s = empty_schedule(1);
  s.engine.moe_bw_fraction = bw;
  s.engine.moe_flops_fraction = flops;
  Op moe = compute_op(4e11, 1e9);
  moe.kind = OpKind::grouped_gemm;
  add_op(s, 0, moe);
  add_op(s, 0, compute_op(4e11, 1e9));
  const auto ev = sim.run(s).timeline.events;
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].end - ev[0].start == Approx(moe_seconds).epsilon(rel));
  CHECK(ev[1].end - ev[1].start == Approx(503e-6).epsilon(rel));
}
} // namespace

TEST_CASE("a grouped GEMM with no engine fractions keeps the platform's roofline", "[quick][sim]")
{
  check_moe_fraction_step(0, 0, 503e-6);
}

TEST_CASE("an engine's MoE bandwidth fraction slows a grouped GEMM's memory term only", "[quick][sim]")
{
  // memory 1e9 / (2e12 x 0.5) = 1000 us > math 400 us: 1003 us.
  check_moe_fraction_step(0.5, 0, 1003e-6);
}

TEST_CASE("an engine's MoE tensor-rate fraction slows a grouped GEMM's math term only", "[quick][sim]")
{
  // math 4e11 / (1e15 x 0.5) = 800 us > memory 500 us: 803 us.
  check_moe_fraction_step(0, 0.5, 803e-6);
}

TEST_CASE("an engine's MoE fractions together: the slower of the two terms", "[quick][sim]")
{
  // memory 1e9 / (2e12 x 0.5) = 1000 us; math 4e11 / (1e15 x 0.4) = 1000 us: 1003 us.
  check_moe_fraction_step(0.5, 0.4, 1003e-6);
}

TEST_CASE("eager launches: tiny kernels wait for the host", "[quick][sim]")
{
  // launch 10 us per kernel, three 1 us kernels (1e9 flops at 1e15): the host issues them at 10, 20
  // and 30 us; each runs 1 us once issued: ends at 11, 21, 31 us. The GPU waited 10 + 9 + 9 = 28 us.
  Simulation sim(star_platform("eager", 1, 1e11));
  Schedule s = empty_schedule(1);
  s.engine.cuda_graphs = false;
  s.engine.launch_s = 10e-6;
  for (int i = 0; i < 3; i++)
    add_op(s, 0, compute_op(1e9, 0));
  SimOutput out = sim.run(s);
  CHECK(out.timeline.step_time == Approx(31e-6).epsilon(rel));
  Breakdown b = breakdown_of_rank(out.timeline, 0);
  CHECK(b.host == Approx(28e-6).epsilon(rel));
  CHECK(b.compute == Approx(3e-6).epsilon(rel));
  CHECK(b.idle == Approx(0).margin(1e-15));
}

TEST_CASE("a host sync drains the launch queue", "[quick][sim]")
{
  // launch 10 us, sync 5 us; ops: c0, c1, sync, c2 (1 us each on the GPU).
  // c0 10-11, c1 20-21; the sync is reached at 21 us: host = max(20, 21) + 5 = 26 us;
  // c2 is launched at 26 + 10 = 36 us and ends at 37 us.
  Simulation sim(star_platform("sync", 1, 1e11));
  Schedule s = empty_schedule(1);
  s.engine.cuda_graphs = false;
  s.engine.launch_s = 10e-6;
  s.engine.sync_s = 5e-6;
  add_op(s, 0, compute_op(1e9, 0));
  add_op(s, 0, compute_op(1e9, 0));
  Op sync;
  sync.kind = OpKind::host_sync;
  add_op(s, 0, sync);
  add_op(s, 0, compute_op(1e9, 0));
  SimOutput out = sim.run(s);
  CHECK(out.timeline.step_time == Approx(37e-6).epsilon(rel));
  CHECK(out.timeline.events[2].end == Approx(26e-6).epsilon(rel));
}

TEST_CASE("under CUDA graphs one launch covers the step", "[quick][sim]")
{
  // graph launch 10 us, then three 1 us kernels back to back: 13 us.
  Simulation sim(star_platform("graph", 1, 1e11));
  Schedule s = empty_schedule(1);
  s.engine.cuda_graphs = true;
  s.engine.graph_launch_s = 10e-6;
  for (int i = 0; i < 3; i++)
    add_op(s, 0, compute_op(1e9, 0));
  CHECK(sim.run(s).timeline.step_time == Approx(13e-6).epsilon(rel));
}

TEST_CASE("the slowest rank sets the pace of a collective", "[quick][sim]")
{
  // Rank 0 computes 100 us (1e11 flops at 1e15), ranks 1-3 compute 10 us, then an all-to-all of
  // 1 MB per peer on 100 GB/s links: NCCL sees 4 x 20.6 = 82.4 GB/s, a sender moves 0.81 of it,
  // 66.744 GB/s < 100 (tests/sim/test_network_analytic.cpp): 3 MB in 44.948 us, plus alpha: 11.8
  // us and the last p2p chunk's exposed part, a peer's 1 MB being on 2 channels (8 p2p channels, 4
  // ranks): 0.32 x 5e5 / 17.89e3 B/us = 8.944 us. Everyone leaves the all-to-all at 100 + 20.744 +
  // 44.948 = 165.692 us; ranks 1-3 waited 90 us.
  Simulation sim(star_platform("imbalance", 4, 1e11));
  Schedule s = empty_schedule(4);
  for (int r = 0; r < 4; r++)
    add_op(s, r, compute_op(r == 0 ? 1e11 : 1e10, 0));
  add_collective(s, OpKind::all_to_all, 3e6);
  for (int r = 0; r < 4; r++) {
    s.ranks[r].ops[1].peer_bytes.assign(4, 1e6);
    s.ranks[r].ops[1].peer_bytes.set(r, 0);
  }
  SimOutput out = sim.run(s);
  const double comm = 11.8e-6 + 0.32 * 5e5 / 17.89e9 + 3e6 / (0.81 * 82.4e9);
  CHECK(out.timeline.step_time == Approx(100e-6 + comm).epsilon(rel));
  for (int r = 1; r < 4; r++) {
    Breakdown b = breakdown_of_rank(out.timeline, r);
    CHECK(b.idle == Approx(90e-6).epsilon(rel));
    CHECK(b.comm == Approx(comm).epsilon(rel));
  }
  CHECK(breakdown_of_rank(out.timeline, 0).idle == Approx(0).margin(1e-15));
  // The events are by rank, then op, though they ended in another order (ranks 1-3's compute at
  // 10 us, rank 0's at 100 us): slot 2r + k holds rank r's op k.
  REQUIRE(out.timeline.events.size() == 8);
  for (int i = 0; i < 8; i++) {
    CHECK(out.timeline.events[i].rank == i / 2);
    CHECK(out.timeline.events[i].op == i % 2);
  }
  CHECK(out.timeline.events[0].end == Approx(100e-6).epsilon(rel));
  CHECK(out.timeline.events[2].end == Approx(10e-6).epsilon(rel));
}

TEST_CASE("a schedule for another GPU count is refused", "[quick][sim]")
{
  Simulation sim(star_platform("count", 2, 1e11));
  Schedule s = empty_schedule(4);
  CHECK_THROWS_WITH(sim.run(s), Catch::Matchers::Contains("needs 4 GPUs but the platform has 2"));
}
