#include "core/perf/op_model.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace moesim::perf {

std::vector<double> grid_dims(FormKind kind, const std::vector<double>& dims)
{
  if (kind != FormKind::grouped_tiles || dims.size() != 4)
    return dims;
  // {n, k, active, total rows} -> {n, k, active, rows per active expert}: the kernel's row tile
  // (16 rows up to 24 per expert, tile_m above) and so the ratio's regime follow the rows per
  // expert, which interpolation over total rows mixes (see estimate).
  return {dims[0], dims[1], dims[2], dims[2] > 0 ? dims[3] / dims[2] : 0.0};
}

Estimate OpModel::estimate(const std::vector<double>& dims, const std::vector<double>& rows) const
{
  const double f = form_seconds(form, dims, rows);
  if (grid.empty())
    return {f, Provenance::extrapolated};
  if (is_decode_tiles(form.kind)) {
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
  // Their grid is keyed by rows per active expert (grid_dims), so a query interpolates between
  // records of the same row tiles: keyed by total rows, on an H100 (round 13, 2026-12-06,
  // validate/oos/round13.md) a 16-expert up GEMM of 257-324 rows each (64-row tiles) took its ratio
  // between 16 experts x 24 rows (two 16-row tiles each, ratio ~0.70) and 131,072 rows: -16%.
  // Decode attention likewise (decode_tiles): neighbouring records may be different launches of the
  // kernel (its splits, chunk and resident blocks change with batch and context), and the time between
  // them follows the launch, not a power law. On an H100 (round 15, 2026-12-07,
  // validate/oos/diagnosis-oos15-attention.md) Qwen3-235B's 64/4 decode at batch 10, context 4,609 took
  // 67.5 us from the log-interpolated times of (16, 2,048: 8 splits of 256 keys, latency-bound) and
  // (16, 32,768: 9 splits of 3,648 keys, HBM-bound); measured 50.5. The form prices the launch at the
  // query, the records' ratio to it corrects it.
  const bool ratio = form.kind == FormKind::grouped_tiles || is_decode_tiles(form.kind);
  const GridLookup g = grid.at(grid_dims(form.kind, dims), f, ratio);
  return {g.seconds, g.provenance};
}

OpModel fit_op_model(const FormParams& given, const std::vector<FitPoint>& points)
{
  if (points.empty())
    throw std::invalid_argument("no points to fit");
  // Duplicate shapes (repeated measurements, or expert rows that differ but summarise alike):
  // one grid point at the median time, keeping the rows of the first for the fit.
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  std::map<std::vector<double>, std::vector<const FitPoint*>> by_shape;
  for (const FitPoint& p : points)
    by_shape[p.dims].push_back(&p);
  std::vector<FitPoint> unique;
  unique.reserve(by_shape.size());
  for (auto& [dims, ps] : by_shape) {
    std::vector<double> t;
    for (const FitPoint* p : ps)
      t.push_back(p->seconds);
    FitPoint u = *ps.front();
    u.seconds = median(t);
    unique.push_back(std::move(u));
  }
  OpModel m;
  m.form = fit_form(given, unique);
  // The point's measured-over-form ratio is the median of each record's time over the form at that
  // record's own rows, so that rows which differ under one shape (the same experts and total, routed
  // evenly or skewed) do not leave one record's time over another's form in the ratio. On an H100
  // (bench-ops 2026-12-06) n 32768 k 8192, 8 experts, 256 rows: 32 rows each ran 1,622 us and
  // 12-94 rows 1,819 us (the 94-row expert's second row tile); their median 1,720 us over the form
  // at the even rows (1,611 us) gave 1.07, which the expert GEMMs of Mixtral-8x7B (16-23 rows each:
  // the form already charges the second row tiles) then carried as 7% too much.
  std::vector<GridPoint> grid;
  grid.reserve(unique.size());
  std::size_t i = 0; // unique holds by_shape's groups in the map's order
  for (const auto& group : by_shape) {
    const FitPoint& u = unique[i++];
    std::vector<double> ratio;
    for (const FitPoint* p : group.second)
      ratio.push_back(p->seconds / form_seconds(m.form, p->dims, p->rows));
    grid.push_back({grid_dims(m.form.kind, u.dims), u.seconds, u.seconds / median(ratio)});
  }
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
