// Whole fused MoE layers (core/moe_layer): AIConfigurator's `moe` records read back with their
// source, a curve over tokens read between its records, bad records refused, and a rank's MoE
// layer shared out over its ops so that it sums to the measurement.
#include "core/calibration.hpp"
#include "core/costs.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/model_loader.hpp"
#include "core/moe_layer.hpp"
#include "core/op_fit.hpp"
#include "core/op_measurements.hpp"
#include "core/schedule_builder.hpp"
#include "tests/core/op_bench_json.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

using namespace moesim;
using Catch::Matchers::Contains;
using moesim::perf::Provenance;

namespace {

const std::string root = MOESIM_SOURCE_DIR;

nlohmann::json bench(nlohmann::json records)
{
  return test::op_bench(std::move(records));
}

nlohmann::json moe(double tokens, double seconds, int ep = 4)
{
  return {{"op", "moe"},       {"dtype", "mxfp4"}, {"kernel", "k"},      {"launch", "graph"},
          {"tokens", tokens},  {"hidden", 2880},   {"inter", 2880},      {"topk", 4},
          {"experts", 128},    {"moe_tp", 1},      {"moe_ep", ep},       {"distribution", "balanced"},
          {"seconds", seconds}};
}

MoeLayerKey gptoss_ep4()
{
  MoeLayerKey k;
  k.dtype = Dtype::mxfp4;
  k.hidden = k.inter = 2880;
  k.topk = 4;
  k.experts = 128;
  k.moe_ep = 4;
  return k;
}

// An fp8 MoE layer's key: hidden / inter, experts, top-k, EP, blocks of 128x128 scales or per tensor.
MoeLayerKey fp8_key(int hidden, int inter, int experts, int topk, int ep, bool block_scales)
{
  MoeLayerKey k;
  k.dtype = Dtype::fp8;
  k.block_scales = block_scales;
  k.hidden = hidden;
  k.inter = inter;
  k.topk = topk;
  k.experts = experts;
  k.moe_ep = ep;
  return k;
}

} // namespace

TEST_CASE("AIConfigurator's whole MoE layers are read back with their source", "[quick][perf]")
{
  // platforms/public/aiconfigurator/h100_sxm.trtllm-1.3.0rc20: the H100 TensorRT-LLM 1.3.0rc20 table
  // (ai-dynamo/aiconfigurator @095f58a51, moe/trtllm/1.3.0rc20/moe_perf.parquet), gpt-oss-120b's
  // shape under EP4 at 1024 tokens: 0.616 ms (W4A16 MXFP4, Triton; validate/public/gpt-oss-trtllm-notes.md
  // section 2 quotes the same cell).
  const std::string file = root + "/platforms/public/aiconfigurator/h100_sxm.trtllm-1.3.0rc20.json.gz";
  const OpMeasurements m = load_op_measurements(file);
  CHECK_THAT(m.source, Contains("ai-dynamo/aiconfigurator") && Contains("h100_sxm") && Contains("095f58a5"));
  const MoeLayerModels models = moe_layer_models(m.moe);
  const MoeLayerCurve* c = models.find(gptoss_ep4(), true);
  REQUIRE(c);
  CHECK(c->graph);
  const perf::Estimate e = moe_layer_seconds(*c, 1024);
  CHECK(e.seconds == Approx(0.000616).epsilon(1e-9));
  CHECK(e.provenance == Provenance::measured);
  // Every balanced record of the file is in one curve or another.
  size_t points = 0;
  for (const MoeLayerCurve& k : models.curves)
    points += k.points.size();
  CHECK(points == m.moe.size());
  CHECK(m.moe.size() > 1000);
}

TEST_CASE("a MoE layer curve is read between its records, and past them along its ends", "[quick][perf]")
{
  const OpMeasurements m =
      parse_op_measurements(bench({moe(2048, 600e-6), moe(1, 100e-6), moe(512, 300e-6)}).dump(), "t.json");
  const MoeLayerModels models = moe_layer_models(m.moe);
  REQUIRE(models.curves.size() == 1);
  const MoeLayerCurve& c = models.curves[0];
  // Sorted by tokens whatever the file order.
  REQUIRE(c.points.size() == 3);
  CHECK(c.points[0].tokens == 1);
  CHECK(c.points[2].tokens == 2048);
  CHECK(c.points[1].where == "t.json: records[2]");
  // 1024 tokens lie between 512 (300 us) and 2048 (600 us): 300 + 300 x (1024 - 512) / (2048 - 512)
  // = 300 + 100 = 400 us.
  perf::Estimate e = moe_layer_seconds(c, 1024);
  CHECK(e.seconds == Approx(400e-6));
  CHECK(e.provenance == Provenance::interpolated);
  // A record's own count: its time.
  e = moe_layer_seconds(c, 512);
  CHECK(e.seconds == Approx(300e-6));
  CHECK(e.provenance == Provenance::measured);
  // Past the last record the last segment goes on: 600 + 300 / 1536 x (3584 - 2048) = 900 us.
  e = moe_layer_seconds(c, 3584);
  CHECK(e.seconds == Approx(900e-6));
  CHECK(e.provenance == Provenance::extrapolated);
  // Below the first record (1 token), its time.
  e = moe_layer_seconds(c, 0.5);
  CHECK(e.seconds == Approx(100e-6));
  CHECK(e.provenance == Provenance::extrapolated);
  CHECK_THROWS_AS(moe_layer_seconds(c, 0), std::invalid_argument);
  // Another split is another curve: EP4's records do not answer EP2.
  MoeLayerKey ep2 = gptoss_ep4();
  ep2.moe_ep = 2;
  CHECK(models.find(ep2, true) == nullptr);
  CHECK(models.find(gptoss_ep4(), false) == &c); // the graph-measured curve answers an eager step too
}

