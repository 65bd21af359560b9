// Serving: a stream of requests through a continuous-batching engine, step by step. Each step runs
// every decoding request (one token, or 1 + draft tokens under speculative decoding) and fills the
// rest of the token budget with prefill chunks, first of requests already started, then of waiting
// ones (first come, first served) while sequences and KV cache allow. A step's duration comes from a
// caller-given function of its load (the simulator, through a table of simulated shapes), so the
// loop itself is arithmetic: deterministic, and fast enough for thousands of requests.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace moesim {

struct RequestMix {
  int requests = 1;
  int input_tokens = 1;
  int output_tokens = 1;
  // Arrivals: concurrency > 0 keeps that many requests in flight (a new one arrives when one ends);
  // otherwise rate > 0 draws Poisson arrivals at that many per second (seeded); otherwise all arrive
  // at time 0.
  int concurrency = 0;
  double rate = 0;
  std::uint64_t seed = 1;
  // Per-request lengths (core/request_lengths), one per request, both or neither: when given, request
  // i runs at inputs[i] and outputs[i] and input_tokens/output_tokens are not read; admission then
  // counts each request's own KV (input + kv_output_share x output) against the capacity.
  std::vector<int> inputs, outputs;
};

struct ServingLimits {
  int max_num_seqs = 256;            // sequences running at once
  int max_num_batched_tokens = 8192; // tokens per step (decode tokens count first)
  double kv_capacity_tokens = 1e18;  // a request holds input + kv_output_share x output tokens of KV
  int tokens_per_decode = 1;         // tokens a decoding request runs per step (1 + draft tokens)
  double acceptance_length = 1;      // tokens a decoding request gains per step on average
  // Output tokens a request's KV is counted for at admission, as a share of its output length: 1
  // reserves the whole output up front (an engine that never evicts); less counts the footprint of
  // an engine that allocates as tokens come and preempts when full (0.5: the mean over a request's
  // life).
  double kv_output_share = 1;
  // Attention-DP replicas, each with its own scheduler and an equal share of max_num_batched_tokens;
  // the decodes spread evenly over them. With chunked_prefill a prompt is split to fill the step's
  // budget; without, a waiting prompt enters only whole, into a replica whose budget left after its
  // decodes holds it (an engine that never chunks).
  int replicas = 1;
  bool chunked_prefill = true;
};

// One step's work, as the step-time function sees it.
struct StepLoad {
  int decode_seqs = 0;
  double decode_context = 0;   // mean tokens already in the KV cache of the decoding requests
  int prefill_tokens = 0;      // prompt tokens processed this step
  int prefill_seqs = 0;        // requests those tokens belong to
  double prefill_context = 0;  // mean tokens before each chunk (chunked prefill)
};

// Nearest-rank percentiles of a set of values (p50: the value at rank ceil(0.5 n)).
struct Percentiles {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};
Percentiles percentiles(std::vector<double> v);

struct ServingResult {
  double makespan = 0;        // s, first arrival to last completion
  double output_tok_s = 0;    // output tokens / makespan
  double request_s = 0;       // completed requests / makespan
  Percentiles ttft;           // s, arrival to first token
  Percentiles tpot;           // s per token after the first, per request
  Percentiles e2e;            // s, arrival to last token
  int steps = 0;
  double mean_decode_batch = 0; // decoding requests per step, averaged over steps with any
};

// Each request's arrival time: 0 for all under a closed loop (concurrency > 0: the loop releases
// them as others end) or without a rate; otherwise Poisson arrivals at `rate` a second, seeded.
std::vector<double> arrival_times(const RequestMix& mix);

// Runs the loop. Throws std::invalid_argument for a mix or limits it cannot serve (a request whose
// KV does not fit).
ServingResult simulate_serving(const RequestMix& mix, const ServingLimits& lim,
                               const std::function<double(const StepLoad&)>& step_seconds);

} // namespace moesim
