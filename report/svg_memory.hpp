// Memory per GPU in a picture: each GPU's weights, KV cache and activations stacked against the
// usable capacity, every plan of a platform and batch on one scale.
#pragma once
#include "core/schedule_builder.hpp"
#include "core/study.hpp"
#include "report/result.hpp"

#include <string>
#include <vector>

namespace moesim {

// Every GPU's memory under the scenario's plan (memory_per_rank, the rule the memory check uses), or
// only the busiest GPU's (ScenarioResult::memory) when the study does not hold the plan.
std::vector<MemoryUse> memory_by_gpu(const Study& study, const ScenarioResult& r);

// The picture's scale: `plot` pixels for the largest GPU memory of the scenarios (usable capacity
// over the study's utilisation), x = left + bytes * plot / that.
struct MemoryGeometry {
  static constexpr double width = 900;
  static constexpr double left = 100;
  static constexpr double plot = 540;
  static constexpr double bar = 9;
  static constexpr double gap = 2;
};
std::string svg_memory(const Study& study, const std::vector<const ScenarioResult*>& rs);

} // namespace moesim