TEST_CASE("bad MoE layer records are refused with file, record and key", "[quick][perf]")
{
  auto refused = [](nlohmann::json rec, const std::string& key) {
    try {
      const OpMeasurements m = parse_op_measurements(bench(nlohmann::json::array({rec})).dump(), "bad.json");
      moe_layer_models(m.moe);
    } catch (const InputError& e) {
      CHECK_THAT(std::string(e.what()), Contains("bad.json") && Contains("records[0]." + key));
      return;
    }
    FAIL("accepted " << rec.dump());
  };
  nlohmann::json r = moe(64, 1e-4);
  r["moe_ep"] = 3; // 128 experts do not split over 3 GPUs
  refused(r, "moe_ep");
  r = moe(64, 1e-4);
  r["topk"] = 2.5;
  refused(r, "topk");
  r = moe(64, 1e-4);
  r["tokens"] = 0;
  refused(r, "tokens");
  r = moe(64, 1e-4);
  r.erase("launch");
  refused(r, "launch");
  r = moe(64, 1e-4);
  r["topk"] = 200; // more picks than experts
  refused(r, "topk");
  // Two records of one shape and count: refused, naming both.
  const OpMeasurements m = parse_op_measurements(bench({moe(64, 1e-4), moe(64, 2e-4)}).dump(), "dup.json");
  CHECK_THROWS_WITH(moe_layer_models(m.moe), Contains("dup.json: records[1]") && Contains("dup.json: records[0]"));
  // A routing neither even nor power-law is counted, not fitted (power-law layers: the case below).
  r = moe(64, 1e-4);
  r["distribution"] = "zipf";
  const OpMeasurements p = parse_op_measurements(bench(nlohmann::json::array({r})).dump(), "p.json");
  CHECK(p.moe.empty());
  CHECK(p.unmodelled.at("moe (distribution zipf)") == 1);
}

TEST_CASE("the layer's measured time is shared out: small kernels keep theirs, GEMMs take the rest",
          "[quick][perf]")
{
  // 400 us measured, 40 us of routing/permute/activation/unpermute, GEMMs' own 30 : 10:
  // up = 360 x 3/4 = 270 us, down = 90 us.
  MoeLayerSplit s = split_moe_layer(400e-6, 40e-6, 30e-6, 10e-6);
  CHECK(s.up == Approx(270e-6));
  CHECK(s.down == Approx(90e-6));
  CHECK(s.small_scale == 1);
  // Small kernels alone over the layer (100 us against 50): they are scaled to it, the GEMMs get 0.
  s = split_moe_layer(50e-6, 100e-6, 30e-6, 10e-6);
  CHECK(s.up == 0);
  CHECK(s.down == 0);
  CHECK(s.small_scale == Approx(0.5));
}

