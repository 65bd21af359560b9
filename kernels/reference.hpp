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

} // namespace moesim::kernels::ref
