// Serving one scenario (pipeline/serve_run.hpp): the loop's throughput derived from the simulated
// step table, the admission rule's limit and its reason, and the refusals.
#include "core/error.hpp"
#include "pipeline/serve_run.hpp"
#include "pipeline/study_run.hpp"
#include "tests/refusal.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

namespace {

// Qwen3-30B-A3B (bf16, ~61 GB of weights) on one H200 with tp1 on vLLM 0.11's profile; `engine`
// is the study's engine entry.
struct SmallStudy {
  test::TempDir dir{"serve_run"};
  PreparedStudy p;
  Scenario sc;
  explicit SmallStudy(const std::string& engine, const std::string& model = "qwen3-30b-a3b")
  {
    StudyRequest q;
    q.root = MOESIM_SOURCE_DIR;
    q.study = dir.write("small.yaml", "name: small\nmodel: " + model + "\nplatforms: [nvswitch-1x-h200]\nphase: decode\n"
                                      "batch: [1]\ncontext: 1024\nrouting: {kind: uniform}\nengine: " +
                                          engine + "\nplans: [tp1]\n");
    p = prepare_study(q);
    PlatformFiles files(p.root);
    Calibrations calibrations;
    sc = expand_study(p.study, files, calibrations, p.calibration, p.what_if).at(0);
  }
};

} // namespace

TEST_CASE("serve: at concurrency 1 the loop's rate is one prefill plus output-1 decode steps per request",
          "[pipeline][serve]")
{
  SmallStudy s("vllm-0.11");
  const ServeWorkload w{3, 512, 64, 1, {}};
  const ServeRun r = run_serve(s.p.study, s.sc, w);
  REQUIRE(r.why.empty());
  // One request in flight: the limit is the concurrency (1 < 3 requests), the table samples batch 1
  // only, and the prefill sample is that one request's 512 tokens.
  CHECK(r.seq_limit == 1);
  CHECK(r.limited_by == SeqLimit::concurrency);
  CHECK(r.gpus == 1);
  const ServeStepTable& t = r.table;
  REQUIRE(t.batches == std::vector<int>{1});
  CHECK(t.prefill_tokens == 512);
  CHECK(t.context_lo == 512);
  CHECK(t.context_hi == 512 + 64 / 2.0);
  // Each request alone: one prefill step P = max(prefill_seconds, decode at batch 1 and context_lo)
  // (a prefill-only step reads the weights at least once), which gives the first token; then 63
  // decode steps at contexts 512+1 .. 512+63. The step time is linear in context between 512 and
  // 512 + 32, and the mean of those contexts is 512 + 32 = context_hi, so the 63 steps sum to
  // 63 x seconds_hi[0] exactly. Per request: P + 63 x s_hi seconds for 64 tokens, and the three
  // requests run back to back, so output tok/s = 64 / (P + 63 s_hi).
  const double P = std::max(t.prefill_seconds, t.seconds_lo[0]);
  const double s_hi = t.seconds_hi[0];
  CHECK(r.result.output_tok_s == Approx(64 / (P + 63 * s_hi)).epsilon(1e-9));
  CHECK(r.tok_s_per_gpu() == Approx(r.result.output_tok_s).epsilon(1e-12));
  CHECK(r.result.ttft.mean == Approx(P).epsilon(1e-9));
  CHECK(r.result.tpot.mean == Approx(s_hi).epsilon(1e-9));
  CHECK(r.result.mean_decode_batch == 1);
  CHECK(r.result.steps == 3 * 64);
  // The longer context costs no less, and the prefill of 512 tokens more than one decode token.
  CHECK(t.seconds_hi[0] >= t.seconds_lo[0]);
  CHECK(t.prefill_seconds > t.seconds_lo[0]);
}

