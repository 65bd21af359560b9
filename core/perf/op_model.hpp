// OpModel: one op family's time on one GPU, a measured grid with a fitted form around it.
// Inside the grid the measurements are interpolated (ShapeGrid); outside, the form extrapolates,
// anchored to the nearest measurements; with no grid at all the form alone answers. decode_tiles: an op
// whose head configuration (d_qk, d_v, kv_heads, q_heads) the grid never measured takes the form alone.
#pragma once
#include "core/perf/forms.hpp"
#include "core/perf/shape_grid.hpp"

#include <cstddef>
#include <vector>

namespace moesim::perf {

struct Estimate {
  double seconds = 0;
  Provenance provenance = Provenance::specs;
};

// The grid's dims for a form's dims: grouped_tiles {n, k, active, total rows} ->
// {n, k, active, rows per active expert}; every other form its own dims.
std::vector<double> grid_dims(FormKind kind, const std::vector<double>& dims);

struct OpModel {
  FormParams form;
  ShapeGrid grid; // keyed by grid_dims(form.kind, dims)

  Estimate estimate(const std::vector<double>& dims, const std::vector<double>& rows = {}) const;
};

// Fits `given`'s form to the points, then keeps them as the grid (duplicate shapes: the median time).
// Throws std::invalid_argument for no points or dims the form does not take.
OpModel fit_op_model(const FormParams& given, const std::vector<FitPoint>& points);

// |relative error| statistics.
struct ErrorStats {
  std::size_t count = 0;
  double median = 0;
  double p90 = 0;
  double worst = 0;
};
// From |predicted / measured - 1| values (any order).
ErrorStats error_stats(std::vector<double> abs_errors);

} // namespace moesim::perf
