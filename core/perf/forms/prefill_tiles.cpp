// Causal prefill attention, dims {d_qk, d_v, kv_heads, q_heads, batch, cached, prompt}: query tiles
// of tile_m rows per (sequence, query head), in waves over the SMs; a tile sees the cached context
// and the prompt up to itself, on average cached + (prompt + rows) / 2 keys.
//   rows   = min(tile_m, prompt),  units = batch * q_heads * ceil(prompt / tile_m)
//   waves  = ceil(units / sms),    keys = cached + (prompt + rows) / 2
//   t_math = waves * rows * keys * (2 (d_qk + d_v) / (flops / sms) + 1 / (score_rate / sms))
//            (the tensor-core math, then the softmax over the tile's scores, which does not shrink
//            with the head dims)
//   t_mem  = batch * ((cached + prompt) kv_heads (d_qk + d_v) bytes_w + prompt q_heads (d_qk + d_v) bytes_a) / bandwidth
//   t      = floor_s + waves * unit_s + max(t_math, t_mem)
#include "core/perf/forms/form_handler.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::perf {
namespace {

double seconds(const FormParams& p, const std::vector<double>& d, const std::vector<double>&)
{
  const double dqk = d[0], dv = d[1], kvh = d[2], qh = d[3], batch = d[4], cached = d[5], prompt = d[6];
  if (batch <= 0 || prompt <= 0)
    return p.floor_s;
  const double S = p.sms;
  const double rows = std::min(p.tile_m, prompt);
  const double units = batch * qh * std::ceil(prompt / p.tile_m);
  const double waves = std::ceil(units / S);
  const double keys = cached + (prompt + rows) / 2;
  const double t_math = waves * rows * keys * (2 * (dqk + dv) / (p.flops / S) + 1 / (p.score_rate / S));
  const double t_mem =
      batch * ((cached + prompt) * kvh * (dqk + dv) * p.bytes_w + prompt * qh * (dqk + dv) * p.bytes_a) / p.bandwidth;
  return p.floor_s + waves * p.unit_s + std::max(t_math, t_mem);
}

} // namespace

const FormHandler& prefill_tiles_form()
{
  static const FormHandler h{FormKind::prefill_tiles,
                             "prefill_tiles",
                             7,
                             seconds,
                             {&FormParams::floor_s, &FormParams::flops, &FormParams::bandwidth, &FormParams::unit_s,
                              &FormParams::score_rate},
                             {{&FormParams::tile_m, {64, 128, 256}}}};
  return h;
}

} // namespace moesim::perf
