// The continuous-batching loop: TTFT, TPOT and throughput derived by hand for small mixes, chunked
// prefill, speculative decoding, closed-loop arrivals and the sequence limit.
#include "core/serving.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace moesim;

namespace {

auto constant(double s)
{
  return [s](const StepLoad&) { return s; };
}

} // namespace

TEST_CASE("Percentiles are nearest-rank", "[quick][serving]")
{
  std::vector<double> v;
  for (int i = 100; i >= 1; i--)
    v.push_back(i);
  const Percentiles p = percentiles(v);
  // ranks ceil(0.5 * 100) = 50, ceil(0.9 * 100) = 90, ceil(0.99 * 100) = 99; mean 5050 / 100.
  CHECK(p.p50 == 50);
  CHECK(p.p90 == 90);
  CHECK(p.p99 == 99);
  CHECK(p.max == 100);
  CHECK(p.mean == Approx(50.5));
}

TEST_CASE("Four requests at once: one prefill step, then four decode steps", "[quick][serving]")
{
  // 4 requests of 100 input and 5 output tokens, steps of 10 ms, budget 1000 tokens:
  // step 1 prefills all four (400 tokens) and emits their first tokens at 10 ms; steps 2..5 decode
  // one token each, so they end at 50 ms. TTFT 10 ms, TPOT (50 - 10) / 4 = 10 ms, output
  // 4 x 5 / 0.05 s = 400 tok/s.
  const ServingResult r = simulate_serving({4, 100, 5, 4, 0, 1, {}, {}}, {8, 1000, 1e18, 1, 1}, constant(0.010));
  CHECK(r.steps == 5);
  CHECK(r.ttft.p50 == Approx(0.010));
  CHECK(r.tpot.max == Approx(0.010));
  CHECK(r.e2e.p99 == Approx(0.050));
  CHECK(r.makespan == Approx(0.050));
  CHECK(r.output_tok_s == Approx(400));
  CHECK(r.mean_decode_batch == Approx(4));
}

TEST_CASE("Chunked prefill: a 2500-token prompt in chunks of 1000, 1000, 500", "[quick][serving]")
{
  // Step time 1 ms + 1 us per prefill token + 0.1 ms per decoding request.
  // Steps: 1000 tokens (2.0 ms, ends 2.0), 1000 (2.0, ends 4.0), 500 (1.5, ends 5.5: first token),
  // then two decodes of 1.1 ms (6.6, 7.7) for output tokens 2 and 3.
  // TTFT 5.5 ms; TPOT (7.7 - 5.5) / 2 = 1.1 ms. The chunks see 0, 1000 and 2000 tokens before them.
  std::vector<StepLoad> seen;
  auto step = [&](const StepLoad& l) {
    seen.push_back(l);
    return 1e-3 + 1e-6 * l.prefill_tokens + 1e-4 * l.decode_seqs;
  };
  const ServingResult r = simulate_serving({1, 2500, 3, 1, 0, 1, {}, {}}, {8, 1000, 1e18, 1, 1}, step);
  REQUIRE(seen.size() == 5);
  CHECK(seen[0].prefill_tokens == 1000);
  CHECK(seen[1].prefill_context == 1000);
  CHECK(seen[2].prefill_tokens == 500);
  CHECK(seen[2].prefill_context == 2000);
  CHECK(seen[3].decode_seqs == 1);
  CHECK(seen[3].decode_context == Approx(2501)); // 2500 prompt tokens + 1 output token in the cache
  CHECK(r.ttft.p50 == Approx(5.5e-3));
  CHECK(r.tpot.p50 == Approx(1.1e-3));
}

