// A study run, from the request to the results: the steps of `moesim run` and `moesim schedule`,
// callable by a test or another tool.
//   request -> study (loaded, narrowed to the plans, platforms and batches asked for)
//           -> scenarios (platforms generated, what-ifs applied, calibrations resolved and loaded)
//           -> per scenario: layout -> memory fit -> schedule -> simulation (scenario_runner.hpp)
//           -> results in study order, refused plans checked.
// Every bad input is an InputError thrown before anything is simulated or written.
#pragma once
#include "core/calibration_choice.hpp"
#include "core/study.hpp"
#include "pipeline/candidates.hpp"
#include "pipeline/scenario_runner.hpp"
#include "pipeline/what_if.hpp"

#include <optional>
#include <string>
#include <vector>

namespace moesim {

struct StudyRequest {
  std::string study = "default";   // name (workloads/studies/NAME.yaml) or path
  std::string root;                // the data root: workloads/ and platforms/
  std::vector<std::string> plans;  // only these (names from the study, or specs like tp4); empty: all
  std::vector<std::string> platforms;
  std::vector<int> batches;
  std::optional<bool> cuda_graphs; // --cuda-graphs (true) / --eager (false) over the study's engine
  std::vector<std::string> sets;   // --set key=value (what_if.hpp)
  std::string calibration = "auto"; // --calibration: auto, none or a file
  bool exact = false;              // --exact: every op on SimGrid's clock, every collective through SimGrid
};

// The request checked and the study loaded: what every later step reads.
struct PreparedStudy {
  Study study;
  WhatIf what_if;
  CalibrationChoice calibration;
  std::string root;
  bool cuda_graphs_forced = false; // --cuda-graphs or --eager was given
  bool exact = false;
};
PreparedStudy prepare_study(const StudyRequest& request);

// Throws an InputError when the run (times `sweep_values`, 0 without a sweep) has more scenarios
// than limits::scenarios, before any platform is generated.
void check_scenario_count(const PreparedStudy& p, size_t sweep_values);

// The what-ifs as a report prints them: "what-if (--set): k=v (no effect on A: no nic links), ..."
// ("" without any); with a sweep's key `swept` (its first value tried), "; --sweep KEY (no effect
// on ...)" when the key edits nothing on some platforms. A what-if that changes nothing on every
// platform of the run is an InputError naming its flag.
std::string what_if_summary(const PreparedStudy& p, const std::optional<Override>& swept);

struct StudyRun {
  std::vector<ScenarioOutcome> outcomes; // study order: platforms x batches x plans
  std::vector<CandidateRun> candidates;  // each reference's candidate explanations, simulated
  std::vector<ScenarioResult> results() const;
};
// Simulates every scenario, `jobs` processes at a time; keeps the timelines when asked. Then
// simulates each reference's candidates (run_candidates) on the same platforms.
StudyRun run_study(const PreparedStudy& p, int jobs, bool keep_timelines);

// Throws an InputError naming the first plan that does not fit (and how many more do not) unless
// `allow_refused`: refused plans are then rows of the report.
void check_refusals(const Study& study, const std::vector<ScenarioResult>& results, bool allow_refused);

// The schedule of one scenario (the study narrowed to one plan, its first platform and its first
// batch), after the layout and memory checks. Reads the platform's GPUs from its XML: no SimGrid.
Schedule schedule_of(const PreparedStudy& p);

} // namespace moesim
