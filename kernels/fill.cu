// fill_uniform_*: p[i] = lo + (hi - lo) * u(seed, i), rounded once to the element type.
// u comes from a counter-based hash of (seed, i) (the splitmix64 finaliser, twice), so the values
// do not depend on the grid: a grid-stride loop, one element per step.
#include "kernels/device.cuh"

#include <cuda_fp8.h>

namespace moesim::kernels {
namespace {

__device__ __forceinline__ std::uint64_t mix64(std::uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// 24 random bits: uniform in [0, 1), exact in fp32.
__device__ __forceinline__ float uniform01(std::uint64_t seed, std::uint64_t i)
{
  return static_cast<float>(mix64(seed ^ mix64(i + 0x9e3779b97f4a7c15ULL)) >> 40) * 0x1p-24f;
}

template <class T, class Convert>
__global__ void fill_kernel(T* p, std::int64_t n, float lo, float hi, std::uint64_t seed, Convert convert)
{
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    p[i] = convert(lo + (hi - lo) * uniform01(seed, static_cast<std::uint64_t>(i)));
}

struct ToBf16 {
  __device__ bf16_t operator()(float x) const { return detail::float_to_bf16_bits(x); }
};
struct ToFp8 {
  __device__ std::uint8_t operator()(float x) const { return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3); }
};
struct ToF32 {
  __device__ float operator()(float x) const { return x; }
};

template <class T, class Convert>
void fill(T* p, std::int64_t n, float lo, float hi, std::uint64_t seed, cudaStream_t stream)
{
  detail::check_fill(n, lo, hi);
  if (n == 0)
    return;
  fill_kernel<<<detail::grid_for(n, detail::block_threads * 8), detail::block_threads, 0, stream>>>(p, n, lo, hi, seed,
                                                                                                  Convert{});
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace

void fill_uniform_bf16(bf16_t* p, std::int64_t n, float lo, float hi, std::uint64_t seed, cudaStream_t stream)
{
  fill<bf16_t, ToBf16>(p, n, lo, hi, seed, stream);
}

void fill_uniform_fp8(std::uint8_t* p, std::int64_t n, float lo, float hi, std::uint64_t seed, cudaStream_t stream)
{
  fill<std::uint8_t, ToFp8>(p, n, lo, hi, seed, stream);
}

void fill_uniform_f32(float* p, std::int64_t n, float lo, float hi, std::uint64_t seed, cudaStream_t stream)
{
  fill<float, ToF32>(p, n, lo, hi, seed, stream);
}

} // namespace moesim::kernels
