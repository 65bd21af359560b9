// Expert-GEMM records made from a known form, for the fit tests: 1, 8 and 128 experts with 1 to
// 8,192 rows each (routed evenly), n 256 / 4,096 / 8,192 and k 512 / 8,192, each timed by the form.
#pragma once
#include "core/perf/forms.hpp"

#include <vector>

namespace moesim::test {

inline std::vector<perf::FitPoint> even_grouped_points(const perf::FormParams& truth)
{
  std::vector<perf::FitPoint> pts;
  for (double e : {1, 8, 128})
    for (double r : {1, 4, 32, 512, 8192})
      for (double n : {256, 4096, 8192})
        for (double k : {512, 8192}) {
          const std::vector<double> rows(static_cast<size_t>(e), r);
          pts.push_back({{n, k, e, e * r}, rows, perf::form_seconds(truth, {n, k, e, e * r}, rows)});
        }
  return pts;
}

} // namespace moesim::test