TEST_CASE("serve: the engine's max_num_seqs limits the sequences when the KV cache holds more",
          "[pipeline][serve]")
{
  SmallStudy s("{profile: vllm-0.11, max_num_seqs: 8}");
  const ServeWorkload w{32, 128, 8, 0, {}};
  const ServeRun r = run_serve(s.p.study, s.sc, w);
  REQUIRE(r.why.empty());
  // 32 requests at once, 8 sequences per replica (tp1: one replica): 8. The KV cache of an H200
  // beside 61 GB of weights holds tens of GB, thousands of 136-token requests, so KV is not the limit.
  CHECK(r.engine_seqs == 8);
  CHECK(r.seq_limit == 8);
  CHECK(r.limited_by == SeqLimit::max_num_seqs);
  // The KV admission: floor(kv_tokens / (input + kv_output_share x output)).
  const double per_request = 128 + s.p.study.engine_profile->kv_output_share * 8;
  CHECK(r.kv_seqs == static_cast<int>(r.kv_tokens / per_request));
  CHECK(r.kv_seqs > 1000);
  // Batches sampled up to the limit: 1, 4 and 8; the loop never decodes more than 8 at once.
  CHECK(r.table.batches == std::vector<int>{1, 4, 8});
  CHECK(r.result.mean_decode_batch <= 8);
  CHECK(r.result.mean_decode_batch > 1);
}

TEST_CASE("serve: the KV cache limits long requests", "[pipeline][serve]")
{
  SmallStudy s("vllm-0.11");
  // 32768 + 1024 tokens a request, counted at admission as 32768 + 0.5 x 1024 = 33280 tokens (vLLM's
  // kv_output_share 0.5). Qwen3-30B-A3B keeps 48 layers x 4 KV heads x 128 x 2 (K and V) x 2 bytes
  // = 98304 B a token, so 3.27 GB a request. The H200's 143771 MiB x 0.9 = 135.7 GB, less ~61 GB of
  // bf16 weights (30.5 B parameters) and the activations, leave at most ~74.7 GB: at most 22
  // requests, fewer than the profile's 1024 sequences and the 64 requests; the activations of a
  // step are a few GB at most, so at least 20.
  const ServeWorkload w{64, 32768, 1024, 0, {}};
  const ServeRun r = run_serve(s.p.study, s.sc, w);
  REQUIRE(r.why.empty());
  CHECK(r.limited_by == SeqLimit::kv_capacity);
  CHECK(r.seq_limit == r.kv_seqs);
  CHECK(r.kv_seqs >= 20);
  CHECK(r.kv_seqs <= 22);
  CHECK(r.kv_seqs < r.engine_seqs);
}

TEST_CASE("serve: the KV capacity counts sliding-window layers in full where the engine allocates them so",
          "[pipeline][serve]")
{
  // gpt-oss-120b on one H200, tp1, 1024 + 1024 tokens a request. The capacity is the free memory over
  // the KV bytes of one sequence at context 2048 (+1 decoding), times its 2049 tokens; free memory is
  // the same for both engines (same model, plan and step, and TensorRT-LLM's KV memory rule set to
  // vLLM's here, kv_cache_memory: of_total). Per layer and token 8 KV heads x 64 x 2 x 2 B = 2048 B;
  // vLLM keeps the 18 sliding layers' 128-token window, 18 x 2049 + 18 x 128 = 39186 token-layers;
  // TensorRT-LLM allocates all 36 layers in full, 36 x 2049 = 73764. So TensorRT-LLM's capacity in
  // tokens is 39186 / 73764 of vLLM's.
  SmallStudy v("vllm-0.11", "gpt-oss-120b"), t("{profile: trtllm-1.0, kv_cache_memory: of_total}", "gpt-oss-120b");
  const ServeWorkload w{4, 1024, 1024, 0, {}};
  const ServeRun rv = run_serve(v.p.study, v.sc, w), rt = run_serve(t.p.study, t.sc, w);
  REQUIRE(rv.why.empty());
  REQUIRE(rt.why.empty());
  CHECK(rt.kv_tokens / rv.kv_tokens == Approx(39186.0 / 73764.0).epsilon(1e-9));
}

