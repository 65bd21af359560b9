#include "kernels/reference.hpp"

#include "kernels/args.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace moesim::kernels::ref {

namespace {

template <class T>
void require_size(const char* op, const char* name, std::span<T> s, std::int64_t n)
{
  detail::require(static_cast<std::int64_t>(s.size()) == n, op,
                  std::string(name) + " has " + std::to_string(s.size()) + " elements, expected " + std::to_string(n));
}

// Same ordering as the kernels: (v, e) before (w, f) when v is larger, or equal with a lower index.
bool ranks_before(float v, int e, float w, int f)
{
  return v > w || (v == w && e < f);
}

} // namespace

void rmsnorm(std::span<const bf16_t> x, std::span<const bf16_t> weight, std::span<bf16_t> out, int rows, int dim,
             float eps)
{
  detail::check_rmsnorm(rows, dim, eps);
  const std::int64_t n = static_cast<std::int64_t>(rows) * dim;
  require_size("rmsnorm", "x", x, n);
  require_size("rmsnorm", "weight", weight, dim);
  require_size("rmsnorm", "out", out, n);
  for (std::int64_t r = 0; r < rows; r++) {
    const std::int64_t base = r * dim;
    float ss = 0.0f;
    for (int i = 0; i < dim; i++) {
      const float v = bf16_to_float(x[base + i]);
      ss += v * v;
    }
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
    for (int i = 0; i < dim; i++)
      out[base + i] = float_to_bf16(bf16_to_float(x[base + i]) * inv * bf16_to_float(weight[i]));
  }
}

void silu_mul(std::span<const bf16_t> in, std::span<bf16_t> out, int rows, int inter)
{
  detail::check_silu_mul(rows, inter);
  require_size("silu_mul", "in", in, static_cast<std::int64_t>(rows) * 2 * inter);
  require_size("silu_mul", "out", out, static_cast<std::int64_t>(rows) * inter);
  for (std::int64_t r = 0; r < rows; r++)
    for (int i = 0; i < inter; i++) {
      const float g = bf16_to_float(in[r * 2 * inter + i]);
      const float u = bf16_to_float(in[r * 2 * inter + inter + i]);
      out[r * inter + i] = float_to_bf16(g / (1.0f + std::exp(-g)) * u);
    }
}

void residual_add(std::span<const bf16_t> x, std::span<const bf16_t> residual, std::span<bf16_t> out)
{
  const auto n = static_cast<std::int64_t>(out.size());
  detail::check_residual_add(n);
  require_size("residual_add", "x", x, n);
  require_size("residual_add", "residual", residual, n);
  for (std::int64_t i = 0; i < n; i++)
    out[i] = float_to_bf16(bf16_to_float(x[i]) + bf16_to_float(residual[i]));
}

void topk_softmax(std::span<const float> logits, std::span<std::int32_t> expert_ids, std::span<float> weights,
                  int tokens, int experts, int k, bool renormalize)
{
  detail::check_topk_softmax(tokens, experts, k);
  require_size("topk_softmax", "logits", logits, static_cast<std::int64_t>(tokens) * experts);
  require_size("topk_softmax", "expert_ids", expert_ids, static_cast<std::int64_t>(tokens) * k);
  require_size("topk_softmax", "weights", weights, static_cast<std::int64_t>(tokens) * k);
  for (std::int64_t t = 0; t < tokens; t++) {
    const float* l = logits.data() + t * experts;
    float m = -std::numeric_limits<float>::infinity();
    for (int e = 0; e < experts; e++)
      m = std::fmax(m, l[e]);
    float sum_all = 0.0f;
    for (int e = 0; e < experts; e++)
      sum_all += std::exp(l[e] - m);
    int chosen[max_top_k];
    float value[max_top_k];
    for (int j = 0; j < k; j++) {
      float best_v = -std::numeric_limits<float>::infinity();
      int best_e = INT_MAX;
      for (int e = 0; e < experts; e++) {
        bool taken = false;
        for (int p = 0; p < j; p++)
          taken |= chosen[p] == e;
        if (!taken && ranks_before(l[e], e, best_v, best_e))
          best_v = l[e], best_e = e;
      }
      chosen[j] = best_e;
      value[j] = best_v;
    }
    float denom = sum_all;
    if (renormalize) {
      denom = 0.0f;
      for (int j = 0; j < k; j++)
        denom += std::exp(value[j] - m);
    }
    for (int j = 0; j < k; j++) {
      expert_ids[t * k + j] = chosen[j];
      weights[t * k + j] = std::exp(value[j] - m) / denom;
    }
  }
}