TEST_CASE("Without chunked prefill a prompt enters whole, into a replica whose budget holds it", "[quick][serving]")
{
  // 4 requests of 1000 input and 3 output tokens at once, steps of 1 s, 3000 tokens a step over 2
  // replicas (1500 each). Whole prompts: step 1 has no decodes, each replica holds one prompt
  // (1500 / 1000 = 1): requests 1-2, first tokens at 1 s. Step 2 decodes 2 (1 a replica, 1499 left):
  // one prompt a replica, requests 3-4, first tokens at 2 s. Requests 1-2 end at step 3, 3-4 at
  // step 4. TTFT mean (1 + 1 + 2 + 2) / 4 = 1.5 s.
  // Chunked, the same budget takes requests 1-3 whole in step 1 (3000 tokens) and request 4 in step
  // 2 (2997 left): TTFT (1 + 1 + 1 + 2) / 4 = 1.25 s, also 4 steps.
  std::vector<StepLoad> seen;
  auto step = [&](const StepLoad& l) {
    seen.push_back(l);
    return 1.0;
  };
  ServingLimits whole{8, 3000, 1e18, 1, 1};
  whole.replicas = 2;
  whole.chunked_prefill = false;
  const ServingResult w = simulate_serving({4, 1000, 3, 0, 0, 1, {}, {}}, whole, step);
  REQUIRE(seen.size() == 4);
  CHECK(seen[0].prefill_tokens == 2000);
  CHECK(seen[1].prefill_tokens == 2000);
  CHECK(seen[1].decode_seqs == 2);
  CHECK(w.steps == 4);
  CHECK(w.ttft.mean == Approx(1.5));
  ServingLimits chunked = whole;
  chunked.chunked_prefill = true;
  seen.clear();
  const ServingResult c = simulate_serving({4, 1000, 3, 0, 0, 1, {}, {}}, chunked, step);
  CHECK(seen[0].prefill_tokens == 3000);
  CHECK(c.steps == 4);
  CHECK(c.ttft.mean == Approx(1.25));
  // A replica budget below one prompt (1000 tokens over 2 replicas: 500) still takes one prompt a
  // step while nothing decodes: 2 requests of 1 output token end at steps 1 and 2.
  ServingLimits small{8, 1000, 1e18, 1, 1};
  small.replicas = 2;
  small.chunked_prefill = false;
  const ServingResult s = simulate_serving({2, 1000, 1, 0, 0, 1, {}, {}}, small, constant(1.0));
  CHECK(s.steps == 2);
  CHECK(s.makespan == Approx(2.0));
}

TEST_CASE("Speculative decoding: 2.5 tokens per step reach 11 tokens in 4 decode steps", "[quick][serving]")
{
  // 1 request, 10 input and 11 output tokens, steps of 1 ms, acceptance length 2.5 with 3 drafts:
  // step 1 prefills (first token at 1 ms, 1 token), then 3.5, 6, 8.5, 11 after steps 2..5: done at
  // 5 ms. TPOT = (5 - 1) / 10 = 0.4 ms; the decode steps run 4 tokens (1 + 3 drafts).
  std::vector<StepLoad> seen;
  auto step = [&](const StepLoad& l) {
    seen.push_back(l);
    return 1e-3;
  };
  const ServingResult r = simulate_serving({1, 10, 11, 1, 0, 1, {}, {}}, {8, 1000, 1e18, 4, 2.5}, step);
  CHECK(r.steps == 5);
  CHECK(r.tpot.p50 == Approx(0.4e-3));
  CHECK(r.e2e.p50 == Approx(5e-3));
}

TEST_CASE("Closed loop: two in flight, the next two arrive as the first two finish", "[quick][serving]")
{
  // 4 requests, concurrency 2, 10 input and 2 output tokens, steps of 1 ms. Requests 0, 1: prefill
  // (t=1), decode (t=2, done); requests 2, 3 arrive at 2 ms: prefill (t=3), decode (t=4).
  // Every TTFT is 1 ms and every end-to-end 2 ms; 8 tokens in 4 ms = 2000 tok/s.
  const ServingResult r = simulate_serving({4, 10, 2, 2, 0, 1, {}, {}}, {8, 1000, 1e18, 1, 1}, constant(1e-3));
  CHECK(r.steps == 4);
  CHECK(r.ttft.max == Approx(1e-3));
  CHECK(r.e2e.max == Approx(2e-3));
  CHECK(r.output_tok_s == Approx(2000));
}

