#include "core/bench_limits.hpp"
#include "core/engine_profile.hpp"
#include "core/error.hpp"
#include "core/model_loader.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

namespace {

Model model(const std::string& name)
{
  return load_model_file(resolve_model_path(name, std::string(MOESIM_SOURCE_DIR) + "/workloads/models")).model;
}

constexpr double gib = 1024.0 * 1024.0 * 1024.0;

} // namespace

TEST_CASE("trtllm-bench limits: DeepSeek-R1 FP8 with FP8 KV on 8 H200 (--tp 8)", "[quick][paths]")
{
  Model m = model("deepseek-v3");
  m.dtypes.kv_cache = Dtype::fp8;
  REQUIRE(m.dtypes.expert_weights == Dtype::fp8);
  REQUIRE(m.dtypes.dense_weights == Dtype::fp8);
  // Every weight is stored one element each (fp8, bf16 embeddings): the checkpoint holds the
  // computed 671.03e9 parameters.
  CHECK(checkpoint_elements(m) == Approx(671.03e9).epsilon(1e-4));
  BenchLimitsInput in;
  in.model = m;
  in.gpu_mem_gib = 143771.0 / 1024; // H200: 143,771 MiB = 140.40 GiB
  in.tp = 8;
  in.input_len = 1024;
  in.output_len = 8192;
  // The heuristic's KV per token: 2 x 61 layers x max(8, 128) heads x (7168 / 128 = 56) x 1 B
  // = 874,496 B, where MLA stores (512 + 64) x 61 x 1 B = 35,136 B (24.9x less).
  // Engine 671.03e9 B = 624.94 GiB; 8 x 140.40 = 1123.21 GiB; (1123.21 - 624.94) x 0.9 = 448.44 GiB.
  // 1024/8192: a request is 9216 x 874,496 B = 7.506 GiB -> 59.7 requests; below 256 the batch is
  // max(64, 32 x ceil(59.7 / 32)) = 64; tokens 59.7 x 1.125 = 67 -> 2048, and 1024 + 64 fit.
  const BenchLimits l8k = trtllm_bench_limits(in);
  CHECK(l8k.tuned);
  CHECK(l8k.kv_max_requests == Approx(448.44 / (9216 * 874496.0 / gib)).epsilon(1e-3));
  CHECK(l8k.max_batch_size == 64);
  CHECK(l8k.max_num_tokens == 2048);
  // 1024/1024: 2048 x 874,496 B = 1.668 GiB -> 268.8 requests -> 128 x ceil(2.1) = 384; tokens
  // 537.7 -> 2048 = max(2048, 1024 + 384).
  in.output_len = 1024;
  const BenchLimits l1k = trtllm_bench_limits(in);
  CHECK(l1k.kv_max_requests == Approx(448.44 / (2048 * 874496.0 / gib)).epsilon(1e-3));
  CHECK(l1k.max_batch_size == 384);
  CHECK(l1k.max_num_tokens == 2048);
  // The perf overview's 0.95 instead of the command's default 0.9 lands in the same steps.
  in.kv_fraction = 0.95;
  CHECK(trtllm_bench_limits(in).max_batch_size == 384);
  in.output_len = 8192;
  CHECK(trtllm_bench_limits(in).max_batch_size == 64);
}

TEST_CASE("trtllm-bench limits: NVFP4 checkpoints count packed elements, MXFP4 keeps the defaults", "[quick][paths]")
{
  Model m = model("deepseek-v3");
  m.dtypes.expert_weights = Dtype::nvfp4;
  m.dtypes.kv_cache = Dtype::fp8;
  // Routed + shared expert weights: 3 x 7168 x 2048 = 44,040,192 each, x 257 x 58 MoE layers =
  // 656.46e9, stored as 1/2 + 1/16 element each: 671.03e9 - 656.46e9 x 7/16 = 383.83e9.
  CHECK(checkpoint_elements(m) == Approx(383.83e9).epsilon(1e-4));
  BenchLimitsInput in;
  in.model = m;
  in.gpu_mem_gib = 183359.0 / 1024; // B200: 183,359 MiB = 179.06 GiB
  in.tp = 4;
  in.input_len = 1024;
  in.output_len = 1024;
  // Engine 383.83e9 x 0.5 B = 178.74 GiB; (4 x 179.06 - 178.74) x 0.9 = 483.8 GiB; / 1.668 GiB
  // = 290 requests -> 384. At 1024/8192: / 7.506 GiB = 64.5 -> 32 x ceil(2.01) = 96.
  CHECK(trtllm_bench_limits(in).max_batch_size == 384);
  in.output_len = 8192;
  CHECK(trtllm_bench_limits(in).kv_max_requests == Approx(64.45).epsilon(2e-3));
  CHECK(trtllm_bench_limits(in).max_batch_size == 96);

  // gpt-oss's MXFP4 is not a quantisation the heuristic sizes: BuildConfig's 2048 sequences and
  // 8192 tokens, the tokens raised to 1024 + 2048 = 3072 only if that were larger.
  BenchLimitsInput g;
  g.model = model("gpt-oss-120b");
  REQUIRE(g.model.dtypes.expert_weights == Dtype::mxfp4);
  g.gpu_mem_gib = 143771.0 / 1024;
  g.input_len = 1024;
  g.output_len = 1024;
  const BenchLimits lg = trtllm_bench_limits(g);
  CHECK_FALSE(lg.tuned);
  CHECK(lg.max_batch_size == 2048);
  CHECK(lg.max_num_tokens == 8192);
}

