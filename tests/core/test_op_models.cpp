// Op-performance models end to end in core: op-bench records read strictly, fitted, stored in a
// calibration file and read back, asked by the schedule's ops with a provenance; old calibration
// files give the times they gave; a model family's shapes can be left out of a fit.
#include "core/calibration.hpp"
#include "core/error.hpp"
#include "core/family_shapes.hpp"
#include "core/model_loader.hpp"
#include "core/op_measurements.hpp"
#include "core/op_fit.hpp"
#include "core/op_time.hpp"
#include "core/schedule_builder.hpp"
#include "tests/core/grouped_points.hpp"
#include "tests/core/op_bench_json.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <utility>

using namespace moesim;
using moesim::perf::Provenance;

namespace {

const std::string root = MOESIM_SOURCE_DIR;

nlohmann::json bench(nlohmann::json records)
{
  return test::op_bench(std::move(records));
}

// Synthetic GEMM records made by a known form: floor 4 us, 600 TFLOP/s, 3 TB/s, 128x128 tiles.
perf::FormParams truth()
{
  perf::FormParams p = given_form(OpModelKey{}, 132);
  p.floor_s = 4e-6;
  p.flops = 600e12;
  p.bandwidth = 3e12;
  p.tile_m = p.tile_n = 128;
  p.split_min = 256;
  return p;
}

nlohmann::json gemm_records(const std::vector<double>& ns)
{
  nlohmann::json r = nlohmann::json::array();
  for (double m : {1, 16, 128, 1024, 8192})
    for (double n : ns)
      for (double k : {1024, 4096, 16384})
        r.push_back({{"op", "gemm"}, {"dtype", "bf16"}, {"launch", "stream"}, {"m", m}, {"n", n}, {"k", k},
                     {"seconds", perf::form_seconds(truth(), {1, m, n, k})}});
  return r;
}

Op gemm_op(double m, double n, double k)
{
  Op op;
  op.kind = OpKind::gemm;
  op.shape = GemmShape{long(m), long(n), long(k)};
  op.flops = 2 * m * n * k;
  op.bytes = 2 * (m * k + k * n + m * n);
  return op;
}

GpuSpec test_gpu()
{
  GpuSpec g;
  g.model = "Test GPU";
  g.mem_bw = 4e12;
  g.flops[Dtype::bf16] = 1e15;
  return g;
}

} // namespace

TEST_CASE("op-bench records are read into model dims", "[quick][perf]")
{
  nlohmann::json recs = {
      {{"op", "gemm"}, {"dtype", "bf16"}, {"launch", "stream"}, {"m", 64}, {"n", 4096}, {"k", 7168}, {"batch", 1},
       {"seconds", 1.2e-5}, {"reps", 50}, {"spread", 0.02}, {"kernel", "cublasLt"}},
      {{"op", "moe"}, {"dtype", "fp8"}, {"kernel", "cutlass"}, {"launch", "graph"}, {"tokens", 64}, {"hidden", 7168},
       {"inter", 2048}, {"topk", 8}, {"experts", 256}, {"moe_tp", 1}, {"moe_ep", 8}, {"distribution", "balanced"},
       {"seconds", 1e-4}},
      {{"op", "grouped_gemm"}, {"impl", "fused"}, {"dtype", "fp8"}, {"launch", "graph"}, {"n", 1536}, {"k", 2048},
       {"rows", {3, 0, 7, 1}}, {"seconds", 4.1e-5}},
      {{"op", "attention_decode"}, {"attn", "mla"}, {"dtype", "bf16"}, {"launch", "stream"}, {"batch", 8},
       {"q_heads", 16}, {"kv_heads", 1}, {"context", 4096}, {"kv_lora_rank", 512}, {"rope_dim", 64},
       {"seconds", 2e-5}},
      {{"op", "attention_prefill"}, {"attn", "mla"}, {"dtype", "bf16"}, {"launch", "stream"}, {"batch", 1},
       {"q_heads", 16}, {"head_dim_qk", 192}, {"head_dim_v", 128}, {"kv_lora_rank", 512}, {"rope_dim", 64},
       {"prompt", 2048}, {"cached", 0}, {"context", 2048}, {"seconds", 3e-4}},
      {{"op", "rmsnorm"}, {"dtype", "bf16"}, {"launch", "stream"}, {"rows", 64}, {"width", 7168},
       {"bytes", 1835008}, {"seconds", 3e-6}},
      {{"op", "topk"}, {"dtype", "fp32"}, {"launch", "stream"}, {"tokens", 64}, {"experts", 256}, {"k", 8},
       {"elements", 16384}, {"bytes", 69632}, {"seconds", 4e-6}},
      {{"op", "graph_gap"}, {"kernels", 64}, {"seconds", 1.1e-6}},
      {{"op", "host"}, {"api", "kernel_launch"}, {"gpu_state", "idle"}, {"threads", 4}, {"seconds", 6.5e-6}}};
  const OpMeasurements b = parse_op_measurements(bench(recs).dump(), "t.json");
  REQUIRE(b.ops.size() == 6);
  CHECK(b.system.number("sms") == 132);
  CHECK(b.ops[0].dims == std::vector<double>{1, 64, 4096, 7168});
  CHECK(b.ops[0].kernel == "cublasLt");
  // A whole fused MoE layer is read as a layer record, not an op (core/moe_layer).
  REQUIRE(b.moe.size() == 1);
  CHECK(b.moe[0].tokens == 64);
  CHECK(b.moe[0].key.moe_ep == 8);
  CHECK(b.unmodelled.empty());
  // Grouped: {n, k, active experts, total rows} = {1536, 2048, 3, 11}.
  CHECK(b.ops[1].dims == std::vector<double>{1536, 2048, 3, 11});
  CHECK(b.ops[1].key.graph);
  CHECK(b.ops[1].key.variant == "fused");
  // MLA decode, absorbed: one latent head of d_qk = 512 + 64, d_v = 512.
  CHECK(b.ops[2].dims == std::vector<double>{576, 512, 1, 16, 8, 4096});
  // MLA prefill: the model's own head dims, one KV head per query head.
  CHECK(b.ops[3].dims == std::vector<double>{192, 128, 16, 16, 1, 0, 2048});
  CHECK(b.ops[4].dims == std::vector<double>{64 * 7168.0});
  CHECK(b.ops[5].dims == std::vector<double>{64, 256, 8});
  CHECK(b.graph_gaps == std::vector<double>{1.1e-6});
  REQUIRE(b.host.size() == 1);
  CHECK_FALSE(b.host[0].busy);
  CHECK(b.host[0].threads == 4);
}

