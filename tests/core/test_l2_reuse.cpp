// Small kernels after big ops (core/l2_reuse.hpp): how cold a kernel's inputs are from the bytes moved
// since the previous kernel of its kind, and op_time's blend of its warm and cold models.
#include "core/calibration.hpp"
#include "core/l2_reuse.hpp"
#include "core/op_fit.hpp"
#include "core/op_time.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>

using namespace moesim;

namespace {

Op op_of(int id, OpKind kind, double bytes)
{
  Op op;
  op.id = id;
  op.kind = kind;
  op.bytes = bytes;
  return op;
}

nlohmann::json norm_record(const char* launch, double rows, double width, double seconds, bool cold)
{
  nlohmann::json r = {{"op", "rmsnorm"}, {"dtype", "bf16"}, {"launch", launch}, {"rows", rows}, {"width", width},
                      {"elements", rows * width}, {"bytes", 4 * rows * width}, {"seconds", seconds}};
  if (cold)
    r["inputs"] = "cold";
  return r;
}

} // namespace

TEST_CASE("l2 reuse: warm up to half the L2, half cold at the L2, cold from twice it", "[quick][perf]")
{
  const double l2 = 50e6;
  CHECK(cold_fraction(0, l2) == 0);
  CHECK(cold_fraction(10e6, l2) == 0);   // log2(10 / 25) < 0
  CHECK(cold_fraction(25e6, l2) == 0);   // log2(1) = 0
  CHECK(cold_fraction(50e6, l2) == Approx(0.5)); // log2(2) / 2
  // 25 x sqrt(2) MB: log2(sqrt(2)) / 2 = 0.25
  CHECK(cold_fraction(25e6 * std::sqrt(2.0), l2) == Approx(0.25));
  CHECK(cold_fraction(100e6, l2) == Approx(1.0)); // log2(4) / 2
  CHECK(cold_fraction(5e9, l2) == 1);
  CHECK(cold_fraction(1e9, 0) == 0); // no L2 known: nothing blends
  CHECK(cold_blends(OpKind::rmsnorm));
  CHECK(cold_blends(OpKind::unpermute));
  CHECK_FALSE(cold_blends(OpKind::gemm));
  CHECK_FALSE(cold_blends(OpKind::sample)); // timed cold always
}

TEST_CASE("l2 reuse: the bytes between two kernels of a kind, the first reaching into the previous step",
          "[quick][perf]")
{
  RankSchedule r;
  r.ops = {op_of(0, OpKind::rmsnorm, 1e6),     op_of(1, OpKind::gemm, 200e6), op_of(2, OpKind::rmsnorm, 1e6),
           op_of(3, OpKind::gemm, 10e6),       op_of(4, OpKind::rmsnorm, 1e6), op_of(5, OpKind::residual_add, 2e6),
           op_of(6, OpKind::all_reduce, 0)};
  r.ops[6].comm_bytes = 30e6; // a collective moves its size, whatever its `bytes`
  r.ops[6].bytes = 1e12;
  const std::vector<double> f = cold_fractions(r, 50e6);
  REQUIRE(f.size() == 7);
  // op 0, the first norm: after the last norm (op 4) come 2 + 30 MB, before op 0 nothing:
  // log2(32 / 25) / 2 = 0.178.
  CHECK(f[0] == Approx(std::log2(32.0 / 25) / 2));
  CHECK(f[2] == 1);  // 200 MB since op 0: log2(8) / 2 > 1
  CHECK(f[4] == 0);  // 10 MB since op 2
  // The one residual add: the whole step less itself, 1 + 200 + 1 + 10 + 1 + 30 = 243 MB: cold.
  CHECK(f[5] == 1);
  CHECK(cold_fractions(r, 1e9)[5] == 0); // 243 MB against a 1 GB L2: under half
  CHECK(f[1] == 0);
  CHECK(f[3] == 0);
  CHECK(f[6] == 0);
}

