// Published measurements: the file's rows, the metric arithmetic and the error summary.
#include "core/error.hpp"
#include "core/published.hpp"

#include "../temp_dir.hpp"

#include <catch2/catch.hpp>

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

TEST_CASE("published rows: two TensorRT-LLM rows on B200, and only they, name the B200 TensorRT-LLM op records",
          "[quick][published]")
{
  // The table's ops are the ops these two rows run (bf16 dense GEMMs; bf16-KV MLA or GQA attention,
  // which the table does not time): gpt-oss-120b DEP2 and DeepSeek-R1 min-latency. The other B200
  // rows run block-scaled FP8 or an fp8 KV cache, which the imported table does not hold
  // (published.yaml's header); no other row names records.
  const auto rows = load_published_file(std::string(MOESIM_SOURCE_DIR) + "/validate/public/published.yaml");
  int named = 0;
  for (const PublishedRow& r : rows) {
    const bool clean = r.id == "trt-gptoss120b-b200-dep2" || r.id == "trt-dsr1-b200-minlat";
    CHECK(r.op_records == (clean ? "platforms/public/aiconfigurator/b200_sxm.trtllm-1.3.0rc20.json.gz" : ""));
    named += !r.op_records.empty();
  }
  CHECK(named == 2);
}
