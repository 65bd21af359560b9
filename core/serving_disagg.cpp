#include "core/serving_disagg.hpp"

#include "core/dtype.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace moesim {

namespace {

constexpr double never = std::numeric_limits<double>::infinity();

struct Req {
  double arrival = -1;     // -1: not yet released (closed loop)
  int prefilled = 0;
  double generated = 0;
  double first_token = -1; // when the client sees it (the transfer's end; the prefill's for one token)
  double reserved = -1;    // when a decode instance set its KV aside
  double transfer_start = -1, transfer_end = -1, decode_start = -1;
  double done = -1;
  int prefill_at = -1, decode_at = -1; // instances
};

// One instance's loop state. A step in flight is `load` over `members` (decodes) or `chunks`.
struct Instance {
  std::deque<int> prealloc; // decode: assigned, waiting for KV to be set aside
  int reserved = 0;         // decode: requests holding KV here (waiting, in transfer or running)
  std::deque<int> queue;    // assigned, not admitted, in order of assignment
  std::vector<int> running; // admitted, in admission order
  double kv_used = 0;
  double busy_until = -1;   // < 0: idle
  std::vector<int> members, chunks, chunk_tokens;
  double busy_seconds = 0;
  long long outstanding_tokens = 0; // prefill: prompt tokens assigned and not yet prefilled
  double link_free = 0;             // prefill: when its KV link has sent what it was given
};

void check_limits(const ServingLimits& l, const char* pool)
{
  if (l.max_num_seqs < 1 || l.max_num_batched_tokens < 1 || !(l.kv_capacity_tokens > 0) || l.tokens_per_decode < 1 ||
      l.acceptance_length < 1 || !(l.kv_output_share >= 0 && l.kv_output_share <= 1))
    throw std::invalid_argument(std::string("the ") + pool +
                                " instances' limits need max_num_seqs, max_num_batched_tokens, kv_capacity_tokens, "
                                "tokens_per_decode, acceptance >= 1 and kv_output_share in [0, 1]");
}

} // namespace

