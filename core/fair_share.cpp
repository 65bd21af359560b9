#include "core/fair_share.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace moesim {

std::vector<double> max_min_rates(const std::vector<double>& capacity, const std::vector<FluidFlow>& flows)
{
  // Per flow: (resource, crossings); a bound is a private resource of its own.
  std::vector<std::vector<std::pair<size_t, double>>> use(flows.size());
  std::vector<double> cap = capacity;
  for (size_t f = 0; f < flows.size(); f++) {
    std::map<size_t, double> m;
    for (int r : flows[f].uses)
      m[static_cast<size_t>(r)] += 1;
    use[f].assign(m.begin(), m.end());
    if (flows[f].bound > 0) {
      use[f].push_back({cap.size(), 1.0});
      cap.push_back(flows[f].bound);
    }
  }
  std::vector<double> rate(flows.size(), 0), left = cap;
  std::vector<bool> frozen(flows.size(), false);
  for (size_t f = 0; f < flows.size(); f++)
    frozen[f] = use[f].empty() || flows[f].bytes <= 0;
  for (;;) {
    std::vector<double> weight(cap.size(), 0);
    bool active = false;
    for (size_t f = 0; f < flows.size(); f++)
      if (!frozen[f]) {
        active = true;
        for (auto [r, c] : use[f])
          weight[r] += c;
      }
    if (!active)
      break;
    double inc = std::numeric_limits<double>::infinity();
    for (size_t r = 0; r < cap.size(); r++)
      if (weight[r] > 0)
        inc = std::min(inc, left[r] / weight[r]);
    for (size_t f = 0; f < flows.size(); f++)
      if (!frozen[f]) {
        rate[f] += inc;
        for (auto [r, c] : use[f])
          left[r] -= inc * c;
      }
    for (size_t f = 0; f < flows.size(); f++)
      if (!frozen[f])
        for (auto [r, c] : use[f])
          if (left[r] <= 1e-12 * cap[r])
            frozen[f] = true;
  }
  return rate;
}

double fluid_finish_time(const std::vector<double>& capacity, std::vector<FluidFlow> flows)
{
  double now = 0;
  for (;;) {
    std::vector<double> rate = max_min_rates(capacity, flows);
    double step = std::numeric_limits<double>::infinity();
    for (size_t f = 0; f < flows.size(); f++)
      if (flows[f].bytes > 0 && rate[f] > 0)
        step = std::min(step, flows[f].bytes / rate[f]);
    if (!std::isfinite(step))
      return now;
    now += step;
    for (size_t f = 0; f < flows.size(); f++)
      if (flows[f].bytes > 0 && rate[f] > 0) {
        flows[f].bytes -= rate[f] * step;
        if (flows[f].bytes <= 1e-9 * rate[f] * step)
          flows[f].bytes = 0;
      }
  }
}

} // namespace moesim
