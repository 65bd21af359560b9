#include "core/perf/shape_grid.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace moesim::perf {
namespace {

bool same(double a, double b)
{
  return std::fabs(a - b) <= 1e-9 * std::max({std::fabs(a), std::fabs(b), 1.0});
}

} // namespace

ShapeGrid::ShapeGrid(std::vector<GridPoint> points) : points_(std::move(points))
{
  if (points_.empty())
    return;
  const size_t d = points_.front().dims.size();
  if (d == 0)
    throw std::invalid_argument("grid points need at least one dimension");
  for (const GridPoint& p : points_) {
    if (p.dims.size() != d)
      throw std::invalid_argument("grid points have " + std::to_string(p.dims.size()) + " and " + std::to_string(d) +
                                  " dimensions");
    if (!(p.seconds > 0) || !(p.form_seconds > 0))
      throw std::invalid_argument("grid point times must be positive");
    for (double v : p.dims)
      if (!(v >= 0) || !std::isfinite(v))
        throw std::invalid_argument("grid dimensions must be finite and non-negative");
  }
  std::stable_sort(points_.begin(), points_.end(),
                   [](const GridPoint& a, const GridPoint& b) { return a.dims < b.dims; });
  for (size_t i = 1; i < points_.size(); i++) {
    bool dup = true;
    for (size_t j = 0; j < d && dup; j++)
      dup = same(points_[i].dims[j], points_[i - 1].dims[j]);
    if (dup)
      throw std::invalid_argument("two grid points at the same shape");
  }
  nodes_.reserve(points_.size());
  build(0, points_.size(), 0);
}

// Points [first, last) share dims[0..level); their values of dims[level] become one node's keys.
int ShapeGrid::build(size_t first, size_t last, size_t level)
{
  const int id = static_cast<int>(nodes_.size());
  nodes_.emplace_back();
  const size_t d = points_.front().dims.size();
  std::vector<double> keys;
  std::vector<int> child;
  size_t i = first;
  while (i < last) {
    size_t j = i + 1;
    while (j < last && same(points_[j].dims[level], points_[i].dims[level]))
      j++;
    keys.push_back(points_[i].dims[level]);
    child.push_back(level + 1 == d ? static_cast<int>(i) : build(i, j, level + 1));
    i = j;
  }
  Node& n = nodes_[id];
  n.keys = std::move(keys);
  n.child = std::move(child);
  n.log_axis = n.keys.front() > 0;
  return id;
}

// Under the holding preference (holds != null): a sub-table that brackets x in every later dimension
// answers from shapes like the query's; one that must clamp a later dimension answers from another
// regime. For expert GEMMs the form carries n and k between keys, and the ratio's regime is set by
// the experts and their rows (row tiles, waves): on an H100 (bench-ops, 2026-12-06;
// validate/oos/diagnosis-oos10-h100.md) Mixtral-8x7B's up GEMM (n 28,672, k 4,096, 8 experts, 160
// rows) took its ratio from the exact key k 4,096, whose sub-tables held 2-32 experts at prefill
// sizes (1.15-1.19) and 1-4 experts, instead of the 8-expert records at k 2,048 and 8,192 (16 and 256
// rows: 0.95-1.09). So at each level the nearest keys on each side whose sub-tables hold x are
// taken; where a side has none, the plain walk (nearest keys, later dimensions clamped) answers.
double ShapeGrid::interp(int node, size_t level, const std::vector<double>& x, bool ratio, bool& inside,
                         bool& exact, std::vector<signed char>* holds_cache) const
{
  const Node& n = nodes_[node];
  const size_t d = points_.front().dims.size();
  auto value = [&](size_t i) {
    if (level + 1 == d) {
      const GridPoint& p = points_[n.child[i]];
      return ratio ? std::log(p.seconds / p.form_seconds) : std::log(p.seconds);
    }
    return interp(n.child[i], level + 1, x, ratio, inside, exact, holds_cache);
  };
  const double v = x[level];
  if (v < n.keys.front() && !same(v, n.keys.front())) {
    inside = exact = false;
    return value(0);
  }
  if (v > n.keys.back() && !same(v, n.keys.back())) {
    inside = exact = false;
    return value(n.keys.size() - 1);
  }
  const auto between = [&](size_t a_i, size_t b_i) {
    const double a = n.keys[a_i], b = n.keys[b_i];
    const double w = n.log_axis && v > 0 ? (std::log(v) - std::log(a)) / (std::log(b) - std::log(a)) : (v - a) / (b - a);
    const double lo_v = value(a_i);
    const double hi_v = value(b_i);
    return (1 - w) * lo_v + w * hi_v;
  };
  if (holds_cache && level + 1 < d) {
    long lo = -1, hi = -1;
    holding_keys(node, level, x, *holds_cache, lo, hi);
    if (lo >= 0 && hi >= 0) {
      if (lo == hi)
        return value(static_cast<size_t>(lo));
      exact = false;
      return between(static_cast<size_t>(lo), static_cast<size_t>(hi));
    }
  }
  const size_t hi = std::lower_bound(n.keys.begin(), n.keys.end(), v) - n.keys.begin();
  if (hi < n.keys.size() && same(n.keys[hi], v))
    return value(hi);
  if (hi > 0 && same(n.keys[hi - 1], v))
    return value(hi - 1);
  exact = false;
  return between(hi - 1, hi);
}

