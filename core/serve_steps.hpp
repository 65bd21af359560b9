// Serve steps: the step-time function the serving loop (core/serving) needs, built from a handful
// of simulated steps instead of one simulation per loop step. Decode steps are sampled at a few
// batch sizes and two contexts and interpolated linearly in both; a prefill step of a known token
// count gives the cost per prompt token. Also the KV capacity an engine has for requests, read off
// one simulated step's memory use.
#pragma once
#include "core/serving.hpp"

#include <vector>

namespace moesim {

struct ServeStepTable {
  std::vector<int> batches;        // decode batch sizes sampled, ascending, the first >= 1
  double context_lo = 0;           // the two mean contexts every batch was sampled at
  double context_hi = 0;           // (context_hi > context_lo)
  std::vector<double> seconds_lo;  // decode step seconds at (batches[i], context_lo)
  std::vector<double> seconds_hi;  // ... at (batches[i], context_hi)
  int prefill_tokens = 0;          // prompt tokens of the sampled prefill step
  double prefill_seconds = 0;      // its seconds
  // For an engine whose steps with prompt tokens run eagerly: what an eager decode step costs more
  // than the graphed one at (batches[i], context_lo), one per batch; empty when mixed steps replay
  // the graph.
  std::vector<double> eager_extra_seconds;
  // Whether a step with prompt tokens adds the eager extra (false for an engine that replays graphs
  // for mixed steps, whose table may still carry extras for the rule below).
  bool mixed_eager = true;
  // An engine that replays a graph only for a batch captured exactly (graph_padding off): the decode
  // batches per replica that have a graph, ascending. A decode step whose sequences do not split
  // evenly over `replicas` into one of them runs eagerly and adds the eager extra; the decode samples
  // are then the graphed steps (at the next captured size). Empty: every step's sampled path stands.
  std::vector<int> exact_graph_batches;
  int replicas = 1;
};

// Whether a decode-only step of `decode_seqs` sequences replays a graph under the table's
// exact-size rule (always true when the table has none).
bool replays_graph(const ServeStepTable& t, int decode_seqs);

// The decode batches to sample up to max_batch: 1, 4, 16, ... (x4) and max_batch itself.
std::vector<int> serve_sample_batches(int max_batch);

// Prompts in the sampled prefill step that prices a loop step's prompt tokens: as many whole prompts
// of `input` tokens as one replica's `replica_tokens` hold (at least one), at most `limit / replicas`
// (at least one), on every one of the `replicas` attention-DP replicas alike. Each replica runs its
// own scheduler and takes its own prompts in the same step, so a sample with a replica left idle, or
// with one replica holding a prompt more than the others (every replica then runs the largest
// replica's tokens, `dp_padding: max`), would charge the loop's prompt tokens for work no replica
// did. Throws std::invalid_argument unless every argument is at least 1.
int serve_prefill_sample_seqs(int limit, int replicas, int replica_tokens, int input);

// A decode step of `batch` sequences at mean context `context`: linear between the sampled batches
// (beyond the last, along the last segment), then linear in context between the two sampled
// contexts (extrapolated the same way); never below a tenth of the smallest sample.
double decode_step_seconds(const ServeStepTable& t, double batch, double context);

// One loop step: the decode part as above, plus the prompt tokens at the sampled prefill cost per
// token. A step of prefill alone costs at least a batch-1 decode step at context_lo (the weights are
// read once per step whatever the token count). A step with both decodes and prompt tokens adds the
// eager extra at its decode batch (linear between the sampled batches, never below 0) when the table
// has one and mixed_eager; being one forward whose host launches overlap its GPU work, such a step
// costs the decode part plus the larger of the eager extra and the prompt tokens' time, not their
// sum. A decode-only step adds the eager extra when replays_graph says it has no graph. Throws
// std::invalid_argument on an empty table or an eager extra of the wrong length.
double serve_step_seconds(const ServeStepTable& t, const StepLoad& load);

// Tokens of KV cache the system holds for requests, from one simulated step that kept `kv_tokens`
// tokens (all replicas together) in `kv_bytes` of KV on its busiest GPU, whose usable memory is
// `usable_bytes` of which `weights_bytes + activation_bytes` are taken: the free memory holds
// free / kv_bytes times the sampled tokens. 0 when nothing is free.
double kv_capacity_tokens(double usable_bytes, double weights_bytes, double activation_bytes, double kv_bytes,
                          double kv_tokens);

// The same for an engine that sizes its KV cache as a fraction of the memory left after a profiling
// step (TensorRT-LLM's kv_cache_config.free_gpu_memory_fraction): `fraction` x (`total_bytes` -
// `weights_bytes` - `profile_activation_bytes`) of KV, where vLLM's rule above takes the fraction of
// the total first. 0 when nothing is free.
double kv_capacity_tokens_of_free(double total_bytes, double fraction, double weights_bytes,
                                  double profile_activation_bytes, double kv_bytes, double kv_tokens);

} // namespace moesim
