// Disaggregated serving: prefill and decode on separate engine instances (separate GPUs), the
// prompt's KV cache sent from a prefill instance to a decode instance between the two. Each instance
// runs its own continuous-batching loop. Like core/serving, the loop is arithmetic over caller-given
// step and transfer times: deterministic and fast.
//
// What a request goes through, in the order SGLang's disaggregation runs it
// (sgl-project/sglang python/sglang/srt/disaggregation/decode.py, the decode server's request life
// cycle: pre-allocate KV, wait for the transfer, then join the running batch):
//   arrival -> a decode instance (the one with the fewest requests assigned) sets the request's KV
//   aside (input + kv_output_share x output tokens; requests wait there, first come, first served,
//   until it fits) -> the prefill instance with the fewest prompt tokens outstanding -> prefill
//   steps (chunked or whole prompts, first come, first served, up to the instance's token budget,
//   sequences and KV) -> the first token is sampled at the end of the last prefill step -> KV
//   transfer (the prefill instance holds the prompt's KV until it ends; an instance sends one
//   request's KV at a time, in the order its prompts finished) -> the decode instance's running
//   batch, up to its max_num_seqs -> decode steps, one token (or 1 + draft tokens) a step.
// The client sees the first token when the transfer ends: the decode instance streams it with the
// rest (a request of one output token ends at the prefill instance instead). TTFT is arrival to
// that point, so it includes the queue, the prefill and the transfer; TPOT is (last token - first
// token) / (output - 1), so it includes the wait for a decode slot.
#pragma once
#include "core/model.hpp"
#include "core/serving.hpp"

#include <functional>

namespace moesim {

struct DisaggLimits {
  int prefill_instances = 1;
  int decode_instances = 1;
  // Each instance's own limits. A prefill instance reads max_num_seqs, max_num_batched_tokens,
  // kv_capacity_tokens (a request holds its input tokens until its transfer ends) and
  // chunked_prefill; a decode instance max_num_seqs (its running batch), max_num_batched_tokens (its
  // decodes' tokens), kv_capacity_tokens (input + kv_output_share x output a request, from the
  // reservation to the request's end), kv_output_share, tokens_per_decode and acceptance_length.
  ServingLimits prefill;
  ServingLimits decode;
};

struct DisaggResult {
  ServingResult serving;      // as colocated serving reports it (steps: both pools' steps)
  Percentiles kv_transfer;    // s from the prompt's end to its KV's arrival, queue for the link included
                              // (requests with more than one output token)
  Percentiles decode_wait;    // s from the KV's arrival to the request's first decode step
  Percentiles kv_reserve_wait; // s from arrival to a decode instance setting the request's KV aside
  double prefill_busy = 0;    // share of the prefill instances' time spent in steps
  double decode_busy = 0;     // the same for the decode instances
  int prefill_steps = 0, decode_steps = 0;
  double mean_prefill_tokens = 0; // prompt tokens per prefill step
};

// Runs the two pools. `prefill_step` gets loads with prefill tokens only, `decode_step` loads with
// decodes only; `transfer_seconds(input_tokens)` is one request's KV transfer. Throws
// std::invalid_argument for limits or a mix that cannot be served (a request whose KV does not fit
// an instance alone, a non-positive time).
DisaggResult simulate_disaggregated(const RequestMix& mix, const DisaggLimits& lim,
                                    const std::function<double(const StepLoad&)>& prefill_step,
                                    const std::function<double(const StepLoad&)>& decode_step,
                                    const std::function<double(int)>& transfer_seconds);

// Bytes of KV cache a prompt of `tokens` tokens leaves on an instance whose attention is split
// `attn_tp` ways, summed over its GPUs: what moves to a decode instance of that split. Every layer
// holds min(tokens, its window) tokens; a GQA rank holds kv_heads / attn_tp heads, or one head
// copied when attn_tp exceeds kv_heads; MLA's latent is copied on every TP rank (as
// core/memory_per_rank lays it out). PP stages split the layers, so they do not change the sum.
double prompt_kv_bytes(const Model& m, int attn_tp, int tokens);

} // namespace moesim
