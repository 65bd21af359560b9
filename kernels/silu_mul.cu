// silu_mul: out[r, i] = silu(in[r, i]) * in[r, inter + i], silu(g) = g / (1 + exp(-g)).
// A grid-stride loop over the VEC-wide groups of the output.
#include "kernels/device.cuh"

namespace moesim::kernels {
namespace {

template <int VEC>
__global__ void silu_mul_kernel(const bf16_t* in, bf16_t* out, int rows, int inter)
{
  const int groups_per_row = inter / VEC;
  const std::int64_t groups = static_cast<std::int64_t>(rows) * groups_per_row;
  for (std::int64_t g = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; g < groups;
       g += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t r = g / groups_per_row;
    const int i = static_cast<int>(g % groups_per_row) * VEC;
    float gate[VEC], up[VEC];
    detail::load_bf16<VEC>(in + r * 2 * inter + i, gate);
    detail::load_bf16<VEC>(in + r * 2 * inter + inter + i, up);
#pragma unroll
    for (int j = 0; j < VEC; j++)
      gate[j] = gate[j] / (1.0f + expf(-gate[j])) * up[j];
    detail::store_bf16<VEC>(out + r * inter + i, gate);
  }
}

} // namespace

void silu_mul(const bf16_t* in, bf16_t* out, int rows, int inter, cudaStream_t stream)
{
  detail::check_silu_mul(rows, inter);
  if (rows == 0)
    return;
  const bool vec = inter % 8 == 0 && detail::aligned16(in) && detail::aligned16(out);
  const int width = vec ? 8 : 1;
  const unsigned blocks = detail::grid_for(static_cast<std::int64_t>(rows) * (inter / width), detail::block_threads);
  if (vec)
    silu_mul_kernel<8><<<blocks, detail::block_threads, 0, stream>>>(in, out, rows, inter);
  else
    silu_mul_kernel<1><<<blocks, detail::block_threads, 0, stream>>>(in, out, rows, inter);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::kernels
