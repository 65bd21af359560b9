// Sweeps: one what-if key over a list of values (moesim run --sweep key=v1,v2,...). Every value
// reruns the study with that key set (a topology key on modified platforms, or an engine option:
// what_if.hpp); the results come back per value, in the same scenario order for every value.
#pragma once
#include "pipeline/study_run.hpp"

#include <optional>
#include <string>
#include <vector>

namespace moesim {

struct SweepSpec {
  std::string key;
  std::vector<std::string> values;
};

// "key=v1,v2,..." with at least two distinct values; each is checked before anything runs.
SweepSpec parse_sweep(const std::string& arg);

// The value as a number in SI units for plotting (B/s, s, B, FLOP/s, a ratio), or nullopt for
// words (on/off, true/false, ring/tree, fused/per_expert).
std::optional<double> sweep_number(const std::string& key, const std::string& value);
// A number of `key`'s dimension for people: "96.5 GB/s", "3.2 us".
std::string format_sweep_number(const std::string& key, double v);

// by_value[i]: the study's results with values[i] applied.
struct SweepRun {
  std::vector<std::vector<ScenarioResult>> by_value;
};
// Runs every value's scenarios in one batch of processes. Throws InputError before running when
// the swept key is also set (--set, or --cuda-graphs/--eager for engine.cuda_graphs), and after,
// naming the first refused point, unless `allow_refused`.
SweepRun run_sweep(const PreparedStudy& p, const SweepSpec& sw, int jobs, bool allow_refused);

} // namespace moesim
