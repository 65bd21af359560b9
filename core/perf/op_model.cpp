#include "core/perf/op_model.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace moesim::perf {

Estimate OpModel::estimate(const std::vector<double>& dims, const std::vector<double>& rows) const
{
  const double f = form_seconds(form, dims, rows);
  if (grid.empty())
    return {f, Provenance::extrapolated};
  if (form.kind == FormKind::decode_tiles) {
    // The kernel's launch changes with the head configuration (its row tiles, split rule and
    // resident blocks), so measured times, or their ratio to the form, carry over only between ops of
    // the same head dims and heads: with none measured, the form alone answers.
    const auto same_heads = [&](const GridPoint& q) { return std::equal(q.dims.begin(), q.dims.begin() + 4, dims.begin()); };
    if (dims.size() >= 4 && std::none_of(grid.points().begin(), grid.points().end(), same_heads))
      return {f, Provenance::extrapolated};
  }
  // Expert GEMMs: the form carries the shape between grid points, the grid its correction. Their
  // time against rows is flat, then rises by waves (memory-bound at a few rows per expert, math-bound
  // at hundreds), which log-linear interpolation of the times between 256 and 4096 rows does not
  // follow: on an H100 (2026-12-06, round 9 hindcast) Llama-4-Scout's expert down GEMM (16 experts,
  // 1,664 rows, n 5120, k 8192) came to 1.79 ms between records whose measured/form ratios are
  // 0.97-1.06 and a form of 0.9 ms.
  const GridLookup g = grid.at(dims, f, form.kind == FormKind::grouped_tiles);
  return {g.seconds, g.provenance};
}

OpModel fit_op_model(const FormParams& given, const std::vector<FitPoint>& points)
{
  if (points.empty())
    throw std::invalid_argument("no points to fit");
  // Duplicate shapes (repeated measurements, or expert rows that differ but summarise alike):
  // one grid point at the median time, keeping the rows of the first.
  std::map<std::vector<double>, std::vector<const FitPoint*>> by_shape;
  for (const FitPoint& p : points)
    by_shape[p.dims].push_back(&p);
  std::vector<FitPoint> unique;
  unique.reserve(by_shape.size());
  for (auto& [dims, ps] : by_shape) {
    std::vector<double> t;
    for (const FitPoint* p : ps)
      t.push_back(p->seconds);
    std::sort(t.begin(), t.end());
    const size_t n = t.size();
    FitPoint u = *ps.front();
    u.seconds = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    unique.push_back(std::move(u));
  }
  OpModel m;
  m.form = fit_form(given, unique);
  std::vector<GridPoint> grid;
  grid.reserve(unique.size());
  for (const FitPoint& u : unique)
    grid.push_back({u.dims, u.seconds, form_seconds(m.form, u.dims, u.rows)});
  m.grid = ShapeGrid(std::move(grid));
  return m;
}

ErrorStats error_stats(std::vector<double> e)
{
  ErrorStats s;
  s.count = e.size();
  if (e.empty())
    return s;
  std::sort(e.begin(), e.end());
  const size_t n = e.size();
  s.median = n % 2 ? e[n / 2] : (e[n / 2 - 1] + e[n / 2]) / 2;
  s.p90 = e[std::min(n - 1, static_cast<size_t>(std::ceil(0.9 * n)) - 1)];
  s.worst = e.back();
  return s;
}

} // namespace moesim::perf
