// Sweeps: one what-if parameter over a list of values (moesim run --sweep key=v1,v2,...). Every
// value reruns the study on modified platforms; the report is decode (or prefill) tok/s per plan
// against the value, per platform and batch, says where a plan overtakes the fastest one, and comes
// as a table, CSV and a hand-written SVG line chart (deterministic).
#pragma once
#include "core/study.hpp"
#include "report/result.hpp"
#include "topology/overrides.hpp"

#include <string>
#include <vector>

namespace moesim {

struct SweepSpec {
  std::string key;
  std::vector<std::string> values;
  std::vector<Override> at(size_t i) const { return {{key, values.at(i), "--sweep"}}; }
};

// "key=v1,v2,..." with at least two values; each is checked before anything runs.
SweepSpec parse_sweep(const std::string& arg);

// by_value[i]: the study's results with values[i] applied, in the same scenario order for every i.
std::string render_sweep(const Study& s, const SweepSpec& sw, const std::vector<std::vector<ScenarioResult>>& by_value);
std::string render_sweep_csv(const Study& s, const SweepSpec& sw, const std::vector<std::vector<ScenarioResult>>& by_value);
std::string render_sweep_svg(const Study& s, const SweepSpec& sw, const std::vector<std::vector<ScenarioResult>>& by_value);

} // namespace moesim