TEST_CASE("serve: an engine whose mixed steps run eagerly samples the eager decode steps", "[pipeline][serve]")
{
  // TensorRT-LLM (mixed_step_graphs false): one eager-minus-graphed difference per sampled decode
  // batch. An eager step launches every op from the host where the graph costs one launch, so each
  // difference is positive. With the fact set true the table has none.
  // 4 requests of 1024 + 1024 tokens, 2048 tokens a step, whole prompts (chunked prefill off): step 1
  // admits two, step 2 the third beside two decodes (2046 tokens left), step 3 the fourth: two mixed
  // steps. A mixed step is one forward, decode + max(eager extra, prompt time): on this H200 (its
  // measured host costs) every sampled extra is below one 1024-token prompt's GPU time, so the
  // prompts hide the launches and the eager run takes exactly as long as the graphed one (summed,
  // as before, the eager run would be longer by the two extras).
  SmallStudy t("trtllm-1.0", "gpt-oss-120b");
  t.p.study.engine_profile->max_num_batched_tokens = 2048;
  const ServeWorkload w{4, 1024, 1024, 0, {}};
  const ServeRun eager = run_serve(t.p.study, t.sc, w);
  REQUIRE(eager.why.empty());
  REQUIRE(eager.table.eager_extra_seconds.size() == eager.table.batches.size());
  const double prompt = eager.table.prefill_seconds / eager.table.prefill_tokens * 1024;
  for (double x : eager.table.eager_extra_seconds) {
    CHECK(x > 0);
    CHECK(x < prompt);
  }
  t.p.study.engine_profile->mixed_step_graphs = true;
  const ServeRun graphed = run_serve(t.p.study, t.sc, w);
  REQUIRE(graphed.why.empty());
  CHECK(graphed.table.eager_extra_seconds.empty());
  CHECK(eager.result.steps == graphed.result.steps);
  CHECK(eager.result.makespan == Approx(graphed.result.makespan).epsilon(1e-12));
}

TEST_CASE("serve: an engine without graph padding samples the graphed steps and decides per step",
          "[pipeline][serve]")
{
  // TensorRT-LLM with cuda_graph_config batch_sizes [4] and no enable_padding (graph_padding false):
  // its model engine replays a graph only for a batch of exactly 4. The decode samples are the
  // graphed steps as with padding (batch 1 padded to 4's graph), one eager extra is sampled per
  // batch, and the table carries the captured sizes, so the loop prices 4 decodes as the graph and
  // 1-3 eagerly (core/serve_steps, replays_graph). Padding on: the same samples, no size rule.
  SmallStudy t("{profile: trtllm-1.0, capture_sizes: [4], graph_padding: false}", "gpt-oss-120b");
  SmallStudy p("{profile: trtllm-1.0, capture_sizes: [4]}", "gpt-oss-120b");
  const ServeWorkload w{4, 1024, 64, 0, {}};
  const ServeRun exact = run_serve(t.p.study, t.sc, w), padded = run_serve(p.p.study, p.sc, w);
  REQUIRE(exact.why.empty());
  REQUIRE(padded.why.empty());
  CHECK(exact.table.exact_graph_batches == std::vector<int>{4});
  CHECK(exact.table.replicas == 1);
  CHECK(padded.table.exact_graph_batches.empty());
  REQUIRE(exact.table.batches == padded.table.batches);
  CHECK(exact.table.seconds_lo == padded.table.seconds_lo);
  CHECK(exact.table.seconds_hi == padded.table.seconds_hi);
  REQUIRE(exact.table.eager_extra_seconds.size() == exact.table.batches.size());
  // Batch 1 runs eagerly in the exact-size engine: its step costs the graphed one plus the extra.
  StepLoad one;
  one.decode_seqs = 1;
  one.decode_context = exact.table.context_lo;
  CHECK(exact.table.eager_extra_seconds[0] > 0);
  CHECK(serve_step_seconds(exact.table, one) ==
        Approx(exact.table.seconds_lo[0] + exact.table.eager_extra_seconds[0]).epsilon(1e-12));
  CHECK(serve_step_seconds(padded.table, one) == Approx(padded.table.seconds_lo[0]).epsilon(1e-12));
  // The run: all 4 requests decode together at batch 4 (graphed in both) until they finish together,
  // so only the steps below 4 could differ, and there are none: the same makespan.
  CHECK(exact.result.makespan == Approx(padded.result.makespan).epsilon(1e-12));
}

