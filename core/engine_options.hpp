// The engine options of a study (how the serving engine launches a step: EngineParams), one
// key = value at a time. The study loader (`engine: {sync_us: 20}`) and `moesim run/schedule --set
// engine.sync_us=20` both go through this table, so a value is valid in one exactly when it is
// valid in the other.
//   cuda_graphs       true | false      one CUDA graph launch per step instead of eager launches
//   launch_us         number >= 0       host cost of one kernel launch (eager), microseconds
//   sync_us           number >= 0       host round trip of a device-to-host sync, microseconds
//   graph_launch_us   number >= 0       host cost of launching a step's graph, microseconds
//   grouped_gemm      fused | per_expert  one kernel over the local experts, or one GEMM per expert
//   timed_ops         true | false      two CUDA event records per op on the host (the harness's timing)
// A platform's measured host costs (its calibration) replace launch_us, sync_us and graph_launch_us.
#pragma once
#include "core/schedule.hpp"

#include <optional>
#include <string>
#include <vector>

namespace moesim {

struct EngineOptionDoc {
  const char* key;
  const char* what;
};
// The keys, in the order above.
const std::vector<EngineOptionDoc>& engine_option_docs();
bool is_engine_option(const std::string& key);

// What is wrong with a key or value, and how to fix it.
struct EngineOptionProblem {
  std::string what, fix;
};
// Sets `key` (without the "engine." prefix) to `value` (as written: "true", "5", "per_expert").
// Returns the problem and leaves `engine` unchanged for an unknown key or a bad value.
std::optional<EngineOptionProblem> set_engine_option(EngineParams& engine, const std::string& key,
                                                     const std::string& value);

// The value as a number in SI units (seconds for the *_us keys), for plotting a sweep; nullopt for
// the keys that take words (true/false, fused/per_expert). The value must be valid.
std::optional<double> engine_option_number(const std::string& key, const std::string& value);

} // namespace moesim