TEST_CASE("a rank's fused MoE layers take the curve's time at the tokens its split sees", "[quick][perf]")
{
  // gpt-oss-120b, 4 GPUs dp4 x ep4, decode batch 256 per replica, uniform routing, one fused kernel:
  // each rank's 32 experts receive 4 x 256 x 4 / 4 = 1024 rows, so the layer sees
  // 1024 x ep / top-k = 1024 x 4 / 4 = 1024 tokens: 400 us on the curve above (interpolated).
  const Model model = load_model_file(root + "/workloads/models/gpt-oss-120b.yaml").model;
  const Layout layout = make_layout(Plan::parse("dp4xep4"), model, 4);
  BuildOptions opt;
  opt.engine.cuda_graphs = true;
  const Schedule s = build_schedule(model, layout, StepShape{Phase::decode, 1024, 1024, 0}, opt);
  const OpMeasurements m =
      parse_op_measurements(bench({moe(2048, 600e-6), moe(1, 100e-6), moe(512, 300e-6)}).dump(), "t.json");
  MoeLayerModels models = moe_layer_models(m.moe);
  REQUIRE(models.curves[0].key.dtype == model.dtypes.expert_weights);
  // Own times: 10 us per small kernel, 30 us gate/up, 10 us down.
  auto own = [](const Op& o) {
    return MoeLayerTime{o.role == OpRole::experts_up ? 30e-6 : o.role == OpRole::experts_down ? 10e-6 : 10e-6,
                        Provenance::specs};
  };
  const std::map<int, MoeLayerTime> t = moe_layer_times(models, s, 0, true, own);
  std::map<int, double> per_layer;
  int ups = 0;
  for (const Op& op : s.ranks[0].ops) {
    const auto it = t.find(op.id);
    if (it == t.end())
      continue;
    per_layer[op.layer] += it->second.seconds;
    if (op.role == OpRole::experts_up) {
      ups++;
      CHECK(op.grouped().total_rows() == Approx(1024));
      // 400 - 4 x 10 = 360 us for the GEMMs, 3/4 of it to gate/up.
      CHECK(it->second.seconds == Approx(270e-6));
      CHECK(it->second.provenance == Provenance::interpolated);
    } else {
      // The down GEMM and the small kernels (their own 10 us each) carry the layer's provenance too:
      // together they are its measured 400 us.
      CHECK(it->second.provenance == Provenance::interpolated);
    }
    if (op.role == OpRole::router)
      FAIL("the router GEMM is not in a fused MoE layer record");
  }
  CHECK(ups == model.layers);
  REQUIRE(static_cast<int>(per_layer.size()) == model.layers);
  for (const auto& [layer, sum] : per_layer)
    CHECK(sum == Approx(400e-6)); // the layer sums to the measurement
  // Small kernels whose own times (4 x 150 = 600 us) exceed the layer's 400 us: each is scaled by
  // 400 / 600 to 100 us, the GEMMs get 0, and all six ops carry the measurement's provenance
  // (interpolated), not their own (specs).
  auto slow_small = [](const Op& o) {
    const bool gemm = o.role == OpRole::experts_up || o.role == OpRole::experts_down;
    return MoeLayerTime{gemm ? 20e-6 : 150e-6, Provenance::specs};
  };
  const std::map<int, MoeLayerTime> scaled = moe_layer_times(models, s, 0, true, slow_small);
  std::map<int, double> scaled_layer;
  for (const Op& op : s.ranks[0].ops) {
    const auto it = scaled.find(op.id);
    if (it == scaled.end())
      continue;
    scaled_layer[op.layer] += it->second.seconds;
    const bool gemm = op.role == OpRole::experts_up || op.role == OpRole::experts_down;
    CHECK(it->second.seconds == Approx(gemm ? 0.0 : 100e-6));
    CHECK(it->second.provenance == Provenance::interpolated);
  }
  REQUIRE(static_cast<int>(scaled_layer.size()) == model.layers);
  for (const auto& [layer, sum] : scaled_layer)
    CHECK(sum == Approx(400e-6));
  // Another split (EP2) has no curve: nothing is replaced.
  const Layout ep2 = make_layout(Plan::parse("dp2xep2"), model, 2);
  const Schedule s2 = build_schedule(model, ep2, StepShape{Phase::decode, 512, 1024, 0}, opt);
  CHECK(moe_layer_times(models, s2, 0, true, own).empty());
  // A per-expert loop is not the fused kernel measured: nothing is replaced either.
  BuildOptions loop = opt;
  loop.engine.grouped_gemm_per_expert = true;
  const Schedule s3 = build_schedule(model, layout, StepShape{Phase::decode, 1024, 1024, 0}, loop);
  CHECK(moe_layer_times(models, s3, 0, true, own).empty());
}

TEST_CASE("whole MoE layers are reported by a fit but not written to a calibration file", "[quick][perf]")
{
  // Three balanced records of one shape and split: one curve of three points in the fit; a
  // calibration holding only them writes no op_models section (the file format has none for them yet).
  const OpMeasurements m =
      parse_op_measurements(bench({moe(2048, 600e-6), moe(1, 100e-6), moe(512, 300e-6)}).dump(), "t.json");
  const OpBenchFit fit = fit_op_benches({m}, {"t.json"}, HoldOut{}, {});
  REQUIRE(fit.models.moe_layers.curves.size() == 1);
  CHECK_THAT(fit_quality_markdown(fit), Contains("Whole MoE layers: 3 records in 1 curves"));
  Calibration c;
  c.platform = "test";
  c.op_models = fit.models;
  CHECK_THAT(calibration_to_yaml(c), !Contains("op_models"));
}

