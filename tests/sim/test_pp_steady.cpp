// PP steady state (core/pp_steady.hpp) replayed by the simulator: a two-stage pipeline of known
// compute times, whose fill-and-drain step, steady interval and token round trip are derived by hand.
#include "core/pp_steady.hpp"
#include "fixtures.hpp"
#include "in_child.hpp"
#include "sim/simulation.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace moesim;
using namespace moesim::test;

namespace {

// Each stage runs one GEMM per microbatch: 1e12 FLOP at 1e15 FLOP/s = 1 ms (no bytes, no kernel
// overhead, CUDA graphs with a free launch: no host time).
constexpr double t = 1e-3;
// The hidden states between the stages and the token ids back are both 8 bytes: one p2p transfer
// takes d (NCCL's p2p alpha), the same both ways on the symmetric star, read off the replay.
constexpr double bytes = 8;

// PP 2, stage size 1, M microbatches of one sequence each, as the schedule builder lays them out:
// rank 0 computes mb then sends it on stream 1; rank 1 receives mb, then computes it.
Schedule pp2(int M)
{
  Schedule s = empty_schedule(2);
  s.layout.plan.pp = 2;
  s.layout.plan.microbatches = M;
  s.layout.ranks.resize(2);
  s.layout.ranks[0] = {0, 0, 0};
  s.layout.ranks[1] = {1, 1, 0};
  s.step.phase = Phase::decode;
  s.step.batch = M;
  for (int mb = 0; mb < M; mb++) {
    Op c;
    c.kind = OpKind::gemm;
    c.flops = t * 1e15;
    c.microbatch = mb;
    const int at = add_op(s, 0, c).id;
    Op send;
    send.kind = OpKind::send;
    send.stream = 1;
    send.deps = {at};
    send.peer = 1;
    send.tag = mb;
    send.comm_bytes = bytes;
    send.microbatch = mb;
    add_op(s, 0, send);
    Op recv = send;
    recv.kind = OpKind::recv;
    recv.stream = 0;
    recv.deps.clear();
    recv.peer = 0;
    add_op(s, 1, recv);
    add_op(s, 1, c);
  }
  return s;
}

std::string platform() { return star_platform("pp_steady", 2, 5e10); }

// The one step's time, replayed in a child (one SimGrid engine per process).
double single_step(int M)
{
  return std::stod(in_child([&] {
    Simulation sim(platform());
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", sim.run(pp2(M)).timeline.step_time);
    return std::string(buf);
  }));
}

// Rank 1's receive of microbatch mb in step 0 of a steady replay.
const TimelineEvent& recv_of(const SteadySchedule& ss, const Timeline& tl, int mb)
{
  for (const TimelineEvent& e : tl.events)
    if (e.rank == 1 && e.kind == OpKind::recv && e.microbatch == mb && e.op < ss.first_op[1][1])
      return e;
  FAIL("no receive");
  return tl.events.front();
}

} // namespace

TEST_CASE("pp2 with 4 microbatches: the steady step is stage 0's 4 microbatches, not fill and drain",
          "[quick][sim]")
{
  // Read off the replay: d, a transfer whose receive was posted first (rank 1's receive of mb0,
  // posted at 0, ends at t + d: NCCL's p2p alpha and 8 bytes), and x, the bytes alone, for a
  // receive posted after the data waits (rank 1's receive of mb1 starts when it has computed mb0).
  // One step from an empty pipeline: stage 0 computes mb i in [i t, (i+1) t]; stage 1 receives mb0
  // at t + d, and each later mb x after finishing the one before, so it ends at
  // (M + p - 1) t + d + (M - 1) x = 5 t + d + 3 x.
  // Back to back, mb0's token leaves stage 1 at 2 t + d + ... and reaches stage 0 by 2 t + 2 d + x,
  // long before stage 0 is free at 4 t: stage 0 never waits and offers a step every M t = 4 t (the
  // bound: the busiest GPU's busy time). Stage 1 needs 4 (t + x) a step: it falls behind by 4 x a
  // step, so its receives stay late and the steady step is 4 t + 4 x.
  const double one = single_step(4);
  Simulation sim(platform());
  const SteadySchedule ss = steady_schedule(pp2(4), 8);
  const SimOutput out = sim.run(ss.schedule);
  const double d = recv_of(ss, out.timeline, 0).end - t;
  const double x = recv_of(ss, out.timeline, 1).end - recv_of(ss, out.timeline, 1).start;
  REQUIRE(d > 0);
  REQUIRE(d < t);
  REQUIRE(x > 0);
  REQUIRE(x < 1e-6);
  CHECK(one == Approx(5 * t + d + 3 * x).epsilon(1e-12));
  const SteadyState st = steady_state(ss, out.timeline, 2);
  CHECK(st.step_end[0] == Approx(5 * t + d + 3 * x).epsilon(1e-12));
  CHECK(st.interval == Approx(4 * t + 4 * x).epsilon(1e-12));
  // Every measured step takes the same time: the interval has converged.
  for (int k = 2; k < 8; k++)
    CHECK(st.step_end[k] - st.step_end[k - 1] == Approx(4 * t + 4 * x).epsilon(1e-9));
  // Single step > steady step >= bound: 5 t + d + 3 x > 4 t + 4 x >= 4 t.
  CHECK(st.interval < one);
  CHECK(st.interval >= 4 * t);
}

TEST_CASE("pp2 with 2 microbatches: a microbatch's round trip sets the steady step", "[quick][sim]")
{
  // d and x as above. The single step: stage 1 ends mb1 at (M + p - 1) t + d + x = 3 t + d + x.
  // Back to back, mb0 goes around: stage 0 (t), across (d), stage 1 (t), its token back (d): stage 0
  // starts mb0's next step 2 t + 2 d after the last (mb1's token and hidden states arrive just as
  // they are wanted, each x after being posted), so a step takes 2 t + 2 d > M t = 2 t. The bound
  // (2 t) is not reached: with M = p the transfers are a bubble.
  const double one = single_step(2);
  Simulation sim(platform());
  const SteadySchedule ss = steady_schedule(pp2(2), 6);
  const SimOutput out = sim.run(ss.schedule);
  const double d = recv_of(ss, out.timeline, 0).end - t;
  const double x = recv_of(ss, out.timeline, 1).end - recv_of(ss, out.timeline, 1).start;
  CHECK(one == Approx(3 * t + d + x).epsilon(1e-12));
  const SteadyState st = steady_state(ss, out.timeline, 2);
  CHECK(st.interval == Approx(2 * t + 2 * d).epsilon(1e-12));
  CHECK(st.interval < one);
  CHECK(st.interval > 2 * t);
}
