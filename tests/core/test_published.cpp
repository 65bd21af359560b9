// Published measurements: the file's rows, the metric arithmetic and the error summary.
#include "core/error.hpp"
#include "core/published.hpp"

#include "../refusal.hpp"
#include "../temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <map>

using namespace moesim;

TEST_CASE("published rows: the committed file loads 38 rows, the first as written", "[quick][published]")
{
  const auto rows = load_published_file(std::string(MOESIM_SOURCE_DIR) + "/validate/public/published.yaml");
  REQUIRE(rows.size() == 38);
  CHECK(rows[0].id == "seed-tp4");
  CHECK(rows[0].metric == Metric::tok_s_user);
  CHECK(rows[0].measured == 49);
  CHECK(rows[0].workload.kind == WorkloadKind::decode);
  CHECK(rows[0].workload.batch == 1);
  CHECK(rows[0].workload.context == 2048);
  CHECK(rows[0].dtypes.at("expert_weights") == "nvfp4");
}

TEST_CASE("published rows: a bad metric names the file, the key and the fix", "[quick][published]")
{
  test::TempDir d("published");
  const std::string p = d.write("rows.yaml", "rows:\n  - {id: a, category: pcie, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                      "     model: m, platform: p, interconnect: i, plan: tp1, workload: {kind: decode, batch: 1,\n"
                      "     context: 1}, metric: tok_s_foo, measured: 1}\n");
  CHECK_THROWS_WITH(load_published_file(p), Catch::Contains("metric") && Catch::Contains("tok_s_user"));
}

TEST_CASE("published rows: op_records and moe_records together are refused, naming the key", "[quick][published]")
{
  test::TempDir d("published");
  const std::string p = d.write("rows.yaml", "rows:\n  - {id: a, category: pcie, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                      "     model: m, platform: p, interconnect: i, plan: tp1, workload: {kind: decode, batch: 1,\n"
                      "     context: 1}, metric: tok_s_user, measured: 1, op_records: a.json, moe_records: a.json}\n");
  CHECK_THROWS_WITH(load_published_file(p), Catch::Contains("moe_records") && Catch::Contains("op_records"));
}

TEST_CASE("published rows: op_records and gemm_records together are refused, naming the key", "[quick][published]")
{
  test::TempDir d("published");
  const std::string p = d.write("rows.yaml", "rows:\n  - {id: a, category: pcie, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                      "     model: m, platform: p, interconnect: i, plan: tp1, workload: {kind: decode, batch: 1,\n"
                      "     context: 1}, metric: tok_s_user, measured: 1, op_records: a.json, gemm_records: a.json}\n");
  CHECK_THROWS_WITH(load_published_file(p), Catch::Contains("gemm_records") && Catch::Contains("op_records"));
}

TEST_CASE("published rows: op_records and attention_records together are refused, naming the key",
          "[quick][published]")
{
  test::TempDir d("published");
  const std::string p = d.write("rows.yaml", "rows:\n  - {id: a, category: pcie, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                      "     model: m, platform: p, interconnect: i, plan: tp1, workload: {kind: decode, batch: 1,\n"
                      "     context: 1}, metric: tok_s_user, measured: 1, op_records: a.json, attention_records: a.json}\n");
  CHECK_THROWS_WITH(load_published_file(p), Catch::Contains("attention_records") && Catch::Contains("op_records"));
}

TEST_CASE("published metrics: per user, GPU, rank, node and system", "[quick][published]")
{
  // 1000 tok/s over 50 sequences on 8 GPUs: 20 per user, 125 per GPU or rank, a node of 8 = 1000.
  CHECK(rate_metric(Metric::tok_s_user, 1000, 50, 8) == Approx(20));
  CHECK(rate_metric(Metric::tok_s_gpu, 1000, 50, 8) == Approx(125));
  CHECK(rate_metric(Metric::tok_s_rank, 1000, 50, 8) == Approx(125));
  CHECK(rate_metric(Metric::tok_s_node, 1000, 50, 8) == Approx(1000));
  CHECK(rate_metric(Metric::tok_s, 1000, 50, 8) == Approx(1000));
  // 16 GPUs: a node is 8 of them, 1000 / 16 x 8 = 500; 4 GPUs: the node is all 4, 1000.
  CHECK(rate_metric(Metric::tok_s_node, 1000, 50, 16) == Approx(500));
  CHECK(rate_metric(Metric::tok_s_node, 1000, 50, 4) == Approx(1000));
}

TEST_CASE("published metrics: TPOT and TTFT in ms from the loop's means, their error published over moesim",
          "[quick][published]")
{
  // A loop with mean TTFT 0.25 s and mean TPOT 0.02 s: 250 ms and 20 ms.
  CHECK(time_metric_ms(Metric::ttft_ms, 0.25, 0.02) == Approx(250));
  CHECK(time_metric_ms(Metric::tpot_ms, 0.25, 0.02) == Approx(20));
  CHECK(is_time(Metric::tpot_ms));
  CHECK(is_time(Metric::ttft_ms));
  CHECK_FALSE(is_time(Metric::tok_s_user));
  // + is moesim too fast for every metric. A rate: moesim 120 tok/s against 100 published is 120 / 100
  // - 1 = +20%. A time: moesim's 20 ms TPOT against 25 ms published is faster, 25 / 20 - 1 = +25%;
  // 40 ms against 25 ms is slower, 25 / 40 - 1 = -37.5%.
  CHECK(metric_error(Metric::tok_s_user, 120, 100) == Approx(0.20));
  CHECK(metric_error(Metric::tpot_ms, 20, 25) == Approx(0.25));
  CHECK(metric_error(Metric::tpot_ms, 40, 25) == Approx(-0.375));
  CHECK(metric_error(Metric::ttft_ms, 40, 25) == Approx(-0.375));
}

TEST_CASE("published rows: tpot_ms and ttft_ms load on a serve row", "[quick][published]")
{
  test::TempDir d("published");
  const std::string p = d.write("rows.yaml", "rows:\n  - {id: a, category: nvlink, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                      "     model: m, platform: p, interconnect: i, plan: tp1, workload: {kind: serve, input: 8, output: 4,\n"
                      "     requests: 20, concurrency: 2}, metric: tpot_ms, measured: 12.5}\n"
                      "  - {id: b, category: nvlink, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                      "     model: m, platform: p, interconnect: i, plan: tp1, workload: {kind: serve, input: 8, output: 4,\n"
                      "     requests: 20, concurrency: 2}, metric: ttft_ms, measured: 80}\n");
  const auto rows = load_published_file(p);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].metric == Metric::tpot_ms);
  CHECK(rows[0].measured == 12.5);
  CHECK(rows[1].metric == Metric::ttft_ms);
}

TEST_CASE("published rows: a serve row with prefill and decode apart loads both pools", "[quick][published]")
{
  test::TempDir d("published");
  const std::string head = "rows:\n  - {id: a, category: nvlink, source: s, date: d, engine: sglang-0.5, engine_version: v,\n"
                           "     model: m, platform: hgx-8x-h200, interconnect: i, plan: dp8xep8, workload: {kind: serve,\n"
                           "     input: 8192, output: 1024, requests: 2560, concurrency: 128, disaggregated: ";
  const std::string tail = "}, metric: tpot_ms, measured: 40}\n";
  const auto rows = load_published_file(
      d.write("rows.yaml", head + "{prefill_platform: hgx-8x-h200, prefill_plan: tp8, prefill_instances: 2,\n"
                                  "     decode_instances: 3, kv_link: 50, prefill_engine_set: {max_num_seqs: 1},\n"
                                  "     decode_engine_set: {max_num_seqs: 512}}" + tail));
  REQUIRE(rows.size() == 1);
  REQUIRE(rows[0].workload.disagg);
  const DisaggSpec& s = *rows[0].workload.disagg;
  CHECK(s.prefill_platform == "hgx-8x-h200");
  CHECK(s.prefill_plan == "tp8");
  CHECK(s.prefill_instances == 2);
  CHECK(s.decode_instances == 3);
  CHECK(s.kv_link_gbs == 50);
  REQUIRE(s.prefill_engine_set.size() == 1);
  CHECK(s.prefill_engine_set[0].first == "max_num_seqs");
  CHECK(s.decode_engine_set.at(0).second == "512");
  CHECK_THAT(rows[0].workload.describe(), Catch::Contains("apart: 2P tp8 + 3D"));
  // Without kv_link: 0, the decode platform's network.
  CHECK(load_published_file(d.write("b.yaml", head + "{prefill_platform: p, prefill_plan: tp8, prefill_instances: 1,\n"
                                                    "     decode_instances: 1}" + tail))[0]
            .workload.disagg->kv_link_gbs == 0);
  // Each mistake names the key.
  for (const auto& [bad, key] : {std::pair{"{prefill_platform: p, prefill_plan: warp9, prefill_instances: 1, decode_instances: 1}",
                                           "prefill_plan"},
                                 {"{prefill_platform: p, prefill_plan: tp8, prefill_instances: 0, decode_instances: 1}",
                                  "prefill_instances"},
                                 {"{prefill_platform: p, prefill_plan: tp8, prefill_instances: 1}", "decode_instances"},
                                 {"{prefill_platform: p, prefill_plan: tp8, prefill_instances: 1, decode_instances: 1, kv_link: 0}",
                                  "kv_link"},
                                 {"{prefill_platform: p, prefill_plan: tp8, prefill_instances: 1, decode_instances: 1, links: 2}",
                                  "links"},
                                 {"[tp8]", "disaggregated"}}) {
    INFO(bad);
    CHECK_THROWS_WITH(load_published_file(d.write("bad.yaml", head + bad + tail)),
                      Catch::Contains("bad.yaml") && Catch::Contains(key));
  }
}

TEST_CASE("published rows: a time metric on a decode row names the file, the key and the fix", "[quick][published]")
{
  test::TempDir d("published");
  const std::string p = d.write("rows.yaml", "rows:\n  - {id: a, category: pcie, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                      "     model: m, platform: p, interconnect: i, plan: tp1, workload: {kind: decode, batch: 1,\n"
                      "     context: 1}, metric: tpot_ms, measured: 1}\n");
  CHECK_THROWS_WITH(load_published_file(p),
                    Catch::Contains("rows.yaml") && Catch::Contains("metric") && Catch::Contains("kind: serve"));
}

TEST_CASE("published rows: an unknown metric lists the time metrics in the fix", "[quick][published]")
{
  test::TempDir d("published");
  const std::string p = d.write("rows.yaml", "rows:\n  - {id: a, category: pcie, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                      "     model: m, platform: p, interconnect: i, plan: tp1, workload: {kind: serve, input: 8, output: 4,\n"
                      "     requests: 20, concurrency: 2}, metric: itl_ms, measured: 1}\n");
  CHECK_THROWS_WITH(load_published_file(p), Catch::Contains("itl_ms") && Catch::Contains("tpot_ms") &&
                                                Catch::Contains("ttft_ms"));
}

TEST_CASE("serve estimate: prefill per request plus decode steps per wave", "[quick][published]")
{
  // 10 requests, 100 output tokens, 2 kept per step: 50 steps of 10 ms = 0.5 s, plus 10 prompts of
  // 50 ms = 0.5 s; 1000 tokens in 1 s.
  CHECK(serve_tok_s(10, 100, 2, 0.010, 0.050) == Approx(1000));
  // 3 kept per step: ceil(100 / 3) = 34 steps = 0.34 s; 1000 / 0.84 = 1190.476 tok/s.
  CHECK(serve_tok_s(10, 100, 3, 0.010, 0.050) == Approx(1000 / 0.84));
}

TEST_CASE("error summary: median of absolute errors, worst with its index", "[quick][published]")
{
  // |0.1|, |-0.5|, |0.2|, |-0.05| sorted: 0.05 0.1 0.2 0.5; median (0.1 + 0.2) / 2 = 0.15; worst 0.5 at 1.
  const ErrorSummary s = summarise_errors({0.1, -0.5, 0.2, -0.05});
  CHECK(s.rows == 4);
  CHECK(s.median == Approx(0.15));
  CHECK(s.worst == Approx(0.5));
  CHECK(s.worst_index == 1);
  // Odd count: the middle value.
  CHECK(summarise_errors({-0.3, 0.1, 0.2}).median == Approx(0.2));
  CHECK(summarise_errors({}).rows == 0);
}

TEST_CASE("published rows: the TensorRT-LLM rows whose kernels AIConfigurator measured, and only they, name its op records",
          "[quick][published]")
{
  // The tables time the ops these rows run: bf16 and block-scaled fp8 GEMMs, bf16- or fp8-KV MLA,
  // bf16-KV GQA (published.yaml's header). The B200 and RTX PRO 6000 rows with NVFP4 dense layers (their records
  // include an fp4 quantize the engine may fuse), the per-tensor FP8 of Maverick and Qwen3-235B
  // (nvidia/Qwen3-235B-A22B-FP8: TensorRT-LLM's accuracy references list it as quant_algo FP8), the two rows on a
  // measured H200 platform, and every other TensorRT-LLM row name none. SGLang's H200 table
  // (0.5.6.post2) measured the multi-node SGLang DeepSeek-V3 rows' MLA decode (bf16 KV) and wide-EP
  // MoE layers (block-scaled fp8, EP16): those three rows name it; no other SGLang or vLLM row does.
  const std::string dir = "platforms/public/aiconfigurator/";
  const std::string trt = ".trtllm-1.3.0rc20.json.gz", sgl = "h200_sxm.sglang-0.5.6.post2.json.gz";
  const std::map<std::string, std::string> want = {
      {"trt-gptoss120b-b200-dep2", "b200_sxm" + trt}, {"trt-dsr1-b200-minlat", "b200_sxm" + trt},
      {"trt-dsr1-b200-dep4", "b200_sxm" + trt},       {"trt-dsr1-b200-dep4-1k8k", "b200_sxm" + trt},
      {"trt-dsr1-b200-maxtput", "b200_sxm" + trt},    {"trt-dsr1-h200-dep8", "h200_sxm" + trt},
      {"trt-dsr1-h200-dep8-1k8k", "h200_sxm" + trt},  {"trt-dsr1-h200-minlat", "h200_sxm" + trt},
      {"trt-dsr1-h200-maxtput", "h200_sxm" + trt},    {"gpustack-dsr1-h200-trtllm-tp8ep8", "h200_sxm" + trt},
      {"trt-gptoss120b-h100-dep4", "h100_sxm" + trt},
      {"lmsys-dsv3-h200-16gpu-baseline", sgl},        {"lmsys-dsv3-h200-16gpu-mtp3", sgl},
      {"lmsys-dsv3-h200-16gpu-mtp4", sgl}};
  const auto rows = load_published_file(std::string(MOESIM_SOURCE_DIR) + "/validate/public/published.yaml");
  std::size_t named = 0;
  for (const PublishedRow& r : rows) {
    INFO(r.id);
    const auto it = want.find(r.id);
    CHECK(r.op_records == (it == want.end() ? "" : dir + it->second));
    named += !r.op_records.empty();
  }
  CHECK(named == want.size());
}

TEST_CASE("published rows: the TensorRT-LLM rows whose MoE layers, and only those, AIConfigurator measured name "
          "its moe records",
          "[quick][published]")
{
  // moe_records: the table measured the row's whole MoE layer (shape, split, expert dtype) but not
  // its other ops (NVFP4 dense layers on B200, Maverick's per-tensor FP8), or the platform was
  // measured here (gpt-oss-120b and Qwen3-235B on H200), or its other ops are per-tensor FP8, which
  // no row takes from the records (Qwen3-235B on eight H100s: the tables measured its per-tensor fp8
  // layer, 4096 / 1536, 128 experts, top-8, at EP8). On the RTX PRO 6000 Server every TensorRT-LLM row
  // (NVFP4 dense layers and experts; the table measured their NVFP4 layers at EP1, EP2 and EP8).
  const std::string dir = "platforms/public/aiconfigurator/";
  const std::map<std::string, std::string> want = {
      {"trt-gptoss120b-h200-tp1", "h200_sxm"},       {"trt-maverick-h200-dep8", "h200_sxm"},
      {"trt-qwen3-235b-b200-dep4", "b200_sxm"},      {"trt-qwen3-235b-b200-dep4-8k1k", "b200_sxm"},
      {"trt-maverick-b200-dep4", "b200_sxm"},        {"trt-qwen3-30b-b200-tp1", "b200_sxm"},
      {"trt-qwen3-235b-h200-dep4", "h200_sxm"},      {"trt-qwen3-235b-h100-dep8", "h100_sxm"},
      {"trt-qwen3-235b-rtx8-dep8", "rtx_pro_6000_server"}, {"trt-qwen3-235b-rtx4-dep2pp2", "rtx_pro_6000_server"},
      {"trt-qwen3-30b-rtx1-tp1", "rtx_pro_6000_server"},   {"trt-qwen3-30b-rtx2-dep2", "rtx_pro_6000_server"},
      {"trt-qwen3-30b-rtx8-dep8", "rtx_pro_6000_server"}};
  const auto rows = load_published_file(std::string(MOESIM_SOURCE_DIR) + "/validate/public/published.yaml");
  std::size_t named = 0;
  for (const PublishedRow& r : rows) {
    INFO(r.id);
    const auto it = want.find(r.id);
    CHECK(r.moe_records == (it == want.end() ? "" : dir + it->second + ".trtllm-1.3.0rc20.json.gz"));
    // The same table's dense GEMMs (TensorRT-LLM's Linear of the row's weight dtype on a bf16 input,
    // the input's quantize included, as the engine runs it before qkv_proj: docs/engines.md "Dense
    // GEMMs from the tables") time the row's dense GEMMs the platform's calibration has no model of.
    CHECK(r.gemm_records == r.moe_records);
    CHECK((r.moe_records.empty() || r.op_records.empty()));
    named += !r.moe_records.empty();
  }
  CHECK(named == want.size());
}

TEST_CASE("published rows: a serve workload's lengths as distributions or a file beside the rows", "[quick][published]")
{
  test::TempDir d("published");
  auto rows = [&](const std::string& workload) {
    return d.write("rows.yaml", "rows:\n  - {id: a, category: pcie, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                                "     model: m, platform: p, interconnect: i, plan: tp1,\n     workload: {kind: serve, " +
                                    workload + "},\n     metric: tok_s, measured: 1}\n");
  };
  // A lognormal from its mean and median: sigma = sqrt(2 ln(219 / 150)) = sqrt(0.75687) = 0.869984.
  auto r = load_published_file(rows("input: {dist: lognormal, mean: 219, median: 150, min: 4, max: 1024}, "
                                    "output: {dist: uniform, min: 4, max: 400}, requests: 1000, concurrency: 0, seed: 3"));
  const ServeLengths& l = r.at(0).workload.lengths;
  CHECK(l.varied());
  CHECK(l.input.kind == LengthKind::lognormal);
  CHECK(l.input.sigma == Approx(std::sqrt(2 * std::log(219.0 / 150))).epsilon(1e-12));
  CHECK(l.input.max == 1024);
  CHECK(l.output.kind == LengthKind::uniform);
  CHECK(l.seed == 3);
  CHECK(r.at(0).workload.describe() == "serve lognormal mean 219 sigma 0.869984 in 4-1024 / uniform 4-400 x1000");
  // A file beside the rows (its path relative to them).
  d.write("pairs.csv", "input,output\n100,10\n200,20\n");
  r = load_published_file(rows("lengths: pairs.csv, requests: 4, concurrency: 0"));
  CHECK(r.at(0).workload.lengths.pairs == std::vector<std::pair<int, int>>{{100, 10}, {200, 20}});
  CHECK(r.at(0).workload.describe() == "serve pairs.csv x4");
  // Fixed lengths are as before: no draws.
  r = load_published_file(rows("input: 219, output: 201, requests: 1000, concurrency: 0"));
  CHECK_FALSE(r.at(0).workload.lengths.varied());
  CHECK(r.at(0).workload.describe() == "serve 219/201 x1000");
  // Each bad one names the file and line, the key, and the fix.
  auto refused = [&](const std::string& workload, const std::string& key, const std::string& says) {
    const std::string m = test::refusal([&] { (void)load_published_file(rows(workload)); });
    INFO(m);
    CHECK_THAT(m, Catch::Contains("rows.yaml:") && Catch::Contains(key) && Catch::Contains(says) &&
                      Catch::Contains("fix:"));
  };
  const std::string tail = ", output: 10, requests: 10, concurrency: 0";
  refused("input: {dist: lognormal, mean: 219, sigma: -1, min: 1, max: 9}" + tail, "input.sigma", "");
  refused("input: {dist: lognormal, mean: 219, median: 300, min: 1, max: 900}" + tail, "input.median", "above the mean");
  refused("input: {dist: lognormal, mean: 219, sigma: 1, median: 30, min: 1, max: 900}" + tail, "input.sigma",
          "exactly one of sigma and median");
  refused("input: {dist: uniform, min: 10, max: 5}" + tail, "input.max", "below min 10");
  refused("input: {dist: normal, min: 1, max: 5}" + tail, "input.dist", "unknown distribution");
  refused("input: {dist: uniform, min: 1, max: 5, mean: 3}" + tail, "mean", "");
  refused("input: {dist: uniform, min: 1, max: 99999999}" + tail, "input.max", "");
  refused("lengths: pairs.csv, input: 5, requests: 4, concurrency: 0", "input", "given with lengths");
  // A bad line of the file is named by the file's own path and line.
  d.write("bad.csv", "100,10\n200,x\n");
  const std::string m = test::refusal([&] { (void)load_published_file(rows("lengths: bad.csv, requests: 4, concurrency: 0")); });
  CHECK_THAT(m, Catch::Contains("bad.csv:2: lengths: '200,x' is not two whole numbers") && Catch::Contains("fix:"));
}
