// The RTX PRO 6000 Server's TensorRT-LLM 1.3.0rc20 records as tools/aic-import wrote them
// (platforms/public/aiconfigurator/rtx_pro_6000_server.trtllm-1.3.0rc20.json.gz): a few real cells
// of AIConfigurator's tables (ai-dynamo/aiconfigurator @095f58a51,
// aic-core/src/aiconfigurator_core/systems/data/rtx_pro_6000_server/*/trtllm/1.3.0rc20/), each
// checked against the table's row, converted as the importer does: latency ms -> s, 4 significant
// digits; AIConfigurator's dtype spellings -> moesim's.
#include "core/op_bench.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <string>

using namespace moesim;
using Catch::Matchers::Contains;

namespace {

const std::string file =
    std::string(MOESIM_SOURCE_DIR) + "/platforms/public/aiconfigurator/rtx_pro_6000_server.trtllm-1.3.0rc20.json.gz";

const OpBench& rtx()
{
  static const OpBench b = read_op_bench_file(file);
  return b;
}

bool has(const BenchRecord& r, const std::map<std::string, double>& dims)
{
  for (const auto& [k, v] : dims) {
    const auto it = r.dims.find(k);
    if (it == r.dims.end() || it->second != v)
      return false;
  }
  return true;
}

// The records of one op, dtype and shape; `more` narrows further (scales, kv_dtype, ...).
std::vector<const BenchRecord*> find(BenchOp op, Dtype dtype, const std::map<std::string, double>& dims,
                                     const std::function<bool(const BenchRecord&)>& more = {})
{
  std::vector<const BenchRecord*> out;
  for (const BenchRecord& r : rtx().records)
    if (r.op == op && r.dtype == dtype && has(r, dims) && (!more || more(r)))
      out.push_back(&r);
  return out;
}

} // namespace

TEST_CASE("the RTX PRO 6000 Server's TensorRT-LLM records name their source and GPU", "[quick][perf]")
{
  CHECK_THAT(rtx().source, Contains("ai-dynamo/aiconfigurator") && Contains("rtx_pro_6000_server") &&
                               Contains("095f58a5") && Contains("trtllm, 1.3.0rc20"));
  // The tables' `device` column (nvidia-smi's name).
  CHECK(rtx().system.word("gpu") == "NVIDIA RTX PRO 6000 Blackwell Server Edition");
}

TEST_CASE("RTX PRO 6000 records: whole NVFP4 and MXFP4 MoE layers", "[quick][perf]")
{
  // moe_perf.parquet, moe_torch_flow_cutlass, nvfp4, Qwen3-30B-A3B's shape (hidden 2048, expert
  // inter 768, 128 experts, top-8), moe_tp 1 x moe_ep 1, balanced, 1024 tokens: latency
  // 0.37646933 ms -> 3.765e-4 s. The only kernel measured for that shape.
  auto q30 = find(BenchOp::moe, Dtype::nvfp4,
                  {{"tokens", 1024}, {"hidden", 2048}, {"inter", 768}, {"topk", 8}, {"experts", 128}, {"moe_tp", 1}, {"moe_ep", 1}},
                  [](const BenchRecord& r) { return r.distribution == "balanced"; });
  REQUIRE(q30.size() == 1);
  CHECK(q30[0]->seconds == Approx(3.765e-4).epsilon(1e-9));
  CHECK(q30[0]->kernel == "moe_torch_flow_cutlass");
  CHECK(q30[0]->launch == "graph");
  // The same split at EP8 with Qwen3-235B's shape (4096 / 1536): 27 token counts, 1 to 16384, as
  // for every (shape, split, dtype) of the table.
  auto q235 = find(BenchOp::moe, Dtype::nvfp4,
                   {{"hidden", 4096}, {"inter", 1536}, {"topk", 8}, {"experts", 128}, {"moe_tp", 1}, {"moe_ep", 8}},
                   [](const BenchRecord& r) { return r.distribution == "balanced"; });
  CHECK(q235.size() == 27);
  // MXFP4 (gpt-oss-120b: 2880 / 2880, 128 experts, top-4), EP1, 1024 tokens. The table measures
  // only w4a8_mxfp4_mxfp8 on this GPU (MXFP8 activations), 1.5134454 ms -> 1.513e-3 s; the
  // importer takes it as mxfp4 because the device name says Blackwell.
  auto oss = find(BenchOp::moe, Dtype::mxfp4,
                  {{"tokens", 1024}, {"hidden", 2880}, {"inter", 2880}, {"topk", 4}, {"experts", 128}, {"moe_tp", 1}, {"moe_ep", 1}},
                  [](const BenchRecord& r) { return r.distribution == "balanced"; });
  REQUIRE(oss.size() == 1);
  CHECK(oss[0]->seconds == Approx(1.513e-3).epsilon(1e-9));
}

