// The gap between measured event brackets (core/bracket_gaps.hpp): read off `moesim-validate run`'s
// JSON, per launch mode, the step's first op left out.
#include "core/bracket_gaps.hpp"
#include "core/error.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace moesim;

namespace {

nlohmann::json event(int op, double ready_us, double start_us, int stream = 0)
{
  return {{"op", op}, {"rank", 0}, {"stream", stream}, {"ready", ready_us * 1e-6}, {"start", start_us * 1e-6},
          {"end", (start_us + 5) * 1e-6}};
}

nlohmann::json run(const std::string& mode, double scale, nlohmann::json events)
{
  return {{"measurement", {{"mode", mode}, {"event_scale", scale}}}, {"events", std::move(events)}};
}

} // namespace

TEST_CASE("a measured run's gaps: unscaled, in op order, the first op left out", "[quick][core]")
{
  // event_scale 0.8: the timeline is the event run's times x 0.8. Ops given out of order 2, 0, 1.
  // Op 0 (the step's launch) is left out; op 1 waits 1.024 us scaled, 1.024 / 0.8 = 1.28 us raw;
  // op 2 waits 1.6 us scaled, 2.0 us raw.
  const nlohmann::json j = run("eager", 0.8, {event(2, 20, 21.6), event(0, 0, 3), event(1, 8, 9.024)});
  const RunGaps g = run_gaps(j, "r.json");
  CHECK_FALSE(g.graph);
  CHECK(g.first_s == Approx(3.75e-6).epsilon(1e-12)); // 3 us scaled, 3 / 0.8 raw
  REQUIRE(g.seconds.size() == 2);
  CHECK(g.seconds[0] == Approx(1.28e-6).epsilon(1e-12));
  CHECK(g.seconds[1] == Approx(2.0e-6).epsilon(1e-12));
}

TEST_CASE("bracket gaps: the mean per launch mode over every run's ops", "[quick][core]")
{
  // Eager: 1.28 and 2.0 us (one run) and 1.28 us (another): (1.28 + 2.0 + 1.28) / 3 = 1.52 us over 3
  // ops. Graph: 1.28 and 1.32 us (one run, its first gap 4 us) and 1.30 us (another, first 3 us):
  // (1.28 + 1.32 + 1.30) / 3 = 1.30 us over 3 ops; the graph launch (4 + 3) / 2 - 1.30 = 2.2 us.
  // The eager runs' first gaps (9 and 7 us) are no launch.
  const std::vector<RunGaps> runs = {{false, 9e-6, {1.28e-6, 2.0e-6}},
                                     {true, 4e-6, {1.28e-6, 1.32e-6}},
                                     {false, 7e-6, {1.28e-6}},
                                     {true, 3e-6, {1.30e-6}}};
  const BracketGaps b = bracket_gaps(runs);
  REQUIRE(b.eager_s);
  REQUIRE(b.graph_s);
  REQUIRE(b.graph_launch_s);
  CHECK(*b.eager_s == Approx(1.52e-6).epsilon(1e-12));
  CHECK(*b.graph_s == Approx(1.30e-6).epsilon(1e-12));
  CHECK(*b.graph_launch_s == Approx(2.2e-6).epsilon(1e-12));
  CHECK(b.eager_ops == 3);
  CHECK(b.graph_ops == 3);
  CHECK(b.graph_runs == 2);
  // A mode no run has stays unset, the graph launch with it; a first gap under the bracket gap is 0.
  const BracketGaps e = bracket_gaps({{false, 2e-6, {1e-6}}});
  CHECK_FALSE(e.graph_s);
  CHECK_FALSE(e.graph_launch_s);
  CHECK(*bracket_gaps({{true, 1e-6, {1.3e-6}}}).graph_launch_s == 0);
}

TEST_CASE("a run that is not one stream's measured timeline is refused", "[quick][core]")
{
  CHECK_THROWS_AS(run_gaps(run("eager", 1.0, {event(0, 0, 1), event(1, 6, 7, 1)}), "two.json"), InputError);
  CHECK_THROWS_AS(run_gaps(run("eager", 0.0, {event(0, 0, 1)}), "noscale.json"), InputError);
  CHECK_THROWS_AS(run_gaps(run("cluster", 1.0, {event(0, 0, 1)}), "mode.json"), InputError);
  CHECK_THROWS_AS(run_gaps(nlohmann::json{{"events", nlohmann::json::array()}}, "plan.json"), InputError);
}

TEST_CASE("an event whose op is no whole number, or whose times are no numbers, is refused", "[quick][core]")
{
  // 1e20 fits no int: cast, it would be undefined behaviour (UBSan stops); read, it is an InputError.
  nlohmann::json huge = event(1, 6, 7);
  huge["op"] = 1e20;
  CHECK_THROWS_AS(run_gaps(run("eager", 1.0, nlohmann::json::array({event(0, 0, 1), huge})), "huge.json"),
                  InputError);
  nlohmann::json text = event(1, 6, 7);
  text["start"] = "7";
  CHECK_THROWS_AS(run_gaps(run("eager", 1.0, nlohmann::json::array({event(0, 0, 1), text})), "text.json"),
                  InputError);
  // The same two events with whole numbers read: one gap after the first op, 7 - 6 = 1 us.
  CHECK(run_gaps(run("eager", 1.0, nlohmann::json::array({event(0, 0, 1), event(1, 6, 7)})), "ok.json").seconds.size() == 1);
}
