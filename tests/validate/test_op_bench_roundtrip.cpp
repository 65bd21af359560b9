// The records `moesim-validate bench-ops` writes (validate/op_bench_record.cpp, no GPU needed) read by
// core's one op-bench reader (core/op_bench.cpp, through core/op_measurements.cpp) and fitted, so a
// change on either side that breaks the other fails here.
#include "core/op_fit.hpp"
#include "core/op_measurements.hpp"
#include "tests/temp_dir.hpp"
#include "validate/op_bench_record.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace moesim;
using namespace moesim::validate::opbench;

TEST_CASE("bench-ops records, as its writer writes them, are read by core's reader and fitted", "[quick]")
{
  // Every family's writer, as run_op_bench assembles the file (op_bench_document, write_json_file).
  // gemm bf16 at m 64 and 128 (n 4096, k 7168), each stream and graph: 4 records and 2 models.
  nlohmann::json recs = nlohmann::json::array();
  for (long m : {64L, 128L})
    for (bool graph : {false, true})
      recs.push_back(gemm_record(GemmPoint{Dtype::bf16, m, 4096, 7168}, Measured{graph, 1e-5 + m * 1e-8, 10, 0.02}));
  GroupedPoint gp;
  gp.fused = true, gp.n = 1536, gp.k = 2048, gp.experts = 4, gp.tokens = 11, gp.rows = {3, 0, 7, 1};
  recs.push_back(grouped_record(gp, Measured{false, 4.1e-5, 10, 0.03}));
  AttnPoint mla;
  mla.decode = true, mla.mla = true, mla.batch = 8, mla.q_heads = 32, mla.kv_heads = 1, mla.kv_lora = 512, mla.rope = 64;
  mla.qk = 576, mla.v = 512, mla.context = 4096;
  recs.push_back(attention_record(mla, Measured{false, 3e-5, 10, 0.02}));
  AttnPoint pre;
  pre.decode = false, pre.batch = 1, pre.q_heads = 16, pre.kv_heads = 16, pre.qk = 192, pre.v = 128, pre.prompt = 2048,
  pre.cached = 2048;
  recs.push_back(attention_record(pre, Measured{false, 4e-4, 10, 0.01}));
  SmallPoint r;
  r.op = "rmsnorm", r.rows = 16, r.width = 4096;
  recs.push_back(small_record(r, Measured{false, 3e-6, 10, 0.05}));
  recs.push_back(gap_record(64, 1.1e-6));
  recs.push_back(host_record("kernel_launch", true, 1, 2.9e-6));
  const nlohmann::json system = {{"gpu", "NVIDIA H200"}, {"sms", 132}, {"cc", "9.0"}, {"driver", "580.159.04"}};
  test::TempDir dir("op_bench_roundtrip");
  const std::string path = (dir.path / "ops.json").string();
  write_json_file(path, op_bench_document("moesim-validate bench-ops", system, recs));
  const OpMeasurements m = load_op_measurements(path);
  // 4 gemm + grouped + 2 attention + rmsnorm = 8 timed ops; the gap and the host call apart.
  REQUIRE(m.ops.size() == 8);
  CHECK_FALSE(m.complete.has_value()); // no side file beside it
  // Prefill: {d_qk 192, d_v 128, kv_heads 16, q_heads 16, batch 1, cached 2048, prompt 2048} (its
  // context 4096 = cached + prompt is checked, then implied).
  CHECK(m.ops[6].dims == std::vector<double>{192, 128, 16, 16, 1, 2048, 2048});
  // rmsnorm: 16 x 4096 elements; 2 x 16 x 4096 x 2 + 4096 x 2 bytes.
  CHECK(m.ops[7].dims == std::vector<double>{16.0 * 4096});
  CHECK(m.ops[7].bytes == 2.0 * 16 * 4096 * 2 + 4096 * 2);
  const OpBenchFit fit = fit_op_bench_files({path}, {}, {}, std::string(MOESIM_SOURCE_DIR) + "/workloads/models");
  // gemm stream, gemm graph, grouped fused, decode mla, prefill gqa, rmsnorm.
  CHECK(fit.models.models.size() == 6);
  CHECK(fit.models.sms == 132);
  REQUIRE(fit.host.size() == 1);
  // The grid answers a measured point with its measurement: m 128 stream, 1e-5 + 128e-8 s.
  const std::optional<perf::Estimate> e = estimate_record(fit.models, m.ops[2]);
  REQUIRE(e);
  CHECK(e->seconds == Approx(1e-5 + 128 * 1e-8).epsilon(1e-9));
}

TEST_CASE("bench-ops' distinct-kernel and event records are read apart and leave graph_gap_us as it was", "[quick]")
{
  // Plain chains of 16, 64 and 4 kernels at 1.0, 1.2 and 1.4 us: graph_gap_us is their median, 1.2 us.
  nlohmann::json plain = nlohmann::json::array();
  plain.push_back(gap_record(16, 1.0e-6));
  plain.push_back(gap_record(64, 1.2e-6));
  plain.push_back(gap_record(4, 1.4e-6));
  SmallPoint r;
  r.op = "rmsnorm", r.rows = 16, r.width = 4096;
  plain.push_back(small_record(r, Measured{true, 3e-6, 10, 0.05}));
  // The same with the boundary points, each in a graph and from a stream, all far from 1.2 us:
  // were any of them taken, the median of the 3 + 8 values would move.
  nlohmann::json all = plain;
  for (const GapPoint& p : {GapPoint{16, 4, 0}, GapPoint{64, 8, 0}, GapPoint{16, 1, 16}, GapPoint{0, 1, 16}})
    for (bool graph : {true, false})
      all.push_back(gap_record(p, graph, graph ? 5e-6 : 9e-6));
  const nlohmann::json system = {{"gpu", "NVIDIA H100 80GB HBM3"}, {"sms", 132}, {"cc", "9.0"}};
  test::TempDir dir("op_bench_boundary");
  const std::string a = (dir.path / "plain.json").string(), b = (dir.path / "all.json").string();
  write_json_file(a, op_bench_document("moesim-validate bench-ops", system, plain));
  write_json_file(b, op_bench_document("moesim-validate bench-ops", system, all));
  const OpMeasurements m = load_op_measurements(b);
  CHECK(m.graph_gaps == std::vector<double>{1.0e-6, 1.2e-6, 1.4e-6});
  REQUIRE(m.launch_gaps.size() == 8);
  CHECK(m.launch_gaps[0] == LaunchGap{16, 4, 0, true, 5e-6});
  CHECK(m.launch_gaps[5] == LaunchGap{16, 1, 16, false, 9e-6});
  CHECK(m.launch_gaps[6] == LaunchGap{0, 1, 16, true, 5e-6});
  const std::string models = std::string(MOESIM_SOURCE_DIR) + "/workloads/models";
  const OpBenchFit with = fit_op_bench_files({b}, {}, {}, models), without = fit_op_bench_files({a}, {}, {}, models);
  REQUIRE(without.models.graph_gap_s);
  CHECK(*without.models.graph_gap_s == Approx(1.2e-6).epsilon(1e-12));
  REQUIRE(with.models.graph_gap_s);
  CHECK(*with.models.graph_gap_s == *without.models.graph_gap_s);
}
