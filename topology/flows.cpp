#include "topology/flows.hpp"

#include "core/fair_share.hpp"

#include <algorithm>
#include <limits>
#include <map>

namespace moesim {
namespace {

// Resource index: link * 3 + direction (UP 0, DOWN 1, SHARED 2).
int resource(const Hop& h)
{
  return h.link * 3 + (h.dir == Dir::up ? 0 : h.dir == Dir::down ? 1 : 2);
}

// GPU g sending to every other GPU (off_node: on other nodes only), the rates summed in flow order.
template <class Rates>
double injection_with(int n, int per, int g, bool off_node, Rates&& rates)
{
  std::vector<std::pair<int, int>> flows;
  for (int d = 0; d < n; d++)
    if (d != g && (!off_node || d / per != g / per))
      flows.push_back({g, d});
  double total = 0;
  for (double r : rates(flows))
    total += r;
  return total;
}

// Every pair across a cut, one direction, the rates summed in flow order.
template <class Rates>
double across(int n, const std::vector<bool>& side, bool forward, Rates& rates)
{
  std::vector<std::pair<int, int>> flows;
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++)
      if (side[a] && !side[b])
        flows.push_back(forward ? std::pair{a, b} : std::pair{b, a});
  double total = 0;
  for (double r : rates(flows))
    total += r;
  return total;
}

template <class Rates>
Bisection bisection_with(int n, int per, Rates&& rates)
{
  Bisection best;
  best.rate = std::numeric_limits<double>::infinity();
  if (n < 2) {
    best.rate = 0;
    return best;
  }
  auto consider = [&](const std::vector<bool>& side) {
    best.cuts++;
    const double r = std::min(across(n, side, true, rates), across(n, side, false, rates));
    if (r < best.rate * (1 - 1e-12)) {
      best.rate = r;
      best.half.clear();
      for (int g = 0; g < n; g++)
        if (side[g])
          best.half.push_back(g);
    }
  };
  const int k = n / 2;
  if (n <= 16) {
    best.exhaustive = true;
    // Every subset of size k; with n even, those holding gpu0 suffice (the complement is the same cut).
    std::vector<int> pick(k);
    for (int i = 0; i < k; i++)
      pick[i] = i;
    while (n % 2 || pick[0] == 0) {
      std::vector<bool> side(n, false);
      for (int i : pick)
        side[i] = true;
      consider(side);
      int i = k - 1;
      while (i >= 0 && pick[i] == n - k + i)
        i--;
      if (i < 0)
        break;
      pick[i]++;
      for (int j = i + 1; j < k; j++)
        pick[j] = pick[j - 1] + 1;
    }
    return best;
  }
  std::vector<bool> halves(n), parity(n), local(n);
  for (int g = 0; g < n; g++) {
    halves[g] = g < k;
    parity[g] = g % 2 == 0;
    local[g] = g % per < per / 2;
  }
  consider(halves);
  consider(parity);
  if (per > 1)
    consider(local);
  return best;
}

} // namespace

std::vector<double> max_min_rates(const RoutedTopology& rt, const std::vector<std::pair<int, int>>& flows)
{
  std::vector<double> capacity(rt.links.size() * 3, 0);
  for (size_t l = 0; l < rt.links.size(); l++)
    for (int k = 0; k < 3; k++)
      capacity[l * 3 + k] = rt.links[l].bw.value();
  // Every flow as SimGrid sees it: one resource per crossing, no bound of its own.
  std::vector<FluidFlow> fluid(flows.size());
  for (size_t f = 0; f < flows.size(); f++) {
    fluid[f].bytes = 1;
    for (const Hop& h : rt.route(flows[f].first, flows[f].second).hops)
      fluid[f].uses.push_back(resource(h));
  }
  return moesim::max_min_rates(capacity, fluid);
}

double lone_rate(const RoutedTopology& rt, int src, int dst)
{
  return max_min_rates(rt, {{src, dst}}).at(0);
}

double injection(const RoutedTopology& rt, int g, bool off_node)
{
  return injection_with(rt.gpus(), rt.topo.gpus, g, off_node,
                        [&](const std::vector<std::pair<int, int>>& flows) { return max_min_rates(rt, flows); });
}

Bisection bisection(const RoutedTopology& rt)
{
  return bisection_with(rt.gpus(), rt.topo.gpus,
                        [&](const std::vector<std::pair<int, int>>& flows) { return max_min_rates(rt, flows); });
}

TableFlows::TableFlows(const RoutedTopology& rt, const RouteTable& table)
    : rt_(rt), table_(table), capacity_(rt.links.size() * 3, 0)
{
  for (size_t l = 0; l < rt.links.size(); l++)
    for (int k = 0; k < 3; k++)
      capacity_[l * 3 + k] = rt.links[l].bw.value();
}

std::vector<double> TableFlows::rates(const std::vector<std::pair<int, int>>& flows) const
{
  std::vector<size_t> first{0};
  first.reserve(flows.size() + 1);
  std::vector<int> uses;
  std::vector<Hop> hops;
  for (const auto& [s, d] : flows) {
    table_.hops(s, d, hops);
    for (const Hop& h : hops)
      uses.push_back(resource(h));
    first.push_back(uses.size());
  }
  return max_min_rates_packed(capacity_, std::move(first), std::move(uses));
}

double TableFlows::lone_rate(int src, int dst) const
{
  return rates({{src, dst}}).at(0);
}

double TableFlows::injection(int g, bool off_node) const
{
  return injection_with(table_.gpus, rt_.topo.gpus, g, off_node,
                        [&](const std::vector<std::pair<int, int>>& flows) { return rates(flows); });
}

Bisection TableFlows::bisection() const
{
  return bisection_with(table_.gpus, rt_.topo.gpus,
                        [&](const std::vector<std::pair<int, int>>& flows) { return rates(flows); });
}

} // namespace moesim
