// Runs scenarios: each is simulated in a child process of its own (SimGrid allows one engine per
// process), `jobs` at a time, and the results come back in study order. The parent loads every
// calibration before forking, so the children share one parsed copy.
#pragma once
#include "pipeline/scenario.hpp"
#include "report/result.hpp"

#include <functional>
#include <optional>
#include <vector>

namespace moesim {

struct ScenarioOutcome {
  ScenarioResult result;
  std::optional<Timeline> timeline;
};

// Runs one scenario in this process (creates the SimGrid engine: call once per process): layout,
// memory fit (a plan that does not fit comes back refused, not simulated), schedule, simulation,
// summary.
ScenarioOutcome run_scenario(const Study& study, const Scenario& sc, bool keep_timeline);

// Runs every scenario in its own child process, `jobs` at a time. Throws InputError for the first
// scenario (in study order) that failed on bad input. `on_done(index)` is called in this process as
// each scenario's process ends (for a progress bar), in the order they end.
std::vector<ScenarioOutcome> run_scenarios(const Study& study, const std::vector<Scenario>& scenarios, int jobs,
                                           bool keep_timelines,
                                           const std::function<void(size_t)>& on_done = {});

} // namespace moesim
