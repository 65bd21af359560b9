// Decode attention as the harness kernel runs it (kernels/attention.cu, attention_kernel.cuh), dims
// {d_qk, d_v, kv_heads, q_heads, batch, context}: docs/perf-models.md, "Decode attention: the kernel's
// tiles".
//   tiles   latent (MLA, shared_kv): 32 rows x 32 keys, 256 threads; GQA with a group
//           (q_heads / kv_heads) of 16 or less: 16 rows x 64 keys, 128 threads; a larger group: 64 rows
//           x 64 keys, 128 threads (d_v up to 256), else 32 rows, 256 threads, 64 keys (d_v up to 384)
//           or 32; where a 64-key block's shared memory exceeds smem_per_block, 32 keys.
//   units   = ceil(group / rows) * kv_heads * batch (the kernel's row tiles; MLA: group = q_heads)
//   splits  = 1 when units >= 2 sms or context <= 256, else min(ceil(4 sms / units), ceil(context / 256), 64)
//   chunk   = ceil(ceil(context / splits) / keys) * keys,   blocks B = units * splits
//   c       = min(floor(smem_per_sm / (smem + smem_reserved)), floor(threads_per_sm / threads)): resident
//             blocks per SM;  R = c * sms
//   block   = chunk * bytes_per_key / tile_bandwidth + (chunk / keys) * tile_s   (one block's own stream)
//   round(n)= max(block, n * chunk * bytes_per_key / bandwidth)   (n blocks resident at once)
//   t_mem   = floor(B / R) * round(R) + round(r), r = B mod R  (the last round counted with its own blocks),
//             staggered where a full round precedes it (2026-12-07, session 24): the last full round's
//             blocks finish spread over [block, round(R)], and the partial round's i-th block starts as
//             the i-th of them finishes, so
//             t_mem = max(B chunk bytes_per_key / bandwidth,
//                         floor(B / R) round(R) - (round(R) - block)(1 - r / R) + round(r))
//   t_math  = ceil(B / sms) * chunk * 2 * rows * (d_qk + d_v) / (flops / sms)   (padded rows cost math)
//   t       = floor_s + ceil(B / sms) * unit_s + max(t_mem, t_math)
//             + (splits > 1 ? combine_s + splits * ceil(d_v / 128) * split_s
//                            + batch * q_heads * splits * (d_v + 2) * 8 / bandwidth : 0)
// bytes_per_key = (d_qk + d_v) bytes_w, MLA d_qk bytes_w. The combine term is the fp32 partials written
// and read again, and the combine kernel's serial loop (attention.cu combine_kernel: one 128-thread
// block per output row, each thread sums its ceil(d_v / 128) value columns over the splits one
// dependent load after another): splits * ceil(d_v / 128) loads in series, split_s each.
// Fitted in two stages (FormHandler::staged): every term but split_s as the form was before it (split_s
// 0, all points), then split_s with combine_s on the points that split, the rest held: an unsplit shape
// predicts exactly as without split_s (fitted jointly, the other terms moved around it and cost round
// 13's unsplit large-batch decodes 1-10 points; validate/oos/diagnosis-oos15-attention.md).
#include "core/perf/forms/form_handler.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::perf {

namespace {

// Shared memory of one block (attention_kernel.cuh smem_layout): Q and K tiles of d_qk + 8 elements
// a row, V of d_v + 8 (none when the values are in the keys), and, where the warps split the value
// columns (not the 64-row register layout), fp32 scores, bf16 probabilities and 3 floats a row.
double block_smem(double rows, double keys, double dqk, double dv, bool latent, bool registers)
{
  double b = rows * (dqk + 8) * 2 + keys * (dqk + 8) * 2;
  if (!latent)
    b += keys * (dv + 8) * 2;
  if (!registers)
    b += rows * (keys + 4) * 4 + rows * (keys + 8) * 2 + rows * 3 * 4;
  return b;
}

} // namespace

DecodeTiling decode_tiling(const FormParams& p, double d_qk, double d_v, double kv_heads, double q_heads, double batch,
                           double context)
{
  DecodeTiling t;
  const double kvh = std::max(1.0, kv_heads);
  const double group = p.shared_kv ? q_heads : std::max(1.0, std::floor(q_heads / kvh));
  bool registers = false;
  if (p.shared_kv) {
    t.rows = 32, t.keys = 32, t.threads = 256;
  } else if (group <= 16) {
    t.rows = 16, t.keys = 64, t.threads = 128;
  } else if (d_v <= 256) {
    t.rows = 64, t.keys = 64, t.threads = 128, registers = true;
  } else {
    t.rows = 32, t.keys = d_v <= 384 ? 64 : 32, t.threads = 256;
  }
  t.smem = block_smem(t.rows, t.keys, d_qk, d_v, p.shared_kv, registers);
  if (t.keys == 64 && t.smem > p.smem_per_block) {
    t.keys = 32;
    t.smem = block_smem(t.rows, t.keys, d_qk, d_v, p.shared_kv, registers);
  }
  t.units = std::ceil(group / t.rows) * kvh * batch;
  t.splits = 1;
  if (t.units < 2 * p.sms && context > 256)
    t.splits = std::max(1.0, std::min({std::ceil(4 * p.sms / t.units), std::ceil(context / 256), 64.0}));
  t.chunk = std::ceil(std::ceil(context / t.splits) / t.keys) * t.keys;
  t.blocks = t.units * t.splits;
  t.resident = std::max(1.0, std::min(std::floor(p.smem_per_sm / (t.smem + p.smem_reserved)),
                                      std::floor(p.threads_per_sm / t.threads)));
  return t;
}

