// PP steady-state schedules (core/pp_steady.hpp): steps concatenated, renumbered, and each
// microbatch's tokens fed back from the last stage to stage 0. The replay is tested in tests/sim.
#include "core/model_loader.hpp"
#include "core/pp_steady.hpp"
#include "core/schedule_builder.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <stdexcept>

using namespace moesim;

namespace {

Schedule step(const std::string& plan, Phase phase = Phase::decode)
{
  static const Model m =
      load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/mixtral-8x7b.yaml").model;
  const Plan p = Plan::parse(plan);
  const Layout L = make_layout(p, m, p.world());
  StepShape st;
  st.phase = phase;
  st.batch = 8;
  st.context = 128;
  st.prompt = phase == Phase::prefill ? 16 : 0;
  return build_schedule(m, L, st, BuildOptions{});
}

} // namespace

TEST_CASE("a steady schedule repeats the step and feeds each microbatch's tokens back", "[quick][core]")
{
  // tp2xpp2:mb4, 3 steps: stage 0 is ranks 0-1, stage 1 ranks 2-3. Each stage-0 rank gains one token
  // receive per microbatch in steps 1 and 2 (4 x 2 = 8), each stage-1 rank one token send per
  // microbatch in steps 0 and 1 (8): n ops per rank in one step become 3 n + 8.
  const Schedule one = step("tp2xpp2:mb4");
  const SteadySchedule ss = steady_schedule(one, 3);
  REQUIRE(ss.schedule.ranks.size() == 4);
  CHECK(ss.schedule.collectives == 3 * one.collectives);
  std::set<int> sent, received;
  for (int r = 0; r < 4; r++) {
    const auto& ops = ss.schedule.ranks[r].ops;
    CHECK(ops.size() == 3 * one.ranks[r].ops.size() + 8);
    REQUIRE(ss.first_op[r].size() == 4);
    CHECK(ss.first_op[r][0] == 0);
    CHECK(ss.first_op[r][3] == static_cast<int>(ops.size()));
    for (size_t i = 0; i < ops.size(); i++) {
      CHECK(ops[i].id == static_cast<int>(i));
      for (int d : ops[i].deps)
        CHECK(d < static_cast<int>(i));
      if (ops[i].kind == OpKind::send)
        sent.insert(ops[i].tag);
      if (ops[i].kind == OpKind::recv)
        received.insert(ops[i].tag);
    }
  }
  // Every tag is sent once and received once.
  CHECK(sent == received);
  // Stage 0's step 1 opens with mb0's token from the last stage's rank at its position: 8 sequences
  // over 4 microbatches = 2 sequences, 8 bytes each.
  const Op& in = ss.schedule.ranks[1].ops[ss.first_op[1][1]];
  CHECK(in.kind == OpKind::recv);
  CHECK(in.peer == 3);
  CHECK(in.microbatch == 0);
  CHECK(in.comm_bytes == 2 * token_id_bytes);
  // The last stage's token send follows the microbatch's last op, on the sends' stream.
  const auto& last = ss.schedule.ranks[3].ops;
  for (size_t i = 0; i < last.size(); i++)
    if (last[i].kind == OpKind::send) {
      CHECK(last[i].stream == 1);
      CHECK(last[i].peer == 1);
      CHECK(last[i].deps == std::vector<int>{static_cast<int>(i) - 1});
      CHECK(last[i - 1].microbatch == last[i].microbatch);
    }
}

TEST_CASE("a steady schedule needs a pipelined decode step", "[quick][core]")
{
  CHECK_THROWS_AS(steady_schedule(step("tp4"), 4), std::invalid_argument);
  CHECK_THROWS_AS(steady_schedule(step("tp2xpp2", Phase::prefill), 4), std::invalid_argument);
  CHECK_THROWS_AS(steady_schedule(step("tp2xpp2"), 0), std::invalid_argument);
  const SteadySchedule ss = steady_schedule(step("tp2xpp2"), 3);
  CHECK_THROWS_AS(steady_state(ss, Timeline{}, 0), std::invalid_argument);
  CHECK_THROWS_AS(steady_state(ss, Timeline{}, 3), std::invalid_argument);
}
