// Disaggregated serving: prefill and decode instances apart, the KV sent between them. Every figure
// is derived by hand from constant step and transfer times.
#include "core/serving_disagg.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

using namespace moesim;

namespace {

auto constant(double s)
{
  return [s](const StepLoad&) { return s; };
}

auto transfer(double s)
{
  return [s](int) { return s; };
}

DisaggLimits roomy(int prefill_instances = 1, int decode_instances = 1)
{
  DisaggLimits l;
  l.prefill_instances = prefill_instances;
  l.decode_instances = decode_instances;
  l.prefill.max_num_batched_tokens = 100; // one 100-token prompt a prefill step
  l.decode.max_num_seqs = 64;
  l.prefill.kv_capacity_tokens = l.decode.kv_capacity_tokens = 1e9;
  return l;
}

RequestMix alike(int requests, int input, int output)
{
  RequestMix m;
  m.requests = requests;
  m.input_tokens = input;
  m.output_tokens = output;
  return m;
}

} // namespace

TEST_CASE("One request: prefill, transfer, then decode steps on the other instance", "[quick][serving]")
{
  // Prefill 0.5 s (0 -> 0.5), KV transfer 0.2 s (-> 0.7: the client's first token), decode steps of
  // 0.1 s for tokens 2 and 3 (0.7 -> 0.8 -> 0.9). TTFT 0.7, TPOT (0.9 - 0.7) / 2 = 0.1, e2e 0.9.
  const DisaggResult r =
      simulate_disaggregated(alike(1, 100, 3), roomy(), constant(0.5), constant(0.1), transfer(0.2));
  CHECK(r.serving.ttft.p50 == Approx(0.7));
  CHECK(r.serving.tpot.p50 == Approx(0.1));
  CHECK(r.serving.e2e.p50 == Approx(0.9));
  CHECK(r.serving.makespan == Approx(0.9));
  CHECK(r.serving.output_tok_s == Approx(3 / 0.9));
  CHECK(r.kv_transfer.p50 == Approx(0.2));
  CHECK(r.decode_wait.max == Approx(0.0));
  // Busy: 0.5 of 0.9 s prefilling, 0.2 of 0.9 s decoding.
  CHECK(r.prefill_busy == Approx(0.5 / 0.9));
  CHECK(r.decode_busy == Approx(0.2 / 0.9));
  CHECK(r.prefill_steps == 1);
  CHECK(r.decode_steps == 2);
  CHECK(r.serving.steps == 3);
  CHECK(r.mean_prefill_tokens == Approx(100));
}

TEST_CASE("The router spreads prompts over prefill instances", "[quick][serving]")
{
  // Two 100-token prompts at time 0, a budget of 100 tokens a prefill step.
  // One instance: prompt 0 in 0 -> 0.5, prompt 1 in 0.5 -> 1.0; first tokens at 0.7 and 1.2.
  const DisaggResult one =
      simulate_disaggregated(alike(2, 100, 2), roomy(1), constant(0.5), constant(0.1), transfer(0.2));
  CHECK(one.serving.ttft.p50 == Approx(0.7));
  CHECK(one.serving.ttft.max == Approx(1.2));
  // Two instances: the router gives prompt 1 to the instance with no tokens outstanding, so both
  // prefill in 0 -> 0.5 and both first tokens come at 0.7.
  const DisaggResult two =
      simulate_disaggregated(alike(2, 100, 2), roomy(2), constant(0.5), constant(0.1), transfer(0.2));
  CHECK(two.serving.ttft.max == Approx(0.7));
  // Both decode in one step (0.7 -> 0.8): makespan 0.8, mean decode batch 2.
  CHECK(two.serving.makespan == Approx(0.8));
  CHECK(two.serving.mean_decode_batch == Approx(2));
  // Prefill busy: 2 x 0.5 s of 2 x 0.8 s.
  CHECK(two.prefill_busy == Approx(1.0 / 1.6));
}

