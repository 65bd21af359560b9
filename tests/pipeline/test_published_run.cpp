// Published rows that name public per-op records (pipeline/published_run.hpp): a calibration fitted
// from the records times the row's compute ops, the report says where the step's compute came from,
// and a platform somebody measured keeps its own calibration.
#include "core/costs.hpp"
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

std::string op_bench(const nlohmann::json& records)
{
  return nlohmann::json{{"format", "moesim-op-bench-1"},
                        {"source", "unit test"},
                        {"system", {{"gpu", "Test GPU"}, {"sms", 132}}},
                        {"records", records}}
      .dump();
}

// GEMM records over a grid of m, n, k, each `extra` seconds above record_seconds; `fields` are
// added to every record (dtype, scales).
void add_gemms(nlohmann::json& r, const nlohmann::json& fields, double extra)
{
  for (double m : {1, 16, 128, 1024, 8192})
    for (double n : {1024, 4096, 16384})
      for (double k : {1024, 4096, 16384}) {
        nlohmann::json g = {{"op", "gemm"}, {"launch", "graph"}, {"m", m},          {"n", n},
                            {"k", k},       {"batch", 1},        {"seconds", record_seconds(m, n, k) + extra}};
        g.update(fields);
        r.push_back(g);
      }
}

std::string gemm_records()
{
  nlohmann::json r = nlohmann::json::array();
  add_gemms(r, {{"dtype", "bf16"}}, 0);
  return op_bench(r);
}

// Absorbed MLA decode records (DeepSeek-V3's latent: 512 + 64 rope) over heads, batch and context,
// for one KV cache dtype: 5 us plus the cache read, batch x context x 576 x bytes per element at
// 3 TB/s. `kv` is the record's kv_dtype, empty for a cache in the attention's own dtype (bf16).
void add_mla_decode(nlohmann::json& r, const std::string& kv, double kv_bytes)
{
  for (double heads : {16, 32, 64, 128})
    for (double batch : {1, 8, 64})
      for (double context : {1024, 4096, 16384}) {
        nlohmann::json a = {{"op", "attention_decode"}, {"attn", "mla"},     {"dtype", "bf16"},
                            {"launch", "graph"},        {"batch", batch},    {"q_heads", heads},
                            {"context", context},       {"kv_lora_rank", 512}, {"rope_dim", 64},
                            {"seconds", 5e-6 + batch * context * 576 * kv_bytes / 3e12}};
        if (!kv.empty())
          a["kv_dtype"] = kv;
        r.push_back(a);
      }
}

// A data root with the GPU catalogue (the fit looks the records' GPU up there) and one records file.
struct RecordsRoot {
  test::TempDir root{"published_records"};
  explicit RecordsRoot(const std::string& records)
  {
    std::filesystem::create_directories(root.path / "platforms");
    std::filesystem::copy_file(std::string(MOESIM_SOURCE_DIR) + "/platforms/gpus.yaml",
                               root.path / "platforms/gpus.yaml");
    root.write("recs.json", records);
  }
  Calibration fit() const { return calibration_from_op_records(root.path.string(), "recs.json"); }
};

GpuSpec test_gpu()
{
  GpuSpec gpu;
  gpu.model = "Test GPU";
  gpu.mem_bw = 8e12;
  gpu.flops[Dtype::bf16] = 2.25e15;
  gpu.flops[Dtype::fp8] = 4.5e15;
  return gpu;
}

// y[16, 4096] = x[16, 4096] W[4096, 4096] in fp8, with block scales or one scale per tensor.
Op fp8_gemm(bool block_scales)
{
  Op op;
  op.kind = OpKind::gemm;
  op.dtype = Dtype::fp8;
  GemmShape s{16, 4096, 4096};
  s.block_scales = block_scales;
  op.shape = s;
  op.flops = 2.0 * 16 * 4096 * 4096;
  op.bytes = 16 * 4096 * 2 + 4096 * 4096 * 1 + 16 * 4096 * 2;
  return op;
}