TEST_CASE("block-scaled fp8 MoE layers are a curve of their own, and uniform routing is read as measured",
          "[quick][perf]")
{
  // DeepSeek-V3's expert shape (hidden 7168, inter 2048, top-8 of 256) under EP16, fp8 with 128x128
  // weight blocks (`scales: block`) and uniform random routing, as SGLang's wide-EP tables give it.
  auto ds = [](double tokens, double seconds, bool block) {
    nlohmann::json r = {{"op", "moe"},     {"dtype", "fp8"},    {"kernel", "deepepmoe"}, {"launch", "graph"},
                        {"tokens", tokens}, {"hidden", 7168},   {"inter", 2048},         {"topk", 8},
                        {"experts", 256},   {"moe_tp", 1},      {"moe_ep", 16},          {"distribution", "uniform"},
                        {"seconds", seconds}};
    if (block)
      r["scales"] = "block";
    return r;
  };
  // Block-scaled at 32 tokens 204 us and 64 tokens 208 us; per tensor at 32 tokens 150 us: two curves,
  // so the per-tensor record at 32 tokens is no duplicate of the block-scaled one.
  const OpMeasurements m = parse_op_measurements(
      bench({ds(32, 204e-6, true), ds(64, 208e-6, true), ds(32, 150e-6, false)}).dump(), "ds.json");
  REQUIRE(m.moe.size() == 3);
  CHECK(m.unmodelled.empty());
  const MoeLayerModels models = moe_layer_models(m.moe);
  REQUIRE(models.curves.size() == 2);
  MoeLayerKey k = fp8_key(7168, 2048, 256, 8, 16, true);
  const MoeLayerCurve* block = models.find(k, true);
  REQUIRE(block);
  // 48 tokens: halfway between 204 and 208 us = 206 us.
  CHECK(moe_layer_seconds(*block, 48).seconds == Approx(206e-6).epsilon(1e-9));
  k.block_scales = false;
  const MoeLayerCurve* tensor = models.find(k, true);
  REQUIRE(tensor);
  CHECK(tensor != block);
  CHECK(moe_layer_seconds(*tensor, 32).seconds == Approx(150e-6).epsilon(1e-9));
  // `scales` is for fp8 only: a bf16 layer that says block is refused, naming the key.
  nlohmann::json bad = ds(32, 1e-4, true);
  bad["dtype"] = "bf16";
  CHECK_THROWS_WITH(parse_op_measurements(bench(nlohmann::json::array({bad})).dump(), "bad.json"),
                    Contains("bad.json") && Contains("scales"));
}

TEST_CASE("SGLang's H200 wide-EP MoE layers are read back: DeepSeek-V3 EP16 at 32 tokens", "[quick][perf]")
{
  // platforms/public/aiconfigurator/h200_sxm.sglang-0.5.6.post2 (ai-dynamo/aiconfigurator @095f58a51,
  // h200_sxm/moe/sglang/0.5.6.post2/wideep_generation_moe_perf.parquet, kernel deepepmoe, fp8_block,
  // uniform routing): 256 experts, top-8, EP16, 32 tokens: 0.204 ms, the time of the 16 local experts'
  // weights (16 x 3 x 7168 x 2048 B = 705 MB) at 3.45 TB/s.
  const std::string file = root + "/platforms/public/aiconfigurator/h200_sxm.sglang-0.5.6.post2.json.gz";
  const OpMeasurements m = load_op_measurements(file);
  CHECK_THAT(m.source, Contains("h200_sxm") && Contains("sglang") && Contains("0.5.6.post2"));
  const MoeLayerModels models = moe_layer_models(m.moe);
  MoeLayerKey k = fp8_key(7168, 2048, 256, 8, 16, true);
  const MoeLayerCurve* c = models.find(k, true);
  REQUIRE(c);
  const perf::Estimate e = moe_layer_seconds(*c, 32);
  CHECK(e.seconds == Approx(0.000204).epsilon(1e-9));
  CHECK(e.provenance == Provenance::measured);
  k.block_scales = false; // no per-tensor fp8 layer in that table
  CHECK(models.find(k, true) == nullptr);
}

TEST_CASE("TensorRT-LLM's H200 block-scaled fp8 MoE layers are read back: DeepSeek-R1 EP8 between records",
          "[quick][perf]")
{
  // platforms/public/aiconfigurator/h200_sxm.trtllm-1.3.0rc20 (ai-dynamo/aiconfigurator @095f58a51,
  // h200_sxm/moe/trtllm/1.3.0rc20/moe_perf.parquet, moe_dtype fp8_block, kernel moe_torch_flow_cutlass,
  // balanced routing), imported since the set's `fp8` lists `block_moe`: 256 experts, top-8,
  // 7168 / 2048, EP8. Records: 2,048 tokens 0.5259 ms, 3,072 tokens 0.6580 ms. The trt-dsr1-h200-dep8
  // row's largest decode step gathers 8 x 375 = 3,000 tokens on each rank, read linearly between them:
  // 0.5259 + (3000 - 2048) / (3072 - 2048) x (0.6580 - 0.5259) = 0.5259 + 0.9296875 x 0.1321
  // = 0.648709 ms, interpolated.
  const std::string file = root + "/platforms/public/aiconfigurator/h200_sxm.trtllm-1.3.0rc20.json.gz";
  const MoeLayerModels models = moe_layer_models(load_op_measurements(file).moe);
  MoeLayerKey k = fp8_key(7168, 2048, 256, 8, 8, true);
  const MoeLayerCurve* c = models.find(k, true);
  REQUIRE(c);
  const perf::Estimate e = moe_layer_seconds(*c, 3000);
  CHECK(e.seconds == Approx(0.5259e-3 + 0.9296875 * 0.1321e-3).epsilon(1e-9));
  CHECK(e.provenance == Provenance::interpolated);
  // The table measured no per-tensor fp8 layer of this shape: a per-tensor DeepSeek layer finds none.
  k.block_scales = false;
  CHECK(models.find(k, true) == nullptr);
}