void permute(std::span<const bf16_t> x, std::span<const std::int32_t> expert_ids, std::span<bf16_t> out,
             std::span<std::int32_t> dest_row, std::span<std::int32_t> expert_offsets, int tokens, int hidden, int k,
             int first_expert, int experts)
{
  detail::check_permute(tokens, hidden, k, experts);
  const std::int64_t slots = static_cast<std::int64_t>(tokens) * k;
  require_size("permute", "x", x, static_cast<std::int64_t>(tokens) * hidden);
  require_size("permute", "expert_ids", expert_ids, slots);
  require_size("permute", "out", out, slots * hidden);
  require_size("permute", "dest_row", dest_row, slots);
  require_size("permute", "expert_offsets", expert_offsets, experts + 1);
  auto local = [&](std::int64_t a) { return static_cast<std::int64_t>(expert_ids[a]) - first_expert; };
  // Counting sort by local expert, stable in slot order.
  std::fill(expert_offsets.begin(), expert_offsets.end(), 0);
  for (std::int64_t a = 0; a < slots; a++)
    if (local(a) >= 0 && local(a) < experts)
      expert_offsets[local(a) + 1]++;
  for (int e = 0; e < experts; e++)
    expert_offsets[e + 1] += expert_offsets[e];
  std::vector<std::int32_t> next(expert_offsets.begin(), expert_offsets.end() - 1);
  for (std::int64_t a = 0; a < slots; a++) {
    if (local(a) < 0 || local(a) >= experts) {
      dest_row[a] = -1;
      continue;
    }
    const std::int64_t row = next[local(a)]++;
    dest_row[a] = static_cast<std::int32_t>(row);
    std::copy_n(x.begin() + (a / k) * hidden, hidden, out.begin() + row * hidden);
  }
}

void unpermute(std::span<const bf16_t> expert_out, std::span<const std::int32_t> dest_row,
               std::span<const float> weights, std::span<bf16_t> out, int tokens, int hidden, int k)
{
  detail::check_unpermute(tokens, hidden, k);
  const std::int64_t slots = static_cast<std::int64_t>(tokens) * k;
  require_size("unpermute", "dest_row", dest_row, slots);
  require_size("unpermute", "weights", weights, slots);
  require_size("unpermute", "out", out, static_cast<std::int64_t>(tokens) * hidden);
  const auto rows = static_cast<std::int64_t>(expert_out.size()) / hidden;
  for (std::int64_t a = 0; a < slots; a++)
    detail::require(dest_row[a] < rows, "unpermute",
                    "dest_row[" + std::to_string(a) + "] = " + std::to_string(dest_row[a]) +
                        " is past the last row of expert_out (" + std::to_string(rows) + " rows)");
  for (std::int64_t t = 0; t < tokens; t++)
    for (int i = 0; i < hidden; i++) {
      float acc = 0.0f;
      for (int j = 0; j < k; j++) {
        const std::int64_t row = dest_row[t * k + j];
        if (row >= 0)
          acc = std::fma(weights[t * k + j], bf16_to_float(expert_out[row * hidden + i]), acc);
      }
      out[t * hidden + i] = float_to_bf16(acc);
    }
}

