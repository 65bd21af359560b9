// Fused grouped GEMM (every local expert in one kernel), dims {n, k, active experts, total rows},
// with the rows of each expert when known (else the total spread evenly over the active experts).
//   m_tiles(tm) = sum over experts of ceil(rows_e / tm)
//   waves(tm)   = ceil(m_tiles(tm) * ceil(n / tile_n) / sms)
//   t_math(tm)  = waves(tm) * (unit_s + 2 * tm * tile_n * k / (flops / sms))
//   tiles(tm)   = m_tiles(tm) * ceil(n / tile_n)
//   reads(tm)   = m_tiles(tm) when tm = 16, or when k n bytes_w > l2_bytes and ceil(n / tile_n) > sms;
//                 else active (l2_bytes 0 and tm = tile_m: active)
//   t_mem       = (reads(tm) * k n bytes_w + total * (k bytes_a + n bytes_c)) / min(bandwidth, tiles tile_bandwidth)
//   t           = floor_s + max(t_math(tm), t_mem),  tm = 16 when total / active <= 24, else tile_m
// except where the repeat finds the weights in the L2 (tm = 16, k n bytes_w <= l2_bytes, l2_bandwidth > 0):
//   t_mem       = max((active * k n bytes_w + io) / min(bandwidth, tiles tile_bandwidth),
//                     (m_tiles * k n bytes_w + io) / min(l2_bandwidth, tiles tile_bandwidth)),
//   io          = total * (k bytes_a + n bytes_c)
// unit_s is a tile's fixed time on its SM, whatever k: the pipeline's fill and the epilogue that
// writes the output tile. Without it one rate cannot serve short and long k: on an H200 (bench-ops,
// 2026-12-04) the same many-row bf16 tiles ran at 150-171 TFLOP/s at k 512 and 186-211 at k 8192
// (fp8: 176-207 and 215-254), and the one-rate fit sat between, charging prefill's k 768-7168
// GEMMs too much (rounds 4-6: math-bound grouped GEMMs +6 to +27% slow, diagnosis-oos6.md).
// The 16-row tile is the smallest an MMA instruction takes (m16n8k16): with a few rows per expert
// (decode), fused MoE kernels drop to it (kernels/grouped_gemm.cu does at 24 rows per expert or
// fewer, vLLM's fused_moe configs at small M), so a 1-row expert is not charged tile_m rows of math.
// Weights stream at what the tiles' blocks pull (tile_bandwidth each: a block's loads in flight
// bound it), up to the device's bandwidth; more tiles than SMs still add blocks resident together.
// One bandwidth cannot serve both: on an H200 (bench-ops, 2026-12-04) 1 to 64 tiles of k 8192
// stream at 20-21 GB/s each, while 95-256 experts of 1-3 rows (thousands of tiles) reach 4.0-4.2 TB/s,
// where every SM at 21 GB/s would give 2.8 TB/s.
// When is an expert's weight tile streamed again for its next row tile? Block b takes column tile
// b % n_tiles of row tile b / n_tiles (kernels/grouped_gemm.cu), so the next row tile asks for the
// same weight tile n_tiles blocks later.
// * 16-row tiles (decode), an expert's weights larger than the L2: always, from device memory.
// * 16-row tiles, an expert's weights within the L2 (l2_bandwidth > 0): the blocks between the two
//   reads of one weight tile stream only that expert's other columns, k n bytes_w, so the repeat
//   finds it in the L2. Device memory then serves each active expert once, and the SMs pull every row
//   tile's copy through the L2 at l2_bandwidth (whole GPU, fitted on the points where the rule applies,
//   every other term held: FormHandler::staged), the slower of the two bounding the stream.
//   Round 16 on one H100 (validate/oos/diagnosis-grouped-l2.md): 36-52 experts of 7-25 rows (n
//   896-2,816, k 448-2,816, 1.1-12.3 MB an expert) streamed 2.0-2.7 TB/s counted once and 2.6-3.9
//   TB/s counted per row tile, where one-row-tile experts of these sizes stream 2.0-2.9: the full
//   re-read priced them 17-39% slow. bench-ops' points of 4-20 experts of 17-24 rows pull 3.0-3.8 TB/s
//   per row tile at 4-34 MB an expert. Calibrations without l2_bandwidth (0) keep the full re-read.
//   On one H200 (round 4, 2026-12-05, validate/oos/diagnosis-oos4.md) experts of 11-20 rows at 10-127
//   MB streamed 3.7-4.5 TB/s counted per row tile, as one-row-tile experts do (3.9-4.0 TB/s): there
//   l2_bandwidth is fitted on that GPU's own records (where it lands there is not checked yet).
// * tile_m rows (prefill): the blocks in between stream other columns through the L2. When those
//   columns, k n bytes_w, exceed the L2 and n_tiles exceeds the SM count (the repeat comes a wave
//   later), the tile is read from HBM again; otherwise the math bounds the block and the L2 serves
//   the repeat (bench-ops' many-row records, math-bound, fit with the weights counted once).
// Mixtral-8x7B's experts.up at batch 64 (12-20 rows, 10-12 row tiles for 8 experts) streams at 3.1
// TB/s counted once, 3.8 TB/s counted per row tile.
#include "core/perf/forms/form_handler.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::perf {
namespace {

constexpr double small_tile_m = 16;       // the MMA instruction's rows
constexpr double small_tile_max_rows = 24; // the mean rows per active expert up to which it is used

// The L2 serves an expert's second and later 16-row tiles: its weights fit, and the term is fitted.
bool repeat_from_l2(const FormParams& p, double tm, double w)
{
  return tm == small_tile_m && p.l2_bandwidth > 0 && p.l2_bytes > 0 && w <= p.l2_bytes;
}

double seconds(const FormParams& p, const std::vector<double>& d, const std::vector<double>& rows)
{
  const double n = d[0], k = d[1], active = d[2], total = d[3];
  if (active <= 0 || total <= 0 || n <= 0 || k <= 0)
    return p.floor_s;
  const double S = p.sms;
  const double tm = total / active <= small_tile_max_rows ? small_tile_m : p.tile_m;
  double m_tiles = 0;
  if (rows.empty()) {
    m_tiles = active * std::ceil(total / active / tm);
  } else {
    for (double r : rows)
      if (r > 0)
        m_tiles += std::ceil(r / tm);
  }
  const double tiles = m_tiles * std::ceil(n / p.tile_n);
  const double t_math = std::ceil(tiles / S) * (p.unit_s + 2 * tm * p.tile_n * k / (p.flops / S));
  const double rate = std::min(p.bandwidth, tiles * p.tile_bandwidth);
  const double n_tiles = std::ceil(n / p.tile_n);
  const double w = k * n * p.bytes_w; // one expert's weights
  const double io = total * (k * p.bytes_a + n * p.bytes_c);
  if (repeat_from_l2(p, tm, w)) {
    const double t_hbm = (active * w + io) / rate;
    const double t_l2 = (m_tiles * w + io) / std::min(p.l2_bandwidth, tiles * p.tile_bandwidth);
    return p.floor_s + std::max(t_math, std::max(t_hbm, t_l2));
  }
  const bool streamed_again = tm == small_tile_m || (p.l2_bytes > 0 && w > p.l2_bytes && n_tiles > S);
  const double reads = streamed_again ? m_tiles : active;
  const double t_mem = (reads * w + io) / rate;
  return p.floor_s + std::max(t_math, t_mem);
}

// The points l2_bandwidth prices: 16-row tiles, an expert in two or more of them, its weights within
// the L2 (the staged fit's points; everywhere else the form is the one fitted before the term).
bool two_tiles_in_l2(const FormParams& p, const std::vector<double>& d, const std::vector<double>& rows)
{
  const double n = d[0], k = d[1], active = d[2], total = d[3];
  if (active <= 0 || total <= 0 || total / active > small_tile_max_rows)
    return false;
  if (!(p.l2_bytes > 0) || k * n * p.bytes_w > p.l2_bytes)
    return false;
  if (rows.empty())
    return total / active > small_tile_m;
  for (double r : rows)
    if (r > small_tile_m)
      return true;
  return false;
}

} // namespace

const FormHandler& grouped_tiles_form()
{
  static const FormHandler h{FormKind::grouped_tiles,
                             "grouped_tiles",
                             4,
                             seconds,
                             {&FormParams::floor_s, &FormParams::flops, &FormParams::bandwidth,
                              &FormParams::tile_bandwidth, &FormParams::unit_s, &FormParams::l2_bandwidth},
                             {{&FormParams::tile_m, {64, 128}}, {&FormParams::tile_n, {64, 128, 256}}},
                             &FormParams::unit_s,
                             1e-12, // a picosecond per tile: the form without the term
                             {},
                             0,
                             {&FormParams::l2_bandwidth},
                             {},
                             two_tiles_in_l2,
                             4e12}; // l2_bandwidth's start: an HBM3 device's bandwidth; the scan covers 0.1x to 10x
  return h;
}

} // namespace moesim::perf
