// What the kernels/*.cu files share besides the size checks (args.hpp): bf16 <-> fp32 in
// registers, the vector width, grid sizes and a deterministic block sum. Internal to kernels/.
#pragma once
#include "kernels/args.hpp"
#include "kernels/check.hpp"
#include "kernels/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace moesim::kernels::detail {

constexpr int block_threads = 256; // every kernel here runs 256-thread blocks (8 warps)
constexpr unsigned full_mask = 0xffffffffu;

// 8 bf16 values (16 bytes) per access when every pointer is 16-byte aligned and each row starts on
// a multiple of 8 elements; 1 otherwise. Both widths compute the same values.
inline bool aligned16(const void* p)
{
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

// Blocks for a grid-stride loop over `n` items, `per_block` items per block and pass.
inline unsigned grid_for(std::int64_t n, int per_block)
{
  return static_cast<unsigned>(std::min<std::int64_t>((n + per_block - 1) / per_block, 1 << 20));
}

__device__ __forceinline__ float bf16_bits_to_float(bf16_t b)
{
  return __uint_as_float(static_cast<unsigned>(b) << 16);
}

// Round to nearest even; NaN stays NaN.
__device__ __forceinline__ bf16_t float_to_bf16_bits(float f)
{
  const unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return static_cast<bf16_t>((u >> 16) | 0x0040u);
  return static_cast<bf16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// VEC consecutive bf16 values at p <-> fp32 registers. VEC = 8 needs p 16-byte aligned.
template <int VEC>
__device__ __forceinline__ void load_bf16(const bf16_t* p, float (&v)[VEC])
{
  if constexpr (VEC == 8) {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const unsigned w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
      v[2 * i] = __uint_as_float(w[i] << 16);
      v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
  } else {
#pragma unroll
    for (int i = 0; i < VEC; i++)
      v[i] = bf16_bits_to_float(p[i]);
  }
}

template <int VEC>
__device__ __forceinline__ void store_bf16(bf16_t* p, const float (&v)[VEC])
{
  if constexpr (VEC == 8) {
    unsigned w[4];
#pragma unroll
    for (int i = 0; i < 4; i++)
      w[i] = static_cast<unsigned>(float_to_bf16_bits(v[2 * i])) |
             (static_cast<unsigned>(float_to_bf16_bits(v[2 * i + 1])) << 16);
    *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
  } else {
#pragma unroll
    for (int i = 0; i < VEC; i++)
      p[i] = float_to_bf16_bits(v[i]);
  }
}

// VEC bf16 values copied as they are.
template <int VEC>
__device__ __forceinline__ void copy_bf16(bf16_t* dst, const bf16_t* src)
{
  if constexpr (VEC == 8) {
    *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
  } else {
#pragma unroll
    for (int i = 0; i < VEC; i++)
      dst[i] = src[i];
  }
}

template <class T>
__device__ __forceinline__ T warp_sum(T v)
{
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(full_mask, v, o);
  return v;
}

// The sum of `v` over a block of block_threads threads, returned to every thread. The order of the
// additions is fixed, so the result is the same on every run. Call it at most once per kernel.
template <class T>
__device__ __forceinline__ T block_sum(T v)
{
  __shared__ T partial[block_threads / 32];
  __shared__ T total;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  if (lane == 0)
    partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T s = lane < block_threads / 32 ? partial[lane] : T(0);
    s = warp_sum(s);
    if (lane == 0)
      total = s;
  }
  __syncthreads();
  return total;
}

} // namespace moesim::kernels::detail