TEST_CASE("op-bench records with unknown keys or bad values are refused with file and key", "[quick][perf]")
{
  auto fails = [](nlohmann::json rec, const std::string& key) {
    CHECK_THROWS_WITH(parse_op_measurements(bench(nlohmann::json::array({std::move(rec)})).dump(), "x.json"),
                      Catch::Matchers::Contains("x.json") && Catch::Matchers::Contains(key));
  };
  const nlohmann::json g = {{"op", "gemm"}, {"dtype", "bf16"}, {"launch", "stream"}, {"m", 1}, {"n", 2}, {"k", 3},
                            {"seconds", 1e-6}};
  nlohmann::json r = g;
  r["tile"] = 128;
  fails(r, "records[0].tile");
  r = g;
  r["dtype"] = "fp4";
  fails(r, "records[0].dtype");
  r = g;
  r["launch"] = "eager";
  fails(r, "records[0].launch");
  r = g;
  r["seconds"] = -1;
  fails(r, "records[0].seconds");
  r = g;
  r.erase("k");
  fails(r, "records[0].k");
  fails({{"op", "all_reduce"}, {"dtype", "bf16"}, {"launch", "stream"}, {"seconds", 1e-6}}, "records[0].op");
  fails({{"op", "attention_prefill"}, {"attn", "gqa"}, {"dtype", "bf16"}, {"launch", "stream"}, {"batch", 1},
         {"q_heads", 8}, {"kv_heads", 8}, {"head_dim_qk", 128}, {"head_dim_v", 128}, {"prompt", 64}, {"cached", 16},
         {"context", 64}, {"seconds", 1e-5}},
        "records[0].context");
  nlohmann::json top = bench(nlohmann::json::array({g}));
  top["extra"] = 1;
  CHECK_THROWS_WITH(parse_op_measurements(top.dump(), "x.json"), Catch::Matchers::Contains("extra"));
  CHECK_THROWS_AS(parse_op_measurements("{", "x.json"), InputError);
}

TEST_CASE("fitted op models survive the calibration file and answer with a provenance", "[quick][perf]")
{
  test::TempDir dir("moesim_op_models");
  const std::string f = dir.write("gemm.json", bench(gemm_records({1024, 4096, 16384})).dump());
  const OpBenchFit fit = fit_op_bench_files({f}, {}, {}, root + "/workloads/models");
  REQUIRE(fit.models.models.size() == 1);
  Calibration c;
  c.platform = "t";
  c.measured_on = fit.models.system;
  c.source = "unit test";
  c.op_models = fit.models;
  const std::string path = dir.write("cal.yaml", calibration_to_yaml(c));
  const Calibration d = load_calibration_file(path);
  REQUIRE(d.op_models.models.size() == 1);
  const GpuSpec gpu = test_gpu();
  // m = 16, n = k = 4096 was measured: its record, exactly (to the file's 10 digits).
  const OpTime at_point = op_time(&d, gpu, gemm_op(16, 4096, 4096), false);
  CHECK(at_point.provenance == Provenance::measured);
  CHECK(at_point.seconds == Approx(perf::form_seconds(truth(), {1, 16, 4096, 4096})).epsilon(1e-9));
  // m = 64 lies between 16 and 128: interpolated, the same from both copies of the model.
  const OpTime mid = op_time(&d, gpu, gemm_op(64, 4096, 4096), false);
  CHECK(mid.provenance == Provenance::interpolated);
  CHECK(mid.seconds == Approx(op_time(&c, gpu, gemm_op(64, 4096, 4096), false).seconds).epsilon(1e-9));
  // m = 32768 lies past the grid: extrapolated, the fitted form times the ratio at m = 8192.
  const OpTime far = op_time(&d, gpu, gemm_op(32768, 4096, 4096), false);
  CHECK(far.provenance == Provenance::extrapolated);
  const perf::OpModel& m = d.op_models.models[0].model;
  const double anchor = perf::form_seconds(truth(), {1, 8192, 4096, 4096}) /
                        perf::form_seconds(m.form, {1, 8192, 4096, 4096});
  CHECK(far.seconds == Approx(perf::form_seconds(m.form, {1, 32768, 4096, 4096}) * anchor).epsilon(1e-9));
  // An op no model covers (permute) comes from the specs: the roofline.
  Op perm;
  perm.kind = OpKind::permute;
  perm.shape = PermuteShape{64, 8, 4096, 0, 8};
  perm.bytes = 2.0 * 64 * 8 * 4096 * 2;
  const OpTime spec = op_time(&d, gpu, perm, false);
  CHECK(spec.provenance == Provenance::specs);
  CHECK(spec.seconds == roofline_seconds(gpu, perm));
}