void embedding(std::span<const std::int32_t> ids, std::span<const bf16_t> table, std::span<bf16_t> out, int tokens,
               int hidden, int first_id, int rows)
{
  detail::check_embedding(tokens, hidden, rows);
  require_size("embedding", "ids", ids, tokens);
  require_size("embedding", "table", table, static_cast<std::int64_t>(rows) * hidden);
  require_size("embedding", "out", out, static_cast<std::int64_t>(tokens) * hidden);
  for (std::int64_t t = 0; t < tokens; t++) {
    const std::int64_t row = static_cast<std::int64_t>(ids[t]) - first_id;
    for (int i = 0; i < hidden; i++)
      out[t * hidden + i] = row >= 0 && row < rows ? table[row * hidden + i] : bf16_t{0};
  }
}

void argmax(std::span<const float> x, std::span<std::int32_t> index, std::span<float> value, int rows, int cols)
{
  detail::check_argmax(rows, cols);
  require_size("argmax", "x", x, static_cast<std::int64_t>(rows) * cols);
  require_size("argmax", "index", index, rows);
  if (!value.empty())
    require_size("argmax", "value", value, rows);
  for (std::int64_t r = 0; r < rows; r++) {
    const float* xr = x.data() + r * cols;
    int best = 0;
    for (int c = 1; c < cols; c++) {
      const bool cn = std::isnan(xr[c]), bn = std::isnan(xr[best]);
      if (cn != bn ? cn : (!cn && xr[c] > xr[best])) // a later column wins only if it ranks strictly first
        best = c;
    }
    index[r] = best;
    if (!value.empty())
      value[r] = xr[best];
  }
}

float fp8_e4m3_to_float(std::uint8_t b)
{
  const int sign = b >> 7, exp = (b >> 3) & 0xf, man = b & 7;
  if (exp == 15 && man == 7)
    return std::numeric_limits<float>::quiet_NaN();
  // Subnormals (exp 0): man * 2^-3 * 2^(1 - 7); normals: (1 + man / 8) * 2^(exp - 7).
  const float v = exp == 0 ? std::ldexp(static_cast<float>(man), -9) : std::ldexp(1.0f + man / 8.0f, exp - 7);
  return sign ? -v : v;
}

void gemm(std::span<const float> x, std::span<const float> w, std::span<double> y, std::span<double> abs_sum, int m,
          int n, int k)
{
  const char* op = "gemm";
  detail::require_at_least(op, "m", m, 0);
  detail::require_at_least(op, "n", n, 1);
  detail::require_at_least(op, "k", k, 1);
  require_size(op, "x", x, static_cast<std::int64_t>(m) * k);
  require_size(op, "w", w, static_cast<std::int64_t>(n) * k);
  require_size(op, "y", y, static_cast<std::int64_t>(m) * n);
  require_size(op, "abs_sum", abs_sum, static_cast<std::int64_t>(m) * n);
  for (std::int64_t r = 0; r < m; r++)
    for (std::int64_t c = 0; c < n; c++) {
      double acc = 0, abs = 0;
      for (std::int64_t i = 0; i < k; i++) {
        const double p = static_cast<double>(x[r * k + i]) * w[c * k + i];
        acc += p;
        abs += std::fabs(p);
      }
      y[r * n + c] = acc;
      abs_sum[r * n + c] = abs;
    }
}

// GEMM error bound. The operands are bf16 or e4m3 values, whose products are exact in fp32 (8 x 8
// significant bits at most), so only the accumulation and the output rounding err:
//  * Tensor-core kernels add k-chunks of 16 (mma) or more (wgmma) products inside the unit, then add
//    the chunk sums one after the other into fp32 accumulators (a split-K reduction adds a few more
//    additions). Each addition errs by at most one unit in the last place of a partial sum, which is at
//    most sum|x w|; the unit may truncate instead of rounding, so u = 2^-23, not 2^-24. Inside a chunk,
//    the unit aligns the 16 products to the largest exponent: at most 16 more such errors. Bound:
//    (k / 16 + 32) * 2^-23 * sum|x w|, with 16 to spare for split-K and the epilogue.
//  * FP8 on Hopper: the tensor cores keep about 14 bits of the accumulator between the promotions to
//    fp32 (DeepSeek-V3 technical report, section 3.3.2), so each of the k / 32 chunk additions may err
//    by 2^-13 * sum|x w|: (k / 32 + 32) * 2^-13 * sum|x w|.
//  * The output is rounded once to bf16 (8 significant bits): half an ulp, at most 2^-8 |y| of the
//    value before rounding, which the accumulation bound above (with 1% to spare) separates from |ref|.
double gemm_tolerance(double ref, double abs_sum, int k, bool fp8)
{
  const double acc = fp8 ? (k / 32.0 + 32) * 0x1p-13 : (k / 16.0 + 32) * 0x1p-23;
  return 0x1p-8 * std::fabs(ref) + acc * abs_sum * 1.01 + 1e-30;
}

