// The serving loop's step-time table: decode interpolated in batch and context, prefill by the token,
// the KV capacity read off one step's memory, and the sample batches.
#include "core/serve_steps.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

namespace {

// Decode samples at batches 1, 4, 16 and contexts 1000 / 2000 (seconds in ms), prefill 8192 tokens
// in 0.8192 s (100 us per token).
ServeStepTable table()
{
  ServeStepTable t;
  t.batches = {1, 4, 16};
  t.context_lo = 1000;
  t.context_hi = 2000;
  t.seconds_lo = {0.010, 0.011, 0.014};
  t.seconds_hi = {0.010, 0.012, 0.018};
  t.prefill_tokens = 8192;
  t.prefill_seconds = 0.8192;
  return t;
}

} // namespace

TEST_CASE("serve sample batches: 1, 4, 16, ... and the limit", "[quick][serving]")
{
  CHECK(serve_sample_batches(1) == std::vector<int>{1});
  CHECK(serve_sample_batches(16) == std::vector<int>{1, 4, 16});
  CHECK(serve_sample_batches(100) == std::vector<int>{1, 4, 16, 64, 100});
}

TEST_CASE("the prefill sample holds whole prompts on every attention-DP replica alike", "[quick][serving]")
{
  // One replica (TP1), 8,192 tokens a step, 1,024-token prompts: 8192 / 1024 = 8 prompts, as many as
  // the loop's budget takes in one step (the limit of 504 sequences does not bind).
  CHECK(serve_prefill_sample_seqs(504, 1, 8192, 1024) == 8);
  // Four replicas, 8,192 tokens each, 32,768-token prompts: no replica's budget holds one, so one
  // each (the loop admits a whole prompt into a replica whose own budget was raised to hold it):
  // 4, where one prompt in all would leave three replicas idle, or padded to its tokens.
  CHECK(serve_prefill_sample_seqs(143, 4, 8192, 32768) == 4);
  // Eight replicas, 8,192 tokens each, 1,000-token prompts: 8192 / 1000 = 8 whole prompts a replica,
  // 64 in all (the pooled budget, 65,536 / 1,000 = 65, would put a ninth on one replica, and every
  // replica would run its 9,000 tokens).
  CHECK(serve_prefill_sample_seqs(3000, 8, 8192, 1000) == 64);
  // The sequence limit binds: 12 sequences over 4 replicas = 3 a replica, below 8192 / 1024 = 8: 12.
  CHECK(serve_prefill_sample_seqs(12, 4, 8192, 1024) == 12);
  // Fewer sequences than replicas still samples one prompt on each: 4.
  CHECK(serve_prefill_sample_seqs(2, 4, 8192, 1024) == 4);
  CHECK_THROWS_AS(serve_prefill_sample_seqs(0, 4, 8192, 1024), std::invalid_argument);
  CHECK_THROWS_AS(serve_prefill_sample_seqs(8, 0, 8192, 1024), std::invalid_argument);
}

TEST_CASE("decode steps interpolate linearly in batch, then in context", "[quick][serving]")
{
  const ServeStepTable t = table();
  // Batch 10 lies halfway between 4 and 16: at context 1000, (11 + 14) / 2 = 12.5 ms; at 2000,
  // (12 + 18) / 2 = 15 ms. Context 1500 is halfway: 13.75 ms.
  CHECK(decode_step_seconds(t, 10, 1500) == Approx(0.01375));
  // Beyond the last batch along the last segment: batch 28 at 1000 = 14 + (28 - 16) / 12 x 3 = 17 ms.
  CHECK(decode_step_seconds(t, 28, 1000) == Approx(0.017));
  // Beyond the last context: batch 16 at 3000 = 14 + 2 x (18 - 14) = 22 ms.
  CHECK(decode_step_seconds(t, 16, 3000) == Approx(0.022));
  // Far below the sampled contexts the line would go negative; the floor is 0.1 x 10 ms.
  CHECK(decode_step_seconds(t, 16, -10000) == Approx(0.001));
}