TEST_CASE("TensorRT-LLM's H100 fp8 MoE layers: per-tensor and block-scaled Qwen3-235B EP8 are two curves",
          "[quick][perf]")
{
  // platforms/public/aiconfigurator/h100_sxm.trtllm-1.3.0rc20 (moe_perf.parquet, moe_torch_flow_cutlass,
  // balanced): Qwen3-235B's layer (4096 / 1536, 128 experts, top-8) at EP8 and 128 tokens, measured
  // per tensor (moe_dtype fp8) at 0.1352 ms and with 128x128 blocks (fp8_block) at 0.1327 ms. The
  // published row trt-qwen3-235b-h100-dep8 runs the per-tensor checkpoint and reads the first.
  const std::string file = root + "/platforms/public/aiconfigurator/h100_sxm.trtllm-1.3.0rc20.json.gz";
  const MoeLayerModels models = moe_layer_models(load_op_measurements(file).moe);
  MoeLayerKey k = fp8_key(4096, 1536, 128, 8, 8, false);
  const MoeLayerCurve* tensor = models.find(k, true);
  REQUIRE(tensor);
  CHECK(moe_layer_seconds(*tensor, 128).seconds == Approx(0.1352e-3).epsilon(1e-9));
  CHECK(moe_layer_seconds(*tensor, 128).provenance == Provenance::measured);
  k.block_scales = true;
  const MoeLayerCurve* block = models.find(k, true);
  REQUIRE(block);
  CHECK(block != tensor);
  CHECK(moe_layer_seconds(*block, 128).seconds == Approx(0.1327e-3).epsilon(1e-9));
}

TEST_CASE("two MoE backends measured at one shape: the lookup reads the named one's records", "[quick][perf]")
{
  // One shape and split, two kernels at the same token counts:
  //   CUTLASS (moe_torch_flow_cutlass):         64 tokens 200 us, 512 tokens 400 us;
  //   TRTLLM-gen (moe_torch_flow_min_latency):  64 tokens 100 us, 512 tokens 600 us.
  // At 288 tokens, halfway from 64 to 512:
  //   cutlass 200 + (400 - 200) / 2 = 300 us; trtllm 100 + (600 - 100) / 2 = 350 us;
  //   fastest per token count (100 us at 64, 400 us at 512): 100 + (400 - 100) / 2 = 250 us.
  auto rec = [](const char* kernel, double tokens, double seconds) {
    nlohmann::json r = moe(tokens, seconds);
    r["kernel"] = kernel;
    return r;
  };
  const OpMeasurements m = parse_op_measurements(
      bench({rec("moe_torch_flow_cutlass", 64, 200e-6), rec("moe_torch_flow_min_latency", 64, 100e-6),
             rec("moe_torch_flow_cutlass", 512, 400e-6), rec("moe_torch_flow_min_latency", 512, 600e-6)})
          .dump(),
      "two.json");
  const MoeLayerModels models = moe_layer_models(m.moe);
  // The fastest kernels' curve, then one curve per kernel by name.
  REQUIRE(models.curves.size() == 3);
  const MoeLayerMatch cutlass = models.match(gptoss_ep4(), true, MoeBackend::cutlass);
  REQUIRE(cutlass.curve);
  CHECK_FALSE(cutlass.fallback);
  CHECK(cutlass.curve->kernel == "moe_torch_flow_cutlass");
  CHECK(moe_layer_seconds(*cutlass.curve, 288).seconds == Approx(300e-6).epsilon(1e-9));
  const MoeLayerMatch trtllm = models.match(gptoss_ep4(), true, MoeBackend::trtllm);
  REQUIRE(trtllm.curve);
  CHECK_FALSE(trtllm.fallback);
  CHECK(trtllm.curve->kernel == "moe_torch_flow_min_latency");
  CHECK(moe_layer_seconds(*trtllm.curve, 288).seconds == Approx(350e-6).epsilon(1e-9));
  const MoeLayerCurve* fastest = models.find(gptoss_ep4(), true);
  REQUIRE(fastest);
  CHECK(fastest->kernel.empty()); // mixed: min-latency at 64, CUTLASS at 512
  CHECK(fastest->points[0].where == "two.json: records[1]");
  CHECK(fastest->points[1].where == "two.json: records[2]");
  CHECK(moe_layer_seconds(*fastest, 288).seconds == Approx(250e-6).epsilon(1e-9));
  // A backend without records of a shape falls back to the fastest kernels' curve, and says so.
  const OpMeasurements only_k = parse_op_measurements(bench(nlohmann::json::array({moe(64, 100e-6)})).dump(), "k.json");
  const MoeLayerModels k_models = moe_layer_models(only_k.moe);
  const MoeLayerMatch fb = k_models.match(gptoss_ep4(), true, MoeBackend::cutlass);
  REQUIRE(fb.curve);
  CHECK(fb.fallback);
  CHECK(fb.curve->kernel == "k");
  CHECK_FALSE(k_models.match(gptoss_ep4(), true, MoeBackend::fastest).fallback);
}