namespace {

void check_attention_dims(const AttentionDims& d)
{
  const char* op = "attention";
  detail::require_at_least(op, "q_len", d.q_len, 1);
  detail::require_at_least(op, "q_heads", d.q_heads, 1);
  detail::require_at_least(op, "kv_heads", d.kv_heads, 1);
  detail::require_at_least(op, "qk_dim", d.qk_dim, 1);
  detail::require_at_least(op, "v_dim", d.v_dim, 1);
  detail::require(d.q_heads % d.kv_heads == 0, op, "q_heads must be a multiple of kv_heads");
  detail::require(d.kv_len >= d.q_len, op, "kv_len must be >= q_len");
  detail::require(d.window >= 0, op, "window must be >= 0");
}

} // namespace

double attention_row(std::span<const bf16_t> q_row, std::span<const bf16_t> k_seq, std::span<const bf16_t> v_seq,
                     const AttentionDims& d, int i, int h, std::span<double> out, std::span<double> out_abs)
{
  check_attention_dims(d);
  const char* op = "attention";
  detail::require(i >= 0 && i < d.q_len && h >= 0 && h < d.q_heads, op, "row (i, h) out of range");
  require_size(op, "q_row", q_row, d.qk_dim);
  require_size(op, "k_seq", k_seq, static_cast<std::int64_t>(d.kv_len) * d.kv_heads * d.qk_dim);
  require_size(op, "v_seq", v_seq, static_cast<std::int64_t>(d.kv_len) * d.kv_heads * d.v_dim);
  require_size(op, "out", out, d.v_dim);
  require_size(op, "out_abs", out_abs, d.v_dim);
  const int kvh = h / (d.q_heads / d.kv_heads);
  const std::int64_t pos = static_cast<std::int64_t>(d.kv_len) - d.q_len + i; // this query's own key
  const std::int64_t first = d.window > 0 ? std::max<std::int64_t>(0, pos - d.window + 1) : 0;
  const std::int64_t keys = pos + 1;
  std::vector<double> s(static_cast<std::size_t>(keys), 0.0);
  double mx = -std::numeric_limits<double>::infinity(), max_abs_dot = 0, max_abs_s = 0;
  for (std::int64_t j = first; j < keys; j++) {
    const bf16_t* kj = k_seq.data() + (j * d.kv_heads + kvh) * d.qk_dim;
    double dot = 0, abs = 0;
    for (int c = 0; c < d.qk_dim; c++) {
      const double p = static_cast<double>(bf16_to_float(q_row[c])) * bf16_to_float(kj[c]);
      dot += p;
      abs += std::fabs(p);
    }
    s[j] = d.scale * dot;
    mx = std::max(mx, s[j]);
    max_abs_dot = std::max(max_abs_dot, abs);
    max_abs_s = std::max(max_abs_s, std::fabs(s[j]));
  }
  double l = 0;
  for (std::int64_t j = first; j < keys; j++)
    l += (s[j] = std::exp(s[j] - mx));
  std::fill(out.begin(), out.end(), 0.0);
  std::fill(out_abs.begin(), out_abs.end(), 0.0);
  for (std::int64_t j = first; j < keys; j++) {
    const bf16_t* vj = v_seq.data() + (j * d.kv_heads + kvh) * d.v_dim;
    const double p = s[j] / l;
    for (int c = 0; c < d.v_dim; c++) {
      const double v = bf16_to_float(vj[c]);
      out[c] += p * v;
      out_abs[c] += p * std::fabs(v);
    }
  }
  // Each score the GPU computes errs by: its fp32 tensor-core accumulation over qk_dim (as in
  // gemm_tolerance: (qk_dim / 16 + 16) * 2^-23 of the sum of |q k|, times the scale), plus the
  // rounding of the product by scale * log2(e) and of exp2's argument: 2^-22 |s|.
  return (d.qk_dim / 16.0 + 16) * 0x1p-23 * std::fabs(d.scale) * max_abs_dot + 0x1p-22 * max_abs_s;
}