TEST_CASE("A decode instance sets KV aside before the prompt starts, so a full one holds prefill back",
          "[quick][serving]")
{
  // The decode instance's KV holds one request of 100 + 1 x 3 = 103 tokens. Request 0 reserves it at
  // 0 and runs: prefill 0 -> 0.5, transfer -> 0.7, decodes 0.7 -> 0.9. Request 1 waits for the KV
  // until 0.9 although two prefill instances are idle: prefill 0.9 -> 1.4, transfer -> 1.6, decodes
  // 1.6 -> 1.8.
  DisaggLimits l = roomy(2);
  l.decode.kv_capacity_tokens = 103;
  const DisaggResult r = simulate_disaggregated(alike(2, 100, 3), l, constant(0.5), constant(0.1), transfer(0.2));
  CHECK(r.kv_reserve_wait.p50 == Approx(0.0));
  CHECK(r.kv_reserve_wait.max == Approx(0.9));
  CHECK(r.serving.ttft.max == Approx(1.6));
  CHECK(r.decode_wait.max == Approx(0.0));
  CHECK(r.serving.tpot.max == Approx(0.1));
  CHECK(r.serving.makespan == Approx(1.8));
}

TEST_CASE("A decode instance's full running batch holds arrived KV back, and TPOT counts the wait",
          "[quick][serving]")
{
  // Room for both requests' KV but one running sequence: both prefill at once (0 -> 0.5), both KV in
  // at 0.7; request 0 decodes 0.7 -> 0.9, request 1 waits until 0.9 and decodes 0.9 -> 1.1.
  DisaggLimits l = roomy(2);
  l.decode.max_num_seqs = 1;
  const DisaggResult r = simulate_disaggregated(alike(2, 100, 3), l, constant(0.5), constant(0.1), transfer(0.2));
  CHECK(r.decode_wait.max == Approx(0.2));
  CHECK(r.decode_wait.p50 == Approx(0.0));
  // TPOT: request 0 (0.9 - 0.7) / 2 = 0.1; request 1 (1.1 - 0.7) / 2 = 0.2.
  CHECK(r.serving.tpot.p50 == Approx(0.1));
  CHECK(r.serving.tpot.max == Approx(0.2));
  CHECK(r.serving.makespan == Approx(1.1));
}

TEST_CASE("Two decode instances share the arriving requests", "[quick][serving]")
{
  // As the first case above but two decode instances of one request's KV each: request 1 goes to the
  // empty one, so both prefill at once, both decode 0.7 -> 0.9 and nothing waits.
  DisaggLimits l = roomy(2, 2);
  l.decode.kv_capacity_tokens = 103;
  const DisaggResult r = simulate_disaggregated(alike(2, 100, 3), l, constant(0.5), constant(0.1), transfer(0.2));
  CHECK(r.kv_reserve_wait.max == Approx(0.0));
  CHECK(r.decode_wait.max == Approx(0.0));
  CHECK(r.serving.makespan == Approx(0.9));
  CHECK(r.serving.mean_decode_batch == Approx(1));
}

TEST_CASE("Chunked prefill splits a long prompt across prefill steps, and the step sees its tokens", "[quick][serving]")
{
  // A 250-token prompt under a 100-token budget: chunks of 100, 100, 50 at 0.001 s a token:
  // 0.1 + 0.1 + 0.05 = 0.25 s, then the 0.2 s transfer: first token at 0.45, the decode step ends at 0.55.
  auto per_token = [](const StepLoad& l) { return 0.001 * l.prefill_tokens; };
  const DisaggResult r = simulate_disaggregated(alike(1, 250, 2), roomy(), per_token, constant(0.1), transfer(0.2));
  CHECK(r.prefill_steps == 3);
  CHECK(r.mean_prefill_tokens == Approx(250.0 / 3));
  CHECK(r.serving.ttft.p50 == Approx(0.45));
  CHECK(r.serving.e2e.p50 == Approx(0.55));
}

TEST_CASE("A one-token request ends at the prefill instance, with no transfer", "[quick][serving]")
{
  int transfers = 0;
  auto counted = [&](int) { return ++transfers, 0.2; };
  const DisaggResult r = simulate_disaggregated(alike(1, 100, 1), roomy(), constant(0.5), constant(0.1), counted);
  CHECK(transfers == 0);
  CHECK(r.serving.ttft.p50 == Approx(0.5));
  CHECK(r.serving.makespan == Approx(0.5));
  CHECK(r.decode_steps == 0);
}

