#include "validate/collectives_check.hpp"

#include "kernels/check.hpp"

#include <cuda_bf16.h>

#include <algorithm>

namespace moesim::validate::check {

namespace {

__host__ __device__ inline float v_of(long long rank, unsigned long long i, int m)
{
  return static_cast<float>((static_cast<unsigned long long>(7 * rank) + i) % static_cast<unsigned long long>(m) + 1);
}

__host__ __device__ inline float w_of(long long rank, long long dest, unsigned long long j, int m)
{
  return static_cast<float>((static_cast<unsigned long long>(7 * rank + 3 * dest) + j) %
                                static_cast<unsigned long long>(m) +
                            1);
}

__device__ inline bf16_t to_bits(float f)
{
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

__device__ inline float from_bits(bf16_t b)
{
  return __bfloat162float(__ushort_as_bfloat16(b));
}

constexpr int threads = 256;

unsigned grid_for(std::size_t n)
{
  return static_cast<unsigned>(std::clamp<std::size_t>((n + threads - 1) / threads, 1, 65535));
}

// Grid-stride loops over n elements; each block adds its count of wrong elements once.
__global__ void fill_rank_kernel(bf16_t* p, std::size_t n, int rank, int m)
{
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    p[i] = to_bits(v_of(rank, i, m));
}

__global__ void fill_chunks_kernel(bf16_t* p, std::size_t per, std::size_t n, int rank, int m)
{
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    p[i] = to_bits(w_of(rank, static_cast<long long>(i / per), i % per, m));
}

__device__ void add_wrong(unsigned count, unsigned long long* wrong)
{
  __shared__ unsigned block_count;
  if (threadIdx.x == 0)
    block_count = 0;
  __syncthreads();
  if (count)
    atomicAdd(&block_count, count);
  __syncthreads();
  if (threadIdx.x == 0 && block_count)
    atomicAdd(wrong, static_cast<unsigned long long>(block_count));
}

__global__ void check_sum_kernel(const bf16_t* p, std::size_t n, std::size_t first, int ranks, int m,
                                 unsigned long long* wrong)
{
  unsigned bad = 0;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    float want = 0;
    for (int r = 0; r < ranks; r++)
      want += v_of(r, first + i, m);
    bad += from_bits(p[i]) != want;
  }
  add_wrong(bad, wrong);
}

__global__ void check_gather_kernel(const bf16_t* p, std::size_t per, std::size_t n, int m, unsigned long long* wrong)
{
  unsigned bad = 0;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    bad += from_bits(p[i]) != v_of(static_cast<long long>(i / per), i % per, m);
  add_wrong(bad, wrong);
}

__global__ void check_chunks_kernel(const bf16_t* p, std::size_t per, std::size_t n, int me, int m,
                                    unsigned long long* wrong)
{
  unsigned bad = 0;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    bad += from_bits(p[i]) != w_of(static_cast<long long>(i / per), me, i % per, m);
  add_wrong(bad, wrong);
}

__global__ void check_copy_kernel(const bf16_t* p, std::size_t n, int src, int m, unsigned long long* wrong)
{
  unsigned bad = 0;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    bad += from_bits(p[i]) != v_of(src, i, m);
  add_wrong(bad, wrong);
}

} // namespace

int pattern_modulus(int ranks)
{
  return std::max(1, std::min(29, 256 / std::max(1, ranks)));
}

float rank_value(int rank, std::size_t i, int modulus)
{
  return v_of(rank, i, modulus);
}

float chunk_value(int rank, int dest, std::size_t j, int modulus)
{
  return w_of(rank, dest, j, modulus);
}

void fill_rank(bf16_t* p, std::size_t n, int rank, int modulus, cudaStream_t stream)
{
  if (n == 0)
    return;
  fill_rank_kernel<<<grid_for(n), threads, 0, stream>>>(p, n, rank, modulus);
  MOESIM_CHECK(cudaGetLastError());
}

void fill_chunks(bf16_t* p, std::size_t per, int peers, int rank, int modulus, cudaStream_t stream)
{
  const std::size_t n = per * static_cast<std::size_t>(peers);
  if (n == 0)
    return;
  fill_chunks_kernel<<<grid_for(n), threads, 0, stream>>>(p, per, n, rank, modulus);
  MOESIM_CHECK(cudaGetLastError());
}

void check_sum(const bf16_t* p, std::size_t n, std::size_t first, int ranks, int modulus, unsigned long long* wrong,
               cudaStream_t stream)
{
  if (n == 0)
    return;
  check_sum_kernel<<<grid_for(n), threads, 0, stream>>>(p, n, first, ranks, modulus, wrong);
  MOESIM_CHECK(cudaGetLastError());
}

void check_gather(const bf16_t* p, std::size_t per, int ranks, int modulus, unsigned long long* wrong,
                  cudaStream_t stream)
{
  const std::size_t n = per * static_cast<std::size_t>(ranks);
  if (n == 0)
    return;
  check_gather_kernel<<<grid_for(n), threads, 0, stream>>>(p, per, n, modulus, wrong);
  MOESIM_CHECK(cudaGetLastError());
}

void check_chunks(const bf16_t* p, std::size_t per, int ranks, int me, int modulus, unsigned long long* wrong,
                  cudaStream_t stream)
{
  const std::size_t n = per * static_cast<std::size_t>(ranks);
  if (n == 0)
    return;
  check_chunks_kernel<<<grid_for(n), threads, 0, stream>>>(p, per, n, me, modulus, wrong);
  MOESIM_CHECK(cudaGetLastError());
}

void check_copy(const bf16_t* p, std::size_t n, int src, int modulus, unsigned long long* wrong, cudaStream_t stream)
{
  if (n == 0)
    return;
  check_copy_kernel<<<grid_for(n), threads, 0, stream>>>(p, n, src, modulus, wrong);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::validate::check