void ShapeGrid::holding_keys(int node, size_t level, const std::vector<double>& x, std::vector<signed char>& cache,
                             long& lo, long& hi) const
{
  const Node& n = nodes_[node];
  const bool last = level + 1 == points_.front().dims.size();
  const double v = x[level];
  const auto child_holds = [&](size_t i) { return last || holds(n.child[i], level + 1, x, cache); };
  lo = hi = -1;
  // Keys at or below v, nearest first; then at or above.
  const size_t first_above = std::upper_bound(n.keys.begin(), n.keys.end(), v) - n.keys.begin();
  for (size_t i = first_above; i-- > 0;) // every key below first_above is at or below v
    if (child_holds(i)) {
      lo = static_cast<long>(i);
      break;
    }
  for (size_t i = 0; i < n.keys.size(); i++) {
    if (!(n.keys[i] >= v || same(n.keys[i], v)))
      continue;
    if (child_holds(i)) {
      hi = static_cast<long>(i);
      break;
    }
  }
  // An exact key that holds answers alone (lo may have stopped at it, or at a key just below v
  // within the tolerance).
  for (size_t i = 0; i < n.keys.size(); i++)
    if (same(n.keys[i], v) && child_holds(i)) {
      lo = hi = static_cast<long>(i);
      break;
    }
}

bool ShapeGrid::holds(int node, size_t level, const std::vector<double>& x, std::vector<signed char>& cache) const
{
  signed char& c = cache[static_cast<size_t>(node)];
  if (c >= 0)
    return c != 0;
  const Node& n = nodes_[node];
  const double v = x[level];
  bool h = !(v < n.keys.front() && !same(v, n.keys.front())) && !(v > n.keys.back() && !same(v, n.keys.back()));
  if (h && level + 1 < points_.front().dims.size()) {
    long lo = -1, hi = -1;
    holding_keys(node, level, x, cache, lo, hi);
    h = lo >= 0 && hi >= 0;
  }
  c = h ? 1 : 0;
  return h;
}

bool ShapeGrid::contains(const std::vector<double>& x) const
{
  if (points_.empty() || x.size() != dims())
    return false;
  bool inside = true, exact = true;
  (void)interp(0, 0, x, false, inside, exact);
  return inside;
}

GridLookup ShapeGrid::at(const std::vector<double>& x, double form_at_x, bool ratio_inside) const
{
  if (points_.empty() || x.size() != dims())
    return {form_at_x, Provenance::extrapolated};
  bool inside = true, exact = true; // interp only clears them
  const auto label = [&] { return !inside ? Provenance::extrapolated : exact ? Provenance::measured : Provenance::interpolated; };
  if (!ratio_inside) {
    const double log_t = interp(0, 0, x, false, inside, exact);
    if (inside)
      return {std::exp(log_t), label()};
  }
  // Outside the grid (and inside too, with ratio_inside): the form times the measured-over-form ratio.
  std::vector<signed char> holds_cache;
  if (ratio_inside)
    holds_cache.assign(nodes_.size(), -1);
  const double log_r = interp(0, 0, x, true, inside, exact, ratio_inside ? &holds_cache : nullptr);
  return {form_at_x * std::exp(log_r), label()};
}

} // namespace moesim::perf
