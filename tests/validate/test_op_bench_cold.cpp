// bench-ops --points' inputs=cold on the small kernels (session 20), without a GPU: the key read
// and refused, the point's text and estimate, its records ("inputs": "cold"), --from-log reading
// such a line back, validate/oos/points-s20-cold-small.txt planned under 25 s, and core keeping the
// cold records out of every fit, so that a record set with them fits to the same predictions. With
// a GPU ([gpu]), every point of the file verifies (instance 0) and times.
#include "core/error.hpp"
#include "core/op_fit.hpp"
#include "core/op_measurements.hpp"
#include "core/transfer.hpp"
#include "tests/kernels/gpu_test.hpp"
#include "tests/temp_dir.hpp"
#include "validate/bench_timer.hpp"
#include "validate/op_bench.hpp"
#include "validate/op_bench_family.hpp"
#include "validate/op_bench_grid.hpp"
#include "validate/op_bench_log.hpp"
#include "validate/op_bench_points.hpp"
#include "validate/op_bench_record.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>

using namespace moesim;
using namespace moesim::validate;
using namespace moesim::validate::opbench;

namespace {

std::string why(const std::string& text)
{
  try {
    parse_point(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

// The small points the test takes, one of each op that takes the key, cold or not.
std::vector<SmallPoint> small_points(bool cold)
{
  std::vector<SmallPoint> v = {{"rmsnorm", 66, 3584, 0, 0, 0, cold},       {"silu_mul", 132, 7680, 0, 0, 0, cold},
                               {"residual_add", 236544, 1, 0, 0, 0, cold}, {"topk", 144, 128, 8, 128, 0, cold},
                               {"permute", 144, 4096, 8, 128, 0, cold},    {"unpermute", 144, 4096, 8, 0, 0, cold},
                               {"router", 144, 4096, 0, 128, 0, cold}};
  return v;
}

std::string run(const std::string& args, int& status)
{
  std::string output;
  FILE* p = popen((std::string("'") + MOESIM_VALIDATE_EXE + "' " + args + " 2>&1").c_str(), "r");
  if (!p)
    return "popen failed";
  std::array<char, 4096> buf;
  while (std::size_t k = std::fread(buf.data(), 1, buf.size(), p))
    output.append(buf.data(), k);
  status = WEXITSTATUS(pclose(p));
  return output;
}

} // namespace

TEST_CASE("bench-ops --points: inputs=cold on the small kernels reads back, inputs=warm is the plain point", "[quick]")
{
  for (const SmallPoint& p : small_points(true)) {
    const std::string text = describe(p);
    INFO(text);
    // The key last, after the point's own keys; the text reads back to the same point.
    CHECK(text.size() > 12);
    CHECK(text.substr(text.size() - 12) == " inputs=cold");
    CHECK(parse_point(text) == Point(p));
  }
  // Warm: the plain point, whose text is that of every earlier run (no key).
  const Point warm = parse_point("rmsnorm rows=66 width=3584 inputs=warm");
  CHECK(warm == Point(SmallPoint{"rmsnorm", 66, 3584, 0, 0, 0, false}));
  CHECK(describe(warm) == "rmsnorm rows=66 width=3584");
  CHECK(parse_point("rmsnorm rows=66 width=3584") == warm);
  CHECK(std::get<SmallPoint>(parse_point("residual_add rows=8192 inputs=cold")).cold_inputs);
  // Refusals, one line each, naming the key.
  CHECK_THAT(why("rmsnorm rows=66 width=3584 inputs=hot"), Catch::Contains("'inputs=hot'"));
  CHECK_THAT(why("rmsnorm rows=66 width=3584 inputs="), Catch::Contains("'inputs='"));
  CHECK_THAT(why("rmsnorm rows=66 width=3584 inputs=cold inputs=warm"), Catch::Contains("'inputs=' given twice"));
  // Sample and embedding read inputs of their own always: the key would say nothing.
  CHECK_THAT(why("sample rows=16 vocab=131072 inputs=cold"), Catch::Contains("'inputs=' on sample"));
  CHECK_THAT(why("embedding rows=16 width=1024 vocab=32768 inputs=warm"), Catch::Contains("'inputs=' on embedding"));
  // No other family takes it.
  CHECK_THAT(why("gemm bf16 m=64 n=4096 k=4096 inputs=cold"), Catch::Contains("unknown key 'inputs='"));
  CHECK_THAT(why("graph_gap kernels=16 inputs=cold"), Catch::Contains("unknown key 'inputs='"));
  CHECK_THAT(why("attention_decode gqa batch=4 heads=32/8 dims=128/128 context=4096 inputs=cold"),
             Catch::Contains("unknown key 'inputs='"));
  for (const char* t : {"rmsnorm rows=66 width=3584 inputs=hot", "sample rows=16 vocab=131072 inputs=cold"})
    CHECK(why(t).find('\n') == std::string::npos);
  // The grid has no cold point: every candidate's inputs are as before.
  for (const Point& p : candidates(Family::small, preset_rates("h100")))
    REQUIRE_FALSE(std::get<SmallPoint>(p).cold_inputs);
}

TEST_CASE("bench-ops: a cold small point's estimate adds its inputs per instance, its record says cold", "[quick]")
{
  const DeviceRates h100 = preset_rates("h100");
  const CostModel c;
  // rmsnorm 5,632 x 1,024: bytes 2 x 5,632 x 1,024 x 2 + 1,024 x 2 = 23,070,720; op 23,070,720 /
  // (0.7 x 3.35e12) + 3 us = 12.84 us; 8 instances (no weights; 2 ms / op is more than 16). Cold,
  // setup allocates and fills 8 x 23,070,720 bytes more at 0.4 x 3.35 TB/s: 137.7 us more.
  const SmallPoint warm{"rmsnorm", 5632, 1024, 0, 0, 0, false}, cold{"rmsnorm", 5632, 1024, 0, 0, 0, true};
  CHECK(small_kernel_bytes(cold) == 23070720.0);
  CHECK(instances_for(cold, h100) == 8);
  CHECK(instances_for(cold, h100) == instances_for(warm, h100)); // the same instances, warm or cold
  CHECK(estimate_seconds(cold, h100, c) - estimate_seconds(warm, h100, c) ==
        Approx(8 * 23070720.0 / (0.4 * 3.35e12)).epsilon(1e-9));
  CHECK(op_seconds(cold, h100) == op_seconds(warm, h100));
  // Records: the warm point's as before (no "inputs"), the cold one's with "inputs": "cold" and
  // otherwise the same; sample keeps its own as today.
  const Measured m{false, 5e-6, 10, 0.01};
  for (std::size_t i = 0; i < small_points(true).size(); i++) {
    nlohmann::json w = small_record(small_points(false)[i], m), k = small_record(small_points(true)[i], m);
    INFO(describe(small_points(true)[i]));
    CHECK_FALSE(w.contains("inputs"));
    CHECK(k["inputs"] == "cold");
    k.erase("inputs");
    CHECK(k == w);
  }
  const SmallPoint sample{"sample", 16, 0, 0, 0, 131072, false};
  CHECK(small_record(sample, m)["inputs"] == "cold");
  CHECK_FALSE(small_record(sample, m, false).contains("inputs"));
  CHECK(small_record(cold, m, false)["inputs"] == "cold"); // a cold point is cold whatever the log's header says
}

TEST_CASE("bench-ops --from-log reads a cold small point's line back", "[quick]")
{
  const nlohmann::json info = {{"device_count", 1},
                               {"devices", {{{"name", "NVIDIA H100 80GB HBM3"}, {"memory_bytes", 85e9}, {"sm_count", 132}}}},
                               {"driver_build", "580.159.04"},
                               {"runtime_version", "13.0"},
                               {"nccl_version", "2.28.3"}};
  const std::string header = "# moesim-validate bench-ops: NVIDIA H100 80GB HBM3 (cc 9.0, 132 SMs; estimates from 989 "
                             "TFLOP/s bf16, 1979 fp8, 3.35 TB/s), budget 330 s, shard 1/1, 10 timed repetitions after "
                             "3 warm-up; sample and embedding inputs cold\n";
  auto recover = [&](const std::string& body) {
    std::istringstream in(header + body);
    return recover_from_log(in, "ops.txt", info, "system.json", "2026-12-07");
  };
  const SmallPoint cold{"rmsnorm", 66, 3584, 0, 0, 0, true};
  const Recovered r = recover("stream        4.250 us  " + describe(cold) + "\ngraph         3.125 us  " + describe(cold) + "\n");
  const nlohmann::json& rec = r.document["records"];
  REQUIRE(rec.size() == 2);
  // The log's microseconds in seconds, as the recovery computes them (3.125 * 1e-6 is not 3.125e-6).
  CHECK(rec[0] == small_record(cold, Measured{false, 4.25 * 1e-6, 10, 0.0}));
  CHECK(rec[1] == small_record(cold, Measured{true, 3.125 * 1e-6, 10, 0.0}));
  CHECK(rec[1]["inputs"] == "cold");
  // The key on a point that takes none is no point (line 2).
  try {
    recover("stream        4.250 us  sample rows=16 vocab=131072 inputs=cold\n");
    FAIL("accepted");
  } catch (const InputError& e) {
    CHECK_THAT(e.what(), Catch::Contains("ops.txt:2") && Catch::Contains("matches no point of the grid"));
  }
}

TEST_CASE("bench-ops --points validate/oos/points-s20-cold-small.txt: plain and cold pairs under 25 s", "[quick]")
{
  const std::string file = std::string(MOESIM_SOURCE_DIR) + "/validate/oos/points-s20-cold-small.txt";
  const std::vector<Point> pts = read_points_file(file);
  // 7 ops x 6 shapes, each plain then cold: 84 points; every second one is the one before it, cold.
  REQUIRE(pts.size() == 84);
  std::set<std::string> ops;
  for (std::size_t i = 0; i < pts.size(); i += 2) {
    const SmallPoint plain = std::get<SmallPoint>(pts[i]), cold = std::get<SmallPoint>(pts[i + 1]);
    INFO(describe(plain));
    CHECK_FALSE(plain.cold_inputs);
    SmallPoint warmed = cold;
    warmed.cold_inputs = false;
    CHECK(cold.cold_inputs);
    CHECK(warmed == plain);
    ops.insert(plain.op);
  }
  CHECK(ops == std::set<std::string>{"rmsnorm", "silu_mul", "residual_add", "topk", "permute", "unpermute", "router"});
  const DeviceRates h100 = preset_rates("h100");
  const opbench::Plan plan = points_plan(pts, h100, CostModel{}, 480);
  // One run of the small family. Each point's setup, verification (2 ms + the CPU's 0.1 ms) and two
  // timings of 13 repetitions are about 15 ms: the 84 points 1.3 s by the H100's estimate (8 s of
  // CUDA start-up, cuBLAS handles and files come on top), well under 25 s.
  REQUIRE(plan.families.size() == 1);
  CHECK(plan.families[0].family == Family::small);
  CHECK(plan.families[0].points == pts);
  CHECK(plan.estimate_s > 0.1);
  CHECK(plan.estimate_s < 25);
  // The command line prints the same plan (--dry-run, no GPU) and exits 0; its table names the file's
  // 84 points.
  int status = -1;
  const std::string out = run("bench-ops --dry-run --gpu h100 --points " + file, status);
  CHECK(status == 0);
  CHECK_THAT(out, Catch::Contains(plan_text(plan)));
  // A bad value names the file, its line and the key, and exits 2.
  test::TempDir dir("op_bench_cold");
  const std::string bad = dir.write("bad.txt", "rmsnorm rows=2 width=4096\n# cold\nrmsnorm rows=2 width=4096 inputs=hot\n");
  const std::string refused = run("bench-ops --dry-run --gpu h100 --points " + bad, status);
  CHECK(status == 2);
  CHECK_THAT(refused, Catch::Contains(bad + ":3") && Catch::Contains("'inputs=hot'"));
}

TEST_CASE("cold small records fit models of their own: the warm models are those of the set without them", "[quick]")
{
  // The warm records of 7 small ops (rmsnorm, silu_mul, residual_add, topk, permute, unpermute,
  // router) at two sizes each, stream and graph, and a cold sample (read and fitted as today); then
  // the same set with each small point's cold record, 3x slower. The cold records must make models
  // of their own (variant "cold", for op_time's blend) and leave every warm model as it was.
  nlohmann::json plain = nlohmann::json::array(), all;
  auto at = [](SmallPoint p, long rows) {
    p.rows = rows;
    return p;
  };
  std::vector<SmallPoint> warm, cold;
  for (long scale : {1L, 4L})
    for (std::size_t i = 0; i < small_points(false).size(); i++) {
      warm.push_back(at(small_points(false)[i], small_points(false)[i].rows * scale));
      cold.push_back(at(small_points(true)[i], small_points(true)[i].rows * scale));
    }
  for (const SmallPoint& p : warm)
    for (bool graph : {false, true})
      plain.push_back(small_record(p, Measured{graph, 2e-6 + small_kernel_bytes(p) / 2.5e12, 10, 0.01}));
  plain.push_back(small_record(SmallPoint{"sample", 16, 0, 0, 0, 131072, false}, Measured{false, 80e-6, 10, 0.01}));
  all = plain;
  for (const SmallPoint& p : cold)
    for (bool graph : {false, true})
      all.push_back(small_record(p, Measured{graph, 3 * (2e-6 + small_kernel_bytes(p) / 2.5e12), 10, 0.01}));
  // l2_bytes: the H100's 50 MiB (platforms/gpus.yaml), which a fit with cold models carries.
  const nlohmann::json system = {{"gpu", "NVIDIA H100 80GB HBM3"}, {"sms", 132}, {"cc", "9.0"}, {"l2_bytes", 52428800}};
  test::TempDir dir("op_bench_cold_fit");
  const std::string a = (dir.path / "plain.json").string(), b = (dir.path / "all.json").string();
  write_json_file(a, op_bench_document("moesim-validate bench-ops", system, plain));
  write_json_file(b, op_bench_document("moesim-validate bench-ops", system, all));
  const OpMeasurements without = load_op_measurements(a), with = load_op_measurements(b);
  // 6 modelled ops x 2 sizes x 2 launches = 24 warm records (+ the sample); the 24 cold ones join
  // them under variant "cold"; the warm routers (2 x 2) count unmodelled in both, and the 4 cold ones,
  // which give rows, width and experts, are the GEMM records they time (m 144 or 576, n 128, k 4,096:
  // aligned, variant "").
  REQUIRE(without.ops.size() == 25);
  REQUIRE(with.ops.size() == 53);
  CHECK(without.unmodelled.at("router") == 4);
  CHECK(with.unmodelled.at("router") == 4);
  std::size_t router_gemms = 0;
  for (const OpRecord& r : with.ops)
    if (r.key.kind == OpKind::gemm) {
      router_gemms++;
      CHECK(r.key.variant.empty());
      CHECK(r.dims[2] == 128);
      CHECK(r.dims[3] == 4096);
    }
  CHECK(router_gemms == 4);
  std::size_t colds = 0;
  for (const OpRecord& r : with.ops)
    if (r.key.variant == "cold") {
      colds++;
      CHECK(r.cold_inputs);
    }
  CHECK(colds == 24);
  for (std::size_t i = 0; i < without.ops.size(); i++) {
    CHECK(with.ops[i].seconds == without.ops[i].seconds);
    CHECK(with.ops[i].dims == without.ops[i].dims);
  }
  const std::string models = std::string(MOESIM_SOURCE_DIR) + "/workloads/models";
  const OpBenchFit fw = fit_op_bench_files({b}, {}, {}, models), fo = fit_op_bench_files({a}, {}, {}, models);
  // 6 kinds x 2 launches + the sample = 13 warm models; 12 cold ones beside them, and the cold routers'
  // GEMM models (stream and graph).
  CHECK(fo.models.models.size() == 13);
  CHECK(fw.models.models.size() == 27);
  CHECK(fw.superseded == fo.superseded);
  CHECK(fw.superseded == 0); // the sample's only record is cold: nothing warm beside it to drop
  CHECK(fo.models.l2_bytes == 0); // no cold model: no L2 to carry
  CHECK(fw.models.l2_bytes == 52428800);
  // Every warm shape gets the same answer from both fits; every cold shape its own 3x time from the
  // cold model (the grid answering a measured point with its measurement).
  std::size_t answered = 0;
  for (const OpRecord& r : with.ops) {
    INFO(r.where);
    const auto ew = estimate_record(fw.models, r);
    REQUIRE(ew);
    CHECK(ew->seconds == Approx(r.seconds).epsilon(1e-6));
    if (r.key.variant.empty() && r.key.kind != OpKind::gemm) {
      const auto eo = estimate_record(fo.models, r);
      REQUIRE(eo);
      CHECK(ew->seconds == eo->seconds);
    }
    answered++;
  }
  CHECK(answered == 53);
  // The transfer to another GPU takes them neither as a source nor as a shape to predict.
  const OpBench doc = read_op_bench_file(b);
  std::size_t studies = 0;
  for (const BenchRecord& r : doc.records)
    if (r.cold_study()) {
      studies++;
      CHECK_FALSE(op_demand(r).has_value());
    }
  CHECK(studies == 28); // the 24 modelled and the 4 router records
}

TEST_CASE("bench-ops: validate/oos/points-s20-cold-small.txt verifies and times on a GPU", "[gpu]")
{
  test::require_gpu();
  const SystemInfo sys = query_system_info();
  const DeviceRates rates = rates_for_device(sys.devices[0].name, sys.devices[0].cc_major * 10 + sys.devices[0].cc_minor,
                                             sys.devices[0].sm_count, double(sys.devices[0].memory_bytes), 0, 1);
  BenchTimer timer{3, 1};
  GemmPlanner planner;
  BenchContext ctx{timer, planner, rates, 7};
  timer.graph_launch_seconds();
  std::vector<Point> pts = read_points_file(std::string(MOESIM_SOURCE_DIR) + "/validate/oos/points-s20-cold-small.txt");
  // And copies whose size is no multiple of 256 bytes (1,001 elements: the scalar path, padded apart).
  pts.push_back(parse_point("residual_add rows=1001 inputs=cold"));
  pts.push_back(parse_point("rmsnorm rows=3 width=1000 inputs=cold"));
  for (const Point& p : pts) {
    INFO(describe(p));
    bench_small(ctx, std::get<SmallPoint>(p));
  }
  // Two records (stream, graph) a point, in order; cold exactly where the point is.
  REQUIRE(ctx.records.size() == 2 * pts.size());
  for (std::size_t i = 0; i < ctx.records.size(); i++) {
    const nlohmann::json& r = ctx.records[i];
    INFO(r.dump());
    CHECK(r.contains("inputs") == std::get<SmallPoint>(pts[i / 2]).cold_inputs);
    CHECK(r["seconds"].get<double>() > 0);
    CHECK(r["seconds"].get<double>() < 0.01);
  }
}
