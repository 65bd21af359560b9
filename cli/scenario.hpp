// Scenario: one (plan, platform, batch) of a study, simulated in a child process of its own
// (SimGrid allows one engine per process), with results collected in study order.
#pragma once
#include "core/study.hpp"
#include "sim/platform.hpp"
#include "report/render.hpp"
#include "report/result.hpp"

#include <optional>
#include <string>
#include <vector>

namespace moesim {

struct Scenario {
  Plan plan;
  std::string platform_name; // file stem
  std::string platform_path;
  int batch = 1;
};

struct ScenarioOutcome {
  ScenarioResult result;
  std::optional<Timeline> timeline;
};

// Expands a study into scenarios (platforms x batches x plans, in that order).
std::vector<Scenario> expand_study(const Study& study, const std::string& root);

// Runs one scenario in this process (creates the SimGrid engine: call once per process).
ScenarioOutcome run_scenario(const Study& study, const Scenario& sc, bool keep_timeline);

// Runs every scenario in its own child process, `jobs` at a time. Throws InputError for the first
// scenario (in study order) that failed on bad input.
std::vector<ScenarioOutcome> run_scenarios(const Study& study, const std::vector<Scenario>& scenarios, int jobs,
                                           bool keep_timelines);

// Everything about a scenario that is not simulated: the layout check and the memory fit.
Layout check_layout(const Study& study, const Scenario& sc, int gpus);
// Fills r.memory and r.memory_capacity; sets r.refused with the numbers when the busiest GPU overflows.
void check_memory(const Study& study, const Layout& layout, const StepShape& step, const Platform& platform,
                  ScenarioResult& r);
StepShape step_of(const Study& study, int batch);

} // namespace moesim
