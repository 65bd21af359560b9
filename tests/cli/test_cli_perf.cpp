// moesim calibrate --op-bench: op-performance models from measurement records, the fit report, the
// run that uses them and says where its compute time came from; bad records and rules exit 2.
#include "cli_run.hpp"

#include <nlohmann/json.hpp>

using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

// rmsnorm bf16 measured at 1024..1048576 elements: 3 us + 4 B per element at 2e12 B/s.
std::string rmsnorm_bench(const fs::path& d, const std::string& extra_key = "")
{
  nlohmann::json recs = nlohmann::json::array();
  for (double e = 1024; e <= 1048576; e *= 4) {
    nlohmann::json r = {{"op", "rmsnorm"}, {"dtype", "bf16"}, {"launch", "stream"}, {"elements", e},
                        {"bytes", 4 * e},  {"seconds", 3e-6 + 4 * e / 2e12}};
    if (!extra_key.empty())
      r[extra_key] = 1;
    recs.push_back(r);
  }
  nlohmann::json j = {{"format", "moesim-op-bench-1"},
                      {"source", "synthetic: 3 us + 4 B/element at 2e12 B/s"},
                      {"system", {{"gpu", "NVIDIA H200"}, {"sms", 132}}},
                      {"records", recs}};
  const fs::path p = d / (extra_key.empty() ? "bench.json" : "bad.json");
  std::ofstream(p) << j.dump();
  return p.string();
}

} // namespace

TEST_CASE("calibrate --op-bench fits op models that a run then uses, with their provenance", "[quick][cli]")
{
  fs::path d = scratch("op-bench");
  const fs::path cal = d / "cal.yaml", report = d / "fit.md";
  Run c = moesim("calibrate --op-bench " + rmsnorm_bench(d) + " --platform nvswitch-1x-h200 -o " + cal.string() +
                 " --fit-report " + report.string());
  REQUIRE(c.code == 0);
  CHECK_THAT(c.out, Contains("1 op models"));
  CHECK_THAT(slurp(cal), Contains("op_models:") && Contains("kind: floor_bandwidth"));
  // The records follow the form: in-sample error 0.0% to the report's one decimal (no kernel named).
  CHECK_THAT(slurp(report), Contains("| rmsnorm bf16 |  | 6 | 0.0% / 0.0% / 0.0% (6) |"));
  // Qwen3-30B-A3B at batch 1: its norms (2048 to 4096 elements) lie inside the measured grid,
  // everything else has no model and comes from the specs.
  Run r = moesim("run " + std::string(MOESIM_SOURCE_DIR) + "/validate/matrix/val1-qwen3-30b-a3b.yaml --platform nvswitch-1x-h200 --batch 1 --calibration " +
                 cal.string());
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Contains("calibrated: 1 op models") && Contains("compute time from: interpolated") &&
                        Contains("specs") && Contains("validated step error, specs: median"));
}

TEST_CASE("calibrate --op-bench refuses bad records and rules, writing nothing", "[quick][cli]")
{
  fs::path d = scratch("op-bench-bad");
  const fs::path out = d / "cal.yaml";
  Run bad = moesim("calibrate --op-bench " + rmsnorm_bench(d, "tile") + " --platform x -o " + out.string());
  expect_usage_error(bad, out);
  CHECK_THAT(bad.err, Contains("bad.json") && Contains("records[0].tile") && Contains("unknown key"));
  Run rule = moesim("calibrate --op-bench " + rmsnorm_bench(d) + " --hold-out n --platform x -o " + out.string());
  expect_usage_error(rule, out);
  CHECK_THAT(rule.err, Contains("--hold-out"));
  Run model = moesim("calibrate --op-bench " + rmsnorm_bench(d) + " --exclude-model no-such-model --platform x -o " +
                     out.string());
  expect_usage_error(model, out);
  Run alone = moesim("calibrate --nccl-tests x.log --hold-out n=1 --platform x -o " + out.string());
  expect_usage_error(alone, out);
  Run form = moesim("calibrate --op-bench " + rmsnorm_bench(d) + " --decode-attention-form splitk --platform x -o " +
                    out.string());
  expect_usage_error(form, out);
  CHECK_THAT(form.err, Contains("--decode-attention-form"));
}

