// Fused grouped GEMM (every local expert in one kernel), dims {n, k, active experts, total rows},
// with the rows of each expert when known (else the total spread evenly over the active experts).
//   m_tiles = sum over experts of ceil(rows_e / tile_m)
//   waves   = ceil(m_tiles * ceil(n / tile_n) / sms)
//   t_math  = waves * 2 * tile_m * tile_n * k / (flops / sms)
//   t_mem   = (active * k n bytes_w + total * (k bytes_a + n bytes_c)) / bandwidth
//   t       = floor_s + max(t_math, t_mem)
#include "core/perf/forms/form_handler.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::perf {
namespace {

double seconds(const FormParams& p, const std::vector<double>& d, const std::vector<double>& rows)
{
  const double n = d[0], k = d[1], active = d[2], total = d[3];
  if (active <= 0 || total <= 0 || n <= 0 || k <= 0)
    return p.floor_s;
  double m_tiles = 0;
  if (rows.empty()) {
    m_tiles = active * std::ceil(total / active / p.tile_m);
  } else {
    for (double r : rows)
      if (r > 0)
        m_tiles += std::ceil(r / p.tile_m);
  }
  const double S = p.sms;
  const double waves = std::ceil(m_tiles * std::ceil(n / p.tile_n) / S);
  const double t_math = waves * 2 * p.tile_m * p.tile_n * k / (p.flops / S);
  const double t_mem = (active * k * n * p.bytes_w + total * (k * p.bytes_a + n * p.bytes_c)) / p.bandwidth;
  return p.floor_s + std::max(t_math, t_mem);
}

} // namespace

const FormHandler& grouped_tiles_form()
{
  static const FormHandler h{FormKind::grouped_tiles,
                             "grouped_tiles",
                             4,
                             seconds,
                             {&FormParams::floor_s, &FormParams::flops, &FormParams::bandwidth},
                             {{&FormParams::tile_m, {64, 128}}, {&FormParams::tile_n, {64, 128, 256}}}};
  return h;
}

} // namespace moesim::perf
