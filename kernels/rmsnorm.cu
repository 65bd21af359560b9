// rmsnorm: out[r, i] = x[r, i] / sqrt(mean_j x[r, j]^2 + eps) * weight[i].
// One block per row: the block sums the squares of its row in fp32 (block_sum), then scales it.
#include "kernels/device.cuh"

namespace moesim::kernels {
namespace {

template <int VEC>
__global__ void rmsnorm_kernel(const bf16_t* x, const bf16_t* weight, bf16_t* out, int dim, float eps)
{
  const std::int64_t row = blockIdx.x;
  const bf16_t* xr = x + row * dim;
  bf16_t* outr = out + row * dim;
  float ss = 0.0f;
  for (int i = threadIdx.x * VEC; i < dim; i += detail::block_threads * VEC) {
    float v[VEC];
    detail::load_bf16<VEC>(xr + i, v);
#pragma unroll
    for (int j = 0; j < VEC; j++)
      ss += v[j] * v[j];
  }
  const float inv = 1.0f / sqrtf(detail::block_sum(ss) / static_cast<float>(dim) + eps);
  for (int i = threadIdx.x * VEC; i < dim; i += detail::block_threads * VEC) {
    float v[VEC], w[VEC];
    detail::load_bf16<VEC>(xr + i, v);
    detail::load_bf16<VEC>(weight + i, w);
#pragma unroll
    for (int j = 0; j < VEC; j++)
      v[j] = v[j] * inv * w[j];
    detail::store_bf16<VEC>(outr + i, v);
  }
}

} // namespace

void rmsnorm(const bf16_t* x, const bf16_t* weight, bf16_t* out, int rows, int dim, float eps, cudaStream_t stream)
{
  detail::check_rmsnorm(rows, dim, eps);
  if (rows == 0)
    return;
  const bool vec = dim % 8 == 0 && detail::aligned16(x) && detail::aligned16(weight) && detail::aligned16(out);
  if (vec)
    rmsnorm_kernel<8><<<rows, detail::block_threads, 0, stream>>>(x, weight, out, dim, eps);
  else
    rmsnorm_kernel<1><<<rows, detail::block_threads, 0, stream>>>(x, weight, out, dim, eps);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::kernels