namespace {

// `staggered`: decode_tiles_staggered's partial last round (below); decode_tiles counts it as a round of
// its own blocks after the full rounds end.
double tiles_seconds(const FormParams& p, const std::vector<double>& d, bool staggered)
{
  const double dqk = d[0], dv = d[1], qh = d[3], batch = d[4], ctx = d[5];
  if (batch <= 0 || ctx <= 0)
    return p.floor_s;
  const DecodeTiling t = decode_tiling(p, dqk, dv, d[2], qh, batch, ctx);
  const double S = p.sms;
  const double bytes_per_key = (p.shared_kv ? dqk : dqk + dv) * p.bytes_w;
  const double block = t.chunk * bytes_per_key / p.tile_bandwidth + (t.chunk / t.keys) * p.tile_s;
  const auto round = [&](double n) { return n > 0 ? std::max(block, n * t.chunk * bytes_per_key / p.bandwidth) : 0.0; };
  const double R = t.resident * S;
  const double full = std::floor(t.blocks / R);
  const double rem = t.blocks - full * R;
  double t_mem = full * round(R) + round(rem);
  if (staggered && full >= 1 && rem > 0) {
    // The partial round is staggered, not synchronous: the last full round's blocks finish spread
    // between the earliest one block can (its own stream, `block`) and the round's end, and the i-th
    // block of the partial round starts as the i-th of them finishes. So it starts
    // (round(R) - block) (1 - rem / R) before the full rounds end; the HBM still carries every byte.
    const double gap = (round(R) - block) * (1 - rem / R);
    t_mem = std::max(t.blocks * t.chunk * bytes_per_key / p.bandwidth, full * round(R) - gap + round(rem));
  }
  const double per_sm = std::ceil(t.blocks / S);
  const double t_math = per_sm * t.chunk * 2 * t.rows * (dqk + dv) / (p.flops / S);
  const double combine =
      t.splits > 1 ? p.combine_s + t.splits * std::ceil(dv / 128) * p.split_s + batch * qh * t.splits * (dv + 2) * 8 / p.bandwidth
                   : 0.0;
  return p.floor_s + per_sm * p.unit_s + std::max(t_mem, t_math) + combine;
}

double seconds(const FormParams& p, const std::vector<double>& d, const std::vector<double>&)
{
  return tiles_seconds(p, d, false);
}

double staggered_seconds(const FormParams& p, const std::vector<double>& d, const std::vector<double>&)
{
  return tiles_seconds(p, d, true);
}

// The points whose context splits (the combine kernel runs): the only ones combine_s and split_s price.
bool splits(const FormParams& p, const std::vector<double>& d, const std::vector<double>&)
{
  return d[4] > 0 && d[5] > 0 && decode_tiling(p, d[0], d[1], d[2], d[3], d[4], d[5]).splits > 1;
}

} // namespace

namespace {

FormHandler tiles_handler(FormKind kind, const char* name,
                          double (*secs)(const FormParams&, const std::vector<double>&, const std::vector<double>&))
{
  return FormHandler{kind,
                     name,
                     6,
                     secs,
                     {&FormParams::floor_s, &FormParams::flops, &FormParams::bandwidth, &FormParams::combine_s,
                      &FormParams::unit_s, &FormParams::tile_bandwidth, &FormParams::tile_s, &FormParams::split_s},
                     {},
                     nullptr,
                     0,
                     {&FormParams::bandwidth, &FormParams::flops, &FormParams::tile_bandwidth},
                     20,
                     {&FormParams::split_s},
                     {&FormParams::combine_s},
                     splits};
}

} // namespace

const FormHandler& decode_tiles_form()
{
  static const FormHandler h = tiles_handler(FormKind::decode_tiles, "decode_tiles", seconds);
  return h;
}

// The same launch and terms, the partial last round staggered (2026-12-07, session 24): chosen after
// round 16's runs, off by default until a blind round says (validate/oos/round17.md).
const FormHandler& decode_tiles_staggered_form()
{
  static const FormHandler h = tiles_handler(FormKind::decode_tiles_staggered, "decode_tiles_staggered", staggered_seconds);
  return h;
}

} // namespace moesim::perf
