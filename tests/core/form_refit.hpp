// Fitting a form to points made by the form itself: the worst relative error of the refit over those
// points (a fit that recovers its truth reproduces every point). Shared by the form tests.
#pragma once
#include "core/perf/forms.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace moesim::test {

// The form fitted from `given` (starting values and fixed fields) to `pts`, and its worst |t / point - 1|.
struct Refit {
  perf::FormParams fit;
  double worst = 0;
};

inline Refit refit(const perf::FormParams& given, const std::vector<perf::FitPoint>& pts)
{
  Refit r{perf::fit_form(given, pts)};
  for (const perf::FitPoint& q : pts)
    r.worst = std::max(r.worst, std::fabs(perf::form_seconds(r.fit, q.dims) / q.seconds - 1));
  return r;
}

} // namespace moesim::test
