// Renders scenario results for people (aligned tables and a plain-words explanation) and for
// machines (CSV, JSON, Chrome-trace/Perfetto timelines). Output is deterministic.
#pragma once
#include "core/study.hpp"
#include "report/result.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace moesim {

std::string render_table(const Study& study, const std::vector<ScenarioResult>& results);
std::string render_explanation(const Study& study, const std::vector<ScenarioResult>& results);
std::string render_csv(const std::vector<ScenarioResult>& results);

// A reference's candidate explanation, simulated (cli/candidates).
struct CandidateRun {
  int reference = 0; // index into study.references
  std::string name;
  std::string plan;  // the plan simulated
  ScenarioResult result;
};
// Each candidate against its reference's measured figure; a candidate within 1.25x either way is
// marked as reproducing it. Empty when there are none.
std::string render_candidates(const Study& study, const std::vector<CandidateRun>& runs);
nlohmann::json render_json(const Study& study, const std::vector<ScenarioResult>& results);

// The components (compute, exposed communication, host overhead, idle) whose mean per-GPU time
// differs most between two scenarios, largest first: at most 3, each over 2% of the step difference.
struct StepDifference {
  enum Part { compute, comm, host, idle } part;
  const char* what;
  double delta; // s, slow minus fast
};
std::vector<StepDifference> step_differences(const ScenarioResult& fast, const ScenarioResult& slow);
// "+2.56 ms exposed communication, +1.55 ms host overhead" ("no single component dominates" if none).
std::string differences_text(const std::vector<StepDifference>& parts);
// How a slower scenario's step differs from a faster one: the components that changed, largest first
// ("the step is 4.1 ms longer: +2.56 ms exposed communication, +1.55 ms host overhead").
std::string attribute_difference(const ScenarioResult& fast, const ScenarioResult& slow);
// What sets a plan's step, as clauses: collectives and where their time goes, host syncs, bytes per
// link class, routing and stage imbalance, pipeline bubbles.
std::vector<std::string> plan_facts(const ScenarioResult& r);
// One plan against the fastest of its platform and batch (pass the same object for the fastest),
// as render_explanation prints it.
std::string explain_plan(const ScenarioResult& r, const ScenarioResult& fastest);

// One process per (scenario, rank), one thread per stream; times in microseconds.
struct NamedTimeline {
  std::string label;
  Timeline timeline;
};
nlohmann::json chrome_trace(const std::vector<NamedTimeline>& timelines);

// Human units: "12.3 ms", "4.56 GB".
std::string fmt_time(double s);
std::string fmt_bytes(double b);
// One number through a printf format: fmt_value("%.1f", 2.25) is "2.2" (the C locale's digits).
std::string fmt_value(const char* format, double v);

} // namespace moesim