TEST_CASE("decode attention takes decode_tiles when asked and the records give the compute capability",
          "[quick][perf]")
{
  // GQA decode records made by decode_splitk's arithmetic (any times do: this checks the choice and
  // the file, not the fit), on a GPU whose records say compute capability 9.0.
  perf::FormParams made = given_form(OpModelKey{OpKind::attention_decode, "gqa", Dtype::bf16, Dtype::bf16, false, 0}, 132);
  made.floor_s = 3e-6, made.flops = 300e12, made.bandwidth = 4e12, made.unit_s = 1e-6, made.combine_s = 2e-6;
  nlohmann::json recs = nlohmann::json::array();
  for (double b : {1, 8, 64})
    for (double ctx : {1024, 8192})
      for (double q : {8, 64})
        recs.push_back({{"op", "attention_decode"}, {"attn", "gqa"}, {"dtype", "bf16"}, {"launch", "stream"},
                        {"batch", b}, {"context", ctx}, {"q_heads", q}, {"kv_heads", 8}, {"head_dim_qk", 128},
                        {"head_dim_v", 128}, {"seconds", perf::form_seconds(made, {128, 128, 8, q, b, ctx})}});
  nlohmann::json j = bench(recs);
  j["system"]["cc"] = "9.0";
  test::TempDir dir("moesim_decode_form");
  const std::string f = dir.write("dec.json", j.dump());
  const OpBenchFit tiles =
      fit_op_bench_files({f}, {}, {}, root + "/workloads/models", 0, {}, {}, perf::FormKind::decode_tiles);
  REQUIRE(tiles.models.models.size() == 1);
  const perf::FormParams& p = tiles.models.models[0].model.form;
  CHECK(p.kind == perf::FormKind::decode_tiles);
  // Hopper's SM: 228 KB of shared memory, 227 KB a block, 1 KB reserved a block, 2048 threads.
  CHECK(p.smem_per_sm == 233472);
  CHECK(p.smem_per_block == 232448);
  CHECK(p.smem_reserved == 1024);
  CHECK(p.threads_per_sm == 2048);
  // The calibration file keeps the form and its SM limits: the same seconds read back.
  Calibration c;
  c.platform = "t";
  c.measured_on = tiles.models.system;
  c.source = "unit test";
  c.op_models = tiles.models;
  const Calibration d = load_calibration_file(dir.write("cal.yaml", calibration_to_yaml(c)));
  const perf::FormParams& q = d.op_models.models.at(0).model.form;
  CHECK(q.kind == perf::FormKind::decode_tiles);
  CHECK(q.tile_s == Approx(p.tile_s).epsilon(1e-9));
  CHECK(perf::form_seconds(q, {128, 128, 8, 96, 80, 6145}) ==
        Approx(perf::form_seconds(p, {128, 128, 8, 96, 80, 6145})).epsilon(1e-8));
  // Asked for decode_tiles_staggered, the same records fit the staggered variant (the SM's limits as
  // decode_tiles), and the calibration file keeps its name. At GLM-4.5's batch 80 (640 blocks: one full
  // round of 528 and 112 past it) it starts the partial round before the full one ends, so it comes out
  // faster than its own synchronous pricing of the same parameters.
  const OpBenchFit stag =
      fit_op_bench_files({f}, {}, {}, root + "/workloads/models", 0, {}, {}, perf::FormKind::decode_tiles_staggered);
  const perf::FormParams& s = stag.models.models.at(0).model.form;
  CHECK(s.kind == perf::FormKind::decode_tiles_staggered);
  CHECK(s.smem_per_sm == 233472);
  c.op_models = stag.models;
  const Calibration e = load_calibration_file(dir.write("cal-stag.yaml", calibration_to_yaml(c)));
  CHECK(e.op_models.models.at(0).model.form.kind == perf::FormKind::decode_tiles_staggered);
  perf::FormParams sync = s;
  sync.kind = perf::FormKind::decode_tiles;
  CHECK(perf::form_seconds(s, {128, 128, 8, 96, 80, 6145}) < perf::form_seconds(sync, {128, 128, 8, 96, 80, 6145}));
  // Untold, the form follows the kernel that made the records: these say "unit test", not the
  // harness, so decode_splitk; the same records as the harness's bench-ops, decode_tiles; the harness's
  // together with another source's (imported engine tables), decode_splitk again.
  CHECK(fit_op_bench_files({f}, {}, {}, root + "/workloads/models").models.models[0].model.form.kind ==
        perf::FormKind::decode_splitk);
  nlohmann::json h = j;
  h["source"] = kHarnessOpBenchSource;
  const std::string fh = dir.write("dec-harness.json", h.dump());
  CHECK(fit_op_bench_files({fh}, {}, {}, root + "/workloads/models").models.models[0].model.form.kind ==
        perf::FormKind::decode_tiles);
  CHECK(fit_op_bench_files({fh, f}, {}, {}, root + "/workloads/models").models.models[0].model.form.kind ==
        perf::FormKind::decode_splitk);
  // Records without a compute capability cannot place the kernel's resident blocks, so decode_tiles
  // falls back to decode_splitk.
  j["system"].erase("cc");
  const std::string g = dir.write("dec-no-cc.json", j.dump());
  CHECK(fit_op_bench_files({g}, {}, {}, root + "/workloads/models", 0, {}, {}, perf::FormKind::decode_tiles)
            .models.models[0].model.form.kind == perf::FormKind::decode_splitk);
}

