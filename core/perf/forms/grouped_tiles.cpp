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
// * 16-row tiles (decode): always. Such a block does little math per byte; its time is its stream,
//   bound by its loads in flight, whether the repeat hits the L2 or not. Round 4 on one H200
//   (2026-12-05, validate/oos/diagnosis-oos4.md): experts of 11-20 rows (two row tiles for those
//   above 16) at 16 to 108 column tiles and 10 to 127 MB per expert streamed 2.4-3.1 TB/s counted
//   once, 3.7-4.5 TB/s counted per row tile, as one-row-tile experts do (3.9-4.0 TB/s). bench-ops'
//   grid has no record with two row tiles of 16 rows, so the fit does not see this.
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
  const bool streamed_again =
      tm == small_tile_m || (p.l2_bytes > 0 && k * n * p.bytes_w > p.l2_bytes && n_tiles > S);
  const double reads = streamed_again ? m_tiles : active;
  const double t_mem = (reads * k * n * p.bytes_w + total * (k * p.bytes_a + n * p.bytes_c)) / rate;
  return p.floor_s + std::max(t_math, t_mem);
}

} // namespace

const FormHandler& grouped_tiles_form()
{
  static const FormHandler h{FormKind::grouped_tiles,
                             "grouped_tiles",
                             4,
                             seconds,
                             {&FormParams::floor_s, &FormParams::flops, &FormParams::bandwidth,
                              &FormParams::tile_bandwidth, &FormParams::unit_s},
                             {{&FormParams::tile_m, {64, 128}}, {&FormParams::tile_n, {64, 128, 256}}},
                             &FormParams::unit_s,
                             1e-12}; // a picosecond per tile: the form without the term
  return h;
}

} // namespace moesim::perf