TEST_CASE("RTX PRO 6000 records: GEMMs of every dtype at one shape with block-scaled FP8 apart", "[quick][perf]")
{
  // gemm_perf.parquet, m 16, n 4096, k 2048, kernel torch_flow (a TensorRT-LLM Linear on a bf16
  // input): bfloat16 0.0112224 ms, fp8 0.0166805, fp8_block 0.0133035, nvfp4 0.0116747 ms.
  const std::map<std::string, double> shape = {{"m", 16}, {"n", 4096}, {"k", 2048}, {"batch", 1}};
  auto per_tensor = [](const BenchRecord& r) { return r.scales.empty(); };
  auto bf16 = find(BenchOp::gemm, Dtype::bf16, shape);
  auto fp8 = find(BenchOp::gemm, Dtype::fp8, shape, per_tensor);
  auto block = find(BenchOp::gemm, Dtype::fp8, shape, [](const BenchRecord& r) { return r.scales == "block"; });
  auto fp4 = find(BenchOp::gemm, Dtype::nvfp4, shape);
  REQUIRE(bf16.size() == 1);
  REQUIRE(fp8.size() == 1);
  REQUIRE(block.size() == 1);
  REQUIRE(fp4.size() == 1);
  CHECK(bf16[0]->seconds == Approx(1.122e-5).epsilon(1e-9));
  CHECK(fp8[0]->seconds == Approx(1.668e-5).epsilon(1e-9));
  CHECK(block[0]->seconds == Approx(1.330e-5).epsilon(1e-9));
  CHECK(fp4[0]->seconds == Approx(1.167e-5).epsilon(1e-9));
  // SM120's block-scaled FP8 is TensorRT-LLM's own kernel, not DeepGEMM (the collector names
  // DeepGEMM on SM100 only): the record says so.
  CHECK(block[0]->kernel == "torch_flow");
}

TEST_CASE("RTX PRO 6000 records: GQA decode over a bf16 and an fp8 KV cache", "[quick][perf]")
{
  // generation_attention_perf.parquet, batch 64, 32 query / 4 KV heads of 128 (Qwen3-30B at TP1),
  // step 1023 (so the kernel reads 1024 positions), no window: bf16 KV 0.0599307 ms -> 5.993e-5 s,
  // fp8 KV 0.0294347 ms -> 2.943e-5 s (kv_dtype fp8: the set's fp8 list names kv_cache).
  const std::map<std::string, double> shape = {{"batch", 64},      {"q_heads", 32}, {"kv_heads", 4},
                                               {"head_dim_qk", 128}, {"context", 1024}, {"window", 0}};
  auto bf16_kv = find(BenchOp::attention_decode, Dtype::bf16, shape, [](const BenchRecord& r) { return r.kv_dtype.empty(); });
  auto fp8_kv = find(BenchOp::attention_decode, Dtype::bf16, shape, [](const BenchRecord& r) { return r.kv_dtype == "fp8"; });
  REQUIRE(bf16_kv.size() == 1);
  REQUIRE(fp8_kv.size() == 1);
  CHECK(bf16_kv[0]->attn == "gqa");
  CHECK(bf16_kv[0]->seconds == Approx(5.993e-5).epsilon(1e-9));
  CHECK(fp8_kv[0]->seconds == Approx(2.943e-5).epsilon(1e-9));
}