TEST_CASE("a grouped GEMM run per expert is the sum of its experts' GEMMs, graphs add the gap", "[quick][perf]")
{
  test::TempDir dir("moesim_op_models_loop");
  nlohmann::json recs = gemm_records({1024, 4096});
  recs.push_back({{"op", "graph_gap"}, {"kernels", 32}, {"seconds", 1e-6}});
  const OpBenchFit fit = fit_op_bench_files({dir.write("b.json", bench(recs).dump())}, {}, {}, root + "/workloads/models");
  Calibration c;
  c.op_models = fit.models;
  const GpuSpec gpu = test_gpu();
  // Experts with 16, 0 and 128 rows of n = 4096, k = 1024: two measured GEMMs, summed.
  Op g;
  g.kind = OpKind::grouped_gemm;
  g.shape = GroupedGemmShape{3, 0, {16, 0, 128}, 4096, 1024};
  g.kernels = 2;
  const double expect = perf::form_seconds(truth(), {1, 16, 4096, 1024}) + perf::form_seconds(truth(), {1, 128, 4096, 1024});
  const OpTime t = op_time(&c, gpu, g, false);
  CHECK(t.seconds == Approx(expect).epsilon(1e-9));
  CHECK(t.provenance == Provenance::measured);
  // Under a CUDA graph with only stream-measured models: each of the two kernels pays the 1 us gap.
  CHECK(op_time(&c, gpu, g, true).seconds == Approx(expect + 2e-6).epsilon(1e-9));
  // One expert at 64 rows (between 16 and 128) makes the sum interpolated: the weakest part.
  std::get<GroupedGemmShape>(g.shape).rows = {16, 0, 64};
  CHECK(op_time(&c, gpu, g, false).provenance == Provenance::interpolated);
  // Eager steps take a graph-measured model when no stream one exists, as measured (no gap).
  Calibration cg = c;
  for (KeyedOpModel& km : cg.op_models.models)
    km.key.graph = true;
  std::get<GroupedGemmShape>(g.shape).rows = {16, 0, 128};
  CHECK(op_time(&cg, gpu, g, false).seconds == Approx(expect).epsilon(1e-9));
  // Fused (kernels = 1): no fused model was fitted, so the specs answer.
  g.kernels = 1;
  CHECK(op_time(&c, gpu, g, false).provenance == Provenance::specs);
}

TEST_CASE("sampling asks the fp32 model: the logits are fp32 whatever the model's dtype", "[quick][perf]")
{
  test::TempDir dir("moesim_op_models_sample");
  // Two measured fp32 argmax points: (rows 1, vocab 32768) 12 us and (rows 1, vocab 131072) 44 us.
  nlohmann::json recs = nlohmann::json::array();
  for (auto [vocab, s] : {std::pair{32768.0, 12e-6}, std::pair{131072.0, 44e-6}})
    recs.push_back({{"op", "sample"}, {"dtype", "fp32"}, {"launch", "stream"}, {"rows", 1}, {"vocab", vocab},
                    {"elements", vocab}, {"bytes", 4 * vocab}, {"seconds", s}});
  const OpBenchFit fit = fit_op_bench_files({dir.write("s.json", bench(recs).dump())}, {}, {}, root + "/workloads/models");
  Calibration c;
  c.op_models = fit.models;
  // The schedule's sample op carries the model's dtype (bf16): it still finds the fp32 model, and
  // vocab 65536 (the log midpoint of 32768 and 131072) interpolates in log time:
  // exp((log 12e-6 + log 44e-6) / 2) = sqrt(12e-6 * 44e-6) = 2.2978e-5 s.
  Op op;
  op.kind = OpKind::sample;
  op.dtype = Dtype::bf16;
  op.shape = SampleShape{1, 65536};
  op.bytes = 2.0 * 65536;
  const OpTime t = op_time(&c, test_gpu(), op, false);
  CHECK(t.provenance == Provenance::interpolated);
  CHECK(t.seconds == Approx(std::sqrt(12e-6 * 44e-6)).epsilon(1e-6));
}

TEST_CASE("MLA prefill without an MLA model asks the GQA model at its own head dims", "[quick][perf]")
{
  test::TempDir dir("moesim_op_models_mla_prefill");
  // A GQA prefill record at DeepSeek-V2-Lite's un-absorbed shape: head dims 192 / 128, 16 query heads,
  // one KV head each, prompt 2048: 257 us (the kernel an MLA prefill runs).
  nlohmann::json recs = nlohmann::json::array();
  recs.push_back({{"op", "attention_prefill"}, {"attn", "gqa"}, {"dtype", "bf16"}, {"launch", "stream"},
                  {"batch", 1}, {"q_heads", 16}, {"kv_heads", 16}, {"head_dim_qk", 192}, {"head_dim_v", 128},
                  {"prompt", 2048}, {"cached", 0}, {"seconds", 257e-6}});
  const OpBenchFit fit = fit_op_bench_files({dir.write("p.json", bench(recs).dump())}, {}, {}, root + "/workloads/models");
  Calibration c;
  c.op_models = fit.models;
  // The schedule's MLA prefill op: batch 1, 16 heads, prompt 2048, nothing cached, head dims 192 / 128.
  // No MLA model: the GQA model answers at (192, 128, kv 16, q 16, batch 1, cached 0, prompt 2048),
  // its measured point.
  Op op;
  op.kind = OpKind::attention_prefill;
  op.dtype = Dtype::bf16;
  AttentionShape a;
  a.batch = 1;
  a.q_heads = 16;
  a.kv_heads = 16;
  a.head_dim_qk = 192;
  a.head_dim_v = 128;
  a.prompt = 2048;
  a.cached = 0;
  a.mla = true;
  a.kv_lora_rank = 512;
  a.rope_dim = 64;
  op.shape = a;
  op.flops = 1e9;
  op.bytes = 1e6;
  const OpTime t = op_time(&c, test_gpu(), op, false);
  CHECK(t.provenance == Provenance::measured);
  CHECK(t.seconds == Approx(257e-6).epsilon(1e-9));
  // With an MLA prefill record of the same shape (300 us), the MLA model wins.
  recs.push_back({{"op", "attention_prefill"}, {"attn", "mla"}, {"dtype", "bf16"}, {"launch", "stream"}, {"batch", 1},
                  {"q_heads", 16}, {"head_dim_qk", 192}, {"head_dim_v", 128}, {"kv_lora_rank", 512}, {"rope_dim", 64},
                  {"prompt", 2048}, {"cached", 0}, {"seconds", 300e-6}});
  c.op_models = fit_op_bench_files({dir.write("q.json", bench(recs).dump())}, {}, {}, root + "/workloads/models").models;
  CHECK(op_time(&c, test_gpu(), op, false).seconds == Approx(300e-6).epsilon(1e-9));
}

