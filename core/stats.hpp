// Small statistics shared by the calibration fit and the GPU benches.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

namespace moesim {

// The median (the mean of the two middle values for an even count); 0 for no values.
inline double median(std::vector<double> v)
{
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The nearest-rank q-quantile of values sorted ascending: the ceil(q n)-th, at least the first;
// 0 for no values.
inline double nearest_rank(const std::vector<double>& sorted, double q)
{
  if (sorted.empty())
    return 0;
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  return sorted[static_cast<std::size_t>(std::max(1.0, rank)) - 1];
}

} // namespace moesim