TEST_CASE("calibrate --op-bench --exclude-model leaves a family out, the SM count comes from the catalogue",
          "[quick][cli]")
{
  // bf16 GEMMs as bench-ops writes them, at (n, k) = (2048, 4096) and (7168, 4096), m 1, 16, 128,
  // and no system.sms: gpus.yaml's entry named "NVIDIA H200" gives 132. Qwen3-30B-A3B (hidden 2048,
  // 32 heads of 128) has an o_proj of n 2048, k 32 x 128 = 4096 at TP 1, so its three records
  // leave the fit; nothing in it has n 7168.
  fs::path d = scratch("op-bench-lofo");
  nlohmann::json recs = nlohmann::json::array();
  for (double n : {2048, 7168})
    for (double m : {1, 16, 128})
      recs.push_back({{"batch", 1}, {"dtype", "bf16"}, {"k", 4096}, {"launch", "stream"}, {"m", m}, {"n", n},
                      {"op", "gemm"}, {"reps", 50}, {"seconds", 5e-6 + 2 * m * n * 4096 / 6e14}, {"spread", 0.02}});
  nlohmann::json j = {{"format", "moesim-op-bench-1"},
                      {"source", "moesim-validate bench-ops"},
                      {"system", {{"gpu", "NVIDIA H200"}, {"cc", "9.0"}}},
                      {"records", recs}};
  const fs::path bench = d / "ops.json", cal = d / "lofo.yaml", report = d / "lofo.md";
  std::ofstream(bench) << j.dump(1);
  Run c = moesim("calibrate --op-bench " + bench.string() + " --exclude-model qwen3-30b-a3b --platform nvswitch-1x-h200 -o " +
                 cal.string() + " --fit-report " + report.string());
  REQUIRE(c.code == 0);
  CHECK_THAT(c.out, Contains("1 op models"));
  CHECK_THAT(slurp(report), Contains("Held out of the fit: 3 records (3 by a model family's shapes)."));
  CHECK_THAT(slurp(cal), Contains("SM count 132 from the GPU catalogue"));
}

