// The non-GEMM kernels of one MoE decoder step, as launchers that C++ code can call (GEMMs go
// through cuBLAS in validate/). Every launcher has the same shape:
//
//   void op(inputs..., outputs..., sizes..., parameters..., cudaStream_t stream);
//
// It checks its sizes (std::invalid_argument naming the op), returns at once when there is nothing
// to do (no token: permute only zeroes expert_offsets), enqueues its kernel(s) on `stream` and
// checks the launch (std::runtime_error from MOESIM_CHECK). It never synchronises. Pointers are device pointers; bf16 tensors are passed as
// their bit patterns (bf16_t) and are row-major. Each op lives in kernels/<op>.cu and has a CPU
// reference of the same name in reference.hpp that computes the same values (see the tolerances in
// tests/gpu/test_kernels.cpp).
//
// Arithmetic: bf16 inputs are widened to fp32, all arithmetic is fp32, and each bf16 output is
// rounded once (round to nearest even).
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace moesim::kernels {

using bf16_t = std::uint16_t; // the bits of one bfloat16 value

constexpr int max_top_k = 8;

// out[r, i] = x[r, i] / sqrt(mean_j x[r, j]^2 + eps) * weight[i]
//   x, out: [rows, dim]; weight: [dim]. The sum of squares is accumulated in fp32.
void rmsnorm(const bf16_t* x, const bf16_t* weight, bf16_t* out, int rows, int dim, float eps, cudaStream_t stream);

// out[r, i] = silu(in[r, i]) * in[r, inter + i], silu(g) = g / (1 + exp(-g))
//   in: [rows, 2 * inter] (gate half, then up half, as a fused gate_up GEMM writes it); out: [rows, inter].
void silu_mul(const bf16_t* in, bf16_t* out, int rows, int inter, cudaStream_t stream);

// out[i] = x[i] + residual[i], for i < n. `out` may be `x` or `residual`.
void residual_add(const bf16_t* x, const bf16_t* residual, bf16_t* out, std::int64_t n, cudaStream_t stream);

// Router: for each token, the k experts with the largest logits (ties: lower expert id first), in
// descending order, and their weights: the softmax probabilities over all experts, renormalised
// to sum to 1 over the k chosen if `renormalize` (Mixtral, Qwen3) or left as they are (Qwen2-MoE).
//   logits: [tokens, experts] fp32, finite; expert_ids: [tokens, k] int32; weights: [tokens, k] fp32.
//   1 <= k <= min(experts, max_top_k).
void topk_softmax(const float* logits, std::int32_t* expert_ids, float* weights, int tokens, int experts, int k,
                  bool renormalize, cudaStream_t stream);

// Permute: copies each token's row once per chosen expert into expert-contiguous order, for the
// grouped expert GEMM. Slot (t, j) = t * k + j goes to expert e = expert_ids[t, j] - first_expert;
// only the `experts` local experts 0 <= e < experts are kept (an EP shard, or all of them with
// first_expert = 0), the other slots are dropped.
//   x: [tokens, hidden]; expert_ids: [tokens, k].
//   expert_offsets: [experts + 1]: expert e owns rows [expert_offsets[e], expert_offsets[e + 1]) of
//     `out`; expert_offsets[experts] is the number of rows written.
//   out: [tokens * k, hidden] (room for every slot); within an expert, rows are in slot order.
//   dest_row: [tokens * k]: the row of `out` that holds slot t * k + j, or -1 if it was dropped.
void permute(const bf16_t* x, const std::int32_t* expert_ids, bf16_t* out, std::int32_t* dest_row,
             std::int32_t* expert_offsets, int tokens, int hidden, int k, int first_expert, int experts,
             cudaStream_t stream);

// Unpermute: out[t, :] = sum_j weights[t, j] * expert_out[dest_row[t * k + j], :], the k products
// accumulated in slot order with fused multiply-adds in fp32; dropped slots (dest_row -1) add nothing.
//   expert_out: rows indexed by dest_row (as permute wrote them); dest_row, weights: [tokens, k];
//   out: [tokens, hidden].
void unpermute(const bf16_t* expert_out, const std::int32_t* dest_row, const float* weights, bf16_t* out, int tokens,
               int hidden, int k, cudaStream_t stream);

// Embedding lookup in a vocabulary shard holding ids [first_id, first_id + rows):
// out[t, :] = table[ids[t] - first_id, :] for ids inside the shard, zeros for the others (so that an
// all-reduce over the shards completes a vocab-parallel lookup; with one shard, first_id = 0).
//   ids: [tokens] int32; table: [rows, hidden]; out: [tokens, hidden].
void embedding(const std::int32_t* ids, const bf16_t* table, bf16_t* out, int tokens, int hidden, int first_id,
               int rows, cudaStream_t stream);

// Greedy sampling: index[r] = the column of the largest x[r, :] (ties: lowest column; NaN counts
// as the largest, as in torch.argmax), and value[r] = x[r, index[r]] unless `value` is null.
//   x: [rows, cols] fp32; index, value: [rows].
void argmax(const float* x, std::int32_t* index, float* value, int rows, int cols, cudaStream_t stream);

} // namespace moesim::kernels