TEST_CASE("a sliding-window prefill asks the model at its chunks of one window", "[quick][perf]")
{
  test::TempDir dir("moesim_op_models_window_prefill");
  // A GQA prefill record at gpt-oss-120b's head dims (64, 64 query heads, 8 KV heads): 40 sequences of
  // 128 queries behind 127 cached keys, 200 us.
  nlohmann::json recs = nlohmann::json::array();
  recs.push_back({{"op", "attention_prefill"}, {"attn", "gqa"}, {"dtype", "bf16"}, {"launch", "stream"},
                  {"batch", 40}, {"q_heads", 64}, {"kv_heads", 8}, {"head_dim_qk", 64}, {"head_dim_v", 64},
                  {"prompt", 128}, {"cached", 127}, {"seconds", 200e-6}});
  Calibration c;
  c.op_models = fit_op_bench_files({dir.write("w.json", bench(recs).dump())}, {}, {}, root + "/workloads/models").models;
  // The schedule's windowed layer: one prompt of 5120 tokens, window 128. ceil(5120 / 128) = 40 chunks
  // of 5120 / 40 = 128 queries, each behind window - 1 = 127 keys: the record's shape, so its 200 us.
  Op op;
  op.kind = OpKind::attention_prefill;
  op.dtype = Dtype::bf16;
  AttentionShape a;
  a.batch = 1;
  a.q_heads = 64;
  a.kv_heads = 8;
  a.head_dim_qk = 64;
  a.head_dim_v = 64;
  a.prompt = 5120;
  a.cached = 0;
  a.sliding_window = 128;
  op.shape = a;
  op.flops = 1e9;
  op.bytes = 1e6;
  const OpTime t = op_time(&c, test_gpu(), op, false);
  CHECK(t.provenance == Provenance::measured);
  CHECK(t.seconds == Approx(200e-6).epsilon(1e-9));
  // A prompt within the window is its own shape: 128 queries of one sequence, nothing cached, is not
  // the record's point, so the answer is no longer measured.
  a.prompt = 128;
  op.shape = a;
  CHECK(op_time(&c, test_gpu(), op, false).provenance != Provenance::measured);
}

TEST_CASE("old calibration files load and give the times they gave", "[quick][perf]")
{
  // Every compute op of a Qwen3-30B-A3B step on one GPU: op_time is the kernel tables' time where
  // they cover the op, else the roofline, exactly as before op models existed.
  const Calibration cal = load_calibration_file(root + "/platforms/calibration/nvswitch-1x-h200.yaml");
  CHECK(cal.op_models.empty());
  const Model model = load_model_file(root + "/workloads/models/qwen3-30b-a3b.yaml").model;
  const Layout layout = make_layout(Plan::parse("tp1"), model, 1);
  BuildOptions opt;
  opt.engine.grouped_gemm_per_expert = true;
  const GpuSpec gpu = test_gpu();
  int covered = 0, roofline = 0;
  for (int batch : {1, 64}) {
    const Schedule s = build_schedule(model, layout, StepShape{Phase::decode, batch, 1024, 0}, opt);
    for (const Op& op : s.ranks[0].ops) {
      if (op_class(op.kind) != OpClass::compute)
        continue;
      for (bool graph : {false, true}) {
        const OpTime t = op_time(&cal, gpu, op, graph);
        if (std::optional<double> k = cal.kernel_time(op, graph)) {
          CHECK(t.seconds == *k);
          CHECK(t.provenance != Provenance::specs);
          covered++;
        } else {
          CHECK(t.seconds == roofline_seconds(gpu, op));
          CHECK(t.provenance == Provenance::specs);
          roofline++;
        }
      }
    }
  }
  // The file was calibrated from these models' schedules: most ops are covered, some are not.
  CHECK(covered > 0);
  CHECK(roofline > 0);
}

