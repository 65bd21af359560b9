// Causal prefill attention as the harness kernel runs it (kernels/attention.cu, attention_kernel.cuh,
// attention_gqa.cu's prefill variants), dims {d_qk, d_v, kv_heads, q_heads, batch, cached, prompt}:
// docs/perf-models.md, "Prefill attention: the kernel's row tiles". The kernel packs query positions x
// the group's heads (group = q_heads / kv_heads) into the rows of each KV head and tiles them by BM
// rows; a block streams the keys up to its last row's position in tiles of BN keys.
//   BM, BN  = 64 rows, 64 keys (d_v up to 256: one warp per 16 rows, softmax in registers);
//             32 rows, 64 keys (d_v up to 384) or 32 keys (wider)
//   blocks  B = ceil(prompt * group / BM) * kv_heads * batch
//   keys    mean = cached + (prompt + min(prompt, BM / group)) / 2   (a tile's last position, averaged)
//           max  = cached + prompt                                   (the last row tile's)
//   tile    = BM * BN * (2 (d_qk + d_v) / (flops / sms) + 1 / (score_rate / sms))   (one key tile of a block)
//   t_math  = max(B * ceil(mean / BN) / sms, ceil(max / BN)) * tile
//             (the work spread over the SMs, never below the longest block: the causal imbalance)
//   t_mem   = batch * ((cached + prompt) kv_heads (d_qk + d_v) bytes_w + prompt q_heads (d_qk + d_v) bytes_a) / bandwidth
//   t       = floor_s + ceil(B / sms) * unit_s + max(t_math, t_mem)
// Padded rows (a prompt x group under BM) cost math, as in the kernel.
#include "core/perf/forms/form_handler.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::perf {
namespace {

double seconds(const FormParams& p, const std::vector<double>& d, const std::vector<double>&)
{
  const double dqk = d[0], dv = d[1], kvh = std::max(1.0, d[2]), qh = d[3], batch = d[4], cached = d[5], prompt = d[6];
  if (batch <= 0 || prompt <= 0)
    return p.floor_s;
  const double S = p.sms;
  const double group = std::max(1.0, std::floor(qh / kvh));
  const double bm = dv <= 256 ? 64 : 32;
  const double bn = dv <= 384 ? 64 : 32;
  const double blocks = std::ceil(prompt * group / bm) * kvh * batch;
  const double mean_keys = cached + (prompt + std::min(prompt, bm / group)) / 2;
  const double max_keys = cached + prompt;
  const double tile = bm * bn * (2 * (dqk + dv) / (p.flops / S) + 1 / (p.score_rate / S));
  const double t_math = std::max(blocks * std::ceil(mean_keys / bn) / S, std::ceil(max_keys / bn)) * tile;
  const double t_mem =
      batch * ((cached + prompt) * kvh * (dqk + dv) * p.bytes_w + prompt * qh * (dqk + dv) * p.bytes_a) / p.bandwidth;
  return p.floor_s + std::ceil(blocks / S) * p.unit_s + std::max(t_math, t_mem);
}

} // namespace

const FormHandler& prefill_kernel_tiles_form()
{
  static const FormHandler h{FormKind::prefill_kernel_tiles,
                             "prefill_kernel_tiles",
                             7,
                             seconds,
                             {&FormParams::floor_s, &FormParams::flops, &FormParams::bandwidth, &FormParams::unit_s,
                              &FormParams::score_rate},
                             {}};
  return h;
}

} // namespace moesim::perf
