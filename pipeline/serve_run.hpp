// `moesim serve`, and the serve rows of `moesim published`: one scenario (plan, platform) of a
// study on its engine profile serving a request mix through the continuous-batching loop
// (core/serving). Each loop step's time is read off a table of simulated steps (core/serve_steps):
// decode at a few batches and two contexts, and one prefill step. The engine's admission rule lives
// here once: sequences are limited by max_num_seqs per attention-DP replica, by the KV cache (a
// request holds input + kv_output_share x output tokens) and by the requests in flight.
#pragma once
#include "core/request_lengths.hpp"
#include "core/serve_steps.hpp"
#include "core/serving.hpp"
#include "pipeline/scenario.hpp"
#include "report/result.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace moesim {

struct ServeWorkload {
  int requests = 1;
  int input = 1;       // prompt tokens per request
  int output = 1;      // output tokens per request
  int concurrency = 0; // requests in flight (0: all arrive at once)
  // Lengths per request: when varied (a distribution or a list) they replace input and output, which
  // then are not read; a fixed input or output distribution takes its value from input / output.
  ServeLengths lengths;
};

// What set the number of sequences running at once.
enum class SeqLimit {
  requests,     // every request fits at once
  concurrency,  // the requests in flight
  max_num_seqs, // the engine's max_num_seqs per attention-DP replica
  kv_capacity,  // the KV cache left after weights and activations
  activations,  // a larger batch's activations did not fit, so the limit came down
};
const char* to_string(SeqLimit l);

struct ServeRun {
  std::string why;   // not simulated (does not fit): the reason; empty when simulated
  std::string paths; // the engine's software paths of the largest decode step
  // Share of the largest decode step's time whose compute came from each provenance (ScenarioResult's).
  std::map<std::string, double> compute_provenance;
  int gpus = 1;
  int seq_limit = 1;
  SeqLimit limited_by = SeqLimit::requests;
  double kv_tokens = 0; // tokens of KV cache the system holds for requests
  // Bytes of activations of the engine's memory profiling step on the busiest GPU (kv_cache_memory:
  // of_free; 0 otherwise).
  double profile_activations = 0;
  int engine_seqs = 0;  // max_num_seqs x attention-DP replicas
  int kv_seqs = 0;      // requests the KV cache admits at once
  int step_tokens = 0;  // tokens (prompt + decode) one replica admits a step: the loop's budget / replicas
  ServeStepTable table; // the simulated steps the loop read
  // The requests' lengths (drawn or listed; every request alike when the workload's are fixed):
  // their means set the representative request (KV per request, trtllm-bench's limits, the prefill
  // sample), their range the step table's contexts.
  double mean_input = 0, mean_output = 0;
  int max_input = 0, max_output = 0;
  RequestMix mix;        // what the loop serves
  ServingLimits limits;  // the loop's limits (prepare_serve sets both)
  ServingResult result; // output tok/s, TTFT, TPOT, mean decode batch
  double tok_s_per_gpu() const { return result.output_tok_s / gpus; }
};

// One simulated step of the scenario: `batch` sequences, in `phase`, at `context` (decode) or
// `prompt` tokens (prefill), in a child process. The serve table and the published rows use it.
ScenarioResult simulate_step(const Study& study, const Scenario& sc, Phase phase, int batch, int context, int prompt);

// Throws InputError (naming `where` and the flag) for a workload that is not all positive, or whose
// length distributions are not sound (core/request_lengths check_length_dist).
void check_serve_workload(const ServeWorkload& w, const std::string& where);

// Serves `w` on the scenario's plan and platform with the study's engine profile. Throws InputError
// when the study has no engine profile; a plan that does not fit comes back with `why` set.
ServeRun run_serve(const Study& study, const Scenario& sc, const ServeWorkload& w);
// The same up to the loop: the step table, the admission rule, the mix and the loop's limits, with
// `result` left empty (the disaggregated run serves two of these).
ServeRun prepare_serve(const Study& study, const Scenario& sc, const ServeWorkload& w);

// "200 requests of 1000 input + 200 output tokens, concurrency 16" (with the distribution and its
// means when the lengths vary).
std::string serve_workload_text(const ServeWorkload& w, double mean_input, double mean_output);
nlohmann::json percentiles_json(const Percentiles& p);
nlohmann::json step_table_json(const ServeStepTable& t);

// What `moesim serve` prints: a table and one sentence on what bounds throughput.
std::string render_serve(const Study& study, const Scenario& sc, const ServeWorkload& w, const ServeRun& r);
nlohmann::json serve_to_json(const Study& study, const Scenario& sc, const ServeWorkload& w, const ServeRun& r);

} // namespace moesim
