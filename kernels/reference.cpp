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

} // namespace moesim::kernels::ref