DisaggResult simulate_disaggregated(const RequestMix& mix, const DisaggLimits& lim,
                                    const std::function<double(const StepLoad&)>& prefill_step,
                                    const std::function<double(const StepLoad&)>& decode_step,
                                    const std::function<double(int)>& transfer_seconds)
{
  const bool varied = !mix.inputs.empty() || !mix.outputs.empty();
  if (varied && (mix.inputs.size() != static_cast<size_t>(mix.requests) || mix.outputs.size() != mix.inputs.size()))
    throw std::invalid_argument("a request mix with per-request lengths needs one input and one output per request");
  auto in_len = [&](int i) { return varied ? mix.inputs[i] : mix.input_tokens; };
  auto out_len = [&](int i) { return varied ? mix.outputs[i] : mix.output_tokens; };
  if (mix.requests < 1 || mix.input_tokens < 1 || mix.output_tokens < 1)
    throw std::invalid_argument("a request mix needs at least one request of at least one input and output token");
  for (int i = 0; i < mix.requests; i++)
    if (in_len(i) < 1 || out_len(i) < 1)
      throw std::invalid_argument("a request mix needs at least one input and output token a request");
  if (lim.prefill_instances < 1 || lim.decode_instances < 1)
    throw std::invalid_argument("disaggregated serving needs at least one prefill and one decode instance");
  check_limits(lim.prefill, "prefill");
  check_limits(lim.decode, "decode");
  const ServingLimits& pl = lim.prefill;
  const ServingLimits& dl = lim.decode;
  auto prefill_kv = [&](int i) { return double(in_len(i)); };
  auto decode_kv = [&](int i) { return double(in_len(i)) + dl.kv_output_share * out_len(i); };
  for (int i = 0; i < mix.requests; i++) {
    if (prefill_kv(i) > pl.kv_capacity_tokens || decode_kv(i) > dl.kv_capacity_tokens)
      throw std::invalid_argument(
          "request " + std::to_string(i) + " needs " +
          std::to_string(static_cast<long long>(prefill_kv(i) > pl.kv_capacity_tokens ? prefill_kv(i) : decode_kv(i))) +
          " tokens of KV cache but a " + (prefill_kv(i) > pl.kv_capacity_tokens ? "prefill" : "decode") +
          " instance holds " +
          std::to_string(static_cast<long long>(prefill_kv(i) > pl.kv_capacity_tokens ? pl.kv_capacity_tokens
                                                                                       : dl.kv_capacity_tokens)));
  }
  const int decode_cap = std::max(1, dl.max_num_batched_tokens / dl.tokens_per_decode);

  std::vector<Req> req(mix.requests);
  const std::vector<double> arrivals = arrival_times(mix);
  int released = mix.concurrency > 0 ? std::min(mix.concurrency, mix.requests) : mix.requests;
  for (int i = 0; i < released; i++)
    req[i].arrival = arrivals[i];

  std::vector<Instance> pre(lim.prefill_instances), dec(lim.decode_instances);
  std::vector<int> in_transfer; // requests whose KV is on its way, by start
  int next_arrival = 0, finished = 0;
  double now = 0;
  DisaggResult out;
  long long prefill_token_sum = 0;
  double decode_batch_sum = 0;

  auto finish = [&](int i) {
    req[i].done = now;
    finished++;
    if (mix.concurrency > 0 && released < mix.requests)
      req[released++].arrival = now;
  };
  // The router: fewest prompt tokens outstanding, then fewest requests, then the lowest index.
  auto route_prefill = [&](int i) {
    int best = 0;
    for (int k = 1; k < lim.prefill_instances; k++)
      if (pre[k].outstanding_tokens < pre[best].outstanding_tokens)
        best = k;
    pre[best].queue.push_back(i);
    pre[best].outstanding_tokens += in_len(i);
    req[i].prefill_at = best;
  };
  // A request is first given a decode instance (fewest requests assigned, then the lowest index),
  // which sets its KV aside before the prompt may start (requests wait there, first come, first
  // served); then a prefill instance.
  auto route_decode = [&](int i) {
    int best = 0;
    auto load = [&](int k) { return dec[k].prealloc.size() + dec[k].reserved; };
    for (int k = 1; k < lim.decode_instances; k++)
      if (load(k) < load(best))
        best = k;
    dec[best].prealloc.push_back(i);
    req[i].decode_at = best;
  };
  auto reserve = [&] {
    for (Instance& in : dec)
      while (!in.prealloc.empty() && in.kv_used + decode_kv(in.prealloc.front()) <= dl.kv_capacity_tokens) {
        const int i = in.prealloc.front();
        in.prealloc.pop_front();
        in.kv_used += decode_kv(i);
        in.reserved++;
        req[i].reserved = now;
        route_prefill(i);
      }
  };

  auto start_prefill = [&](Instance& in) {
    int budget = pl.max_num_batched_tokens;
    in.chunks.clear(), in.chunk_tokens.clear();
    double ctx_sum = 0;
    for (int i : in.running) {
      if (budget <= 0)
        break;
      if (req[i].prefilled < in_len(i)) {
        const int take = std::min(budget, in_len(i) - req[i].prefilled);
        in.chunks.push_back(i), in.chunk_tokens.push_back(take), ctx_sum += req[i].prefilled, budget -= take;
      }
    }
    while (budget > 0 && !in.queue.empty() && static_cast<int>(in.running.size()) < pl.max_num_seqs &&
           in.kv_used + prefill_kv(in.queue.front()) <= pl.kv_capacity_tokens) {
      const int i = in.queue.front();
      // Whole prompts only: one that does not fit the budget left waits, unless the step is empty.
      if (!pl.chunked_prefill && in_len(i) > budget && !in.chunks.empty())
        break;
      in.queue.pop_front();
      in.running.push_back(i);
      in.kv_used += prefill_kv(i);
      const int take = pl.chunked_prefill ? std::min(budget, in_len(i)) : in_len(i);
      in.chunks.push_back(i), in.chunk_tokens.push_back(take), budget -= take;
    }
    if (in.chunks.empty())
      return;
    StepLoad load;
    load.prefill_seqs = static_cast<int>(in.chunks.size());
    load.prefill_tokens = std::accumulate(in.chunk_tokens.begin(), in.chunk_tokens.end(), 0);
    load.prefill_context = ctx_sum / load.prefill_seqs;
    const double dt = prefill_step(load);
    if (!(dt > 0))
      throw std::invalid_argument("the prefill step-time function returned a non-positive time");
    in.busy_until = now + dt, in.busy_seconds += dt;
    out.prefill_steps++, prefill_token_sum += load.prefill_tokens;
  };
  auto end_prefill = [&](Instance& in) {
    for (size_t c = 0; c < in.chunks.size(); c++) {
      Req& r = req[in.chunks[c]];
      r.prefilled += in.chunk_tokens[c];
      in.outstanding_tokens -= in.chunk_tokens[c];
    }
    std::vector<int> still;
    for (int i : in.running) {
      Req& r = req[i];
      if (r.prefilled < in_len(i)) {
        still.push_back(i);
        continue;
      }
      r.generated = 1;
      if (out_len(i) == 1) {
        r.first_token = now;
        in.kv_used -= prefill_kv(i);
        Instance& d = dec[r.decode_at];
        d.kv_used -= decode_kv(i);
        d.reserved--;
        finish(i);
      } else {
        // One link an instance: prompts done in one step send one after the other.
        const double dt = transfer_seconds(in_len(i));
        if (!(dt > 0))
          throw std::invalid_argument("the KV transfer time function returned a non-positive time");
        r.transfer_start = now;
        r.transfer_end = in.link_free = std::max(now, in.link_free) + dt;
        in_transfer.push_back(i);
      }
    }
    in.running.swap(still);
    in.busy_until = -1;
  };
  auto start_decode = [&](Instance& in) {
    while (!in.queue.empty() && static_cast<int>(in.running.size()) < dl.max_num_seqs) {
      in.running.push_back(in.queue.front());
      in.queue.pop_front();
    }
    in.members.clear();
    StepLoad load;
    for (int i : in.running)
      if (static_cast<int>(in.members.size()) < decode_cap)
        in.members.push_back(i);
    if (in.members.empty())
      return;
    load.decode_seqs = static_cast<int>(in.members.size());
    for (int i : in.members) {
      load.decode_context += (in_len(i) + req[i].generated) / load.decode_seqs;
      if (req[i].decode_start < 0)
        req[i].decode_start = now;
    }
    const double dt = decode_step(load);
    if (!(dt > 0))
      throw std::invalid_argument("the decode step-time function returned a non-positive time");
    in.busy_until = now + dt, in.busy_seconds += dt;
    out.decode_steps++, decode_batch_sum += load.decode_seqs;
  };
  auto end_decode = [&](Instance& in) {
    for (int i : in.members)
      req[i].generated += dl.acceptance_length;
    std::vector<int> still;
    for (int i : in.running) {
      if (req[i].generated >= out_len(i)) {
        in.kv_used -= decode_kv(i);
        in.reserved--;
        finish(i);
      } else {
        still.push_back(i);
      }
    }
    in.running.swap(still);
    in.busy_until = -1;
  };

  while (finished < mix.requests) {
    // 1. Steps that end now (prefill instances, then decode, each by index).
    for (Instance& in : pre)
      if (in.busy_until >= 0 && in.busy_until <= now)
        end_prefill(in);
    for (Instance& in : dec)
      if (in.busy_until >= 0 && in.busy_until <= now)
        end_decode(in);
    // 2. Transfers that end now: the prefill instance frees the KV, a decode instance queues it (in
    //    order of their end, then of request).
    std::vector<int> arrived;
    std::vector<int> left;
    for (int i : in_transfer)
      (req[i].transfer_end <= now ? arrived : left).push_back(i);
    in_transfer.swap(left);
    std::stable_sort(arrived.begin(), arrived.end(),
                     [&](int a, int b) { return req[a].transfer_end < req[b].transfer_end; });
    for (int i : arrived) {
      pre[req[i].prefill_at].kv_used -= prefill_kv(i);
      req[i].first_token = req[i].transfer_end;
      dec[req[i].decode_at].queue.push_back(i);
    }
    // 3. Arrivals up to now go to a decode instance; those whose KV fits there go on to prefill.
    while (next_arrival < mix.requests && req[next_arrival].arrival >= 0 && req[next_arrival].arrival <= now)
      route_decode(next_arrival++);
    reserve();
    // 4. Idle instances with work start a step.
    for (Instance& in : pre)
      if (in.busy_until < 0)
        start_prefill(in);
    for (Instance& in : dec)
      if (in.busy_until < 0)
        start_decode(in);
    if (finished == mix.requests)
      break;
    // 5. The next event.
    double next = never;
    for (const Instance& in : pre)
      if (in.busy_until >= 0)
        next = std::min(next, in.busy_until);
    for (const Instance& in : dec)
      if (in.busy_until >= 0)
        next = std::min(next, in.busy_until);
    for (int i : in_transfer)
      next = std::min(next, req[i].transfer_end);
    if (next_arrival < mix.requests && req[next_arrival].arrival >= 0)
      next = std::min(next, req[next_arrival].arrival);
    if (next == never)
      throw std::logic_error("disaggregated serving: no step, transfer or arrival ahead with requests unfinished");
    now = std::max(now, next);
  }

  std::vector<double> ttft, tpot, e2e, transfer, wait, reserve_wait;
  double first = never, last = 0, output_tokens = 0;
  for (int i = 0; i < mix.requests; i++) {
    const Req& r = req[i];
    first = std::min(first, r.arrival);
    last = std::max(last, r.done);
    ttft.push_back(r.first_token - r.arrival);
    e2e.push_back(r.done - r.arrival);
    reserve_wait.push_back(r.reserved - r.arrival);
    if (out_len(i) > 1) {
      tpot.push_back((r.done - r.first_token) / (out_len(i) - 1));
      transfer.push_back(r.transfer_end - r.transfer_start);
      wait.push_back(r.decode_start - r.transfer_end);
    }
    output_tokens += out_len(i);
  }
  ServingResult& s = out.serving;
  s.makespan = last - first;
  if (!(s.makespan > 0))
    throw std::logic_error("disaggregated serving: the run took no time");
  s.output_tok_s = output_tokens / s.makespan;
  s.request_s = mix.requests / s.makespan;
  s.ttft = percentiles(ttft);
  s.tpot = percentiles(tpot);
  s.e2e = percentiles(e2e);
  s.steps = out.prefill_steps + out.decode_steps;
  s.mean_decode_batch = out.decode_steps ? decode_batch_sum / out.decode_steps : 0.0;
  out.kv_transfer = percentiles(transfer);
  out.decode_wait = percentiles(wait);
  out.kv_reserve_wait = percentiles(reserve_wait);
  auto busy = [&](const std::vector<Instance>& v) {
    double b = 0;
    for (const Instance& in : v)
      b += in.busy_seconds;
    return b / (v.size() * s.makespan);
  };
  out.prefill_busy = busy(pre);
  out.decode_busy = busy(dec);
  out.mean_prefill_tokens = out.prefill_steps ? double(prefill_token_sum) / out.prefill_steps : 0.0;
  return out;
}

double prompt_kv_bytes(const Model& m, int attn_tp, int tokens)
{
  const Attention& at = m.attn;
  const double tp = std::max(1, attn_tp);
  double per_token_layer; // elements over the instance's GPUs
  if (at.kind == AttentionKind::mla)
    per_token_layer = tp * (at.kv_lora_rank + at.qk_rope_head_dim);
  else
    per_token_layer = 2.0 * at.head_dim * (at.kv_heads >= tp ? double(at.kv_heads) : tp);
  double elements = 0;
  for (int l = 0; l < m.layers; l++) {
    double t = tokens;
    if (at.sliding_window > 0 && at.sliding_every > 0 && l % at.sliding_every == 0)
      t = std::min(t, double(at.sliding_window));
    elements += t * per_token_layer;
  }
  return elements * bytes_per_element(m.dtypes.kv_cache);
}

} // namespace moesim
