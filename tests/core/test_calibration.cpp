// Calibration curves and nccl-tests logs: interpolation, the fixed cost left after the sustained
// bandwidth, and reading both log layouts. The synthetic logs' times follow t = a + bytes*f/B, so
// every expectation is derived from a, f and B (tests/data/README.md).
#include "core/calibration.hpp"
#include "core/error.hpp"
#include "core/nccl_tests.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace moesim;

namespace {
const std::string data = std::string(MOESIM_SOURCE_DIR) + "/tests/data/";

CollectiveCurve ab_curve(double a, double busbw, std::vector<double> sizes)
{
  // all-reduce on 4 ranks: t = a + S * 1.5 / busbw
  CollectiveCurve c;
  c.kind = OpKind::all_reduce;
  c.ranks = 4;
  for (double s : sizes)
    c.points.push_back({s, a + s * 1.5 / busbw});
  return c;
}
} // namespace

TEST_CASE("a curve interpolates in log-log and keeps its floor and slope outside", "[quick][calibration]")
{
  CollectiveCurve c = ab_curve(20e-6, 300e9, {1024, 4096, 16384});
  // Between two points, log-log: t(2048) = exp((log t1 + log t2) / 2) = sqrt(t1 t2).
  const double t1 = 20e-6 + 1024 * 1.5 / 300e9, t2 = 20e-6 + 4096 * 1.5 / 300e9;
  CHECK(c.time_at(2048) == Approx(std::sqrt(t1 * t2)).epsilon(1e-12));
  CHECK(c.time_at(1024) == Approx(t1).epsilon(1e-12));
  CHECK(c.time_at(100) == Approx(t1).epsilon(1e-12)); // latency floor
  // Bus bandwidth: the best S*1.5/t, at the largest size: 16384*1.5 / (20e-6 + 16384*1.5/300e9).
  const double t3 = 20e-6 + 16384 * 1.5 / 300e9;
  CHECK(c.bus_bandwidth() == Approx(16384 * 1.5 / t3).epsilon(1e-12));
  // Beyond the last point: that point plus the extra bytes at the sustained bus bandwidth.
  CHECK(c.time_at(32768) == Approx(t3 + 16384 * 1.5 / c.bus_bandwidth()).epsilon(1e-12));
  // alpha + transfer at the sustained bandwidth gives the curve back.
  for (double s : {1024.0, 3000.0, 16384.0})
    CHECK(c.alpha_at(s) + s * 1.5 / c.bus_bandwidth() == Approx(c.time_at(s)).epsilon(1e-12));
}

TEST_CASE("nccl-tests plain-text log", "[quick][calibration]")
{
  NcclTestsLog log = parse_nccl_tests_log(data + "nccl_tests_all_reduce_synthetic.txt");
  CHECK(log.kind == OpKind::all_reduce);
  CHECK(log.ranks == 4);
  CHECK(log.nccl_version == "22807");
  CHECK(log.devices == "NVIDIA H100 80GB HBM3");
  // sizes 1K, 4K, ..., 64M: 1024 * 4^k for k = 0..8
  REQUIRE(log.rows.size() == 9);
  CHECK(log.rows[0].bytes == 1024);
  // The log prints microseconds with 2 decimals: 20 + 1024*1.5/300e9 s = 20.00512 us -> "20.01".
  CHECK(log.rows[0].seconds == Approx(20.01e-6).epsilon(1e-12));
  CHECK(log.rows[8].bytes == 67108864);
}

TEST_CASE("nccl-tests JSON report", "[quick][calibration]")
{
  NcclTestsLog log = parse_nccl_tests_log(data + "nccl_tests_alltoall_synthetic.json");
  CHECK(log.kind == OpKind::all_to_all);
  CHECK(log.ranks == 4);
  REQUIRE(log.rows.size() == 7); // 4K .. 16M by 4
  CHECK(log.rows[0].seconds == Approx((15.0 + 4096 * 0.75 / 200e9 * 1e6) * 1e-6).epsilon(1e-12));
}

