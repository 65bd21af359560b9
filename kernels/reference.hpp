// CPU references of the kernels in kernels.hpp: the same names, the same arguments on host memory
// (spans, whose sizes are checked: std::invalid_argument), the same arithmetic in the same order
// where the order is fixed (fp32, one bf16 rounding per output). Plain C++: bf16 is emulated with
// the two conversions below. Slow and simple on purpose: tests and the harness compare against them.
#pragma once
#include "kernels/kernels.hpp"

#include <bit>
#include <cstdint>
#include <span>

namespace moesim::kernels::ref {

// bf16 is the upper half of an fp32: widening is exact.
inline float bf16_to_float(bf16_t b)
{
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

// Round to nearest, ties to even (as __float2bfloat16_rn); overflow gives infinity, NaN stays a
// (quiet) NaN of the same sign.
inline bf16_t float_to_bf16(float f)
{
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return static_cast<bf16_t>((u >> 16) | 0x0040u);
  return static_cast<bf16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void rmsnorm(std::span<const bf16_t> x, std::span<const bf16_t> weight, std::span<bf16_t> out, int rows, int dim,
             float eps);

void silu_mul(std::span<const bf16_t> in, std::span<bf16_t> out, int rows, int inter);

void residual_add(std::span<const bf16_t> x, std::span<const bf16_t> residual, std::span<bf16_t> out);

void topk_softmax(std::span<const float> logits, std::span<std::int32_t> expert_ids, std::span<float> weights,
                  int tokens, int experts, int k, bool renormalize);

void permute(std::span<const bf16_t> x, std::span<const std::int32_t> expert_ids, std::span<bf16_t> out,
             std::span<std::int32_t> dest_row, std::span<std::int32_t> expert_offsets, int tokens, int hidden, int k,
             int first_expert, int experts);

void unpermute(std::span<const bf16_t> expert_out, std::span<const std::int32_t> dest_row,
               std::span<const float> weights, std::span<bf16_t> out, int tokens, int hidden, int k);

void embedding(std::span<const std::int32_t> ids, std::span<const bf16_t> table, std::span<bf16_t> out, int tokens,
               int hidden, int first_id, int rows);

// `value` may be empty.
void argmax(std::span<const float> x, std::span<std::int32_t> index, std::span<float> value, int rows, int cols);

// fp8 e4m3 (OCP E4M3FN: bias 7, no infinities, S.1111.111 is NaN, largest 448) -> float, exact.
float fp8_e4m3_to_float(std::uint8_t b);

// ---------------------------------------------------------------------------------------------
// GEMM, for the cuBLAS(Lt) GEMMs the harness runs: y[r, c] = sum_i x[r, i] * w[c, i] with x [m, k]
// and w [n, k] row-major (w as nn.Linear stores a weight: out_features x in_features), computed in
// double from values already decoded to float (bf16 and fp8 widen exactly). abs_sum[r, c] =
// sum_i |x[r, i] * w[c, i]|, which bounds the rounding error of any summation order.
void gemm(std::span<const float> x, std::span<const float> w, std::span<double> y, std::span<double> abs_sum, int m,
          int n, int k);

// The largest |gpu - ref| accepted for one GEMM output element, bf16 out, fp32 accumulation (the
// derivation is in reference.cpp). fp8: e4m3 operands with the tensor cores' FP8 accumulation.
double gemm_tolerance(double ref, double abs_sum, int k, bool fp8);

// ---------------------------------------------------------------------------------------------
// Attention (kernels::attention's definition) for one query row of one sequence:
//   q_row [qk_dim] (query i, head h); k_seq [kv_len, kv_heads, qk_dim]; v_seq [kv_len, kv_heads, v_dim]
//   out[d] = sum_j p_j v[j, h / G, d], p = softmax over keys kv_len - q_len + i - window < j <=
//   kv_len - q_len + i (no lower bound for window 0) of scale * q . k_j
//   out_abs[d] = sum_j p_j |v[j, h / G, d]| (bounds the effect of rounding p, see attention_tolerance)
// in double. Returns the bound on the GPU's error in each scaled score (accumulation and exp2), which
// attention_tolerance takes. MLA decode is the case kv_heads 1, qk_dim 576, v = the first 512 of k.
struct AttentionDims {
  int q_len = 1, q_heads = 1, kv_heads = 1, kv_len = 1, qk_dim = 128, v_dim = 128;
  int window = 0; // sliding window in keys, 0: none
  float scale = 1.0f;
};
double attention_row(std::span<const bf16_t> q_row, std::span<const bf16_t> k_seq, std::span<const bf16_t> v_seq,
                     const AttentionDims& d, int i, int h, std::span<double> out, std::span<double> out_abs);

// Every row of `batch` sequences: q [batch, q_len, q_heads, qk_dim], k [batch, kv_len, kv_heads, qk_dim],
// v [batch, kv_len, kv_heads, v_dim]; out, out_abs [batch, q_len, q_heads, v_dim];
// score_err [batch, q_len, q_heads].
void attention(std::span<const bf16_t> q, std::span<const bf16_t> k, std::span<const bf16_t> v, std::span<double> out,
               std::span<double> out_abs, std::span<double> score_err, int batch, const AttentionDims& d);

// The largest |gpu - ref| accepted for one attention output element (bf16 out).
double attention_tolerance(double ref, double out_abs, double score_err, int kv_len);

} // namespace moesim::kernels::ref
