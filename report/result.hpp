// ScenarioResult: what one (plan, platform, batch) simulation concluded, in the units a user reads.
// It round-trips through JSON because each scenario is simulated in its own process.
#pragma once
#include "core/error_bands.hpp"
#include "core/schedule_builder.hpp"
#include "core/timeline.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace moesim {

struct ScenarioResult {
  // what was asked
  std::string plan;
  std::string plan_layout;  // Plan::describe()
  std::string platform;     // file stem
  std::string platform_description;
  std::string gpu_model;
  std::string calibration;  // what was measured and on what ("" when the roofline and NCCL's model alone)
  std::string calibration_file; // the calibration YAML applied ("" for none)
  int gpus = 0;
  Phase phase = Phase::decode;
  int batch = 0;
  int context = 0;
  int prompt = 0;
  bool cuda_graphs = false;
  std::string software_paths; // an engine profile's paths for the step (StepPaths::line), "" without one
  // outcome
  bool refused = false;
  std::string refusal;      // why the plan cannot run (memory), with numbers
  double step_time = 0;     // s
  double tok_s_user = 0;    // decode: tokens/s each sequence sees; prefill: prompt tokens/s per sequence
  double tok_s_total = 0;   // all sequences
  double tok_s_per_gpu = 0;
  // Aggregate rate if other sequences' microbatches filled the pipeline bubbles across steps:
  // tokens / the busiest rank's busy time (compute + exposed comm + host). Equals tok_s_total
  // when no rank idles.
  double tok_s_pipelined = 0;
  // PP decode: several steps simulated back to back (core/pp_steady.hpp), the pipeline kept full by
  // the batch's own microbatches. steady_steps = 0: not simulated (PP 1, prefill, or turned off).
  int steady_steps = 0;
  int steady_warmup = 0;
  int steady_microbatches = 0; // microbatches in flight (those with sequences)
  double steady_interval = 0; // s between two tokens of a sequence once the pipeline is full (TPOT)
  double tok_s_steady = 0;    // all sequences' tokens per steady interval
  int pp = 1;
  Breakdown mean;           // averaged over ranks
  Breakdown slowest;        // the rank with the most compute (the one that sets the pace)
  int slowest_rank = 0;
  double compute_imbalance = 1; // max / mean compute time over ranks, whole step
  // Per MoE layer, the slowest rank's expert GEMM time over the mean (summed over layers): how
  // long the GPUs holding hot experts keep the others waiting at the combine.
  double expert_imbalance = 1;
  int host_syncs = 0;       // per rank
  int kernels = 0;          // per rank (max)
  int collectives = 0;      // per rank (max)
  std::map<std::string, double> link_bytes;
  std::map<std::string, double> comm_time_by_kind; // mean per rank, exposed comm time by collective kind
  std::map<std::string, double> calls_by_kind;     // mean per rank, calls on the main stream by kind
  std::map<std::string, double> fixed_by_kind;     // mean per rank, their fixed cost (latencies) by kind
  std::map<std::string, int> algorithms;
  // Share of the step time whose compute came from each provenance ("measured", "interpolated",
  // "extrapolated", "specs"; absent: none): compute seconds summed over ranks / (GPUs x step time).
  std::map<std::string, double> compute_provenance;
  std::string error_band;   // the validated step-error band of the dominant provenance (attach_error_bands)
  MemoryUse memory;         // the most loaded rank
  double memory_capacity = 0; // usable bytes per GPU (size x utilisation)

  std::string key() const; // "plan @ platform b=N"
};

nlohmann::json result_to_json(const ScenarioResult& r);
ScenarioResult result_from_json(const nlohmann::json& j);

// The provenance with the largest share of compute time (specs when there is no compute).
perf::Provenance dominant_provenance(const std::map<std::string, double>& shares);
// Sets each result's error_band from `bands`: the band of its dominant provenance for its card, GPU
// count and launch mode, with the provenance named ("interpolated: not yet validated"), and saying so
// when the band was measured on another card.
void attach_error_bands(std::vector<ScenarioResult>& results, const ErrorBands& bands);

// Fills the timing fields of `r` from a finished simulation's timeline and schedule.
void summarise(ScenarioResult& r, const Schedule& s, const Timeline& t);

} // namespace moesim