TEST_CASE("unreadable logs are refused with the file named", "[quick][calibration]")
{
  const auto dir = std::filesystem::temp_directory_path();
  const std::string noop = (dir / "moesim_noop.log").string();
  std::ofstream(noop) << "#  Rank  0 Group 0\n#  Rank  1 Group 0\n        1024  256  float  sum  -1  10.0  0.1  0.1  0\n";
  CHECK_THROWS_WITH(parse_nccl_tests_log(noop), Catch::Matchers::Contains("moesim_noop.log") &&
                                                    Catch::Matchers::Contains("--op"));
  CHECK(parse_nccl_tests_log(noop, "all_gather").kind == OpKind::all_gather);
  const std::string empty = (dir / "moesim_empty.log").string();
  std::ofstream(empty) << "# Collective test starting: all_reduce_perf\n";
  CHECK_THROWS_WITH(parse_nccl_tests_log(empty), Catch::Matchers::Contains("no result rows"));
  CHECK_THROWS_AS(parse_nccl_tests_log(data + "nope.txt"), InputError);
}

TEST_CASE("calibration YAML round trip", "[quick][calibration]")
{
  Calibration c;
  c.platform = "test";
  c.measured_on = "NVIDIA H100 80GB HBM3, NCCL 22807";
  c.source = "unit test";
  c.mem_bw_eff = 0.9;
  c.collectives.push_back(ab_curve(20e-6, 300e9, {1024, 4096}));
  const std::string path = (std::filesystem::temp_directory_path() / "moesim_cal_roundtrip.yaml").string();
  std::ofstream(path) << calibration_to_yaml(c);
  Calibration d = load_calibration_file(path);
  CHECK(d.platform == "test");
  CHECK(*d.mem_bw_eff == 0.9);
  REQUIRE(d.find(OpKind::all_reduce, 4));
  CHECK(d.find(OpKind::all_reduce, 4)->points.size() == 2);
  CHECK(d.find(OpKind::all_reduce, 4)->points[1].second == Approx(c.collectives[0].points[1].second).epsilon(1e-6));
  CHECK_FALSE(d.find(OpKind::all_reduce, 2));
  std::ofstream(path) << "platform: x\nmeasured_on: y\nsource: z\ncollectives:\n  - op: bogus\n    ranks: 2\n    points: [[1, 1]]\n";
  CHECK_THROWS_WITH(load_calibration_file(path), Catch::Matchers::Contains("collectives[].op"));
}

TEST_CASE("kernel curves interpolate inside their grid and defer to the roofline outside", "[quick][calibration]")
{
  // gemm {m, 4096, 4096} bf16 measured at m = 1, 16, 64: 10, 12, 20 us.
  KernelCurve k;
  k.kind = OpKind::gemm;
  k.dtype = Dtype::bf16;
  k.shape = {0, 4096, 4096};
  k.vary = 0;
  k.points = {{1, 10e-6}, {16, 12e-6}, {64, 20e-6}};
  Op op;
  op.kind = OpKind::gemm;
  op.dtype = Dtype::bf16;
  op.shape = GemmShape{16, 4096, 4096};
  CHECK(*k.time_of(op) == 12e-6);   // a grid point
  op.shape = GemmShape{40, 4096, 4096}; // between 16 and 64: 12 + (40-16)/(64-16) * 8 = 16 us
  CHECK(*k.time_of(op) == Approx(16e-6).epsilon(1e-12));
  op.shape = GemmShape{128, 4096, 4096}; // outside the grid
  CHECK_FALSE(k.time_of(op));
  op.shape = GemmShape{16, 4096, 2048}; // another GEMM
  CHECK_FALSE(k.time_of(op));
  op.shape = GemmShape{16, 4096, 4096, 2}; // batched: its key has a 4th dimension
  CHECK_FALSE(k.time_of(op));
  op.shape = GemmShape{16, 4096, 4096};
  op.dtype = Dtype::fp8; // another dtype
  CHECK_FALSE(k.time_of(op));
  // Through a calibration file, next to a collective curve.
  Calibration c;
  c.platform = "t";
  c.measured_on = "m";
  c.source = "s";
  c.kernels.push_back(k);
  const std::string path = (std::filesystem::temp_directory_path() / "moesim_cal_kernels.yaml").string();
  std::ofstream(path) << calibration_to_yaml(c);
  Calibration d = load_calibration_file(path);
  op.dtype = Dtype::bf16;
  op.shape = GemmShape{40, 4096, 4096};
  REQUIRE(d.kernel_time(op));
  CHECK(*d.kernel_time(op) == Approx(16e-6).epsilon(1e-9));
  std::ofstream(path) << "platform: x\nmeasured_on: y\nsource: z\nkernels:\n  - op: all_reduce\n    dtype: bf16\n"
                         "    shape: [1]\n    vary: 0\n    points: [[1, 1e-6]]\n";
  CHECK_THROWS_WITH(load_calibration_file(path), Catch::Matchers::Contains("not a compute op"));
}