TEST_CASE("serve: under trtllm-bench's limits each replica admits its max_num_tokens a step", "[pipeline][serve]")
{
  // Qwen3-30B-A3B (bf16) on one H200, 1024 + 1024 tokens a request. trtllm-bench's heuristic
  // (core/bench_limits): KV 2 x 48 layers x 4 KV heads x 128 x 2 B = 98304 B a token; the checkpoint
  // ~30.5e9 elements x 2 B = ~56.9 GiB of the GPU's ~140 GiB, so ~83.5 GiB x 0.9 of KV = ~75 GiB,
  // ~400 requests of 2048 tokens. max_batch_size rounds that up to 512; max_num_tokens is 400 x
  // (1 + 1024 / 1024) = ~800, raised to its floor of 2048 (and 1024 + 512 = 1536 is below it). So a
  // step admits 2048 tokens, not the profile's 8192: with no decodes yet two whole prompts, then one
  // a step beside the decodes (chunked prefill is off). The cost of a prompt token is still read off
  // a prefill step of the profile's 8192 tokens (8 prompts).
  SmallStudy b("{profile: trtllm-1.0, batch_limits: trtllm_bench}");
  SmallStudy f("{profile: trtllm-1.0, max_num_seqs: 512}");
  const ServeWorkload w{16, 1024, 1024, 0, {}};
  const ServeRun rb = run_serve(b.p.study, b.sc, w), rf = run_serve(f.p.study, f.sc, w);
  REQUIRE(rb.why.empty());
  REQUIRE(rf.why.empty());
  CHECK(rb.step_tokens == 2048);
  CHECK(rf.step_tokens == 8192);
  CHECK(rb.engine_seqs == 512);
  CHECK(rb.table.prefill_tokens == 8 * 1024);
  CHECK(rf.table.prefill_tokens == 8 * 1024);
  // 16 prompts at two a step, then one, need at least 8 steps before the last one's first token; at
  // 8192 tokens, 8 a step, then 7, three steps. The same steps cost the same, so the slower admission
  // shows in the time to the last first token and in a smaller mean decode batch.
  CHECK(rb.result.ttft.max > rf.result.ttft.max);
  CHECK(rb.result.mean_decode_batch < rf.result.mean_decode_batch);
}

TEST_CASE("serve: TensorRT-LLM keeps the fraction of what its profiling step leaves as KV cache", "[pipeline][serve]")
{
  // Qwen3-30B-A3B (bf16, ~30.5e9 weights x 2 B = ~56.8 GiB) on one H200 (140.4 GiB, 0.9 of it
  // usable: 126.4). The total-fraction rule (vLLM's) keeps 126.4 - 56.8 = ~69.6 GiB of KV (the
  // decode sample's activations are a few MB). TensorRT-LLM first runs a prefill of its
  // max_num_tokens (8192: 8 prompts of 1024), whose activations are 8192 x 8 x (2 x 2048 + 2 x 768)
  // x 2 B of expert copies plus 8192 x 2048 x 4 B of residual stream = 805,306,368 B (~0.75 GiB;
  // tests/pipeline/test_memory_fit.cpp), then keeps 0.9 x (140.4 - 56.8 - 0.75) = ~74.6 GiB: ~1.072
  // times as many tokens.
  SmallStudy f("{profile: trtllm-1.0, max_num_seqs: 512}");
  SmallStudy t("{profile: trtllm-1.0, max_num_seqs: 512, kv_cache_memory: of_total}");
  const ServeWorkload w{16, 1024, 1024, 0, {}};
  const ServeRun rf = run_serve(f.p.study, f.sc, w), rt = run_serve(t.p.study, t.sc, w);
  REQUIRE(rf.why.empty());
  REQUIRE(rt.why.empty());
  CHECK(rf.profile_activations == Approx(805306368.0).epsilon(1e-12));
  CHECK(rt.profile_activations == 0);
  CHECK(rf.kv_tokens / rt.kv_tokens == Approx(1.072).epsilon(0.01));
}