TEST_CASE("leave-one-family-out: records sharing a model's GEMM or attention shapes leave the fit", "[quick][perf]")
{
  const Model qwen = load_model_file(root + "/workloads/models/qwen3-30b-a3b.yaml").model;
  const FamilyShapes s = family_shapes({qwen});
  auto gemm = [](double n, double k) {
    OpRecord r;
    r.key.kind = OpKind::gemm;
    r.dims = op_dims::gemm(1, 64, n, k);
    return r;
  };
  // Qwen3-30B-A3B: hidden 2048, 32 query and 4 KV heads of 128, experts 768 wide.
  CHECK(s.covers(gemm((32 + 2 * 4) * 128, 2048)));  // qkv at TP1: n = 5120
  CHECK(s.covers(gemm((16 + 2 * 2) * 128, 2048)));  // qkv at TP2: n = 2560
  CHECK(s.covers(gemm(2 * 768, 2048)));             // expert up, whole experts (EP)
  CHECK(s.covers(gemm(2 * 768 / 4, 2048)));         // expert up under MoE TP4
  CHECK(s.covers(gemm(2048, 768)));                 // expert down
  CHECK_FALSE(s.covers(gemm(6144, 2048)));          // its unused dense width: no such GEMM
  CHECK_FALSE(s.covers(gemm(5120, 4096)));
  auto decode = [](double kv, double q) {
    OpRecord r;
    r.key.kind = OpKind::attention_decode;
    r.key.variant = "gqa";
    r.dims = op_dims::decode(128, 128, kv, q, 8, 4096);
    return r;
  };
  CHECK(s.covers(decode(4, 32)));  // TP1
  CHECK(s.covers(decode(2, 16)));  // TP2
  CHECK(s.covers(decode(1, 4)));   // TP8: 4 KV heads cannot split 8 ways: one replicated
  CHECK_FALSE(s.covers(decode(4, 16)));

  // The fit: n = 5120 records at k = 1024, 4096, 16384 share no (n, k) with Qwen (its qkv has
  // k = 2048): nothing is left out.
  test::TempDir dir("moesim_family");
  const std::string f = dir.write("b.json", bench(gemm_records({5120, 3072})).dump());
  const OpBenchFit fit = fit_op_bench_files({f}, {}, {"qwen3-30b-a3b"}, root + "/workloads/models");
  CHECK(fit.excluded == 0);
  // 15 records at n = 3072 and two of Qwen's qkv, (5120, 2048) at m = 1 and 64.
  nlohmann::json recs = gemm_records({3072});
  for (double m : {1, 64})
    recs.push_back({{"op", "gemm"}, {"dtype", "bf16"}, {"launch", "stream"}, {"m", m}, {"n", 5120}, {"k", 2048},
                    {"seconds", perf::form_seconds(truth(), {1, m, 5120, 2048})}});
  const std::string f2 = dir.write("b2.json", bench(recs).dump());
  const OpBenchFit fit2 = fit_op_bench_files({f2}, {}, {"qwen3-30b-a3b"}, root + "/workloads/models");
  // The two (5120, 2048) records are Qwen's qkv: left out and checked, the 15 others fitted.
  CHECK(fit2.excluded == 2);
  CHECK(fit2.held_out == 2);
  REQUIRE(fit2.models.models.size() == 1);
  CHECK(fit2.models.models[0].fit.count == 15);
  CHECK(fit2.models.models[0].model.grid.points().size() == 15);
}

TEST_CASE("held-out records check the models inside and outside the grid", "[quick][perf]")
{
  HoldOut h;
  add_hold_out(h, "n=4096");
  CHECK(h.values.at("n") == std::set<double>{4096});
  CHECK_THROWS_AS(add_hold_out(h, "n=4k"), std::invalid_argument);
  CHECK_THROWS_AS(add_hold_out(h, "n"), std::invalid_argument);
  // Records at n = 1024, 4096, 16384: holding out 4096 (inside the n range) and 16384 (past it).
  test::TempDir dir("moesim_holdout");
  const std::string f = dir.write("b.json", bench(gemm_records({1024, 4096, 16384})).dump());
  const OpBenchFit fit = fit_op_bench_files({f}, {"n=4096", "m=8192"}, {}, root + "/workloads/models");
  // 45 records (5 m x 3 n x 3 k): 15 at n = 4096, plus 6 at m = 8192 with another n: 21 held out,
  // 24 fitted.
  CHECK(fit.held_out == 21);
  REQUIRE(fit.quality.size() == 1);
  const FitQuality& q = fit.quality[0];
  CHECK(q.fitted == 24);
  CHECK(q.held_interpolated.count == 12); // n = 4096 at m < 8192 (4 m x 3 k): inside the grid
  CHECK(q.held_extrapolated.count == 9);  // m = 8192 (3 n x 3 k): past the largest fitted m
  // The records follow the form exactly, so the fitted form is close and so are both checks.
  CHECK(q.in_sample.median < 0.01);
  CHECK(q.held_extrapolated.median < 0.05);
  CHECK(fit_quality_markdown(fit).find("gemm bf16") != std::string::npos);
  CHECK_THROWS_WITH(fit_op_bench_files({f}, {"n=x"}, {}, root + "/workloads/models"),
                    Catch::Matchers::Contains("--hold-out"));
}

TEST_CASE("host costs per API: state, threads between measured counts, fallbacks", "[quick][perf]")
{
  HostCosts h;
  h.api = {{"kernel_launch", false, 1, 6e-6}, {"kernel_launch", false, 4, 9e-6}, {"kernel_launch", true, 1, 4e-6}};
  std::sort(h.api.begin(), h.api.end());
  CHECK(*h.api_seconds("kernel_launch", true, 1) == 4e-6);
  // Idle, 2 threads: between 1 (6 us) and 4 (9 us): 6 + (9 - 6) * 1/3 = 7 us.
  CHECK(*h.api_seconds("kernel_launch", false, 2) == Approx(7e-6).epsilon(1e-12));
  CHECK(*h.api_seconds("kernel_launch", false, 8) == 9e-6); // past the largest count: its value
  CHECK(*h.api_seconds("kernel_launch", true, 4) == 4e-6);  // busy measured at 1 thread only
  CHECK_FALSE(h.api_seconds("nccl_call", true, 1));
  // Through launch_seconds: a GEMM is a cuBLASLt call (not measured here: the old median applies).
  Calibration c;
  c.host = h;
  c.host.launch_s = 5e-6;
  Op k;
  k.kind = OpKind::rmsnorm;
  CHECK(c.launch_seconds(k, 1e-6, false, 2) == Approx(7e-6).epsilon(1e-12));
  CHECK(c.launch_seconds(gemm_op(1, 2, 3), 1e-6, false, 2) == 5e-6);
}

