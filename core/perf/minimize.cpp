#include "core/perf/minimize.hpp"

#include <algorithm>
#include <numeric>

namespace moesim::perf {

std::vector<double> nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x0,
                                double step, int max_evals, double tol)
{
  const size_t n = x0.size();
  std::vector<std::vector<double>> s(n + 1, x0);
  for (size_t i = 0; i < n; i++)
    s[i + 1][i] += step;
  std::vector<double> v(n + 1);
  int evals = 0;
  auto eval = [&](const std::vector<double>& x) {
    evals++;
    return f(x);
  };
  for (size_t i = 0; i <= n; i++)
    v[i] = eval(s[i]);
  std::vector<size_t> order(n + 1);
  while (evals < max_evals) {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    const size_t best = order.front(), worst = order.back(), second = order[n - 1];
    if (v[worst] - v[best] <= tol)
      break;
    std::vector<double> c(n, 0.0);
    for (size_t i = 0; i <= n; i++)
      if (i != worst)
        for (size_t j = 0; j < n; j++)
          c[j] += s[i][j] / n;
    auto along = [&](double t) {
      std::vector<double> x(n);
      for (size_t j = 0; j < n; j++)
        x[j] = c[j] + t * (s[worst][j] - c[j]);
      return x;
    };
    std::vector<double> r = along(-1.0);
    const double vr = eval(r);
    if (vr < v[best]) {
      std::vector<double> e = along(-2.0);
      const double ve = eval(e);
      if (ve < vr)
        s[worst] = e, v[worst] = ve;
      else
        s[worst] = r, v[worst] = vr;
    } else if (vr < v[second]) {
      s[worst] = r, v[worst] = vr;
    } else {
      std::vector<double> k = vr < v[worst] ? along(-0.5) : along(0.5);
      const double vk = eval(k);
      if (vk < std::min(vr, v[worst])) {
        s[worst] = k, v[worst] = vk;
      } else {
        for (size_t i = 0; i <= n; i++)
          if (i != best) {
            for (size_t j = 0; j < n; j++)
              s[i][j] = s[best][j] + 0.5 * (s[i][j] - s[best][j]);
            v[i] = eval(s[i]);
          }
      }
    }
  }
  size_t best = 0;
  for (size_t i = 1; i <= n; i++)
    if (v[i] < v[best])
      best = i;
  return s[best];
}

} // namespace moesim::perf