TEST_CASE("Closed-loop arrivals: the next request comes when one ends", "[quick][serving]")
{
  // Concurrency 1, three requests of 100 + 2: each takes 0.5 + 0.2 + 0.1 = 0.8 s and the next
  // arrives at its end: makespan 2.4, every TTFT 0.7.
  RequestMix m = alike(3, 100, 2);
  m.concurrency = 1;
  const DisaggResult r = simulate_disaggregated(m, roomy(), constant(0.5), constant(0.1), transfer(0.2));
  CHECK(r.serving.makespan == Approx(2.4));
  CHECK(r.serving.ttft.max == Approx(0.7));
  CHECK(r.serving.ttft.p50 == Approx(0.7));
}

TEST_CASE("Disaggregated serving refuses what it cannot serve", "[quick][serving]")
{
  DisaggLimits l = roomy();
  l.decode.kv_capacity_tokens = 50; // a request of 100 + 2 does not fit
  CHECK_THROWS_AS(simulate_disaggregated(alike(1, 100, 2), l, constant(0.5), constant(0.1), transfer(0.2)),
                  std::invalid_argument);
  l = roomy();
  l.prefill_instances = 0;
  CHECK_THROWS_AS(simulate_disaggregated(alike(1, 100, 2), l, constant(0.5), constant(0.1), transfer(0.2)),
                  std::invalid_argument);
  CHECK_THROWS_AS(simulate_disaggregated(alike(1, 100, 2), roomy(), constant(0.5), constant(0.1), transfer(0.0)),
                  std::invalid_argument);
}

TEST_CASE("Prompts done in one step send their KV one after the other", "[quick][serving]")
{
  // One prefill instance with a 200-token budget takes both 100-token prompts in one step (0 ->
  // 0.5). Its link sends request 0's KV in 0.5 -> 0.7, then request 1's in 0.7 -> 0.9.
  DisaggLimits l = roomy();
  l.prefill.max_num_batched_tokens = 200;
  const DisaggResult r = simulate_disaggregated(alike(2, 100, 2), l, constant(0.5), constant(0.1), transfer(0.2));
  CHECK(r.prefill_steps == 1);
  CHECK(r.kv_transfer.p50 == Approx(0.2));
  CHECK(r.kv_transfer.max == Approx(0.4));
  CHECK(r.serving.ttft.max == Approx(0.9));
  // Request 0 decodes 0.7 -> 0.8; request 1 arrives at 0.9 and decodes 0.9 -> 1.0.
  CHECK(r.serving.makespan == Approx(1.0));
}

TEST_CASE("A prompt's KV over the decode instance's GPUs", "[quick][serving]")
{
  Model m;
  m.layers = 4;
  m.attn.kind = AttentionKind::gqa;
  m.attn.kv_heads = 4;
  m.attn.head_dim = 128;
  m.dtypes.kv_cache = Dtype::bf16;
  // 4 layers x 100 tokens x 2 (K, V) x 4 heads x 128 x 2 bytes = 819,200 bytes, whether the heads
  // are split 1, 2 or 4 ways.
  CHECK(prompt_kv_bytes(m, 1, 100) == Approx(819200));
  CHECK(prompt_kv_bytes(m, 4, 100) == Approx(819200));
  // TP 8 over 4 KV heads: each of 8 ranks holds one head, 8 heads in all: twice the bytes.
  CHECK(prompt_kv_bytes(m, 8, 100) == Approx(2 * 819200));
  // Every second layer (0 and 2) a window of 32 tokens: 2 x 100 + 2 x 32 = 264 token-layers of 1,024
  // elements x 2 bytes = 540,672 bytes.
  m.attn.sliding_window = 32;
  m.attn.sliding_every = 2;
  CHECK(prompt_kv_bytes(m, 1, 100) == Approx(264 * 2048));
  // MLA: the latent of 512 + 64 on every TP rank: 4 layers x 100 x 576 x 2 bytes x 2 ranks.
  Model mla;
  mla.layers = 4;
  mla.attn.kind = AttentionKind::mla;
  mla.attn.kv_lora_rank = 512;
  mla.attn.qk_rope_head_dim = 64;
  mla.dtypes.kv_cache = Dtype::bf16;
  CHECK(prompt_kv_bytes(mla, 2, 100) == Approx(4 * 100 * 576 * 2 * 2));
}