TEST_CASE("trtllm-bench limits: GQA heads count max(tp, KV heads) and head_dim", "[quick][paths]")
{
  // Qwen3-30B-A3B bf16 on one GPU of 20 GiB at 1024/1024: 2 x 48 x 4 x 128 x 2 B = 98,304 B per
  // token, 0.1875 GiB a request. The weights (computed total, 2 B each) decide the rest; at --tp 8
  // the heads become max(8, 4) = 8, twice the footprint per request.
  Model m = model("qwen3-30b-a3b");
  REQUIRE(m.attn.kind == AttentionKind::gqa);
  REQUIRE(m.layers == 48);
  REQUIRE(m.attn.kv_heads == 4);
  REQUIRE(m.attn.head_dim == 128);
  m.dtypes = ModelDtypes{};
  BenchLimitsInput in;
  in.model = m;
  in.gpu_mem_gib = 80;
  in.input_len = 1024;
  in.output_len = 1024;
  const double engine = m.param_counts().total * 2 / gib;
  const BenchLimits one = trtllm_bench_limits(in);
  CHECK(one.kv_max_requests == Approx((80 - engine) * 0.9 / 0.1875));
  in.tp = 8;
  const BenchLimits eight = trtllm_bench_limits(in);
  CHECK(eight.kv_max_requests == Approx((8 * 80 - engine) * 0.9 / 0.375));
  // Too little memory for the weights: trtllm-bench stops, no limits.
  in.tp = 1;
  in.gpu_mem_gib = 10;
  CHECK(trtllm_bench_limits(in).max_batch_size == 0);
}

TEST_CASE("kv_cache_memory fact: of_free for TensorRT-LLM, of_total for the others, either from a study",
          "[quick][paths]")
{
  for (const char* name : {"vllm-0.11", "sglang-0.5", "llamacpp-master"})
    CHECK_FALSE(load_engine_profile_file(resolve_engine_path(name, MOESIM_SOURCE_DIR)).kv_of_free_memory);
  CHECK(load_engine_profile_file(resolve_engine_path("trtllm-1.0", MOESIM_SOURCE_DIR)).kv_of_free_memory);
  EngineProfile p;
  set_engine_fact(p, "kv_cache_memory", "of_free", "study.yaml:3", "study");
  CHECK(p.kv_of_free_memory);
  set_engine_fact(p, "kv_cache_memory", "of_total", "study.yaml:3", "study");
  CHECK_FALSE(p.kv_of_free_memory);
  CHECK_THROWS_WITH(set_engine_fact(p, "kv_cache_memory", "free", "study.yaml:3", "study"),
                    Catch::Equals("study.yaml:3: kv_cache_memory: unknown KV memory rule 'free' (fix: use of_total "
                                  "or of_free)"));
}

TEST_CASE("batch_limits fact: fixed in every profile, trtllm_bench or fixed from a study", "[quick][paths]")
{
  for (const char* name : {"vllm-0.11", "sglang-0.5", "trtllm-1.0", "llamacpp-master"})
    CHECK_FALSE(load_engine_profile_file(resolve_engine_path(name, MOESIM_SOURCE_DIR)).bench_batch_limits);
  EngineProfile p;
  set_engine_fact(p, "batch_limits", "trtllm_bench", "study.yaml:2", "study");
  CHECK(p.bench_batch_limits);
  CHECK_THROWS_WITH(set_engine_fact(p, "batch_limits", "auto", "study.yaml:2", "study"),
                    Catch::Contains("batch_limits") && Catch::Contains("fixed or trtllm_bench"));
}