TEST_CASE("a rank's fused MoE layers read the schedule's engine MoE backend", "[quick][perf]")
{
  // The schedule of the test above (gpt-oss-120b dp4 x ep4, decode batch 256 a replica): the layer
  // sees 1024 tokens. Records: CUTLASS 300 us at 512 tokens and 600 us at 2048; TRTLLM-gen 100 us
  // and 200 us. At 1024 tokens, a third of the way from 512 to 2048 ((1024 - 512) / 1536):
  //   cutlass 300 + 300 / 3 = 400 us; trtllm 100 + 100 / 3 = 133.33 us; fastest = trtllm's.
  const Model model = load_model_file(root + "/workloads/models/gpt-oss-120b.yaml").model;
  const Layout layout = make_layout(Plan::parse("dp4xep4"), model, 4);
  auto rec = [](const char* kernel, double tokens, double seconds) {
    nlohmann::json r = moe(tokens, seconds);
    r["kernel"] = kernel;
    return r;
  };
  const OpMeasurements m = parse_op_measurements(
      bench({rec("moe_torch_flow_cutlass", 512, 300e-6), rec("moe_torch_flow_cutlass", 2048, 600e-6),
             rec("moe_torch_flow_min_latency", 512, 100e-6), rec("moe_torch_flow_min_latency", 2048, 200e-6)})
          .dump(),
      "t.json");
  const MoeLayerModels models = moe_layer_models(m.moe);
  auto own = [](const Op&) { return MoeLayerTime{10e-6, Provenance::specs}; };
  auto layer0 = [&](MoeBackend b) {
    BuildOptions opt;
    opt.engine.cuda_graphs = true;
    opt.engine.moe_backend = b;
    const Schedule s = build_schedule(model, layout, StepShape{Phase::decode, 1024, 1024, 0}, opt);
    const std::map<int, MoeLayerTime> t = moe_layer_times(models, s, 0, true, own);
    double sum = 0;
    for (const Op& op : s.ranks[0].ops)
      if (op.layer == 0 && t.count(op.id))
        sum += t.at(op.id).seconds;
    return sum;
  };
  CHECK(layer0(MoeBackend::cutlass) == Approx(400e-6).epsilon(1e-9));
  CHECK(layer0(MoeBackend::trtllm) == Approx(100e-6 + 100e-6 / 3).epsilon(1e-9));
  CHECK(layer0(MoeBackend::fastest) == Approx(100e-6 + 100e-6 / 3).epsilon(1e-9));
}

TEST_CASE("TensorRT-LLM's B200 NVFP4 MoE layers keep both backends: DeepSeek-R1 EP4 at 64 tokens", "[quick][perf]")
{
  // platforms/public/aiconfigurator/b200_sxm.trtllm-1.3.0rc20 (ai-dynamo/aiconfigurator @095f58a51,
  // b200_sxm/moe/trtllm/1.3.0rc20/moe_perf.parquet, imported with moe_each_kernel): DeepSeek-R1's
  // shape (hidden 7168, inter 2048, top-8 of 256) under EP4 at 64 tokens: CUTLASS 0.5112 ms,
  // TRTLLM-gen (min latency) 0.2735 ms; the fastest is TRTLLM-gen's.
  const OpMeasurements m =
      load_op_measurements(root + "/platforms/public/aiconfigurator/b200_sxm.trtllm-1.3.0rc20.json.gz");
  const MoeLayerModels models = moe_layer_models(m.moe);
  MoeLayerKey k;
  k.dtype = Dtype::nvfp4;
  k.hidden = 7168;
  k.inter = 2048;
  k.topk = 8;
  k.experts = 256;
  k.moe_ep = 4;
  const MoeLayerMatch c = models.match(k, true, MoeBackend::cutlass);
  REQUIRE(c.curve);
  CHECK_FALSE(c.fallback);
  CHECK(moe_layer_seconds(*c.curve, 64).seconds == Approx(0.0005112).epsilon(1e-9));
  const MoeLayerMatch t = models.match(k, true, MoeBackend::trtllm);
  REQUIRE(t.curve);
  CHECK(moe_layer_seconds(*t.curve, 64).seconds == Approx(0.0002735).epsilon(1e-9));
  CHECK(moe_layer_seconds(*models.find(k, true), 64).seconds == Approx(0.0002735).epsilon(1e-9));
}

TEST_CASE("power-law routed MoE layers are curves of their own, and a key without its routing reads the even curve",
          "[quick][perf]")
{
  // gpt-oss's EP4 layer measured at 256 tokens with balanced routing (300 us) and with power-law
  // expert popularity of exponent 1.2 (360 us): two curves, told apart by the key's exponent.
  nlohmann::json skewed = moe(256, 360e-6);
  skewed["distribution"] = "power_law_1.2";
  const OpMeasurements m = parse_op_measurements(bench({moe(256, 300e-6), skewed}).dump(), "pl.json");
  REQUIRE(m.moe.size() == 2);
  CHECK(m.unmodelled.empty());
  const MoeLayerModels models = moe_layer_models(m.moe);
  REQUIRE(models.curves.size() == 2);
  MoeLayerKey k = gptoss_ep4();
  const MoeLayerMatch even = models.match(k, true, MoeBackend::fastest);
  REQUIRE(even.curve);
  CHECK(moe_layer_seconds(*even.curve, 256).seconds == Approx(300e-6).epsilon(1e-9));
  CHECK_FALSE(even.even_routing);
  k.power_law_alpha = 1.2;
  const MoeLayerMatch pl = models.match(k, true, MoeBackend::fastest);
  REQUIRE(pl.curve);
  CHECK(moe_layer_seconds(*pl.curve, 256).seconds == Approx(360e-6).epsilon(1e-9));
  CHECK_FALSE(pl.even_routing);
  CHECK_THAT(describe(k), Contains("routing power_law_1.2"));
  // Exponent 1.01 was not measured here: the balanced curve stands in, and the match says so.
  k.power_law_alpha = 1.01;
  const MoeLayerMatch none = models.match(k, true, MoeBackend::fastest);
  REQUIRE(none.curve);
  CHECK(none.curve == even.curve);
  CHECK(none.even_routing);
  // A distribution no curve takes stays unmodelled; a power law without a positive exponent is refused.
  nlohmann::json other = moe(256, 1e-4);
  other["distribution"] = "hot_expert";
  CHECK(parse_op_measurements(bench(nlohmann::json::array({other})).dump(), "o.json").unmodelled.count("moe (distribution hot_expert)") == 1);
  nlohmann::json bad = moe(256, 1e-4);
  bad["distribution"] = "power_law_x";
  CHECK_THROWS_WITH(parse_op_measurements(bench(nlohmann::json::array({bad})).dump(), "bad.json"),
                    Contains("bad.json") && Contains("distribution") && Contains("power_law_x"));
}

