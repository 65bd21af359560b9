// A known grouped_tiles form, and expert-GEMM records made from a known form, for the fit tests: 1, 8 and 128 experts with 1 to
// 8,192 rows each (routed evenly), n 256 / 4,096 / 8,192 and k 512 / 8,192, each timed by the form.
#pragma once
#include "core/perf/forms.hpp"

#include <vector>

namespace moesim::test {

// grouped_tiles with known parameters: floor 4 us, 600 TFLOP/s, 4 TB/s, 20 GB/s per tile, 1.5 us per
// tile, 128x128 tiles, 132 SMs, bf16, L2 unknown.
inline perf::FormParams grouped_truth()
{
  perf::FormParams t;
  t.kind = perf::FormKind::grouped_tiles;
  t.sms = 132;
  t.bytes_a = t.bytes_w = t.bytes_c = 2;
  t.floor_s = 4e-6;
  t.flops = 600e12;
  t.bandwidth = 4e12;
  t.tile_bandwidth = 20e9;
  t.unit_s = 1.5e-6;
  t.tile_m = t.tile_n = 128;
  t.split_min = 256;
  return t;
}

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
