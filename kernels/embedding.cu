// embedding: out[t, :] = table[ids[t] - first_id, :] inside the shard, zeros outside it.
// One block per token (grid-stride); threads copy VEC columns at a time.
#include "kernels/device.cuh"

namespace moesim::kernels {
namespace {

template <int VEC>
__global__ void embedding_kernel(const std::int32_t* ids, const bf16_t* table, bf16_t* out, int tokens, int hidden,
                                 int first_id, int rows)
{
  for (std::int64_t t = blockIdx.x; t < tokens; t += gridDim.x) {
    const std::int64_t row = static_cast<std::int64_t>(ids[t]) - first_id;
    bf16_t* dst = out + t * hidden;
    if (row < 0 || row >= rows) {
      for (int i = threadIdx.x; i < hidden; i += detail::block_threads)
        dst[i] = 0;
      continue;
    }
    const bf16_t* src = table + row * hidden;
    for (int i = threadIdx.x * VEC; i < hidden; i += detail::block_threads * VEC)
      detail::copy_bf16<VEC>(dst + i, src + i);
  }
}

} // namespace

void embedding(const std::int32_t* ids, const bf16_t* table, bf16_t* out, int tokens, int hidden, int first_id,
               int rows, cudaStream_t stream)
{
  detail::check_embedding(tokens, hidden, rows);
  if (tokens == 0)
    return;
  const unsigned blocks = detail::grid_for(tokens, 1);
  if (hidden % 8 == 0 && detail::aligned16(table) && detail::aligned16(out))
    embedding_kernel<8><<<blocks, detail::block_threads, 0, stream>>>(ids, table, out, tokens, hidden, first_id, rows);
  else
    embedding_kernel<1><<<blocks, detail::block_threads, 0, stream>>>(ids, table, out, tokens, hidden, first_id, rows);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::kernels