TEST_CASE("TensorRT-LLM's H200 table holds power-law routed layers: DeepSeek-R1 EP8 at 3,000 tokens",
          "[quick][perf]")
{
  // platforms/public/aiconfigurator/h200_sxm.trtllm-1.3.0rc20 (ai-dynamo/aiconfigurator @095f58a51,
  // moe_perf.parquet, fp8_block, moe_torch_flow_cutlass), distribution power_law_1.01, the exponent
  // AIConfigurator predicts DeepSeek's MoE with (sdk/models/deepseek.py): 2,048 tokens 0.7640 ms,
  // 3,072 tokens 0.9144 ms. At the trt-dsr1-h200-dep8 row's 3,000 gathered tokens, linearly:
  // 0.7640 + (3000 - 2048) / 1024 x (0.9144 - 0.7640) = 0.7640 + 0.9296875 x 0.1504 = 0.903825 ms,
  // 1.39x the balanced curve's 0.648709 ms there (the case above).
  const std::string file = root + "/platforms/public/aiconfigurator/h200_sxm.trtllm-1.3.0rc20.json.gz";
  const MoeLayerModels models = moe_layer_models(load_op_measurements(file).moe);
  MoeLayerKey k = fp8_key(7168, 2048, 256, 8, 8, true);
  k.power_law_alpha = 1.01;
  const MoeLayerMatch m = models.match(k, true, MoeBackend::cutlass);
  REQUIRE(m.curve);
  CHECK_FALSE(m.even_routing);
  CHECK_FALSE(m.fallback);
  CHECK(moe_layer_seconds(*m.curve, 3000).seconds == Approx(0.7640e-3 + 0.9296875 * 0.1504e-3).epsilon(1e-9));
  // The model file carries the exponent, and the lookup key takes it.
  const Model ds = load_model_file(resolve_model_path("deepseek-v3", root + "/workloads/models")).model;
  CHECK(ds.moe.routing_power_law_alpha == 1.01);
  Plan p = Plan::parse("dp8xep8");
  CHECK(moe_layer_key(model_facts(ds), p).power_law_alpha == 1.01);
}

TEST_CASE("an expert-TP MoE split without records reads the EP split over the same GPUs, never as measured",
          "[quick][perf]")
{
  // gpt-oss-120b's mxfp4 layer measured at EP4 only (moe_tp 1): 8 tokens 100 us, 16 tokens 140 us.
  const OpMeasurements m = parse_op_measurements(bench({moe(8, 100e-6), moe(16, 140e-6)}).dump(), "tp.json");
  const MoeLayerModels models = moe_layer_models(m.moe);
  // tp4 (moe_tp 4, ep 1) has no curve of its own: the ep4 one stands in (same 4 GPUs) and says so.
  MoeLayerKey tp4 = gptoss_ep4();
  tp4.moe_tp = 4;
  tp4.moe_ep = 1;
  const MoeLayerMatch sub = models.match(tp4, true, MoeBackend::fastest);
  REQUIRE(sub.curve);
  CHECK(sub.split_stand_in);
  CHECK(sub.curve->key == gptoss_ep4());
  // The exact split, where measured, is read as before and is no stand-in.
  const MoeLayerMatch own = models.match(gptoss_ep4(), true, MoeBackend::fastest);
  CHECK(own.curve == sub.curve);
  CHECK_FALSE(own.split_stand_in);
  // tp2 x ep2 is also 4 GPUs: ep4 stands in. tp2 (2 GPUs) would need ep2, which was not measured.
  MoeLayerKey tp2ep2 = tp4;
  tp2ep2.moe_tp = 2;
  tp2ep2.moe_ep = 2;
  CHECK(models.match(tp2ep2, true, MoeBackend::fastest).curve == sub.curve);
  MoeLayerKey tp2 = tp4;
  tp2.moe_tp = 2;
  CHECK_FALSE(models.match(tp2, true, MoeBackend::fastest).curve);
  // A rank's layers under tp4, decode batch 8 (attention TP: every GPU sees the 8 tokens). Each rank
  // holds all 128 experts at 2880 / 4 = 720 wide and gets 8 x 4 = 32 rows, so the layer sees
  // 32 x ep / top-k = 32 x 1 / 4 = 8 tokens: the ep4 record's 100 us. It is another split's
  // measurement, so the layer is `interpolated`, not `measured`.
  const Model model = load_model_file(root + "/workloads/models/gpt-oss-120b.yaml").model;
  const Layout layout = make_layout(Plan::parse("tp4"), model, 4);
  BuildOptions opt;
  opt.engine.cuda_graphs = true;
  const Schedule s = build_schedule(model, layout, StepShape{Phase::decode, 8, 1024, 0}, opt);
  auto small = [](const Op&) { return MoeLayerTime{1e-6, Provenance::specs}; };
  const std::map<int, MoeLayerTime> t = moe_layer_times(models, s, 0, true, small);
  std::map<int, double> per_layer;
  for (const Op& op : s.ranks[0].ops) {
    const auto it = t.find(op.id);
    if (it == t.end())
      continue;
    per_layer[op.layer] += it->second.seconds;
    if (op.role == OpRole::experts_up)
      CHECK(op.grouped().total_rows() == Approx(32));
    CHECK(it->second.provenance == Provenance::interpolated);
  }
  REQUIRE(static_cast<int>(per_layer.size()) == model.layers);
  for (const auto& [layer, sum] : per_layer)
    CHECK(sum == Approx(100e-6));
}