TEST_CASE("a grouped GEMM run per expert costs the sum of its experts' GEMMs", "[quick][calibration]")
{
  // gemm {m, 512, 1024} bf16 measured at m = 1, 2, 4: 5, 6, 8 us.
  Calibration c;
  KernelCurve k;
  k.kind = OpKind::gemm;
  k.shape = {0, 512, 1024};
  k.points = {{1, 5e-6}, {2, 6e-6}, {4, 8e-6}};
  c.kernels.push_back(k);
  Op g;
  g.kind = OpKind::grouped_gemm;
  // rows 2.6, 0, 1.4, 1.0 -> floors 2, 0, 1, 1 (4) and round(5.0) - 4 = 1 more to the largest
  // remainder (0.6, expert 0): rows 3, 0, 1, 1. Per expert: 3 rows -> 6 + (3-2)/(4-2) * 2 = 7 us;
  // 1 row -> 5 us twice; the empty expert launches nothing. Sum: 17 us.
  g.shape = GroupedGemmShape{4, 0, {2.6, 0, 1.4, 1.0}, 512, 1024};
  g.kernels = 3;
  REQUIRE(c.kernel_time(g));
  CHECK(*c.kernel_time(g) == Approx(17e-6).epsilon(1e-12));
  // One fused kernel (kernels == 1): the per-expert sum does not apply, and no grouped curve exists.
  g.kernels = 1;
  CHECK_FALSE(c.kernel_time(g));
  // An expert beyond the grid (5 rows): not covered, so no time (the roofline applies).
  g.kernels = 2;
  g.shape = GroupedGemmShape{4, 0, {5, 0, 0, 1}, 512, 1024};
  CHECK_FALSE(c.kernel_time(g));
}

