// residual_add: out[i] = x[i] + residual[i].
// A grid-stride loop over the VEC-wide groups of the n elements.
#include "kernels/device.cuh"

namespace moesim::kernels {
namespace {

template <int VEC>
__global__ void residual_add_kernel(const bf16_t* x, const bf16_t* residual, bf16_t* out, std::int64_t n)
{
  for (std::int64_t i = (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) * VEC; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x * VEC) {
    float a[VEC], b[VEC];
    detail::load_bf16<VEC>(x + i, a);
    detail::load_bf16<VEC>(residual + i, b);
#pragma unroll
    for (int j = 0; j < VEC; j++)
      a[j] += b[j];
    detail::store_bf16<VEC>(out + i, a);
  }
}

} // namespace

void residual_add(const bf16_t* x, const bf16_t* residual, bf16_t* out, std::int64_t n, cudaStream_t stream)
{
  detail::check_residual_add(n);
  if (n == 0)
    return;
  const bool vec = n % 8 == 0 && detail::aligned16(x) && detail::aligned16(residual) && detail::aligned16(out);
  const unsigned blocks = detail::grid_for(vec ? n / 8 : n, detail::block_threads);
  if (vec)
    residual_add_kernel<8><<<blocks, detail::block_threads, 0, stream>>>(x, residual, out, n);
  else
    residual_add_kernel<1><<<blocks, detail::block_threads, 0, stream>>>(x, residual, out, n);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::kernels