TEST_CASE("a fused expert GEMM's grid is written by rows per expert and a total-rows grid is refused",
          "[quick][perf]")
{
  // Records from a known grouped_tiles form (tests/core/grouped_points.hpp: 1, 8 and 128 experts of
  // 1-8,192 rows each). The grid keeps {n, k, active, rows per active expert} (perf::grid_dims).
  perf::FormParams truth = given_form(OpModelKey{OpKind::grouped_gemm, "fused", Dtype::bf16, Dtype::bf16, false, 0}, 132);
  truth.floor_s = 4e-6, truth.flops = 600e12, truth.bandwidth = 4e12, truth.tile_bandwidth = 20e9, truth.unit_s = 1.5e-6;
  truth.tile_m = truth.tile_n = 128;
  KeyedOpModel km;
  km.key = OpModelKey{OpKind::grouped_gemm, "fused", Dtype::bf16, Dtype::bf16, false, 0};
  perf::FormParams given = truth;
  given.floor_s = given.flops = given.bandwidth = given.tile_bandwidth = given.unit_s = 0;
  km.model = perf::fit_op_model(given, test::even_grouped_points(truth));
  Calibration c;
  c.platform = "t";
  c.measured_on = "unit test";
  c.source = "unit test";
  c.op_models.sms = 132;
  c.op_models.models.push_back(km);
  const std::string yaml = calibration_to_yaml(c);
  CHECK_THAT(yaml, Catch::Matchers::Contains("dims: [n, k, active, rows_per_expert]"));
  // n 4096, k 512, 8 experts of 512 rows: 4,096 rows in all, keyed by 512 (no record has 8
  // experts of 64 rows, which a total-rows key of 512 would be).
  CHECK_THAT(yaml, Catch::Matchers::Contains("\n        4096 512 8 512 "));
  CHECK_THAT(yaml, !Catch::Matchers::Contains("\n        4096 512 8 4096 "));
  test::TempDir dir("moesim_grouped_rpe");
  const Calibration d = load_calibration_file(dir.write("cal.yaml", yaml));
  const perf::OpModel& m = d.op_models.models.at(0).model;
  // A measured shape answers its record (to the file's 10 digits); one between answers alike from
  // both copies.
  CHECK(m.estimate({4096, 512, 8, 256}).seconds == Approx(perf::form_seconds(truth, {4096, 512, 8, 256})).epsilon(1e-8));
  CHECK(m.estimate({4096, 512, 8, 256}).provenance == Provenance::measured);
  CHECK(m.estimate({6000, 2048, 20, 3000}).seconds ==
        Approx(km.model.estimate({6000, 2048, 20, 3000}).seconds).epsilon(1e-8));
  // A file written before the grid was keyed by rows per expert (dims [n, k, active, total_rows])
  // holds totals where rows per expert are read: refused, with the fix.
  std::string old = yaml;
  const std::string now = "dims: [n, k, active, rows_per_expert]";
  old.replace(old.find(now), now.size(), "dims: [n, k, active, total_rows]");
  const std::string f = dir.write("old.yaml", old);
  CHECK_THROWS_WITH(load_calibration_file(f), Catch::Matchers::Contains(f) && Catch::Matchers::Contains("rows per expert") &&
                                                  Catch::Matchers::Contains("moesim calibrate --op-bench"));
}

TEST_CASE("a GEMM's alignment class: n and k in whole 16-byte units of its dtype", "[quick][perf]")
{
  // bf16: 2 bytes, so multiples of 8. The H100 router sweep's fast counts (24, 56, 64) and slow ones (20,
  // 28, 36: 40, 56, 72 bytes of weights a row, 8 past a 16-byte unit each).
  CHECK(gemm_aligned(24, 1792, Dtype::bf16));
  CHECK(gemm_aligned(64, 4096, Dtype::bf16));
  CHECK_FALSE(gemm_aligned(20, 1792, Dtype::bf16));
  CHECK_FALSE(gemm_aligned(36, 1792, Dtype::bf16));
  CHECK_FALSE(gemm_aligned(60, 4096, Dtype::bf16));
  // k counts as n does: 1,796 x 2 = 3,592 bytes, 8 past 224 units.
  CHECK_FALSE(gemm_aligned(64, 1796, Dtype::bf16));
  // fp8: 1 byte, so multiples of 16: 24 is 8 past one unit, 32 two units.
  CHECK_FALSE(gemm_aligned(24, 1792, Dtype::fp8));
  CHECK(gemm_aligned(32, 1792, Dtype::fp8));
}