// DeepSeek-V3's absorbed MLA decode, 64 local heads, 8 sequences at 4,096 tokens, its cache in `kv`.
Op mla_decode(Dtype kv)
{
  Op op;
  op.kind = OpKind::attention_decode;
  op.dtype = Dtype::bf16;
  AttentionShape a;
  a.batch = 8;
  a.q_heads = 64;
  a.kv_heads = 1;
  a.head_dim_qk = 192;
  a.head_dim_v = 128;
  a.prompt = 1;
  a.cached = 4095;
  a.mla = true;
  a.kv_lora_rank = 512;
  a.rope_dim = 64;
  a.kv_dtype = kv;
  op.shape = a;
  op.flops = 2.0 * 8 * 64 * 4096 * (576 + 512);
  op.bytes = 8.0 * 4096 * 576 * bytes_per_element(kv);
  return op;
}

} // namespace

TEST_CASE("published: a row's op records time its GEMMs as a calibration fitted from them would",
          "[quick][published]")
{
  const Calibration c = RecordsRoot(gemm_records()).fit();
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

TEST_CASE("published: block-scaled fp8 GEMMs take the block-scaled records, per-tensor fp8 GEMMs the others",
          "[quick][published]")
{
  // Per-tensor fp8 records are record_seconds + 10 us (their activation quantize); block-scaled
  // ones (`scales: block`) record_seconds. Two models, keyed apart.
  nlohmann::json r = nlohmann::json::array();
  add_gemms(r, {{"dtype", "fp8"}}, 10e-6);
  add_gemms(r, {{"dtype", "fp8"}, {"scales", "block"}}, 0);
  const Calibration c = RecordsRoot(op_bench(r)).fit();
  REQUIRE(c.op_models.models.size() == 2);
  // m = 16, n = k = 4096 is a record of both: record_seconds is 33,816,576 bytes at 3 TB/s =
  // 11.272192 us (the first case); block-scaled 11.272192 us, per tensor 21.272192 us, both measured.
  const OpTime block = op_time(&c, test_gpu(), fp8_gemm(true), true);
  const OpTime tensor = op_time(&c, test_gpu(), fp8_gemm(false), true);
  CHECK(block.provenance == perf::Provenance::measured);
  CHECK(block.seconds == Approx(33816576 / 3e12).epsilon(1e-9));
  CHECK(tensor.provenance == perf::Provenance::measured);
  CHECK(tensor.seconds == Approx(33816576 / 3e12 + 10e-6).epsilon(1e-9));
}

TEST_CASE("published: a block-scaled fp8 GEMM does not take per-tensor fp8 records", "[quick][published]")
{
  // Only per-tensor records: the block-scaled GEMM falls to the datasheet, the roofline of its own
  // flops and bytes (16,908,288 bytes at 8 TB/s = 2.113536 us, more than 536,870,912 flop at 4.5
  // PFLOP/s), far below the per-tensor record's 21.272192 us.
  nlohmann::json r = nlohmann::json::array();
  add_gemms(r, {{"dtype", "fp8"}}, 10e-6);
  const Calibration c = RecordsRoot(op_bench(r)).fit();
  const Op op = fp8_gemm(true);
  const OpTime t = op_time(&c, test_gpu(), op, true);
  CHECK(t.provenance == perf::Provenance::specs);
  CHECK(t.seconds == Approx(roofline_seconds(test_gpu(), op)).epsilon(1e-12));
  CHECK(t.seconds < 5e-6);
}

TEST_CASE("published: an fp8-KV MLA decode takes the fp8-KV records, a bf16-KV one the bf16-KV records",
          "[quick][published]")
{
  // One model per cache dtype (kv_dtype in the key). 64 heads, batch 8, context 4,096 is a record of
  // both: the cache read is 8 x 4,096 x 576 = 18,874,368 elements; fp8 (1 byte) at 3 TB/s is
  // 6.291456 us, + 5 us = 11.291456 us; bf16 (2 bytes) 12.582912 us, + 5 us = 17.582912 us.
  nlohmann::json r = nlohmann::json::array();
  add_mla_decode(r, "", 2);
  add_mla_decode(r, "fp8", 1);
  const Calibration c = RecordsRoot(op_bench(r)).fit();
  REQUIRE(c.op_models.models.size() == 2);
  const OpTime fp8 = op_time(&c, test_gpu(), mla_decode(Dtype::fp8), true);
  const OpTime bf16 = op_time(&c, test_gpu(), mla_decode(Dtype::bf16), true);
  CHECK(fp8.provenance == perf::Provenance::measured);
  CHECK(fp8.seconds == Approx(5e-6 + 18874368 / 3e12).epsilon(1e-9));
  CHECK(bf16.provenance == perf::Provenance::measured);
  CHECK(bf16.seconds == Approx(5e-6 + 2 * 18874368 / 3e12).epsilon(1e-9));
}

TEST_CASE("published: an fp8-KV MLA decode does not take bf16-KV records", "[quick][published]")
{
  // Only bf16-KV records (as the import held before fp8 caches): the fp8-KV op is timed from the
  // datasheet, its roofline over its own bytes.
  nlohmann::json r = nlohmann::json::array();
  add_mla_decode(r, "", 2);
  const Calibration c = RecordsRoot(op_bench(r)).fit();
  const Op op = mla_decode(Dtype::fp8);
  const OpTime t = op_time(&c, test_gpu(), op, true);
  CHECK(t.provenance == perf::Provenance::specs);
  CHECK(t.seconds == Approx(roofline_seconds(test_gpu(), op)).epsilon(1e-12));
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

TEST_CASE("published: moe records add only whole MoE layers, beside a measured calibration", "[quick][published]")
{
  test::TempDir d("published_moe_records");
  auto row = [&](const std::string& records) {
    return d.write("rows.yaml",
                   "rows:\n  - {id: a, category: nvlink, source: s, date: d, engine: trtllm-1.0, engine_version: v,\n"
                   "     model: qwen3-30b-a3b, platform: nvswitch-1x-h200, moe_records: " +
                       records +
                       ",\n"
                       "     interconnect: i, plan: tp1, workload: {kind: decode, batch: 1, context: 1024}, metric: "
                       "tok_s_user,\n     measured: 1}\n");
  };
  // The A100 vLLM 0.14.0 table has no balanced-routing MoE layer (docs/transfer.md): refused.
  CHECK_THROWS_WITH(run_published(MOESIM_SOURCE_DIR, row("platforms/public/aiconfigurator/a100_sxm.vllm-0.14.0.json.gz")),
                    Catch::Contains("moe_records") && Catch::Contains("no whole MoE layer"));
  // The H200 TensorRT-LLM table measured Qwen3-30B-A3B's layer (bf16, 2048 x 768, top-8 of 128) on
  // one GPU: the row runs, and says where its MoE layers came from.
  const PublishedRun run =
      run_published(MOESIM_SOURCE_DIR, row("platforms/public/aiconfigurator/h200_sxm.trtllm-1.3.0rc20.json.gz"));
  REQUIRE(run.outcomes.size() == 1);
  REQUIRE(run.outcomes[0].simulated);
  CHECK_THAT(run.outcomes[0].compute,
             Catch::StartsWith("compute (whole MoE layers from h200_sxm.trtllm-1.3.0rc20.json.gz, the rest from the "
                               "platform's measured calibration): measured "));
}

TEST_CASE("published: gemm records add only the dense GEMM models the platform's calibration lacks",
          "[quick][published]")
{
  // The records: bf16 GEMMs (record_seconds), per-tensor fp8 GEMMs (record_seconds + 10 us) and bf16-KV
  // MLA decodes. The platform's own calibration: bf16 GEMMs measured 5 us slower than the records.
  nlohmann::json pub = nlohmann::json::array();
  add_gemms(pub, {{"dtype", "bf16"}}, 0);
  add_gemms(pub, {{"dtype", "fp8"}}, 10e-6);
  add_mla_decode(pub, "", 2);
  const Calibration records = RecordsRoot(op_bench(pub)).fit();
  REQUIRE(records.op_models.models.size() == 3);
  nlohmann::json own = nlohmann::json::array();
  add_gemms(own, {{"dtype", "bf16"}}, 5e-6);
  Calibration platform = RecordsRoot(op_bench(own)).fit();
  REQUIRE(platform.op_models.models.size() == 1);
  // Only the fp8 GEMM model is new: the bf16 one is the platform's, the MLA decode no GEMM.
  CHECK(add_gemm_models(platform.op_models, records.op_models) == 1);
  REQUIRE(platform.op_models.models.size() == 2);
  CHECK(std::is_sorted(platform.op_models.models.begin(), platform.op_models.models.end(),
                       [](const KeyedOpModel& a, const KeyedOpModel& b) { return a.key < b.key; }));
  // m = 16, n = k = 4096 is a record of each (record_seconds there: 33,816,576 bytes at 3 TB/s =
  // 11.272192 us). bf16 keeps the platform's own 11.272192 + 5 = 16.272192 us; per-tensor fp8 takes
  // the records' 11.272192 + 10 = 21.272192 us; both measured.
  Op bf16 = fp8_gemm(false);
  bf16.dtype = Dtype::bf16;
  bf16.bytes = 2.0 * (16 * 4096 + 4096 * 4096 + 16 * 4096);
  const OpTime b = op_time(&platform, test_gpu(), bf16, true);
  const OpTime f = op_time(&platform, test_gpu(), fp8_gemm(false), true);
  CHECK(b.provenance == perf::Provenance::measured);
  CHECK(b.seconds == Approx(33816576 / 3e12 + 5e-6).epsilon(1e-9));
  CHECK(f.provenance == perf::Provenance::measured);
  CHECK(f.seconds == Approx(33816576 / 3e12 + 10e-6).epsilon(1e-9));
  // The MLA decode stays on the datasheet: its roofline over its own bytes.
  const Op mla = mla_decode(Dtype::bf16);
  const OpTime m = op_time(&platform, test_gpu(), mla, true);
  CHECK(m.provenance == perf::Provenance::specs);
  CHECK(m.seconds == Approx(roofline_seconds(test_gpu(), mla)).epsilon(1e-12));
  // Again: nothing more to add.
  CHECK(add_gemm_models(platform.op_models, records.op_models) == 0);
}

TEST_CASE("published: a row's gemm records name themselves beside its moe records", "[published]")
{
  test::TempDir d("published_gemm_records");
  auto row = [&](const std::string& keys) {
    return d.write("rows.yaml",
                   "rows:\n  - {id: a, category: nvlink, source: s, date: d, engine: trtllm-1.0, engine_version: v,\n"
                   "     model: qwen3-30b-a3b, platform: nvswitch-1x-h200, " +
                       keys +
                       ",\n"
                       "     interconnect: i, plan: tp1, workload: {kind: decode, batch: 1, context: 1024}, metric: "
                       "tok_s_user,\n     measured: 1}\n");
  };
  const std::string h200 = "platforms/public/aiconfigurator/h200_sxm.trtllm-1.3.0rc20.json.gz";
  const PublishedRun both = run_published(MOESIM_SOURCE_DIR, row("moe_records: " + h200 + ", gemm_records: " + h200));
  REQUIRE(both.outcomes.size() == 1);
  REQUIRE(both.outcomes[0].simulated);
  CHECK_THAT(both.outcomes[0].compute,
             Catch::StartsWith("compute (whole MoE layers and dense GEMMs from h200_sxm.trtllm-1.3.0rc20.json.gz, "
                               "the rest from the platform's measured calibration): measured "));
  const PublishedRun gemms = run_published(MOESIM_SOURCE_DIR, row("gemm_records: " + h200));
  REQUIRE(gemms.outcomes[0].simulated);
  CHECK_THAT(gemms.outcomes[0].compute,
             Catch::StartsWith("compute (dense GEMMs from h200_sxm.trtllm-1.3.0rc20.json.gz, the rest from the "
                               "platform's measured calibration): measured "));
  // The SGLang H200 table measured no dense GEMM: refused, naming the key.
  CHECK_THROWS_WITH(run_published(MOESIM_SOURCE_DIR,
                                  row("gemm_records: platforms/public/aiconfigurator/h200_sxm.sglang-0.5.6.post2.json.gz")),
                    Catch::Contains("gemm_records") && Catch::Contains("no dense GEMM"));
}

TEST_CASE("published: a decode attention record faster than its KV read at HBM peak is an L2 artefact",
          "[quick][published]")
{
  // Qwen3's GQA decode shape, 4 KV heads of d_qk = d_v = 128, 64 sequences x 1,024 positions:
  // (128 + 128) x 4 x 64 x 1,024 = 67,108,864 KV elements. An fp8 cache, 1 + 4/16,384 B an element
  // (bytes_per_element's block scale): 67,125,248 B, at an H200's 4.8 TB/s 13.98 us; a bf16 cache,
  // 2 B: 134,217,728 B, 27.96 us.
  OpRecord r;
  r.key.kind = OpKind::attention_decode;
  r.key.variant = "gqa";
  r.key.kv_dtype = Dtype::fp8;
  r.dims = {128, 128, 4, 32, 64, 1024};
  r.seconds = 13.5e-6;
  CHECK(below_hbm_read(r, 4.8e12));
  r.seconds = 14.5e-6;
  CHECK_FALSE(below_hbm_read(r, 4.8e12));
  r.key.kv_dtype = Dtype::bf16;
  CHECK(below_hbm_read(r, 4.8e12));  // 14.5 us < 27.96 us
  r.seconds = 28.5e-6;
  CHECK_FALSE(below_hbm_read(r, 4.8e12));
  // Another kind is never one.
  r.key.kind = OpKind::gemm;
  r.seconds = 1e-9;
  CHECK_FALSE(below_hbm_read(r, 4.8e12));
}

TEST_CASE("published: attention records bring only GQA decode models, without the L2-resident records",
          "[published]")
{
  // The H200 TensorRT-LLM table: its GQA decode records all take at least their KV read at 4.8 TB/s,
  // so every one is fitted; the models are GQA decode attention only (no GEMM, MoE or MLA model).
  const std::string h200 = "platforms/public/aiconfigurator/h200_sxm.trtllm-1.3.0rc20.json.gz";
  const OpModels a = gqa_decode_models(MOESIM_SOURCE_DIR, h200);
  REQUIRE_FALSE(a.models.empty());
  for (const KeyedOpModel& m : a.models) {
    CHECK(m.key.kind == OpKind::attention_decode);
    CHECK(m.key.variant == "gqa");
  }
  CHECK(a.moe_layers.empty());
  Calibration none;
  CHECK(add_models(none.op_models, a, OpKind::gemm) == 0);
  CHECK(add_models(none.op_models, a, OpKind::attention_decode) == static_cast<int>(a.models.size()));

  test::TempDir d("published_attention_records");
  auto row = [&](const std::string& keys) {
    return d.write("rows.yaml",
                   "rows:\n  - {id: a, category: nvlink, source: s, date: d, engine: trtllm-1.0, engine_version: v,\n"
                   "     model: qwen3-30b-a3b, platform: nvswitch-1x-h200, " +
                       keys +
                       ",\n"
                       "     interconnect: i, plan: tp1, workload: {kind: decode, batch: 64, context: 1024}, metric: "
                       "tok_s_user,\n     measured: 1}\n");
  };
  const PublishedRun three = run_published(
      MOESIM_SOURCE_DIR, row("moe_records: " + h200 + ", gemm_records: " + h200 + ", attention_records: " + h200));
  REQUIRE(three.outcomes[0].simulated);
  CHECK_THAT(three.outcomes[0].compute,
             Catch::StartsWith("compute (whole MoE layers, dense GEMMs and GQA decode attention from "
                               "h200_sxm.trtllm-1.3.0rc20.json.gz, the rest from the platform's measured calibration)"));
  // The SGLang H200 table measured MLA decode only: refused, naming the key.
  CHECK_THROWS_WITH(
      run_published(MOESIM_SOURCE_DIR,
                    row("attention_records: platforms/public/aiconfigurator/h200_sxm.sglang-0.5.6.post2.json.gz")),
      Catch::Contains("attention_records") && Catch::Contains("no GQA decode"));
}

TEST_CASE("published: TensorRT-LLM's eager step is blog2's 7.22 graph steps at DeepSeek-R1 min latency",
          "[published]")
{
  // trtllm-1.0's launch_us is derived from one measurement: DeepSeek-R1-FP4 at batch 1 on 8 B200
  // (MLA TP8, MoE EP2, MTP next-n 3, 1K/2K), where CUDA graphs run 7.22x faster than eager
  // (TensorRT-LLM blog2 @000a01d). moesim schedules that step (the trt-dsr1-b200-minlat row) as
  // 1,597 ops a GPU and simulates its graph at 8.65 ms (its MoE layers read at power-law routing,
  // AIConfigurator's exponent 1.01 for DeepSeek; 8.96 ms and 40.5 us before); 7.22 x 8.65 ms / 1,597
  // = 39.1 us. An eager step is then host-bound at 1,597 x 39.1 us = 62.4 ms, 7.22 graph steps: the
  // same row run eagerly is within 2% of 7.22 times slower (the graph step's 8.65 ms rounded). The row ran
  // TensorRT-LLM's TRTLLM MoE backend (Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md @01c4ece),
  // as the published row says with moe_backend: trtllm.
  test::TempDir d("published_eager");
  auto row = [](const std::string& id, const std::string& graphs) {
    return "  - {id: " + id +
           ", category: nvlink, source: s, date: d, engine: trtllm-1.0, engine_version: v,\n"
           "     engine_set: {speculative: mtp, draft_tokens: 3, acceptance_length: 2.18, moe_backend: trtllm, "
           "cuda_graphs: " +
           graphs +
           "},\n"
           "     model: deepseek-v3, dtypes: {expert_weights: nvfp4, dense_weights: bf16}, platform: hgx-8x-b200,\n"
           "     op_records: platforms/public/aiconfigurator/b200_sxm.trtllm-1.3.0rc20.json.gz, interconnect: i,\n"
           "     plan: tp4xep2, workload: {kind: decode, batch: 1, context: 2048}, metric: tok_s_user, measured: 1}\n";
  };
  const PublishedRun run =
      run_published(MOESIM_SOURCE_DIR, d.write("rows.yaml", "rows:\n" + row("graph", "true") + row("eager", "false")));
  REQUIRE(run.outcomes.size() == 2);
  REQUIRE(run.outcomes[0].simulated);
  REQUIRE(run.outcomes[1].simulated);
  CHECK(run.outcomes[0].value / run.outcomes[1].value == Approx(7.22).epsilon(0.02));
}

TEST_CASE("published: TensorRT-LLM's host work per sequence shows past the GPU step on Qwen3-30B B200 TP1",
          "[published]")
{
  // trtllm-1.0's step_us_per_seq is 34.4 us: TensorRT-LLM PR #16564 saw an ~8.8 ms GPU bubble each
  // iteration at 256 requests a generation worker (gpt-oss-120b, GB200), mostly the sampler's
  // per-request loop; 8.8 ms / 256 = 34.4 us. The overlap scheduler hides it behind the GPU step
  // until it is longer: step = max(GPU, host). The trt-qwen3-30b-b200-tp1 row (perf-overview
  // Qwen3-30B-A3B NVFP4 on one B200) decodes 1,538 sequences at its largest batch: host work
  // 1,538 x 34.4 us = 52.91 ms. Run that decode step (context 1,536: input + half the output) with
  // the host work off and with it on: the GPU step alone is shorter than 52.91 ms, so with it on the
  // step is exactly 52.91 ms; at 64 sequences (2.2 ms of host work) the GPU step hides it.
  test::TempDir d("published_host_per_seq");
  auto row = [](const std::string& id, int batch, const std::string& per_seq) {
    return "  - {id: " + id +
           ", category: nvlink, source: s, date: d, engine: trtllm-1.0, engine_version: v,\n"
           "     engine_set: {capture_sizes: [1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048]" +
           per_seq +
           "},\n"
           "     model: qwen3-30b-a3b, dtypes: {expert_weights: nvfp4, dense_weights: nvfp4, kv_cache: fp8},\n"
           "     platform: nvswitch-1x-b200, moe_records: platforms/public/aiconfigurator/b200_sxm.trtllm-1.3.0rc20.json.gz,\n"
           "     interconnect: i, plan: tp1, workload: {kind: decode, batch: " +
           std::to_string(batch) + ", context: 1536}, metric: tok_s_user, measured: 1}\n";
  };
  const PublishedRun run = run_published(
      MOESIM_SOURCE_DIR, d.write("rows.yaml", "rows:\n" + row("gpu", 1538, ", step_us_per_seq: 0") + row("host", 1538, "") +
                                                  row("gpu64", 64, ", step_us_per_seq: 0") + row("host64", 64, "")));
  REQUIRE(run.outcomes.size() == 4);
  for (const auto& o : run.outcomes)
    REQUIRE(o.simulated);
  const double gpu_step = 1.0 / run.outcomes[0].value;
  const double host = 1538 * 34.4e-6; // 52.91 ms
  REQUIRE(gpu_step < host);
  CHECK(1.0 / run.outcomes[1].value == Approx(host).epsilon(1e-6));
  // Hidden at 64 sequences: 64 x 34.4 us = 2.2 ms, below that batch's GPU step.
  REQUIRE(1.0 / run.outcomes[2].value > 64 * 34.4e-6);
  CHECK(run.outcomes[3].value == Approx(run.outcomes[2].value).epsilon(1e-9));
}
