#include "core/serving.hpp"

#include "core/routing.hpp"
#include "core/stats.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <deque>
#include <numeric>
#include <stdexcept>

namespace moesim {

Percentiles percentiles(std::vector<double> v)
{
  Percentiles p;
  if (v.empty())
    return p;
  std::sort(v.begin(), v.end());
  const double n = static_cast<double>(v.size());
  p.mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  p.p50 = nearest_rank(v, 0.50);
  p.p90 = nearest_rank(v, 0.90);
  p.p99 = nearest_rank(v, 0.99);
  p.max = v.back();
  return p;
}

std::vector<double> arrival_times(const RequestMix& mix)
{
  std::vector<double> arrivals(mix.requests, 0.0);
  if (mix.concurrency <= 0 && mix.rate > 0) {
    Rng rng(mix.seed);
    double t = 0;
    for (int i = 0; i < mix.requests; i++) {
      t += -std::log(1.0 - rng.uniform()) / mix.rate;
      arrivals[i] = t;
    }
  }
  return arrivals;
}

namespace {

struct Request {
  double arrival = 0;
  int prefilled = 0;       // prompt tokens done
  double generated = 0;    // output tokens so far (fractional under speculative decoding)
  double first_token = -1; // time of the first output token
  double done = -1;
};

} // namespace

ServingResult simulate_serving(const RequestMix& mix, const ServingLimits& lim,
                               const std::function<double(const StepLoad&)>& step_seconds)
{
  const bool varied = !mix.inputs.empty() || !mix.outputs.empty();
  if (varied && (mix.inputs.size() != static_cast<size_t>(mix.requests) || mix.outputs.size() != mix.inputs.size()))
    throw std::invalid_argument("a request mix with per-request lengths needs one input and one output per request");
  auto in_len = [&](int i) { return varied ? mix.inputs[i] : mix.input_tokens; };
  auto out_len = [&](int i) { return varied ? mix.outputs[i] : mix.output_tokens; };
  if (mix.requests < 1 || mix.input_tokens < 1 || mix.output_tokens < 1 ||
      (varied && (*std::min_element(mix.inputs.begin(), mix.inputs.end()) < 1 ||
                  *std::min_element(mix.outputs.begin(), mix.outputs.end()) < 1)))
    throw std::invalid_argument("a request mix needs at least one request of at least one input and output token");
  if (lim.max_num_seqs < 1 || lim.tokens_per_decode < 1 || lim.acceptance_length < 1 ||
      !(lim.kv_output_share >= 0 && lim.kv_output_share <= 1) || lim.replicas < 1)
    throw std::invalid_argument("serving limits need max_num_seqs >= 1, tokens_per_decode >= 1, acceptance >= 1, "
                                "kv_output_share in [0, 1], replicas >= 1");
  // A request's KV at admission; with per-request lengths, the largest must fit alone.
  auto kv_of = [&](int i) { return double(in_len(i)) + lim.kv_output_share * out_len(i); };
  double per_request_kv = double(mix.input_tokens) + lim.kv_output_share * mix.output_tokens;
  if (varied) {
    per_request_kv = 0;
    for (int i = 0; i < mix.requests; i++)
      per_request_kv = std::max(per_request_kv, kv_of(i));
  }
  if (per_request_kv > lim.kv_capacity_tokens)
    throw std::invalid_argument("one request needs " + std::to_string(static_cast<long long>(per_request_kv)) +
                                " tokens of KV cache but the engine holds " +
                                std::to_string(static_cast<long long>(lim.kv_capacity_tokens)));
  // Alike requests: a fixed number fit. Varied ones: each is admitted while the KV of those running
  // plus its own fits (first come, first served: a request that does not fit holds back the rest).
  const int running_cap = varied ? lim.max_num_seqs
                                 : static_cast<int>(std::min<double>(
                                       lim.max_num_seqs, std::floor(lim.kv_capacity_tokens / per_request_kv)));
  double kv_used = 0;
  auto kv_admits = [&](int i) { return !varied || kv_used + kv_of(i) <= lim.kv_capacity_tokens; };
  // Decodes come first but cannot exceed the step's token budget: the rest wait a step.
  const int decode_cap = std::max(1, lim.max_num_batched_tokens / lim.tokens_per_decode);

  std::vector<Request> req(mix.requests);
  // Arrival times: closed loop (assigned as requests finish), Poisson, or all at once.
  const std::vector<double> arrivals = arrival_times(mix);
  int released = mix.concurrency > 0 ? std::min(mix.concurrency, mix.requests) : mix.requests;
  for (int i = 0; i < mix.requests; i++)
    req[i].arrival = (mix.concurrency > 0 && i >= released) ? -1 : arrivals[i];

  std::deque<int> waiting;           // arrived, not admitted, in arrival order
  std::vector<int> running;          // admitted, not finished, in admission order
  int next_arrival = 0;              // next request index not yet queued
  double now = 0;
  int finished = 0;
  ServingResult out;
  double decode_batch_sum = 0;
  int decode_steps = 0;

  auto queue_arrivals = [&] {
    while (next_arrival < mix.requests && req[next_arrival].arrival >= 0 && req[next_arrival].arrival <= now)
      waiting.push_back(next_arrival++);
  };

  while (finished < mix.requests) {
    queue_arrivals();
    if (waiting.empty() && running.empty()) {
      // Idle until the next arrival.
      if (next_arrival < mix.requests && req[next_arrival].arrival >= 0)
        now = std::max(now, req[next_arrival].arrival);
      queue_arrivals();
      if (waiting.empty())
        throw std::logic_error("serving loop: no work and no arrival");
    }
    // Compose the step: decodes first, then prefill chunks within the budget.
    StepLoad load;
    std::vector<int> decoding, chunks;
    std::vector<int> chunk_tokens;
    for (int i : running)
      if (req[i].prefilled >= in_len(i) && static_cast<int>(decoding.size()) < decode_cap)
        decoding.push_back(i);
    load.decode_seqs = static_cast<int>(decoding.size());
    for (int i : decoding)
      load.decode_context += (in_len(i) + req[i].generated) / std::max(1, load.decode_seqs);
    int budget = lim.max_num_batched_tokens - load.decode_seqs * lim.tokens_per_decode;
    double ctx_sum = 0;
    for (int i : running) {
      if (budget <= 0)
        break;
      if (req[i].prefilled < in_len(i)) {
        const int take = std::min(budget, in_len(i) - req[i].prefilled);
        chunks.push_back(i), chunk_tokens.push_back(take), ctx_sum += req[i].prefilled, budget -= take;
      }
    }
    // Whole prompts only: each replica takes as many as fit in its share of the budget beside its
    // share of the decodes (the busiest replica's, decodes spread evenly); at least one prompt a step
    // when nothing decodes, so a budget below one prompt still progresses.
    // With varied lengths each replica's room is filled first fit, in arrival order, until the next
    // prompt fits no replica (for alike prompts the same count as above).
    int whole = INT_MAX;
    std::vector<int> room;
    if (!lim.chunked_prefill) {
      const int per_replica = lim.max_num_batched_tokens / lim.replicas;
      const int decode_tokens = (load.decode_seqs * lim.tokens_per_decode + lim.replicas - 1) / lim.replicas;
      if (varied)
        room.assign(lim.replicas, std::max(0, per_replica - decode_tokens));
      else
        whole = std::max(0, per_replica - decode_tokens) / mix.input_tokens * lim.replicas;
      if (load.decode_seqs == 0)
        whole = std::max(whole, 1);
    }
    int admitted = 0;
    while (budget > 0 && whole > 0 && !waiting.empty() && static_cast<int>(running.size()) < running_cap &&
           kv_admits(waiting.front())) {
      const int i = waiting.front();
      if (!room.empty()) {
        auto r = std::find_if(room.begin(), room.end(), [&](int left) { return left >= in_len(i); });
        if (r != room.end())
          *r -= in_len(i);
        else if (load.decode_seqs == 0 && admitted == 0)
          whole = 1; // fits no replica: a step with nothing else takes it whole, alone
        else
          break;
      }
      waiting.pop_front();
      running.push_back(i);
      kv_used += varied ? kv_of(i) : 0.0;
      const int take = lim.chunked_prefill ? std::min(budget, in_len(i)) : in_len(i);
      chunks.push_back(i), chunk_tokens.push_back(take), budget -= take, whole--, admitted++;
    }
    load.prefill_seqs = static_cast<int>(chunks.size());
    load.prefill_tokens = std::accumulate(chunk_tokens.begin(), chunk_tokens.end(), 0);
    load.prefill_context = load.prefill_seqs ? ctx_sum / load.prefill_seqs : 0.0;
    if (load.decode_seqs == 0 && load.prefill_tokens == 0)
      throw std::logic_error("serving loop: a step with no work");
    const double dt = step_seconds(load);
    if (!(dt > 0))
      throw std::invalid_argument("the step-time function returned a non-positive time");
    now += dt;
    out.steps++;
    if (load.decode_seqs > 0)
      decode_batch_sum += load.decode_seqs, decode_steps++;
    // Outcomes at the end of the step.
    for (size_t c = 0; c < chunks.size(); c++) {
      Request& r = req[chunks[c]];
      r.prefilled += chunk_tokens[c];
      if (r.prefilled >= in_len(chunks[c])) {
        r.first_token = now;
        r.generated = 1;
      }
    }
    for (int i : decoding)
      req[i].generated += lim.acceptance_length;
    std::vector<int> still;
    for (int i : running) {
      Request& r = req[i];
      if (r.first_token >= 0 && r.generated >= out_len(i)) {
        r.done = now;
        finished++;
        kv_used -= varied ? kv_of(i) : 0.0;
        if (mix.concurrency > 0 && released < mix.requests)
          req[released++].arrival = now;
      } else {
        still.push_back(i);
      }
    }
    running.swap(still);
  }

  std::vector<double> ttft, tpot, e2e;
  double first = req[0].arrival, last = 0, output_tokens = 0;
  for (int i = 0; i < mix.requests; i++) {
    const Request& r = req[i];
    first = std::min(first, r.arrival);
    last = std::max(last, r.done);
    ttft.push_back(r.first_token - r.arrival);
    e2e.push_back(r.done - r.arrival);
    if (out_len(i) > 1)
      tpot.push_back((r.done - r.first_token) / (out_len(i) - 1));
    output_tokens += out_len(i);
  }
  out.makespan = last - first;
  out.output_tok_s = output_tokens / out.makespan;
  out.request_s = mix.requests / out.makespan;
  out.ttft = percentiles(ttft);
  out.tpot = percentiles(tpot);
  out.e2e = percentiles(e2e);
  out.mean_decode_batch = decode_steps ? decode_batch_sum / decode_steps : 0.0;
  return out;
}

} // namespace moesim