TEST_CASE("One sequence at a time: the second request waits for the first", "[quick][serving]")
{
  // max_num_seqs 1, two requests at 0 (10 in, 2 out), 1 ms steps: request 0 prefills (t=1) and
  // decodes (t=2); request 1 prefills (t=3) and decodes (t=4). TTFTs 1 and 3 ms: nearest-rank p50 is
  // the first (rank ceil(0.5 x 2) = 1), p90 the second.
  const ServingResult r = simulate_serving({2, 10, 2, 0, 0, 1, {}, {}}, {1, 1000, 1e18, 1, 1}, constant(1e-3));
  CHECK(r.ttft.p50 == Approx(1e-3));
  CHECK(r.ttft.p90 == Approx(3e-3));
  CHECK(r.ttft.mean == Approx(2e-3));
  // The KV cache limits the same way: 25 tokens hold two requests of 12, not three.
  const ServingResult k = simulate_serving({3, 10, 2, 0, 0, 1, {}, {}}, {8, 1000, 25, 1, 1}, constant(1e-3));
  CHECK(k.ttft.max == Approx(3e-3)); // the third waits until the first two finish at 2 ms
  CHECK_THROWS_WITH(simulate_serving({1, 30, 2, 0, 0, 1, {}, {}}, {8, 1000, 25, 1, 1}, constant(1e-3)),
                    Catch::Contains("32 tokens of KV"));
}

TEST_CASE("Poisson arrivals are seeded: the same seed, the same numbers", "[quick][serving]")
{
  const RequestMix mix{50, 100, 20, 0, 20.0, 7, {}, {}};
  const ServingResult a = simulate_serving(mix, {16, 2048, 1e18, 1, 1}, constant(2e-3));
  const ServingResult b = simulate_serving(mix, {16, 2048, 1e18, 1, 1}, constant(2e-3));
  CHECK(a.makespan == b.makespan);
  CHECK(a.ttft.p99 == b.ttft.p99);
  const ServingResult c = simulate_serving({50, 100, 20, 0, 20.0, 8, {}, {}}, {16, 2048, 1e18, 1, 1}, constant(2e-3));
  CHECK(c.makespan != a.makespan);
}

TEST_CASE("Per-request lengths: the run ends on the long output decoding alone", "[quick][serving]")
{
  // Two requests of 100 input tokens at once, outputs 2 and 20 (10x). Step time 1 ms + 1 ms per
  // decoding request + 1 us per prompt token, budget 1000 tokens.
  // Step 1 prefills both (200 tokens: 1.2 ms) and gives both their first token at 1.2 ms.
  // Step 2 decodes both (3 ms, ends 4.2 ms): A has its 2 tokens and ends.
  // Steps 3..20 decode B alone (18 x 2 ms = 36 ms): B's 20th token at 40.2 ms.
  // Makespan 40.2 ms; output (2 + 20) / 0.0402 = 547.26 tok/s. TPOT A (4.2 - 1.2) / 1 = 3 ms, B
  // (40.2 - 1.2) / 19 = 2.0526 ms. Mean decode batch (2 + 18 x 1) / 19 = 1.0526.
  // At the mean lengths (both 11 outputs) the run would take 1.2 + 10 x 3 = 31.2 ms for 22 tokens:
  // 705.1 tok/s, the longer tail is what varied lengths show.
  RequestMix mix{2, 1, 1, 0, 0, 1, {}, {}};
  mix.inputs = {100, 100};
  mix.outputs = {2, 20};
  std::vector<StepLoad> seen;
  auto step = [&](const StepLoad& l) {
    seen.push_back(l);
    return 1e-3 + 1e-3 * l.decode_seqs + 1e-6 * l.prefill_tokens;
  };
  const ServingResult r = simulate_serving(mix, {8, 1000, 1e18, 1, 1}, step);
  CHECK(r.steps == 20);
  CHECK(seen[0].prefill_tokens == 200);
  CHECK(seen[1].decode_seqs == 2);
  CHECK(seen[1].decode_context == Approx(101)); // 100 prompt tokens + 1 output token each
  CHECK(seen[2].decode_seqs == 1);
  CHECK(seen[2].decode_context == Approx(102)); // B alone: 100 + 2
  CHECK(r.makespan == Approx(40.2e-3).epsilon(1e-12));
  CHECK(r.output_tok_s == Approx(22 / 40.2e-3).epsilon(1e-12));
  CHECK(r.tpot.mean == Approx((3e-3 + 39e-3 / 19) / 2).epsilon(1e-12));
  CHECK(r.tpot.max == Approx(3e-3).epsilon(1e-12));
  CHECK(r.e2e.max == Approx(40.2e-3).epsilon(1e-12));
  CHECK(r.mean_decode_batch == Approx(20.0 / 19).epsilon(1e-12));
  // Alike lengths given per request run exactly as the fixed mix.
  RequestMix same{3, 100, 5, 0, 0, 1, {}, {}};
  RequestMix listed = same;
  listed.inputs = {100, 100, 100};
  listed.outputs = {5, 5, 5};
  const ServingLimits lim{2, 150, 1e18, 1, 1};
  auto t = [](const StepLoad& l) { return 1e-3 + 1e-3 * l.decode_seqs + 1e-6 * l.prefill_tokens; };
  const ServingResult a = simulate_serving(same, lim, t), b = simulate_serving(listed, lim, t);
  CHECK(a.makespan == b.makespan);
  CHECK(a.ttft.mean == b.ttft.mean);
  CHECK(a.tpot.p99 == b.tpot.p99);
  CHECK(a.steps == b.steps);
}

