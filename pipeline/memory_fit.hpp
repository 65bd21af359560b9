// Memory fit: does a layout's busiest GPU fit in its usable memory? A plan that does not fit is
// refused with the numbers (how much it needs, by part, and by how much it is short).
#pragma once
#include "core/schedule_builder.hpp"

#include <string>
#include <vector>

namespace moesim {

struct MemoryFit {
  MemoryUse busiest;        // the most loaded rank (the first of equals)
  int busiest_rank = 0;
  double capacity = 0;      // usable bytes per GPU: the smallest GPU x utilisation
  bool fits = true;
  std::string refusal;      // when it does not fit: "does not fit: GPU 2 needs ... short by 23.6 GiB"
};

// `gpu_mem_bytes`: each GPU's memory; `utilization`: the usable fraction (gpu_memory_utilization).
MemoryFit check_memory_fit(const Model& model, const Layout& layout, const StepShape& step,
                           const std::vector<double>& gpu_mem_bytes, double utilization);

} // namespace moesim
