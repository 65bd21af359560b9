// argmax: per row, the column of the largest value (ties: lowest column; NaN is the largest).
// One block per row (grid-stride): each thread scans a strided share of the columns, then warp
// shuffles and one pass over the 8 warp winners pick the block's; the order is total, so the
// result does not depend on how the columns were split.
#include "kernels/device.cuh"

#include <climits>

namespace moesim::kernels {
namespace {

// (v, i) ranks before (w, j): NaN first, then the larger value, then the lower column.
__device__ __forceinline__ bool ranks_before(float v, int i, float w, int j)
{
  const bool vn = isnan(v), wn = isnan(w);
  if (vn != wn)
    return vn;
  if (!vn && v != w)
    return v > w;
  return i < j;
}

__global__ void argmax_kernel(const float* x, std::int32_t* index, float* value, int rows, int cols)
{
  __shared__ float warp_v[detail::block_threads / 32];
  __shared__ int warp_i[detail::block_threads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * cols;
    float best_v = -INFINITY;
    int best_i = INT_MAX;
    for (int c = threadIdx.x; c < cols; c += detail::block_threads)
      if (ranks_before(xr[c], c, best_v, best_i))
        best_v = xr[c], best_i = c;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float v = __shfl_xor_sync(detail::full_mask, best_v, o);
      const int i = __shfl_xor_sync(detail::full_mask, best_i, o);
      if (ranks_before(v, i, best_v, best_i))
        best_v = v, best_i = i;
    }
    if (lane == 0)
      warp_v[warp] = best_v, warp_i[warp] = best_i;
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int w = 1; w < detail::block_threads / 32; w++)
        if (ranks_before(warp_v[w], warp_i[w], best_v, best_i))
          best_v = warp_v[w], best_i = warp_i[w];
      index[r] = best_i;
      if (value)
        value[r] = best_v;
    }
    __syncthreads(); // warp_v and warp_i are rewritten for the next row
  }
}

} // namespace

void argmax(const float* x, std::int32_t* index, float* value, int rows, int cols, cudaStream_t stream)
{
  detail::check_argmax(rows, cols);
  if (rows == 0)
    return;
  argmax_kernel<<<detail::grid_for(rows, 1), detail::block_threads, 0, stream>>>(x, index, value, rows, cols);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::kernels