TEST_CASE("serve: a study without an engine profile and a non-positive workload are refused", "[quick][pipeline][serve]")
{
  const std::string root = MOESIM_SOURCE_DIR;
  const Study st = load_study_file(root + "/workloads/studies/prefill.yaml", root);
  REQUIRE_FALSE(st.engine_profile);
  const std::string m = test::refusal([&] { (void)run_serve(st, Scenario{}, ServeWorkload{}); });
  CHECK_THAT(m, Catch::Contains("prefill.yaml") && Catch::Contains("engine") && Catch::Contains("vllm-0.11"));
  CHECK_THAT(test::refusal([] { check_serve_workload({0, 1, 1, 0, {}}, "command line"); }), Catch::Contains("--requests"));
  CHECK_THAT(test::refusal([] { check_serve_workload({1, 1, -3, 0, {}}, "command line"); }), Catch::Contains("--output"));
  CHECK_THAT(test::refusal([] { check_serve_workload({1, 1, 1, -1, {}}, "command line"); }),
             Catch::Contains("--concurrency"));
  CHECK(test::refusal([] { check_serve_workload({1, 1, 1, 0, {}}, "command line"); }) == "accepted");
}

TEST_CASE("serve: two listed requests, one output 10x the other, end on the long one decoding alone",
          "[pipeline][serve]")
{
  SmallStudy s("vllm-0.11");
  ServeWorkload w{2, 0, 0, 0, {}}; // input and output are not read beside a list (a published row leaves them 0)
  w.lengths.pairs = {{512, 8}, {512, 80}};
  const ServeRun r = run_serve(s.p.study, s.sc, w);
  REQUIRE(r.why.empty());
  // Both run at once (2 requests, far below the engine's and the KV cache's limits). The table
  // samples batches 1 and 2 from the shortest prompt (512) to the mean request's context over its
  // life, 512 + 44 / 2 = 534; the prefill sample is both prompts, 2 x 512 (the rounded mean input).
  CHECK(r.seq_limit == 2);
  CHECK(r.limited_by == SeqLimit::requests);
  const ServeStepTable& t = r.table;
  REQUIRE(t.batches == std::vector<int>{1, 2});
  CHECK(t.context_lo == 512);
  CHECK(t.context_hi == 534);
  CHECK(t.prefill_tokens == 1024);
  CHECK(r.mean_output == 44);
  // The loop, step by step: step 1 prefills both prompts (1024 tokens, no decode); both first
  // tokens at its end. Steps k = 2..8 decode both at context 512 + (k - 1) (prompt + tokens so far);
  // after step 8 A has its 8 tokens. Steps 9..80 decode B alone at 512 + (k - 1); after step 80 B
  // has 80. Each step's time is the table's (serve_step_seconds), so the makespan is their sum and
  // output tok/s = (8 + 80) / makespan.
  auto step = [&](int decode, double context, int prefill) {
    StepLoad l;
    l.decode_seqs = decode;
    l.decode_context = context;
    l.prefill_tokens = prefill;
    l.prefill_seqs = prefill ? 2 : 0;
    return serve_step_seconds(t, l);
  };
  const double s1 = step(0, 0, 1024);
  double t8 = s1, t80 = 0;
  for (int k = 2; k <= 8; k++)
    t8 += step(2, 512 + (k - 1), 0);
  t80 = t8;
  for (int k = 9; k <= 80; k++)
    t80 += step(1, 512 + (k - 1), 0);
  CHECK(r.result.steps == 80);
  CHECK(r.result.makespan == Approx(t80).epsilon(1e-12));
  CHECK(r.result.output_tok_s == Approx(88 / t80).epsilon(1e-12));
  CHECK(r.result.ttft.max == Approx(s1).epsilon(1e-12));
  // TPOT: A (t8 - s1) / 7, B (t80 - s1) / 79; the mean of the two.
  CHECK(r.result.tpot.mean == Approx(((t8 - s1) / 7 + (t80 - s1) / 79) / 2).epsilon(1e-12));
  // Mean decode batch: 7 steps of 2 and 72 of 1 over 79 steps = 86 / 79.
  CHECK(r.result.mean_decode_batch == Approx(86.0 / 79).epsilon(1e-12));
  // At the mean lengths (both 44 outputs) the two would decode together to the end: a higher rate
  // than the tail of one long output decoding alone.
  const ServeRun m = run_serve(s.p.study, s.sc, ServeWorkload{2, 512, 44, 0, {}});
  REQUIRE(m.why.empty());
  CHECK(m.result.output_tok_s > 1.3 * r.result.output_tok_s);
}

