// Max-min fair sharing of capacity-limited resources between flows, the way SimGrid shares links
// under moesim's exact settings (CM02, no cross-traffic, latency-free links): every flow gets the
// same rate until a resource it crosses is full or its own bound is reached, then the others grow
// on. A flow lists one resource per crossing, so a resource listed twice is charged twice. Pure.
#pragma once
#include <cstddef>
#include <vector>

namespace moesim {

struct FluidFlow {
  double bytes = 0;
  double bound = 0;      // B/s at most (0: none)
  std::vector<int> uses; // resource indices, one per crossing
};

// Rates (B/s) of the flows, all running at once.
std::vector<double> max_min_rates(const std::vector<double>& capacity, const std::vector<FluidFlow>& flows);

// The same rates for flows of one byte each with no bound, packed: flow f crosses uses[first[f] ..
// first[f + 1]), a resource once per crossing (first has one entry more than there are flows). The
// same arithmetic in the same order, so the same doubles, in memory of the crossings and time of the
// crossings per round, not of every resource (`platform show` solves 4 million flows at 4,096 GPUs).
std::vector<double> max_min_rates_packed(const std::vector<double>& capacity, std::vector<std::size_t> first,
                                         std::vector<int> uses);

// When the last flow ends if all start together and the rates are re-shared each time one ends.
double fluid_finish_time(const std::vector<double>& capacity, std::vector<FluidFlow> flows);

// The same finish time without simulating, where it is provably exact: the flows' max-min rates
// (computed once, O(crossings log crossings)) never change before each flow ends. That holds when
// every flow keeps a bottleneck until it ends: its own bound, or a full resource on which its rate
// is the largest and whose flows all end no earlier than it does. When some flows end, every flow
// left then still has a bottleneck, so its rate is still the max-min fair one (the max-min
// allocation is the feasible one in which every flow has a bottleneck). The last flow then ends at
// max(bytes / rate). Returns -1 where that is not shown to hold, or a flow has neither a bound nor a
// resource. `tolerance`: relative slack in "full", "largest" and "no earlier" (the answer then
// differs from the exact one by about that much at most).
double steady_finish_time(const std::vector<double>& capacity, const std::vector<FluidFlow>& flows,
                          double tolerance = 1e-12);

} // namespace moesim
