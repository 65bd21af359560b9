// topk_softmax: per token, the k largest of `experts` logits and their softmax weights.
// One warp per token: lanes stride over the experts; the max, the softmax denominator and each of
// the k selections are warp reductions (a max and a sum in a fixed order, an argmax under a total
// order), so every run and every lane agrees.
#include "kernels/device.cuh"

#include <climits>

namespace moesim::kernels {
namespace {

// (v, e) ranks before (w, f): larger logit first, then lower expert id.
__device__ __forceinline__ bool ranks_before(float v, int e, float w, int f)
{
  return v > w || (v == w && e < f);
}

__global__ void topk_softmax_kernel(const float* logits, std::int32_t* expert_ids, float* weights, int tokens,
                                    int experts, int k, bool renormalize)
{
  const int lane = threadIdx.x % 32;
  const std::int64_t t = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (t >= tokens)
    return; // the whole warp leaves together
  const float* l = logits + t * experts;

  float m = -INFINITY;
  for (int e = lane; e < experts; e += 32)
    m = fmaxf(m, l[e]);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    m = fmaxf(m, __shfl_xor_sync(detail::full_mask, m, o));

  float sum_all = 0.0f;
  for (int e = lane; e < experts; e += 32)
    sum_all += expf(l[e] - m);
  sum_all = detail::warp_sum(sum_all);

  // The loops over j and p are unrolled to max_top_k so that chosen[] and value[] stay in registers.
  int chosen[max_top_k];
  float value[max_top_k];
#pragma unroll
  for (int j = 0; j < max_top_k; j++) {
    chosen[j] = -1;
    value[j] = 0.0f;
    if (j >= k)
      continue;
    float best_v = -INFINITY;
    int best_e = INT_MAX;
    for (int e = lane; e < experts; e += 32) {
      bool taken = false;
#pragma unroll
      for (int p = 0; p < j; p++)
        taken |= chosen[p] == e;
      if (!taken && ranks_before(l[e], e, best_v, best_e))
        best_v = l[e], best_e = e;
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float v = __shfl_xor_sync(detail::full_mask, best_v, o);
      const int e = __shfl_xor_sync(detail::full_mask, best_e, o);
      if (ranks_before(v, e, best_v, best_e))
        best_v = v, best_e = e;
    }
    chosen[j] = best_e;
    value[j] = best_v;
  }

  float denom = sum_all;
  if (renormalize) {
    denom = 0.0f;
#pragma unroll
    for (int j = 0; j < max_top_k; j++)
      if (j < k)
        denom += expf(value[j] - m);
  }
  // Lane j writes selection j.
#pragma unroll
  for (int j = 0; j < max_top_k; j++)
    if (j < k && j == lane) {
      expert_ids[t * k + j] = chosen[j];
      weights[t * k + j] = expf(value[j] - m) / denom;
    }
}

} // namespace

void topk_softmax(const float* logits, std::int32_t* expert_ids, float* weights, int tokens, int experts, int k,
                  bool renormalize, cudaStream_t stream)
{
  detail::check_topk_softmax(tokens, experts, k);
  if (tokens == 0)
    return;
  constexpr int tokens_per_block = detail::block_threads / 32;
  const unsigned blocks = static_cast<unsigned>((tokens + tokens_per_block - 1) / tokens_per_block);
  topk_softmax_kernel<<<blocks, detail::block_threads, 0, stream>>>(logits, expert_ids, weights, tokens, experts, k,
                                                                    renormalize);
  MOESIM_CHECK(cudaGetLastError());
}

} // namespace moesim::kernels
