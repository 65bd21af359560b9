// Dense GEMM, dims {batch, m, n, k}: C[m,n] = A[m,k] B[k,n], `batch` times with different B.
// The library is taken to pick, per shape, the fastest of its tile shapes and split-K factors:
// for each tile (tm, tn) in {tile_m x tile_n, tile_m x 2 tile_n, 2 tile_m x tile_n} and each split
// s in {1, 2, 4, 8, 16} with k / s >= split_min (s = 1 always allowed):
//   tiles  = batch * ceil(m / tm) * ceil(n / tn)
//   waves  = ceil(tiles * s / sms)
//   t_math = waves * 2 * tm * tn * ceil(k / s) / (flops / sms)
//   t_mem  = batch * (m k bytes_a + k n bytes_w + m n bytes_c + (s - 1) * 8 m n) / bandwidth
//            (a split writes and reads back fp32 partial outputs)
//   t      = floor_s + min over (tm, tn, s) of max(t_math, t_mem)
#include "core/perf/forms/form_handler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace moesim::perf {
namespace {

double seconds(const FormParams& p, const std::vector<double>& d, const std::vector<double>&)
{
  const double batch = std::max(1.0, d[0]), m = d[1], n = d[2], k = d[3];
  if (m <= 0 || n <= 0 || k <= 0)
    return p.floor_s;
  const double S = p.sms, per_sm = p.flops / S;
  const double tiles_mn[3][2] = {{p.tile_m, p.tile_n}, {p.tile_m, 2 * p.tile_n}, {2 * p.tile_m, p.tile_n}};
  const double io = m * k * p.bytes_a + k * n * p.bytes_w + m * n * p.bytes_c;
  double best = std::numeric_limits<double>::infinity();
  for (const auto& t : tiles_mn) {
    const double tiles = batch * std::ceil(m / t[0]) * std::ceil(n / t[1]);
    for (double s : {1.0, 2.0, 4.0, 8.0, 16.0}) {
      if (s > 1 && k / s < p.split_min)
        break;
      const double t_math = std::ceil(tiles * s / S) * 2 * t[0] * t[1] * std::ceil(k / s) / per_sm;
      const double t_mem = batch * (io + (s - 1) * 8 * m * n) / p.bandwidth;
      best = std::min(best, std::max(t_math, t_mem));
    }
  }
  return p.floor_s + best;
}

} // namespace

const FormHandler& gemm_tiles_form()
{
  static const FormHandler h{FormKind::gemm_tiles,
                             "gemm_tiles",
                             4,
                             seconds,
                             {&FormParams::floor_s, &FormParams::flops, &FormParams::bandwidth},
                             {{&FormParams::tile_m, {64, 128}},
                              {&FormParams::tile_n, {64, 128, 256}},
                              {&FormParams::split_min, {128, 256, 512, 1024}}}};
  return h;
}

} // namespace moesim::perf