TEST_CASE("a calibrated 2-GPU eager step on rank-local clocks writes an ordered timeline", "[cli]")
{
  // Mixtral-8x22B (4 layers) under tp2 at batch 1, eager, with the H200 op models of 2026-12-04 and
  // no collective curves: each rank runs on its local clock and sleeps to its all-reduce's start;
  // SimGrid's clock then lands a few ulps short of that start, and the all-reduce's sync (taken
  // from that clock) fell before its start, so the run refused its own timeline (exit 2). Every
  // event must read ready <= start <= sync <= end <= step.
  fs::path d = scratch("tp2-order");
  const std::string src = MOESIM_SOURCE_DIR;
  const fs::path cal = d / "cal.yaml", tl = d / "t.json";
  Run c = moesim("calibrate --platform nvswitch-2x-h200 --sms 132 -o " + cal.string() + " --op-bench " + src +
                 "/validate/results/h200-2026-12-04/ops.json " + src +
                 "/validate/results/h200-2026-12-04-call2/ops.json --exclude-model mixtral-8x7b --exclude-model mixtral-8x22b");
  REQUIRE(c.code == 0);
  Run r = moesim("run " + src + "/validate/oos/studies-2gpu/oos2g-mixtral-8x22b-eager.yaml --plan tp2 --batch 1 "
                 "--platform nvswitch-2x-h200 --eager --calibration " + cal.string() + " --timeline " + tl.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  const nlohmann::json t = nlohmann::json::parse(slurp(tl));
  const double step = t.at("step_time");
  int collectives = 0;
  for (const auto& e : t.at("events")) {
    INFO(e.at("name").get<std::string>());
    CHECK(e.at("ready").get<double>() <= e.at("start").get<double>());
    CHECK(e.at("start").get<double>() <= e.at("sync").get<double>());
    CHECK(e.at("sync").get<double>() <= e.at("end").get<double>());
    CHECK(e.at("end").get<double>() <= step);
    collectives += e.at("name").get<std::string>().find("allreduce") != std::string::npos;
  }
  CHECK(collectives > 0);
}

TEST_CASE("calibrate --bracket-runs sets the kernel boundary and the graph launch from measured runs",
          "[quick][cli]")
{
  // Two runs as moesim-validate run writes them (one rank, one stream). Eager, event_scale 1: gaps
  // (start - ready) 2 (the first op, left out), 6.5 - 5 = 1.5 and 11.5 - 10 = 1.5 us: mean 1.5 us.
  // Graph, event_scale 0.5: raw gaps 2 / 0.5 = 4 us (first), (5.625 - 5) / 0.5 = 1.25 and
  // (10.625 - 10) / 0.5 = 1.25 us: mean 1.25 us; the graph launch 4 - 1.25 = 2.75 us.
  fs::path d = scratch("bracket-runs");
  auto write_run = [&](const std::string& name, const std::string& mode, double scale,
                       std::vector<std::pair<double, double>> ready_start) {
    nlohmann::json evs = nlohmann::json::array();
    for (std::size_t i = 0; i < ready_start.size(); i++)
      evs.push_back({{"op", i}, {"rank", 0}, {"stream", 0}, {"ready", ready_start[i].first * 1e-6},
                     {"start", ready_start[i].second * 1e-6}, {"end", (ready_start[i].second + 3) * 1e-6}});
    const fs::path p = d / name;
    std::ofstream(p) << nlohmann::json{{"measurement", {{"mode", mode}, {"event_scale", scale}}}, {"events", evs}}.dump();
    return p.string();
  };
  const std::string eager = write_run("e.json", "eager", 1.0, {{0, 2}, {5, 6.5}, {10, 11.5}});
  const std::string graph = write_run("g.json", "graph", 0.5, {{0, 2}, {5, 5.625}, {10, 10.625}});
  const fs::path cal = d / "cal.yaml";
  Run c = moesim("calibrate --op-bench " + rmsnorm_bench(d) + " --bracket-runs " + eager + " " + graph +
                 " --platform nvswitch-1x-h200 -o " + cal.string());
  REQUIRE(c.code == 0);
  const std::string y = slurp(cal);
  CHECK_THAT(y, Contains("bracket_gap_eager_us: 1.5 ") && Contains("bracket_gap_graph_us: 1.25 ") &&
                    Contains("graph_launch_us: 2.75") && Contains("--bracket-runs (2 runs)"));
  // Without records, or with a run of two streams, nothing is written.
  const fs::path out = d / "none.yaml";
  Run alone = moesim("calibrate --nccl-tests x.log --bracket-runs " + eager + " --platform x -o " + out.string());
  expect_usage_error(alone, out);
  CHECK_THAT(alone.err, Contains("--bracket-runs"));
  std::ofstream(d / "two.json") << nlohmann::json{{"measurement", {{"mode", "eager"}, {"event_scale", 1.0}}},
                                                  {"events", {{{"op", 0}, {"rank", 0}, {"stream", 0}, {"ready", 0.0}, {"start", 1e-6}},
                                                              {{"op", 1}, {"rank", 0}, {"stream", 1}, {"ready", 0.0}, {"start", 1e-6}}}}}
                                       .dump();
  Run two = moesim("calibrate --op-bench " + rmsnorm_bench(d) + " --bracket-runs " + (d / "two.json").string() +
                   " --platform x -o " + out.string());
  expect_usage_error(two, out);
  CHECK_THAT(two.err, Contains("two.json") && Contains("ranks or streams"));
}
