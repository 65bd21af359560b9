// Memory-bound kernel (norms, activations, routing, permutes, sampling): dims are its sizes.
//   size = product of the first size_dims dims (all when size_dims = 0)
//   t    = floor_s + size * bytes_per_item / bandwidth
#include "core/perf/forms/form_handler.hpp"

namespace moesim::perf {
namespace {

double seconds(const FormParams& p, const std::vector<double>& d, const std::vector<double>&)
{
  const size_t n = p.size_dims > 0 && static_cast<size_t>(p.size_dims) < d.size() ? p.size_dims : d.size();
  double size = 1;
  for (size_t i = 0; i < n; i++)
    size *= d[i];
  return p.floor_s + size * p.bytes_per_item / p.bandwidth;
}

} // namespace

const FormHandler& floor_bandwidth_form()
{
  static const FormHandler h{FormKind::floor_bandwidth,
                             "floor_bandwidth",
                             0,
                             seconds,
                             {&FormParams::floor_s, &FormParams::bandwidth},
                             {}};
  return h;
}

} // namespace moesim::perf