TEST_CASE("op_time blends a small kernel's warm and cold models by its cold fraction", "[quick][perf]")
{
  // Warm norms 2 us + bytes / 2.5 TB/s; cold ones 1.5 us more (the size of session 21's H100 grid's
  // median for rmsnorm at decode rows: +0.5 us; here larger to be plain); at rows 1-1024, width 4096.
  nlohmann::json recs = nlohmann::json::array();
  for (double rows : {1, 16, 256, 1024})
    for (const char* launch : {"stream", "graph"}) {
      const double warm = 2e-6 + 4 * rows * 4096 / 2.5e12;
      recs.push_back(norm_record(launch, rows, 4096, warm, false));
      recs.push_back(norm_record(launch, rows, 4096, warm + 1.5e-6, true));
    }
  const nlohmann::json doc = {{"format", "moesim-op-bench-1"},
                              {"source", "unit test"},
                              {"system", {{"gpu", "Test GPU"}, {"sms", 132}, {"l2_bytes", 50e6}}},
                              {"records", recs}};
  test::TempDir dir("moesim_l2_reuse");
  const std::string file = dir.write("norms.json", doc.dump());
  const OpBenchFit fit = fit_op_bench_files({file}, {}, {}, std::string(MOESIM_SOURCE_DIR) + "/workloads/models");
  REQUIRE(fit.models.models.size() == 4); // rmsnorm, rmsnorm cold; stream and graph
  CHECK(fit.models.l2_bytes == 50e6);
  Calibration c;
  c.platform = "t";
  c.measured_on = fit.models.system;
  c.source = "unit test";
  c.op_models = fit.models;
  // Through the calibration file and back: l2_bytes and the cold variant survive.
  const Calibration d = load_calibration_file(dir.write("cal.yaml", calibration_to_yaml(c)));
  CHECK(d.op_models.l2_bytes == 50e6);
  REQUIRE(d.op_models.models.size() == 4);
  GpuSpec gpu;
  gpu.model = "Test GPU";
  gpu.mem_bw = 3e12;
  gpu.flops[Dtype::bf16] = 1e15;
  Op norm;
  norm.kind = OpKind::rmsnorm;
  norm.shape = RowsShape{256, 4096};
  norm.bytes = 4.0 * 256 * 4096;
  const double warm = 2e-6 + 4.0 * 256 * 4096 / 2.5e12; // the record at this shape
  for (bool graph : {false, true}) {
    CHECK(op_time(&d, gpu, norm, graph, 0).seconds == Approx(warm).epsilon(1e-6));
    CHECK(op_time(&d, gpu, norm, graph, 1).seconds == Approx(warm + 1.5e-6).epsilon(1e-6));
    CHECK(op_time(&d, gpu, norm, graph, 0.25).seconds == Approx(warm + 0.25 * 1.5e-6).epsilon(1e-6));
    CHECK(op_time(&d, gpu, norm, graph, 0.25).provenance == perf::Provenance::measured);
  }
  // A kind that does not blend ignores the fraction (a GEMM: the roofline here, no GEMM model).
  Op gemm;
  gemm.kind = OpKind::gemm;
  gemm.shape = GemmShape{16, 4096, 4096};
  gemm.flops = 2.0 * 16 * 4096 * 4096;
  gemm.bytes = 2.0 * 4096 * 4096;
  CHECK(op_time(&d, gpu, gemm, false, 1).seconds == op_time(&d, gpu, gemm, false, 0).seconds);
  // A cold model that answers faster than the warm one adds nothing: the blend never speeds a kernel.
  nlohmann::json fast = doc;
  for (auto& r : fast["records"])
    if (r.contains("inputs"))
      r["seconds"] = r["seconds"].get<double>() - 3e-6;
  const OpBenchFit f2 =
      fit_op_bench_files({dir.write("fast.json", fast.dump())}, {}, {}, std::string(MOESIM_SOURCE_DIR) + "/workloads/models");
  Calibration e = c;
  e.op_models = f2.models;
  CHECK(op_time(&e, gpu, norm, false, 1).seconds == Approx(warm).epsilon(1e-6));
  // A calibration file with a cold model and no L2 is refused, naming the key.
  std::string text = calibration_to_yaml(c);
  const size_t at = text.find("  l2_bytes:");
  REQUIRE(at != std::string::npos);
  text.erase(at, text.find('\n', at) - at + 1);
  CHECK_THROWS_WITH(load_calibration_file(dir.write("nol2.yaml", text)), Catch::Contains("variant") && Catch::Contains("l2_bytes"));
}
