// ShapeGrid: measured times over several shape dimensions, interpolated in log space.
//
// The points need not form a full product grid. They are stored as a tree, one level per
// dimension: the root holds the values of dimension 0 that were measured, each of those the values
// of dimension 1 measured with it, and so on. A query brackets its value at each level between the
// two nearest measured values and recurses into both, so on a full product grid this is exactly
// multilinear interpolation, and on a ragged one (attention: large batches measured only at short
// contexts) each sub-table uses its own axis.
//
// Interpolation is linear in log(seconds) against log(dimension) (against the dimension itself at a
// level that holds a 0, such as no cached context). So a grid point returns its measured time
// exactly, and between points the time is monotone wherever the measured times are.
//
// Outside the grid (some level's value beyond its measured range) the caller's fitted form takes
// over, anchored to the data: seconds = form(x) * r, where r is the measured-over-form ratio
// interpolated the same way with each out-of-range value clamped to its nearest measured value.
#pragma once
#include "core/perf/provenance.hpp"

#include <cstddef>
#include <vector>

namespace moesim::perf {

struct GridPoint {
  std::vector<double> dims;
  double seconds = 0;      // measured
  double form_seconds = 0; // the fitted form at this point (for anchoring outside the grid)
};

struct GridLookup {
  double seconds = 0;
  Provenance provenance = Provenance::extrapolated;
};

class ShapeGrid {
public:
  ShapeGrid() = default;
  // Throws std::invalid_argument for points of different dimension counts, a non-positive time,
  // a negative dimension or two points at the same shape.
  explicit ShapeGrid(std::vector<GridPoint> points);

  bool empty() const { return points_.empty(); }
  std::size_t dims() const { return points_.empty() ? 0 : points_.front().dims.size(); }
  const std::vector<GridPoint>& points() const { return points_; } // sorted by shape
  // Inside the grid: the interpolated measured time (provenance measured at a grid point,
  // interpolated elsewhere). Outside: form_at_x times the clamped ratio (extrapolated).
  // With ratio_inside, inside too: form_at_x times the interpolated measured-over-form ratio (still
  // the measured time at a grid point), for ops whose time is far from a power law between grid
  // points (an expert GEMM's waves and tiles between 256 and 4096 rows). With ratio_inside the
  // ratio also prefers, at each level, the nearest keys whose sub-tables bracket x in every later
  // dimension (see interp): an exact key that would clamp later dimensions gives way to bracketing
  // keys that hold them.
  GridLookup at(const std::vector<double>& x, double form_at_x, bool ratio_inside = false) const;
  // True when x lies inside the grid (every level brackets its value).
  bool contains(const std::vector<double>& x) const;

private:
  struct Node {
    std::vector<double> keys; // measured values of this level's dimension, ascending
    std::vector<int> child;   // per key: node index (inner levels) or point index (last level)
    bool log_axis = true;     // every key > 0: interpolate against log(key)
  };
  std::vector<GridPoint> points_;
  std::vector<Node> nodes_; // nodes_[0] is the root

  int build(std::size_t first, std::size_t last, std::size_t level);
  // Interpolated log(seconds) (ratio = false) or log(seconds / form) (ratio = true) under `node`.
  // holds (null: the plain tree walk) is a per-node cache for x of whether the sub-table brackets x
  // in every dimension from its level on; with it each level takes the nearest such keys.
  double interp(int node, std::size_t level, const std::vector<double>& x, bool ratio, bool& inside, bool& exact,
                std::vector<signed char>* holds = nullptr) const;
  bool holds(int node, std::size_t level, const std::vector<double>& x, std::vector<signed char>& cache) const;
  // The nearest keys at or below (lo) and at or above (hi) x[level] whose sub-tables hold x; -1 when a
  // side has none.
  void holding_keys(int node, std::size_t level, const std::vector<double>& x, std::vector<signed char>& cache,
                    long& lo, long& hi) const;
};

} // namespace moesim::perf
