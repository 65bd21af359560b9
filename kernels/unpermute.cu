// unpermute: out[t, :] = sum_j weights[t, j] * expert_out[dest_row[t * k + j], :].
// One block per token (grid-stride); each thread owns VEC columns and accumulates the k slots in
// slot order with fmaf, so the sum is the same on every run and matches the CPU reference bit for bit.
#include "kernels/device.cuh"

namespace moesim::kernels {
namespace {

template <int VEC>
__global__ void unpermute_kernel(const bf16_t* expert_out, const std::int32_t* dest_row, const float* weights,
                                 bf16_t* out, int tokens, int hidden, int k)
{
  for (std::int64_t t = blockIdx.x; t < tokens; t += gridDim.x) {
    for (int i = threadIdx.x * VEC; i < hidden; i += detail::block_threads * VEC) {
      float acc[VEC] = {};
      for (int j = 0; j < k; j++) {
        const std::int64_t row = dest_row[t * k + j];
        if (row < 0)
          continue;
        const float w = weights[t * k + j];
        float v[VEC];
        detail::load_bf16<VEC>(expert_out + row * hidden + i, v);
#pragma unroll
        for (int c = 0; c < VEC; c++)
          acc[c] = fmaf(w, v[c], acc[c]);
      }
      detail::store_bf16<VEC>(out + t * hidden + i, acc);
    }
  }
}

} // namespace

void unpermute(const bf16_t* expert_out, const std::int32_t* dest_row, const float* weights, bf16_t* out, int tokens,
               int hidden, int k, cudaStream_t stream)
{
  detail::check_unpermute(tokens, hidden, k);
  if (tokens == 0)
    return;
  const unsigned blocks = detail::grid_for(tokens, 1);
  if (hidden % 8 == 0 && detail::aligned16(expert_out) && detail::aligned16(out))
    unpermute_kernel<8><<<blocks, detail::block_threads, 0, stream>>>(expert_out, dest_row, weights, out, tokens,
                                                                      hidden, k);
  else
    unpermute_kernel<1><<<blocks, detail::block_threads, 0, stream>>>(expert_out, dest_row, weights, out, tokens,
                                                                      hidden, k);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::kernels