TEST_CASE("unaligned GEMM records fit a model of their own, a class without one takes the aligned time, "
          "extrapolated",
          "[quick][perf]")
{
  // The H100 router sweep (validate/results/h100-2026-12-08-points-s23-router-sweep, graph, us), m 4,
  // k 1,792, as router records with their dims: the GEMMs they are.
  const std::vector<std::pair<int, double>> sweep = {{20, 18.904}, {24, 4.906}, {28, 18.822}, {36, 18.766},
                                                     {44, 18.714}, {52, 18.748}, {56, 4.890}, {60, 18.744},
                                                     {64, 4.952}};
  nlohmann::json recs = nlohmann::json::array();
  for (const auto& [n, us] : sweep)
    recs.push_back({{"op", "router"}, {"dtype", "bf16"}, {"launch", "graph"}, {"inputs", "cold"},
                    {"elements", 4 * 1792}, {"bytes", 2 * 4 * 1792 + 2 * n * 1792 + 4 * 4 * n}, {"rows", 4},
                    {"width", 1792}, {"experts", n}, {"seconds", us * 1e-6}});
  // An older router record (elements and bytes only) has no GEMM shape, and a warm one re-read one
  // weight buffer from the L2 (no GEMM record's timing): both unmodelled, as before.
  recs.push_back({{"op", "router"}, {"dtype", "bf16"}, {"launch", "graph"}, {"elements", 4 * 1792},
                  {"bytes", 86336}, {"seconds", 1.89e-5}});
  recs.push_back({{"op", "router"}, {"dtype", "bf16"}, {"launch", "graph"}, {"elements", 4 * 1792},
                  {"bytes", 86336}, {"rows", 4}, {"width", 1792}, {"experts", 20}, {"seconds", 1.4e-5}});
  const OpMeasurements b = parse_op_measurements(bench(recs).dump(), "r.json");
  REQUIRE(b.ops.size() == 9);
  CHECK(b.unmodelled.at("router") == 2);
  CHECK(b.ops[0].key.kind == OpKind::gemm);
  CHECK(b.ops[0].key.variant == unaligned_variant);
  CHECK(b.ops[0].dims == std::vector<double>{1, 4, 20, 1792});
  CHECK(b.ops[1].key.variant.empty()); // 24 experts
  CHECK(b.ops[1].key.graph);

  test::TempDir dir("moesim_op_models_align");
  const OpBenchFit fit = fit_op_bench_files({dir.write("r.json", bench(recs).dump())}, {}, {}, root + "/workloads/models");
  REQUIRE(fit.models.models.size() == 2); // gemm bf16 graph; gemm unaligned bf16 graph
  Calibration c;
  c.op_models = fit.models;
  const GpuSpec gpu = test_gpu();
  auto router = [](long n) {
    Op op = gemm_op(4, double(n), 1792);
    std::get<GemmShape>(op.shape).out = Dtype::fp32; // the router's fp32 logits, as schedule_builder writes it
    return op;
  };
  // 36 experts: its own record, 18.766 us.
  const OpTime at36 = op_time(&c, gpu, router(36), true);
  CHECK(at36.provenance == Provenance::measured);
  CHECK(at36.seconds == Approx(18.766e-6).epsilon(1e-9));
  // 40 experts: aligned, between the aligned records 24 (4.906) and 56 (4.890), log-log:
  // w = ln(40/24) / ln(56/24) = 0.51083 / 0.84730 = 0.60289; t = 4.906^(1-w) 4.890^w = 4.8964 us.
  // One model over every count would have put it between 36 and 44: 18.74 us, 3.8x the measured 4.7-4.9.
  const OpTime at40 = op_time(&c, gpu, router(40), true);
  CHECK(at40.provenance == Provenance::interpolated);
  const double w = std::log(40.0 / 24) / std::log(56.0 / 24);
  CHECK(at40.seconds == Approx(std::exp((1 - w) * std::log(4.906e-6) + w * std::log(4.890e-6))).epsilon(1e-9));
  CHECK(at40.seconds == Approx(4.8964e-6).epsilon(1e-4));
  // 30 experts: unaligned, between 28 (18.822) and 36 (18.766): w = ln(30/28) / ln(36/28) = 0.27452;
  // t = 18.822^(1-w) 18.766^w = 18.807 us.
  const OpTime at30 = op_time(&c, gpu, router(30), true);
  CHECK(at30.provenance == Provenance::interpolated);
  CHECK(at30.seconds == Approx(18.807e-6).epsilon(1e-4));

  // Without unaligned records (the platforms' calibrations today): 36 experts takes the aligned model's
  // time at its shape (between 24 and 56: w = ln(36/24) / ln(56/24) = 0.47854, 4.8983 us), flagged
  // extrapolated, not interpolated: nothing measured says how much slower the other kernel is.
  Calibration aligned = c;
  std::erase_if(aligned.op_models.models, [](const KeyedOpModel& km) { return km.key.variant == unaligned_variant; });
  REQUIRE(aligned.op_models.models.size() == 1);
  const OpTime fallback = op_time(&aligned, gpu, router(36), true);
  CHECK(fallback.provenance == Provenance::extrapolated);
  const double w36 = std::log(36.0 / 24) / std::log(56.0 / 24);
  CHECK(fallback.seconds == Approx(std::exp((1 - w36) * std::log(4.906e-6) + w36 * std::log(4.890e-6))).epsilon(1e-9));
  CHECK(fallback.seconds == Approx(4.8983e-6).epsilon(1e-4));
  // A record of the class is estimated the same way (fit checks): 36 experts' record, the aligned time.
  const auto rec36 = estimate_record(aligned.op_models, b.ops[3]);
  REQUIRE(rec36);
  CHECK(b.ops[3].dims[2] == 36);
  CHECK(rec36->provenance == Provenance::extrapolated);
  CHECK(rec36->seconds == Approx(fallback.seconds).epsilon(1e-9));
  // An aligned query is as it was: 40 experts, interpolated, the same time.
  CHECK(op_time(&aligned, gpu, router(40), true).seconds == Approx(at40.seconds).epsilon(1e-12));
  CHECK(op_time(&aligned, gpu, router(40), true).provenance == Provenance::interpolated);
  // Per-expert GEMMs of an unaligned n take the same fallback: one expert of 4 rows at n 36.
  Op g;
  g.kind = OpKind::grouped_gemm;
  g.shape = GroupedGemmShape{2, 0, {4, 0}, 36, 1792};
  g.kernels = 2;
  const OpTime loop = op_time(&aligned, gpu, g, true);
  CHECK(loop.provenance == Provenance::extrapolated);
  CHECK(loop.seconds == Approx(fallback.seconds).epsilon(1e-9));
  CHECK(op_time(&c, gpu, g, true).seconds == Approx(18.766e-6).epsilon(1e-9));
}
