// Max-min fair sharing of capacity-limited resources between flows, the way SimGrid shares links
// under moesim's exact settings (CM02, no cross-traffic, latency-free links): every flow gets the
// same rate until a resource it crosses is full or its own bound is reached, then the others grow
// on. A flow lists one resource per crossing, so a resource listed twice is charged twice. Pure.
#pragma once
#include <vector>

namespace moesim {

struct FluidFlow {
  double bytes = 0;
  double bound = 0;      // B/s at most (0: none)
  std::vector<int> uses; // resource indices, one per crossing
};

// Rates (B/s) of the flows, all running at once.
std::vector<double> max_min_rates(const std::vector<double>& capacity, const std::vector<FluidFlow>& flows);

// When the last flow ends if all start together and the rates are re-shared each time one ends.
double fluid_finish_time(const std::vector<double>& capacity, std::vector<FluidFlow> flows);

} // namespace moesim
