#include "core/fair_share.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <queue>

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
    size_t bottleneck = cap.size();
    for (size_t r = 0; r < cap.size(); r++)
      if (weight[r] > 0 && (bottleneck == cap.size() || left[r] / weight[r] < inc))
        inc = left[r] / weight[r], bottleneck = r;
    for (size_t f = 0; f < flows.size(); f++)
      if (!frozen[f]) {
        rate[f] += inc;
        for (auto [r, c] : use[f])
          left[r] -= inc * c;
      }
    // Freeze every flow on a full resource, and always those on the bottleneck: each round then
    // freezes at least one flow, so the loop ends after at most flows.size() rounds whatever the
    // capacities (even non-finite ones, which the loaders refuse).
    for (size_t f = 0; f < flows.size(); f++)
      if (!frozen[f])
        for (auto [r, c] : use[f])
          if (r == bottleneck || left[r] <= 1e-12 * cap[r])
            frozen[f] = true;
  }
  return rate;
}

std::vector<double> max_min_rates_packed(const std::vector<double>& capacity, std::vector<size_t> first,
                                         std::vector<int> uses)
{
  // Each flow's crossings sorted and counted, in place (max_min_rates's per-flow map: the flows
  // then charge a resource in flow order, one charge per flow, as there).
  const size_t nf = first.size() - 1;
  std::vector<std::uint16_t> count(uses.size());
  size_t out = 0;
  for (size_t f = 0; f < nf; f++) {
    const size_t b = first[f], e = first[f + 1];
    std::sort(uses.begin() + static_cast<std::ptrdiff_t>(b), uses.begin() + static_cast<std::ptrdiff_t>(e));
    first[f] = out;
    for (size_t i = b; i < e; i++) {
      if (i > b && uses[i] == uses[i - 1]) {
        count[out - 1]++;
        continue;
      }
      uses[out] = uses[i];
      count[out++] = 1;
    }
  }
  first[nf] = out;
  uses.resize(out);
  count.resize(out);
  // Only the resources some flow crosses, renumbered in index order (so the first tightest one is
  // the same resource).
  std::vector<int> index(capacity.size(), -1);
  for (int r : uses)
    index[static_cast<size_t>(r)] = 0;
  std::vector<double> cap;
  for (size_t r = 0; r < capacity.size(); r++)
    if (index[r] == 0) {
      index[r] = static_cast<int>(cap.size());
      cap.push_back(capacity[r]);
    }
  for (int& r : uses)
    r = index[static_cast<size_t>(r)];
  const size_t nr = cap.size();
  std::vector<double> rate(nf, 0), left = cap, weight(nr);
  std::vector<char> frozen(nf);
  for (size_t f = 0; f < nf; f++)
    frozen[f] = first[f] == first[f + 1];
  for (;;) {
    std::fill(weight.begin(), weight.end(), 0.0);
    bool active = false;
    for (size_t f = 0; f < nf; f++)
      if (!frozen[f]) {
        active = true;
        for (size_t i = first[f]; i < first[f + 1]; i++)
          weight[static_cast<size_t>(uses[i])] += count[i];
      }
    if (!active)
      break;
    double inc = std::numeric_limits<double>::infinity();
    size_t bottleneck = nr;
    for (size_t r = 0; r < nr; r++)
      if (weight[r] > 0 && (bottleneck == nr || left[r] / weight[r] < inc))
        inc = left[r] / weight[r], bottleneck = r;
    for (size_t f = 0; f < nf; f++)
      if (!frozen[f]) {
        rate[f] += inc;
        for (size_t i = first[f]; i < first[f + 1]; i++)
          left[static_cast<size_t>(uses[i])] -= inc * count[i];
      }
    for (size_t f = 0; f < nf; f++)
      if (!frozen[f])
        for (size_t i = first[f]; i < first[f + 1]; i++) {
          const size_t r = static_cast<size_t>(uses[i]);
          if (r == bottleneck || left[r] <= 1e-12 * cap[r]) {
            frozen[f] = true;
            break;
          }
        }
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

double steady_finish_time(const std::vector<double>& capacity, const std::vector<FluidFlow>& flows, double tolerance)
{
  // Water filling by levels: every unfrozen flow runs at `level`; a resource r is full at level
  // (capacity - frozen load) / (unfrozen crossings). Bounds are private resources after the links.
  const size_t links = capacity.size(), nf = flows.size();
  const std::vector<double>& cap = capacity;
  std::vector<double> frozen_load(links, 0.0), weight(links, 0.0);
  std::vector<double> rate(nf, -1.0);
  size_t live = 0;
  // The flows crossing each link (a flow once per crossing, in flow order), packed: link r's are
  // on_flow[on_first[r] .. on_first[r + 1]).
  std::vector<size_t> on_first(links + 1, 0);
  for (size_t f = 0; f < nf; f++) {
    if (flows[f].bytes <= 0) {
      rate[f] = 0;
      continue;
    }
    if (flows[f].uses.empty() && flows[f].bound <= 0)
      return -1;
    live++;
    for (int r : flows[f].uses) {
      weight[r] += 1;
      on_first[r + 1]++;
    }
  }
  for (size_t r = 0; r < links; r++)
    on_first[r + 1] += on_first[r];
  std::vector<int> on_flow(on_first[links]);
  {
    std::vector<size_t> next(on_first.begin(), on_first.end() - 1);
    for (size_t f = 0; f < nf; f++)
      if (flows[f].bytes > 0)
        for (int r : flows[f].uses)
          on_flow[next[r]++] = static_cast<int>(f);
  }
  auto on = [&](size_t r) {
    struct Span {
      const int* b;
      const int* e;
      const int* begin() const { return b; }
      const int* end() const { return e; }
    };
    return Span{on_flow.data() + on_first[r], on_flow.data() + on_first[r + 1]};
  };
  using Entry = std::pair<double, size_t>; // (level at which it is full, resource; >= links: a bound)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  for (size_t r = 0; r < links; r++)
    if (weight[r] > 0)
      heap.push({cap[r] / weight[r], r});
  for (size_t f = 0; f < nf; f++)
    if (rate[f] < 0 && flows[f].bound > 0)
      heap.push({flows[f].bound, links + f});
  std::vector<bool> full(links, false);
  // Freezing flows changes the level of each resource they cross; a resource's new level is pushed
  // once after all the flows frozen together (a full resource's), not once per flow: the entries in
  // between would be stale when popped, and an entry is taken only while it equals the resource's
  // level now, so the same entries are taken in the same order.
  std::vector<int> touched;
  std::vector<bool> is_touched(links, false);
  auto freeze = [&](size_t f, double level) {
    rate[f] = level;
    live--;
    for (int r : flows[f].uses) {
      frozen_load[r] += level;
      weight[r] -= 1;
      if (!is_touched[r]) {
        is_touched[r] = true;
        touched.push_back(r);
      }
    }
  };
  auto push_touched = [&] {
    for (int r : touched) {
      is_touched[r] = false;
      if (weight[r] > 0.5 && !full[r])
        heap.push({(cap[r] - frozen_load[r]) / weight[r], static_cast<size_t>(r)});
    }
    touched.clear();
  };
  while (live > 0 && !heap.empty()) {
    const auto [level, r] = heap.top();
    heap.pop();
    if (r >= links) { // a flow's bound
      if (rate[r - links] < 0) {
        freeze(r - links, level);
        push_touched();
      }
      continue;
    }
    if (full[r] || weight[r] < 0.5 || level != (cap[r] - frozen_load[r]) / weight[r])
      continue; // stale entry
    full[r] = true;
    for (int f : on(r))
      if (rate[f] < 0)
        freeze(static_cast<size_t>(f), level);
    push_touched();
  }
  double last = 0;
  std::vector<double> end(nf, 0.0);
  for (size_t f = 0; f < nf; f++) {
    if (flows[f].bytes <= 0)
      continue;
    if (!(rate[f] > 0))
      return -1;
    end[f] = flows[f].bytes / rate[f];
    last = std::max(last, end[f]);
  }
  // Each flow must keep a bottleneck until it ends: its bound, or a full link on which its rate is
  // the largest and whose flows all end no earlier than it does. Then, whenever some flows end,
  // every flow left still has a bottleneck, so the rates it had are still the max-min fair ones.
  std::vector<double> load(links, 0.0), top(links, 0.0), first_end(links, std::numeric_limits<double>::infinity());
  for (size_t r = 0; r < links; r++)
    for (int f : on(r)) {
      load[r] += rate[f];
      top[r] = std::max(top[r], rate[f]);
      first_end[r] = std::min(first_end[r], end[f]);
    }
  for (size_t f = 0; f < nf; f++) {
    if (flows[f].bytes <= 0 || (flows[f].bound > 0 && rate[f] >= flows[f].bound * (1 - tolerance)))
      continue;
    bool kept = false;
    for (int r : flows[f].uses)
      kept = kept || (load[r] >= cap[r] * (1 - tolerance) && rate[f] >= top[r] * (1 - tolerance) &&
                      first_end[r] >= end[f] * (1 - tolerance));
    if (!kept)
      return -1;
  }
  return last;
}

} // namespace moesim
