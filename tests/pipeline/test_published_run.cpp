// Published rows that name public per-op records (pipeline/published_run.hpp): a calibration fitted
// from the records times the row's compute ops, the report says where the step's compute came from,
// and a platform somebody measured keeps its own calibration.
#include "core/error.hpp"
#include "core/op_time.hpp"
#include "pipeline/published_run.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

using namespace moesim;

namespace {

// GEMM records made by a roofline: max(4 us, 2mnk / 600 TFLOP/s, bf16 bytes / 3 TB/s).
double record_seconds(double m, double n, double k)
{
  return std::max({4e-6, 2 * m * n * k / 600e12, 2 * (m * k + k * n + m * n) / 3e12});
}

std::string gemm_records()
{
  nlohmann::json r = nlohmann::json::array();
  for (double m : {1, 16, 128, 1024, 8192})
    for (double n : {1024, 4096, 16384})
      for (double k : {1024, 4096, 16384})
        r.push_back({{"op", "gemm"}, {"dtype", "bf16"}, {"launch", "graph"}, {"m", m}, {"n", n}, {"k", k},
                     {"batch", 1}, {"seconds", record_seconds(m, n, k)}});
  return nlohmann::json{{"format", "moesim-op-bench-1"},
                        {"source", "unit test"},
                        {"system", {{"gpu", "Test GPU"}, {"sms", 132}}},
                        {"records", r}}
      .dump();
}

} // namespace

TEST_CASE("published: a row's op records time its GEMMs as a calibration fitted from them would",
          "[quick][published]")
{
  // A data root with the GPU catalogue (the fit looks the records' GPU up there) and the records.
  test::TempDir root("published_records");
  std::filesystem::create_directories(root.path / "platforms");
  std::filesystem::copy_file(std::string(MOESIM_SOURCE_DIR) + "/platforms/gpus.yaml", root.path / "platforms/gpus.yaml");
  root.write("recs.json", gemm_records());
  const Calibration c = calibration_from_op_records(root.path.string(), "recs.json");
  REQUIRE(c.op_models.models.size() == 1);
  Op op;
  op.kind = OpKind::gemm;
  op.shape = GemmShape{16, 4096, 4096};
  op.flops = 2.0 * 16 * 4096 * 4096;
  op.bytes = 2.0 * (16 * 4096 + 4096 * 4096 + 16 * 4096);
  GpuSpec gpu;
  gpu.model = "Test GPU";
  gpu.mem_bw = 8e12;
  gpu.flops[Dtype::bf16] = 2.25e15;
  // m = 16, n = k = 4096 is a record: 2 x 16 x 4096 x 4096 = 536,870,912 flop is 0.89 us at
  // 600 TFLOP/s; 2 x (65,536 + 16,777,216 + 65,536) = 33,816,576 bytes is 11.272192 us at 3 TB/s;
  // the larger of those and 4 us: 11.272192 us, measured (the datasheet's 8 TB/s would give 4.2 us).
  const OpTime t = op_time(&c, gpu, op, true);
  CHECK(t.provenance == perf::Provenance::measured);
  CHECK(t.seconds == Approx(33816576 / 3e12).epsilon(1e-9));
}

TEST_CASE("published: the report names the records and each provenance's share of the step", "[quick][published]")
{
  // Shares of the step's time (ScenarioResult::compute_provenance), as whole percents; a provenance
  // absent from the step prints 0%.
  CHECK(describe_compute_sources("platforms/public/aiconfigurator/b200_sxm.trtllm-1.3.0rc20.json.gz",
                                 {{"interpolated", 0.404}, {"extrapolated", 0.091}, {"specs", 0.214}}) ==
        "compute from b200_sxm.trtllm-1.3.0rc20.json.gz: measured 0%, interpolated 40%, extrapolated 9%; specs 21% "
        "of the step");
}

TEST_CASE("published: op records on a platform with a measured calibration are refused", "[quick][published]")
{
  test::TempDir d("published_records");
  const std::string rows = d.write(
      "rows.yaml",
      "rows:\n  - {id: a, category: nvlink, source: s, date: d, engine: trtllm-1.0, engine_version: v,\n"
      "     model: qwen3-30b-a3b, platform: nvswitch-1x-h200, op_records: "
      "platforms/public/aiconfigurator/h200_sxm.trtllm-1.3.0rc20.json.gz,\n"
      "     interconnect: i, plan: tp1, workload: {kind: decode, batch: 1, context: 1024}, metric: tok_s_user,\n"
      "     measured: 1}\n");
  CHECK_THROWS_WITH(run_published(MOESIM_SOURCE_DIR, rows),
                    Catch::Contains("op_records") && Catch::Contains("measured calibration"));
}
