// permute: each token's row copied once per chosen local expert, into expert-contiguous order.
// place_kernel gives every slot its row. Block e (one per local expert) reads the slot list twice:
// once to count the slots of lower experts (= expert_offsets[e]), then in tiles of 256 slots,
// numbering its own slots in slot order with a block-wide prefix count (warp ballots). Block
// `experts` marks the dropped slots. Rows are thus a pure function of expert_ids: no atomics, the
// same layout on every run. It reads 2 * (experts + 1) * tokens * k ids, little beside the copy.
// scatter_kernel then copies the rows, one block per slot.
#include "kernels/device.cuh"

namespace moesim::kernels {
namespace {

__global__ void place_kernel(const std::int32_t* expert_ids, std::int32_t* dest_row, std::int32_t* expert_offsets,
                             int slots, int first_expert, int experts)
{
  const int e = blockIdx.x;
  auto local = [&](int a) { return static_cast<std::int64_t>(expert_ids[a]) - first_expert; };
  if (e == experts) {
    for (int a = threadIdx.x; a < slots; a += detail::block_threads)
      if (local(a) < 0 || local(a) >= experts)
        dest_row[a] = -1;
    return;
  }

  int below = 0;
  for (int a = threadIdx.x; a < slots; a += detail::block_threads)
    below += local(a) >= 0 && local(a) < e;
  below = detail::block_sum(below);

  __shared__ int warp_count[detail::block_threads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int placed = 0; // slots of expert e numbered so far
  for (int base = 0; base < slots; base += detail::block_threads) {
    const int a = base + threadIdx.x;
    const bool mine = a < slots && local(a) == e;
    const unsigned ballot = __ballot_sync(detail::full_mask, mine);
    if (lane == 0)
      warp_count[warp] = __popc(ballot);
    __syncthreads();
    int before = 0, tile = 0;
    for (int w = 0; w < detail::block_threads / 32; w++) {
      before += w < warp ? warp_count[w] : 0;
      tile += warp_count[w];
    }
    if (mine)
      dest_row[a] = below + placed + before + __popc(ballot & ((1u << lane) - 1u));
    placed += tile;
    __syncthreads(); // warp_count is rewritten by the next tile
  }
  if (threadIdx.x == 0) {
    expert_offsets[e] = below;
    if (e == experts - 1)
      expert_offsets[experts] = below + placed;
  }
}

template <int VEC>
__global__ void scatter_kernel(const bf16_t* x, const std::int32_t* dest_row, bf16_t* out, int slots, int hidden,
                               int k)
{
  for (std::int64_t a = blockIdx.x; a < slots; a += gridDim.x) {
    const std::int64_t row = dest_row[a];
    if (row < 0)
      continue;
    const bf16_t* src = x + (a / k) * hidden;
    bf16_t* dst = out + row * hidden;
    for (int i = threadIdx.x * VEC; i < hidden; i += detail::block_threads * VEC)
      detail::copy_bf16<VEC>(dst + i, src + i);
  }
}

} // namespace

void permute(const bf16_t* x, const std::int32_t* expert_ids, bf16_t* out, std::int32_t* dest_row,
             std::int32_t* expert_offsets, int tokens, int hidden, int k, int first_expert, int experts,
             cudaStream_t stream)
{
  detail::check_permute(tokens, hidden, k, experts);
  const int slots = tokens * k;
  if (tokens == 0) {
    // No slot: every expert owns zero rows.
    MOESIM_CHECK(cudaMemsetAsync(expert_offsets, 0, sizeof(std::int32_t) * (experts + 1), stream));
    return;
  }
  place_kernel<<<experts + 1, detail::block_threads, 0, stream>>>(expert_ids, dest_row, expert_offsets, slots,
                                                                  first_expert, experts);
  MOESIM_CHECK(cudaGetLastError());
  const unsigned blocks = detail::grid_for(slots, 1);
  if (hidden % 8 == 0 && detail::aligned16(x) && detail::aligned16(out))
    scatter_kernel<8><<<blocks, detail::block_threads, 0, stream>>>(x, dest_row, out, slots, hidden, k);
  else
    scatter_kernel<1><<<blocks, detail::block_threads, 0, stream>>>(x, dest_row, out, slots, hidden, k);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::kernels