TEST_CASE("a loop step adds the prompt tokens at the sampled prefill cost", "[quick][serving]")
{
  const ServeStepTable t = table();
  // 4 decodes at context 1000 (11 ms) + 500 prompt tokens x 100 us = 11 + 50 = 61 ms.
  StepLoad mixed;
  mixed.decode_seqs = 4;
  mixed.decode_context = 1000;
  mixed.prefill_tokens = 500;
  CHECK(serve_step_seconds(t, mixed) == Approx(0.061));
  // Prefill alone: 8192 tokens = 819.2 ms; 20 tokens would be 2 ms but cost at least a batch-1
  // decode step at context 1000 (10 ms).
  StepLoad big, small;
  big.prefill_tokens = 8192;
  small.prefill_tokens = 20;
  CHECK(serve_step_seconds(t, big) == Approx(0.8192));
  CHECK(serve_step_seconds(t, small) == Approx(0.010));
  ServeStepTable empty;
  CHECK_THROWS_AS(serve_step_seconds(empty, mixed), std::invalid_argument);
}

TEST_CASE("an engine whose mixed steps run eagerly adds the eager extra to steps with prompt tokens",
          "[quick][serving]")
{
  // Eager decode steps cost 30, 36 and 60 ms more than the graphed ones at batches 1, 4 and 16. A
  // mixed step is one eager forward: its host launches (the extra) overlap the GPU's work on the
  // prompt tokens, so the step costs decode + max(extra, prompt time).
  ServeStepTable t = table();
  t.eager_extra_seconds = {0.030, 0.036, 0.060};
  // 4 decodes + 500 prompt tokens: decode 11 ms, prompt 50 ms (the case above, 61 ms), extra 36 ms
  // hidden under the prompt's 50: 11 + max(36, 50) = 61 ms.
  StepLoad mixed;
  mixed.decode_seqs = 4;
  mixed.decode_context = 1000;
  mixed.prefill_tokens = 500;
  CHECK(serve_step_seconds(t, mixed) == Approx(0.061));
  // Batch 10 lies halfway between 4 and 16: extra (36 + 60) / 2 = 48 ms; decode 12.5 ms (context
  // 1000); 100 prompt tokens 10 ms, hidden under the extra: 12.5 + max(48, 10) = 60.5 ms.
  mixed.decode_seqs = 10;
  mixed.prefill_tokens = 100;
  CHECK(serve_step_seconds(t, mixed) == Approx(0.0605));
  // A decode-only step replays its graph: no extra (batch 4, context 1000: 11 ms).
  StepLoad decode;
  decode.decode_seqs = 4;
  decode.decode_context = 1000;
  CHECK(serve_step_seconds(t, decode) == Approx(0.011));
  // Prefill alone is eager anyway, and priced as before: 8192 tokens = 819.2 ms.
  StepLoad big;
  big.prefill_tokens = 8192;
  CHECK(serve_step_seconds(t, big) == Approx(0.8192));
  // One extra per sampled batch, or the table is refused.
  t.eager_extra_seconds = {0.030};
  CHECK_THROWS_AS(serve_step_seconds(t, mixed), std::invalid_argument);
}