TEST_CASE("host costs: YAML, per-kind launch cost, and bench-kernels JSON", "[quick][calibration]")
{
  Calibration c;
  c.platform = "t";
  c.measured_on = "m";
  c.source = "s";
  c.host.launch_s = 3e-6;
  c.host.sync_s = 12e-6;
  c.host.graph_launch_s = 7.5e-6;
  c.host.launch_s_by_kind[OpKind::gemm] = 4.5e-6;
  const std::string path = (std::filesystem::temp_directory_path() / "moesim_cal_host.yaml").string();
  std::ofstream(path) << calibration_to_yaml(c);
  const Calibration d = load_calibration_file(path);
  CHECK(*d.host.launch_s == Approx(3e-6).epsilon(1e-12));
  CHECK(*d.host.sync_s == Approx(12e-6).epsilon(1e-12));
  CHECK(*d.host.graph_launch_s == Approx(7.5e-6).epsilon(1e-12));
  Op gemm;
  gemm.kind = OpKind::gemm;
  gemm.kernels = 2;
  CHECK(d.launch_seconds(gemm, 5e-6) == Approx(9e-6).epsilon(1e-12)); // 2 launches x 4.5 us
  Op norm;
  norm.kind = OpKind::rmsnorm;
  CHECK(d.launch_seconds(norm, 5e-6) == Approx(3e-6).epsilon(1e-12)); // the measured median
  Op ar;
  ar.kind = OpKind::all_reduce;
  CHECK(d.launch_seconds(ar, 5e-6) == Approx(3e-6).epsilon(1e-12));
  CHECK(Calibration{}.launch_seconds(norm, 5e-6) == 5e-6); // nothing measured: the engine's
  std::ofstream(path) << "platform: x\nmeasured_on: y\nsource: z\nhost:\n  launch_us: -1\n";
  CHECK_THROWS_WITH(load_calibration_file(path), Catch::Matchers::Contains("host.launch_us"));
  std::ofstream(path) << "platform: x\nmeasured_on: y\nsource: z\nhost:\n  launch_us_by_op: {all_reduce: 3}\n";
  CHECK_THROWS_WITH(load_calibration_file(path), Catch::Matchers::Contains("launch_us_by_op"));

  // bench-kernels JSON: two gemm {m, 64, 64} points (m = 1 measured twice: 4 and 6 us, averaged to
  // 5), one rmsnorm; host per launch: gemm 10/1 and 12/1 and 8/2 us -> median 10; rmsnorm 2 us;
  // over all four ops: 2, 4, 10, 12 -> median 7 us.
  const std::string json = R"({"tool": "moesim-validate bench-kernels", "host": {"sync_s": 1.5e-5, "graph_launch_s": 6e-6},
    "ops": [
     {"kind": "gemm", "dtype": "bf16", "shape": [1, 64, 64], "seconds": 4e-6, "host_seconds": 10e-6, "launches": 1,
      "graph_seconds": 2e-6},
     {"kind": "gemm", "dtype": "bf16", "shape": [1, 64, 64], "seconds": 6e-6, "host_seconds": 12e-6, "launches": 1},
     {"kind": "gemm", "dtype": "bf16", "shape": [8, 64, 64], "seconds": 9e-6, "host_seconds": 8e-6, "launches": 2},
     {"kind": "rmsnorm", "dtype": "bf16", "shape": [4096], "seconds": 2e-6, "host_seconds": 2e-6, "launches": 1}]})";
  Calibration b;
  add_kernel_bench(b, json, "k.json");
  REQUIRE(b.kernels.size() == 3); // stream gemm, stream rmsnorm, graph gemm (one point: m = 1)
  Op q;
  q.kind = OpKind::gemm;
  q.shape = GemmShape{1, 64, 64};
  CHECK(*b.kernel_time(q) == Approx(5e-6).epsilon(1e-12));
  CHECK(*b.kernel_time(q, true) == Approx(2e-6).epsilon(1e-12)); // a graph step: the graph-measured time
  q.shape = GemmShape{4, 64, 64}; // 3/7 of the way from 1 to 8: 5 + 3/7 * 4 = 47/7 us
  CHECK(*b.kernel_time(q) == Approx(47e-6 / 7).epsilon(1e-12));
  CHECK(*b.kernel_time(q, true) == Approx(47e-6 / 7).epsilon(1e-12)); // no graph curve covers 4: the stream one
  // The launch mode survives the YAML.
  b.platform = "t", b.measured_on = "m", b.source = "s";
  std::ofstream(path) << calibration_to_yaml(b);
  const Calibration rb = load_calibration_file(path);
  q.shape = GemmShape{1, 64, 64};
  CHECK(*rb.kernel_time(q, true) == Approx(2e-6).epsilon(1e-9));
  CHECK(*rb.kernel_time(q, false) == Approx(5e-6).epsilon(1e-9));
  CHECK(b.host.launch_s_by_kind.at(OpKind::gemm) == Approx(10e-6).epsilon(1e-12));
  CHECK(b.host.launch_s_by_kind.at(OpKind::rmsnorm) == Approx(2e-6).epsilon(1e-12));
  CHECK(*b.host.launch_s == Approx(7e-6).epsilon(1e-12));
  CHECK(*b.host.sync_s == 1.5e-5);
  CHECK(*b.host.graph_launch_s == 6e-6);
  CHECK_THROWS_WITH(add_kernel_bench(b, "{\"ops\": []}", "k.json"), Catch::Matchers::Contains("k.json"));
  CHECK_THROWS_WITH(add_kernel_bench(b, "not json", "k.json"), Catch::Matchers::Contains("not JSON"));
}
