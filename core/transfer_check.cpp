#include "core/transfer_check.hpp"

#include "core/stats.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace moesim {

ErrorStats error_stats(const std::vector<double>& errors)
{
  ErrorStats s;
  s.n = errors.size();
  if (errors.empty())
    return s;
  std::vector<double> a;
  a.reserve(errors.size());
  for (double e : errors)
    a.push_back(std::fabs(e));
  std::sort(a.begin(), a.end());
  s.median_abs = median(a);
  s.p90_abs = nearest_rank(a, 0.9);
  s.worst_abs = a.back();
  s.median_signed = median(errors);
  return s;
}

TransferCheck check_transfer(const Transfer& t, const OpBench& measured, bool exact_only)
{
  struct Acc {
    std::size_t measured = 0, exact = 0;
    std::vector<double> transfer, transfer_long, same_time;
    double worst = -1;
    std::string worst_key;
  };
  std::map<std::string, Acc> acc;
  TransferCheck out;
  for (const BenchRecord& m : measured.records) {
    if (!t.predicts(m)) {
      ++out.unpredicted;
      continue;
    }
    Acc& a = acc[op_class(m)];
    ++a.measured;
    std::optional<Prediction> p = t.predict(m, !exact_only);
    if (!p)
      continue;
    const double e = p->seconds / m.seconds - 1;
    a.transfer.push_back(e);
    if (m.seconds >= long_op_seconds)
      a.transfer_long.push_back(e);
    if (std::fabs(e) > a.worst)
      a.worst = std::fabs(e), a.worst_key = shape_key(m);
    if (p->exact) {
      ++a.exact;
      a.same_time.push_back(p->from->seconds / m.seconds - 1);
    }
  }
  for (const auto& [c, a] : acc)
    out.classes.push_back({c, a.measured, a.exact, error_stats(a.transfer), error_stats(a.transfer_long),
                           error_stats(a.same_time), a.worst_key});
  return out;
}

} // namespace moesim
