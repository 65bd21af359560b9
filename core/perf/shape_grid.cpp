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

double ShapeGrid::interp(int node, size_t level, const std::vector<double>& x, bool ratio, bool& inside,
                         bool& exact) const
{
  const Node& n = nodes_[node];
  const size_t d = points_.front().dims.size();
  auto value = [&](size_t i) {
    if (level + 1 == d) {
      const GridPoint& p = points_[n.child[i]];
      return ratio ? std::log(p.seconds / p.form_seconds) : std::log(p.seconds);
    }
    return interp(n.child[i], level + 1, x, ratio, inside, exact);
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
  const size_t hi = std::lower_bound(n.keys.begin(), n.keys.end(), v) - n.keys.begin();
  if (hi < n.keys.size() && same(n.keys[hi], v))
    return value(hi);
  if (hi > 0 && same(n.keys[hi - 1], v))
    return value(hi - 1);
  exact = false;
  const double a = n.keys[hi - 1], b = n.keys[hi];
  const double w = n.log_axis && v > 0 ? (std::log(v) - std::log(a)) / (std::log(b) - std::log(a)) : (v - a) / (b - a);
  const double lo_v = value(hi - 1);
  const double hi_v = value(hi);
  return (1 - w) * lo_v + w * hi_v;
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
  const double log_r = interp(0, 0, x, true, inside, exact);
  return {form_at_x * std::exp(log_r), label()};
}

} // namespace moesim::perf