void attention(std::span<const bf16_t> q, std::span<const bf16_t> k, std::span<const bf16_t> v, std::span<double> out,
               std::span<double> out_abs, std::span<double> score_err, int batch, const AttentionDims& d)
{
  check_attention_dims(d);
  const char* op = "attention";
  detail::require_at_least(op, "batch", batch, 0);
  const std::int64_t rows = static_cast<std::int64_t>(batch) * d.q_len * d.q_heads;
  const std::int64_t kseq = static_cast<std::int64_t>(d.kv_len) * d.kv_heads * d.qk_dim;
  const std::int64_t vseq = static_cast<std::int64_t>(d.kv_len) * d.kv_heads * d.v_dim;
  require_size(op, "q", q, rows * d.qk_dim);
  require_size(op, "k", k, batch * kseq);
  require_size(op, "v", v, batch * vseq);
  require_size(op, "out", out, rows * d.v_dim);
  require_size(op, "out_abs", out_abs, rows * d.v_dim);
  require_size(op, "score_err", score_err, rows);
  for (std::int64_t b = 0; b < batch; b++)
    for (int i = 0; i < d.q_len; i++)
      for (int h = 0; h < d.q_heads; h++) {
        const std::int64_t row = (b * d.q_len + i) * d.q_heads + h;
        score_err[row] = attention_row(q.subspan(row * d.qk_dim, d.qk_dim), k.subspan(b * kseq, kseq),
                                       v.subspan(b * vseq, vseq), d, i, h, out.subspan(row * d.v_dim, d.v_dim),
                                       out_abs.subspan(row * d.v_dim, d.v_dim));
      }
}

// Attention error bound, per output element (out = sum_j p_j v_j with p normalised):
//  * P is rounded to bf16 before P V (flash attention's way) while l sums the unrounded p: each p_j
//    errs by at most half an ulp, 2^-8 p_j (bf16 keeps 8 significant bits), so the output by
//    2^-8 sum_j p_j |v_j| = 2^-8 out_abs.
//  * A perturbation of at most eps in every score (score_err) scales each p_j by a factor within
//    e^(+-2 eps) after normalisation: (e^(2 eps) - 1) out_abs, about 2 eps out_abs for small eps.
//  * exp2f errs by 2 ulp (2^-22 relative) on each p_j: 2^-21 out_abs, both in P V and in l.
//  * P V accumulates in fp32 over the keys in mma chunks of 16, and the running output is rescaled
//    once per tile: (kv_len / 16 + 16) * 2^-23 out_abs, as in gemm_tolerance.
//  * l is a sum of kv_len positive terms in fp32 (per-thread loops, shuffles, one rescale per tile):
//    (kv_len / 8 + 16) * 2^-24 relative, which moves the output by as much relative to |out|; then the
//    division and the bf16 rounding of the output: 2^-8 |out|.
// A quarter on top for the second-order terms.
double attention_tolerance(double ref, double out_abs, double score_err, int kv_len)
{
  const double on_abs = 0x1p-8 + std::expm1(2 * score_err) + 0x1p-21 + (kv_len / 16.0 + 16) * 0x1p-23;
  const double on_ref = 0x1p-8 + (kv_len / 8.0 + 16) * 0x1p-24;
  return 1.25 * (on_abs * out_abs + on_ref * std::fabs(ref)) + 1e-30;
}

} // namespace moesim::kernels::ref