TEST_CASE("int4 W4A16 experts are a dtype of their own: 4-bit values with a 16-bit scale per 32", "[quick][perf]")
{
  // compressed-tensors int4, group size 32 (Kimi-K2.5's quantization_config: num_bits 4, group_size 32,
  // strategy group; ai-dynamo/aiconfigurator @095f58a51 model_configs/moonshotai--Kimi-K2.5_config.json),
  // one bf16 scale per group: 0.5 + 2 / 32 = 0.5625 bytes an element, where MXFP4's E8M0 scale gives
  // 0.5 + 1 / 32 = 0.53125.
  CHECK(bytes_per_element(Dtype::int4) == Approx(0.5625).epsilon(1e-12));
  CHECK(bytes_per_element(Dtype::mxfp4) == Approx(0.53125).epsilon(1e-12));
  CHECK(parse_dtype("int4") == Dtype::int4);
  CHECK(std::string(to_string(Dtype::int4)) == "int4");
  CHECK_THROWS_WITH(parse_dtype("int3"), Contains("int4"));
  // No tensor-core rate of its own: the roofline takes the bf16 rate (W4A16 runs bf16 math).
  GpuSpec g;
  g.flops[Dtype::bf16] = 989e12;
  g.flops[Dtype::mxfp4] = 2000e12;
  CHECK(g.peak_flops(Dtype::int4) == 989e12);
}

TEST_CASE("vLLM's H200 int4 Marlin MoE layers are read by an int4 key only: Kimi-K2 TP8 at 6 tokens", "[quick][perf]")
{
  // platforms/public/aiconfigurator/h200_sxm.vllm-0.14.0.moe (ai-dynamo/aiconfigurator @095f58a51,
  // h200_sxm/moe/vllm/0.14.0/moe_perf.parquet, moe_dtype int4_wo, kernel vllm_marlin_moe): Kimi-K2's
  // layer (7168 / 2048, 384 experts, top-8) at moe tp 8, power_law_1.01 (kimi-k2.yaml's routing):
  // 4 tokens 0.06406 ms, 8 tokens 0.09057 ms. At 6 tokens, linearly: 0.06406 + 2 / 4 x (0.09057 -
  // 0.06406) = 0.077315 ms, interpolated.
  const std::string file = root + "/platforms/public/aiconfigurator/h200_sxm.vllm-0.14.0.moe.json.gz";
  const OpMeasurements meas = load_op_measurements(file);
  CHECK_THAT(meas.source, Contains("h200_sxm") && Contains("vllm") && Contains("0.14.0"));
  const MoeLayerModels models = moe_layer_models(meas.moe);
  MoeLayerKey k;
  k.dtype = Dtype::int4;
  k.hidden = 7168;
  k.inter = 2048;
  k.topk = 8;
  k.experts = 384;
  k.moe_tp = 8;
  k.power_law_alpha = 1.01;
  const MoeLayerMatch m = models.match(k, true, MoeBackend::fastest);
  REQUIRE(m.curve);
  CHECK_FALSE(m.even_routing);
  CHECK_FALSE(m.split_stand_in);
  const perf::Estimate e = moe_layer_seconds(*m.curve, 6);
  CHECK(e.seconds == Approx(0.06406e-3 + 0.5 * (0.09057e-3 - 0.06406e-3)).epsilon(1e-9));
  CHECK(e.provenance == Provenance::interpolated);
  // The same 4-bit bytes as MXFP4, but not its kernel: an mxfp4 key finds no layer of this shape.
  k.dtype = Dtype::mxfp4;
  CHECK(models.match(k, true, MoeBackend::fastest).curve == nullptr);
}