TEST_CASE("serve: a list of alike lengths runs as the fixed lengths do, number for number", "[pipeline][serve]")
{
  SmallStudy s("vllm-0.11");
  // Three requests of 512 + 64 one at a time, fixed and as a list: the table's contexts (512 and
  // 512 + 64 / 2), the KV per request, the prefill sample and the loop are the same, so every number is.
  const ServeRun a = run_serve(s.p.study, s.sc, ServeWorkload{3, 512, 64, 1, {}});
  ServeWorkload w{3, 1, 1, 1, {}};
  w.lengths.pairs = {{512, 64}};
  const ServeRun b = run_serve(s.p.study, s.sc, w);
  REQUIRE(a.why.empty());
  REQUIRE(b.why.empty());
  CHECK(a.table.context_hi == b.table.context_hi);
  CHECK(a.table.seconds_hi == b.table.seconds_hi);
  CHECK(a.kv_tokens == b.kv_tokens);
  CHECK(a.result.output_tok_s == b.result.output_tok_s);
  CHECK(a.result.ttft.p99 == b.result.ttft.p99);
  CHECK(a.result.tpot.p50 == b.result.tpot.p50);
  CHECK(a.seq_limit == b.seq_limit);
}

TEST_CASE("serve: a request whose KV cannot fit alone, and unsound distributions, are refused", "[pipeline][serve]")
{
  SmallStudy s("vllm-0.11");
  // One listed request of 1,000,000 input tokens: its KV (~98 GB) cannot fit beside the weights.
  ServeWorkload w{2, 1, 1, 0, {}};
  w.lengths.pairs = {{16, 4}, {1'000'000, 1}};
  CHECK_THAT(run_serve(s.p.study, s.sc, w).why, Catch::Contains("does not fit"));
  ServeWorkload d{4, 16, 1, 0, {}};
  d.lengths.output.kind = LengthKind::lognormal;
  d.lengths.output.mean = 100, d.lengths.output.sigma = -1, d.lengths.output.min = 1, d.lengths.output.max = 10;
  CHECK_THAT(test::refusal([&] { check_serve_workload(d, "command line"); }),
             Catch::Contains("--output-dist") && Catch::Contains("sigma -1 is negative"));
  d.lengths.output.sigma = 1, d.lengths.output.min = 20;
  CHECK_THAT(test::refusal([&] { check_serve_workload(d, "command line"); }),
             Catch::Contains("min 20 is above max 10"));
}
