// Decode attention (one new query token per sequence) with the context split across SMs
// (flash-decoding), dims {d_qk, d_v, kv_heads, q_heads, batch, context}. Each (sequence, KV head)
// is a unit; its q_heads / kv_heads query heads share one read of its keys and values.
//   units  = batch * kv_heads
//   splits = 1 when units >= sms, else min(floor(sms / units), ceil(context / split_min))
//   waves  = ceil(units * splits / sms),  chunk = ceil(context / splits)
//   t_mem  = waves * chunk * (d_qk + d_v) bytes_w / (bandwidth / sms)   (MLA, shared_kv: d_qk only)
//   t_math = waves * chunk * 2 (q_heads / kv_heads) (d_qk + d_v) / (flops / sms)
//   t      = floor_s + waves * unit_s + max(t_mem, t_math) + (splits > 1 ? combine_s : 0)
// unit_s is what a unit costs beyond its data: setup, the block-table walk, padding to a KV block.
#include "core/perf/forms/form_handler.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::perf {
namespace {

double seconds(const FormParams& p, const std::vector<double>& d, const std::vector<double>&)
{
  const double dqk = d[0], dv = d[1], kvh = std::max(1.0, d[2]), qh = d[3], batch = d[4], ctx = d[5];
  if (batch <= 0 || ctx <= 0)
    return p.floor_s;
  const double S = p.sms;
  const double units = batch * kvh;
  double splits = 1;
  if (units < S)
    splits = std::max(1.0, std::min(std::floor(S / units), std::ceil(ctx / p.split_min)));
  const double waves = std::ceil(units * splits / S);
  const double chunk = std::ceil(ctx / splits);
  const double bytes_per_token = (p.shared_kv ? dqk : dqk + dv) * p.bytes_w;
  const double t_mem = waves * chunk * bytes_per_token / (p.bandwidth / S);
  const double t_math = waves * chunk * 2 * (qh / kvh) * (dqk + dv) / (p.flops / S);
  return p.floor_s + waves * p.unit_s + std::max(t_mem, t_math) + (splits > 1 ? p.combine_s : 0.0);
}

} // namespace

const FormHandler& decode_splitk_form()
{
  static const FormHandler h{FormKind::decode_splitk,
                             "decode_splitk",
                             6,
                             seconds,
                             {&FormParams::floor_s, &FormParams::flops, &FormParams::bandwidth, &FormParams::combine_s,
                              &FormParams::unit_s},
                             {{&FormParams::split_min, {64, 128, 256, 512, 1024}}}};
  return h;
}

} // namespace moesim::perf
