// What-ifs (pipeline/what_if.hpp) and sweeps (pipeline/sweep.hpp): engine.KEY goes to the engine
// through the study loader's table, anything else to the topology; bad input names --set/--sweep.
#include "core/error.hpp"
#include "pipeline/sweep.hpp"
#include "pipeline/what_if.hpp"
#include "tests/refusal.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

using test::refusal;

TEST_CASE("what-ifs: engine options and topology edits, in the order given", "[quick][pipeline]")
{
  WhatIf w;
  add_what_if(w, "link.pcie.bandwidth=128GBps", "--set");
  add_what_if(w, "engine.sync_us=10", "--set");
  add_what_if(w, "engine.cuda_graphs=true", "--set");
  REQUIRE(w.platform.size() == 1);
  CHECK(w.platform[0].key == "link.pcie.bandwidth");
  REQUIRE(w.engine.size() == 2);
  CHECK(w.describe() == "link.pcie.bandwidth=128GBps, engine.sync_us=10, engine.cuda_graphs=true");
  CHECK(w.sets("engine.sync_us"));
  CHECK_FALSE(w.sets("engine.launch_us"));
  // Applied over the study's engine: sync 20 us -> 10 us, eager -> graphs, the rest kept.
  EngineParams base;
  base.launch_s = 7e-6;
  const EngineParams e = apply_engine_settings(base, w.engine);
  CHECK(e.sync_s == Approx(10e-6).epsilon(1e-12));
  CHECK(e.cuda_graphs);
  CHECK(e.launch_s == 7e-6);
}

TEST_CASE("what-ifs: bad keys and values are refused naming the flag and the key", "[quick][pipeline]")
{
  WhatIf w;
  CHECK(refusal([&] { add_what_if(w, "engine.sync_us=abc", "--set"); }) ==
        "--set: engine.sync_us: 'abc' is not a number (fix: write microseconds as a plain number, e.g. 5)");
  CHECK_THAT(refusal([&] { add_what_if(w, "engine.syncus=1", "--set"); }),
             Catch::Contains("--set: engine.syncus: unknown engine option") && Catch::Contains("engine.sync_us"));
  CHECK_THAT(refusal([&] { add_what_if(w, "bogus=1", "--set"); }),
             Catch::Contains("--set: bogus: unknown key") && Catch::Contains("link.<class>.bandwidth") &&
                 Catch::Contains("engine.timed_ops"));
  CHECK_THAT(refusal([&] { add_what_if(w, "engine.sync_us", "--set"); }), Catch::Contains("expected key=value"));
  CHECK(w.empty());
}

TEST_CASE("sweeps over engine options: values checked first, numbers in seconds", "[quick][pipeline]")
{
  const SweepSpec sw = parse_sweep("engine.sync_us=5,20,80");
  CHECK(sw.key == "engine.sync_us");
  CHECK(sw.values == std::vector<std::string>{"5", "20", "80"});
  CHECK(*sweep_number(sw.key, "20") == Approx(20e-6).epsilon(1e-12));
  CHECK(format_sweep_number(sw.key, 12.5e-6) == "12.5 us");
  CHECK_FALSE(sweep_number("engine.cuda_graphs", "true"));
  CHECK(parse_sweep("engine.cuda_graphs=false,true").values.size() == 2);
  CHECK_THAT(refusal([] { parse_sweep("engine.sync_us=5,x"); }), Catch::Contains("--sweep: engine.sync_us: 'x' is not a number"));
  CHECK_THAT(refusal([] { parse_sweep("engine.sync_us=5"); }), Catch::Contains("at least two values"));
  CHECK_THAT(refusal([] { parse_sweep("engine.sync_us=5,5"); }), Catch::Contains("listed twice"));
  // Topology keys as before: 32 GB/s is 32e9 B/s.
  CHECK(*sweep_number("link.pcie.bandwidth", "32GBps") == Approx(32e9));
}
