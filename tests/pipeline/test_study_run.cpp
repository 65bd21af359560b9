// A study through the pipeline (pipeline/study_run.hpp): requests checked before anything runs,
// scenarios sharing one loaded calibration, and a schedule made without SimGrid.
#include "core/error.hpp"
#include "pipeline/study_run.hpp"
#include "sim/simulation.hpp"
#include "tests/refusal.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

namespace {

StudyRequest default_request()
{
  StudyRequest q;
  q.root = MOESIM_SOURCE_DIR;
  return q;
}

using test::refusal;

} // namespace

TEST_CASE("study run: the default study's scenarios share one calibration per platform", "[quick][pipeline]")
{
  // The default study: 3 platforms x 2 batches x 5 plans = 30 scenarios; only nvswitch-4x-h200 is
  // calibrated, so its 10 scenarios hold one loaded calibration and the other 20 none.
  const PreparedStudy p = prepare_study(default_request());
  PlatformFiles files(p.root);
  Calibrations calibrations;
  const std::vector<Scenario> sc = expand_study(p.study, files, calibrations, p.calibration, p.what_if);
  REQUIRE(sc.size() == 30);
  const Calibration* shared = nullptr;
  int calibrated = 0;
  for (const Scenario& s : sc) {
    if (s.platform_name != "nvswitch-4x-h200") {
      CHECK_FALSE(s.calibration);
      CHECK(s.calibration_file.empty());
      continue;
    }
    REQUIRE(s.calibration);
    if (!shared)
      shared = s.calibration.get();
    CHECK(s.calibration.get() == shared);
    CHECK(s.calibration_file.ends_with("platforms/calibration/nvswitch-4x-h200.yaml"));
    calibrated++;
  }
  CHECK(calibrated == 10);
  // A what-if on the platforms makes them machines nobody measured: no calibration at all.
  StudyRequest q = default_request();
  q.sets = {"link.nvlink.bandwidth=100GBps"};
  const PreparedStudy edited = prepare_study(q);
  for (const Scenario& s : expand_study(edited.study, files, calibrations, edited.calibration, edited.what_if))
    CHECK_FALSE(s.calibration);
}

TEST_CASE("study run: engine what-ifs reach every scenario", "[quick][pipeline]")
{
  StudyRequest q = default_request();
  q.sets = {"engine.sync_us=40", "engine.grouped_gemm=per_expert"};
  const PreparedStudy p = prepare_study(q);
  PlatformFiles files(p.root);
  Calibrations calibrations;
  for (const Scenario& s : expand_study(p.study, files, calibrations, p.calibration, p.what_if)) {
    CHECK(s.engine.sync_s == Approx(40e-6).epsilon(1e-12));
    CHECK(s.engine.grouped_gemm_per_expert);
    CHECK(s.engine.launch_s == p.study.engine.launch_s);
  }
  // --cuda-graphs and --set engine.cuda_graphs together are one too many.
  q.cuda_graphs = true;
  q.sets = {"engine.cuda_graphs=false"};
  CHECK_THAT(refusal([&] { prepare_study(q); }), Catch::Contains("--cuda-graphs: given with --set engine.cuda_graphs"));
}

TEST_CASE("study run: a schedule needs no SimGrid engine", "[quick][pipeline]")
{
  // schedule_of reads the GPUs from the XML. SimGrid allows one engine per process, so if it had
  // made one, the Simulation below could not be created; it is, and it runs the schedule.
  StudyRequest q = default_request();
  q.plans = {"ep4"};
  q.platforms = {"nvswitch-4x-h100"};
  q.batches = {1};
  q.sets = {"engine.cuda_graphs=true"};
  const Schedule s = schedule_of(prepare_study(q));
  CHECK(s.layout.world == 4);
  CHECK(s.engine.cuda_graphs);
  CHECK(s.step.batch == 1);
  Simulation sim((std::string(MOESIM_SOURCE_DIR) + "/platforms/nvswitch-4x-h100.xml"));
  const SimOutput out = sim.run(s);
  CHECK(out.timeline.step_time > 0);
}

TEST_CASE("study run: a schedule that does not fit is refused with the numbers", "[quick][pipeline]")
{
  // Qwen3-Coder-480B in bf16 weights ~0.96 TB: on one H100 (80 GB) it cannot fit.
  StudyRequest q = default_request();
  q.plans = {"tp1"};
  q.platforms = {"nvswitch-1x-h100"};
  q.batches = {1};
  CHECK_THAT(refusal([&] { schedule_of(prepare_study(q)); }),
             Catch::Contains("tp1 on nvswitch-1x-h100 at batch 1 does not fit: GPU 0 needs") &&
                 Catch::Contains("short by"));
}
