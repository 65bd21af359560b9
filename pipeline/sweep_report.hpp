// A sweep's report: decode (or prefill) tok/s per plan against the swept value, per platform and
// batch; which plan is fastest at each value and where each plan overtakes the one fastest most
// often (or how close it gets); as a table, CSV and a hand-written SVG line chart (deterministic).
#pragma once
#include "core/study.hpp"
#include "pipeline/sweep.hpp"
#include "report/result.hpp"

#include <string>
#include <vector>

namespace moesim {

// by_value[i]: the study's results with values[i] applied, in the same scenario order for every i.
std::string render_sweep(const Study& s, const SweepSpec& sw, const std::vector<std::vector<ScenarioResult>>& by_value);
std::string render_sweep_csv(const Study& s, const SweepSpec& sw, const std::vector<std::vector<ScenarioResult>>& by_value);
std::string render_sweep_svg(const Study& s, const SweepSpec& sw, const std::vector<std::vector<ScenarioResult>>& by_value);

} // namespace moesim
