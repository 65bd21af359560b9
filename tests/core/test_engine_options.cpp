// The engine options table (core/engine_options.hpp): one rule for the study loader's engine block
// and `--set engine.KEY=VALUE`.
#include "core/engine_options.hpp"
#include "core/error.hpp"
#include "core/study.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

TEST_CASE("engine options: every key sets its field, in the study's units", "[quick][engine]")
{
  EngineParams e;
  CHECK_FALSE(set_engine_option(e, "cuda_graphs", "true"));
  CHECK(e.cuda_graphs);
  // Microseconds in, seconds in EngineParams: 7 us = 7e-6 s.
  CHECK_FALSE(set_engine_option(e, "launch_us", "7"));
  CHECK(e.launch_s == Approx(7e-6).epsilon(1e-12));
  CHECK_FALSE(set_engine_option(e, "sync_us", "12.5"));
  CHECK(e.sync_s == Approx(12.5e-6).epsilon(1e-12));
  CHECK_FALSE(set_engine_option(e, "graph_launch_us", "0"));
  CHECK(e.graph_launch_s == 0);
  CHECK_FALSE(set_engine_option(e, "grouped_gemm", "per_expert"));
  CHECK(e.grouped_gemm_per_expert);
  CHECK_FALSE(set_engine_option(e, "timed_ops", "on"));
  CHECK(e.timed_ops);
  // Every key of the table is documented and reachable.
  CHECK(engine_option_docs().size() == 6);
  for (const EngineOptionDoc& d : engine_option_docs())
    CHECK(is_engine_option(d.key));
}

TEST_CASE("engine options: a bad key or value changes nothing and says why", "[quick][engine]")
{
  EngineParams e;
  const EngineParams before = e;
  auto problem = set_engine_option(e, "sync_us", "-1");
  REQUIRE(problem);
  CHECK(problem->what == "must not be negative");
  // limits::engine_us: a host cost of more than 1 s (1e6 us) is a typo, not an engine.
  problem = set_engine_option(e, "graph_launch_us", "2e6");
  REQUIRE(problem);
  CHECK(problem->what == "'2e6' is out of range");
  problem = set_engine_option(e, "launch_us", "5us");
  REQUIRE(problem);
  CHECK(problem->what == "'5us' is not a number");
  problem = set_engine_option(e, "grouped_gemm", "loop");
  REQUIRE(problem);
  CHECK_THAT(problem->fix, Catch::Contains("fused") && Catch::Contains("per_expert"));
  problem = set_engine_option(e, "cuda_graph", "true");
  REQUIRE(problem);
  CHECK(problem->what == "unknown engine option");
  CHECK_THAT(problem->fix, Catch::Contains("cuda_graphs"));
  CHECK(e.sync_s == before.sync_s);
  CHECK(e.launch_s == before.launch_s);
  CHECK(e.grouped_gemm_per_expert == before.grouped_gemm_per_expert);
  // A number for plotting: the *_us keys in seconds, words none.
  CHECK(*engine_option_number("sync_us", "20") == Approx(20e-6).epsilon(1e-12));
  CHECK_FALSE(engine_option_number("cuda_graphs", "true"));
}

TEST_CASE("engine options: the study loader reads its engine block through the same table", "[quick][engine]")
{
  test::TempDir dir("moesim_test_engine_options");
  const std::string root = MOESIM_SOURCE_DIR;
  auto study = [&](const std::string& engine) {
    return dir.write("s.yaml", "name: s\nmodel: mixtral-8x7b\nplatforms: [nvswitch-4x-h100]\nphase: decode\n"
                               "batch: [1]\ncontext: 128\nplans: [tp4]\nengine: " + engine + "\n");
  };
  const Study s = load_study_file(study("{sync_us: 30, grouped_gemm: per_expert, timed_ops: true}"), root);
  CHECK(s.engine.sync_s == Approx(30e-6).epsilon(1e-12));
  CHECK(s.engine.grouped_gemm_per_expert);
  CHECK(s.engine.timed_ops);
  CHECK(s.engine.launch_s == Approx(5e-6).epsilon(1e-12)); // the default
  // The same problems as --set, with the file and line.
  CHECK_THROWS_WITH(load_study_file(study("{sync_us: -3}"), root),
                    Catch::Contains("s.yaml:8: engine.sync_us: must not be negative"));
  CHECK_THROWS_WITH(load_study_file(study("{grouped_gemm: loop}"), root),
                    Catch::Contains("engine.grouped_gemm: unknown value 'loop'"));
  CHECK_THROWS_WITH(load_study_file(study("{bogus: 1}"), root), Catch::Contains("engine.bogus: unknown key"));
}