TEST_CASE("graphs of exact sizes only: an uncaptured decode batch adds the eager extra", "[quick][serving]")
{
  // Two attention-DP replicas whose engine captured batches 2 and 8 per replica without padding.
  // A decode-only step replays a graph when its sequences split evenly into a captured size: 4
  // (2 + 2) and 16 (8 + 8) do; 6 (3 + 3) is not captured, 5 (3 + 2) is uneven; both run eagerly.
  ServeStepTable t = table();
  t.eager_extra_seconds = {0.030, 0.036, 0.060};
  t.exact_graph_batches = {2, 8};
  t.replicas = 2;
  CHECK(replays_graph(t, 4));
  CHECK(replays_graph(t, 16));
  CHECK_FALSE(replays_graph(t, 6));
  CHECK_FALSE(replays_graph(t, 5));
  // Batch 4 at context 1000 replays its graph: 11 ms. Batch 6 lies a sixth of the way from 4 to 16:
  // decode 11 + 3 / 6 = 11.5 ms, extra 36 + 24 / 6 = 40 ms, eager: 11.5 + 40 = 51.5 ms.
  StepLoad decode;
  decode.decode_context = 1000;
  decode.decode_seqs = 4;
  CHECK(serve_step_seconds(t, decode) == Approx(0.011));
  decode.decode_seqs = 6;
  CHECK(serve_step_seconds(t, decode) == Approx(0.0515));
  // Without the rule (padding on, or one replica holding 6 among its captures) the same step replays.
  ServeStepTable padded = t;
  padded.exact_graph_batches.clear();
  CHECK(replays_graph(padded, 6));
  CHECK(serve_step_seconds(padded, decode) == Approx(0.0115));
  // An engine that replays graphs for mixed steps too (mixed_eager false) prices a mixed step without
  // the extra whatever its batch: 6 decodes (11.5 ms) + 500 prompt tokens (50 ms) = 61.5 ms; with
  // mixed steps eager the 40 ms extra hides under the prompt's 50: also 61.5 ms, and with 100 prompt
  // tokens (10 ms) it shows: 11.5 + max(40, 10) = 51.5 ms against 11.5 + 10 = 21.5 ms.
  StepLoad mixed = decode;
  mixed.prefill_tokens = 500;
  CHECK(serve_step_seconds(t, mixed) == Approx(0.0615));
  mixed.prefill_tokens = 100;
  CHECK(serve_step_seconds(t, mixed) == Approx(0.0515));
  t.mixed_eager = false;
  CHECK(serve_step_seconds(t, mixed) == Approx(0.0215));
  // The decode-only rule holds either way.
  CHECK(serve_step_seconds(t, decode) == Approx(0.0515));
}

TEST_CASE("KV capacity: free memory over the sampled KV bytes, times the sampled tokens", "[quick][serving]")
{
  // 80 GB usable, 60 GB weights, 2 GB activations: 18 GB free. The sample kept 4096 tokens in
  // 1 GB of KV on the busiest GPU: 18 x 4096 = 73728 tokens.
  CHECK(kv_capacity_tokens(80e9, 60e9, 2e9, 1e9, 4096) == Approx(73728));
  CHECK(kv_capacity_tokens(50e9, 60e9, 2e9, 1e9, 4096) == 0);
}

TEST_CASE("KV capacity of the free memory: the fraction of what the profiling step leaves", "[quick][serving]")
{
  // 100 GB total, fraction 0.9, 60 GB weights, 2 GB of profiling activations: 0.9 x 38 = 34.2 GB
  // of KV. The sample kept 4096 tokens in 1 GB: 34.2 x 4096 = 140,083.2 tokens. The total-fraction
  // rule on the same GPU (90 GB usable) leaves 90 - 62 = 28 GB: 114,688 tokens.
  CHECK(kv_capacity_tokens_of_free(100e9, 0.9, 60e9, 2e9, 1e9, 4096) == Approx(140083.2).epsilon(1e-12));
  CHECK(kv_capacity_tokens(90e9, 60e9, 2e9, 1e9, 4096) == Approx(114688).epsilon(1e-12));
  // Nothing left after the weights and the profiling step: no KV.
  CHECK(kv_capacity_tokens_of_free(100e9, 0.9, 99e9, 2e9, 1e9, 4096) == 0);
  CHECK(kv_capacity_tokens_of_free(100e9, 0.9, 60e9, 2e9, 0, 4096) == 0);
}

TEST_CASE("KV admission counts kv_output_share of the output", "[quick][serving]")
{
  // 100 tokens of KV; requests of 10 in, 20 out. Reserving the whole output (share 1), a request
  // counts 30 tokens: 3 run at once, so the 4th waits for the first three (TTFT of the 4th > its
  // first step). Counting half (share 0.5), a request counts 20: all 4 fit (80 <= 100) and every
  // one prefills in the first step.
  auto step = [](const StepLoad&) { return 1e-3; };
  ServingLimits whole{8, 1000, 100, 1, 1};
  const ServingResult a = simulate_serving({4, 10, 20, 0, 0, 1}, whole, step);
  CHECK(a.ttft.max > 1.5e-3);
  ServingLimits half = whole;
  half.kv_output_share = 0.5;
  const ServingResult b = simulate_serving({4, 10, 20, 0, 0, 1}, half, step);
  CHECK(b.ttft.max == Approx(1e-3));
  half.kv_output_share = 1.5;
  CHECK_THROWS_AS(simulate_serving({4, 10, 20, 0, 0, 1}, half, step), std::invalid_argument);
}