TEST_CASE("Per-request lengths: each request is admitted by its own KV, first come first served", "[quick][serving]")
{
  // KV for 250 tokens, a request holding input + output (kv_output_share 1). A and B need 100 + 100
  // = 200 each, C 10 + 10 = 20. A is admitted (200); B does not fit beside it (400 > 250) and, first
  // come first served, holds C back. Steps of 1 s: A prefills in step 1 and decodes tokens 2..100 in
  // steps 2..100, ending at 100 s. Step 101 admits B (200) and C (220 <= 250): both first tokens at
  // 101 s, so TTFT A 1, B 101, C 101 s. C's 10 outputs end at step 110, B's 100 at step 200.
  RequestMix mix{3, 1, 1, 0, 0, 1, {}, {}};
  mix.inputs = {100, 100, 10};
  mix.outputs = {100, 100, 10};
  ServingLimits lim{8, 1000, 250, 1, 1};
  const ServingResult r = simulate_serving(mix, lim, constant(1.0));
  CHECK(r.ttft.p50 == Approx(101));
  CHECK(r.ttft.max == Approx(101));
  CHECK(r.ttft.mean == Approx((1 + 101 + 101) / 3.0));
  CHECK(r.makespan == Approx(200));
  CHECK(r.steps == 200);
  // The largest request alone must fit: 300 + 100 > 250 is refused.
  mix.inputs[0] = 300;
  CHECK_THROWS_AS(simulate_serving(mix, lim, constant(1.0)), std::invalid_argument);
}

TEST_CASE("Per-request lengths without chunked prefill: prompts fill each replica's room first fit", "[quick][serving]")
{
  // Two replicas of 1500 tokens a step, whole prompts of 1000, 400, 400, 1000 tokens (outputs 2).
  // Step 1, nothing decoding: 1000 -> replica 1 (500 left), 400 -> replica 1 (100 left), 400 ->
  // replica 2 (1100 left), 1000 -> replica 2 (100 left): all four prefill in step 1 (2800 tokens),
  // step 2 decodes the four and they end. With the old count (1500 / 1000 = 1 prompt a replica for
  // 1000-token prompts) only two would enter.
  RequestMix mix{4, 1, 1, 0, 0, 1, {}, {}};
  mix.inputs = {1000, 400, 400, 1000};
  mix.outputs = {2, 2, 2, 2};
  ServingLimits lim{8, 3000, 1e18, 1, 1};
  lim.replicas = 2;
  lim.chunked_prefill = false;
  std::vector<StepLoad> seen;
  auto step = [&](const StepLoad& l) {
    seen.push_back(l);
    return 1.0;
  };
  const ServingResult r = simulate_serving(mix, lim, step);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].prefill_tokens == 2800);
  CHECK(seen[0].prefill_seqs == 4);
  CHECK(seen[1].decode_seqs == 4);
  CHECK(r.makespan == Approx(2));
}
