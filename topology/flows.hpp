// Flow rates over a routed topology, with the same exact max-min fair sharing SimGrid is set up for
// (CM02, latency-free links): a SPLITDUPLEX link is two independent capacities (UP, DOWN); a SHARED
// link listed twice in a route is charged twice. Used by `platform show` for injection and
// bisection bandwidth, and by the tests to derive expectations.
#pragma once
#include "topology/route_policy.hpp"
#include "topology/route_table.hpp"

#include <utility>
#include <vector>

namespace moesim {

// Max-min fair rates (B/s) of concurrent flows (src, dst), in order.
std::vector<double> max_min_rates(const RoutedTopology& rt, const std::vector<std::pair<int, int>>& flows);

// Rate of one flow alone: the tightest link of its route (a SHARED link used twice counts half).
double lone_rate(const RoutedTopology& rt, int src, int dst);

// Total rate GPU g reaches sending to every other GPU at once (off_node: only GPUs on other nodes).
double injection(const RoutedTopology& rt, int g, bool off_node = false);

struct Bisection {
  double rate = 0;        // B/s, all pairs across the worst cut, both directions checked
  std::vector<int> half;  // the GPUs on one side of the worst cut
  int cuts = 0;           // cuts evaluated
  bool exhaustive = false;
};
// Worst balanced cut: every balanced cut when there are at most 16 GPUs, else the structured cuts
// (first half / second half, even / odd, lower / upper half of every node).
Bisection bisection(const RoutedTopology& rt);

// The same over a route table (`rt` gives the links; its routes are not read), solved on packed
// arrays (max_min_rates_packed): the same flows in the same order, so the same doubles. The link
// capacities are read once (`platform show` solves 8,192 injections at 4,096 GPUs).
class TableFlows {
public:
  TableFlows(const RoutedTopology& rt, const RouteTable& table);
  std::vector<double> rates(const std::vector<std::pair<int, int>>& flows) const;
  double lone_rate(int src, int dst) const;
  double injection(int g, bool off_node = false) const;
  Bisection bisection() const;

private:
  const RoutedTopology& rt_;
  const RouteTable& table_;
  std::vector<double> capacity_;
};

} // namespace moesim
