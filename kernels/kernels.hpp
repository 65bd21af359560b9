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

#include <cstddef>
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

// ---------------------------------------------------------------------------------------------
// Seeded random fills, for the harness's weights, activations and KV caches (kernels/fill.cu).
// p[i] = lo + (hi - lo) * u, with u in [0, 1) a function of (seed, i) only (a counter-based hash:
// the same values whatever the grid or stream), rounded once to the element type: bf16 to nearest
// even, fp8 e4m3 to nearest even saturating at +-448. Requires lo <= hi.
void fill_uniform_bf16(bf16_t* p, std::int64_t n, float lo, float hi, std::uint64_t seed, cudaStream_t stream);
void fill_uniform_fp8(std::uint8_t* p, std::int64_t n, float lo, float hi, std::uint64_t seed, cudaStream_t stream);
void fill_uniform_f32(float* p, std::int64_t n, float lo, float hi, std::uint64_t seed, cudaStream_t stream);

// ---------------------------------------------------------------------------------------------
// Attention over a KV cache (kernels/attention.cu): decode (q_len = 1) and causal prefill, GQA and
// MLA, with one flash-attention kernel on the tensor cores (bf16 mma.sync, fp32 accumulate and
// softmax) and an optional split over the keys (flash-decoding) whose partial results a second
// kernel combines.
//
//   out[b, i, h, :] = sum_j softmax_j(scale * q[b, i, h, :] . k[b, j, h / G, :]) * v[b, j, h / G, :]
//
// over the keys kv_len - q_len + i - window < j <= kv_len - q_len + i (causal: the q_len queries are
// the last q_len positions of the kv_len keys; decode sees every key; window 0 means no lower bound,
// window W > 0 keeps the last W positions up to the query's own, a sliding-window layer), G =
// q_heads / kv_heads query heads per KV head.
//   q: [batch, q_len, q_heads, qk_dim] and out: [batch, q_len, q_heads, v_dim], contiguous.
//   k, v: element (b, j, kv head, d) at b * batch_stride + j * row_stride + head * head_stride + d
//   (elements). A GQA cache [batch, kv_len, kv_heads, dim] has row_stride kv_heads * dim. MLA
//   (absorbed) decode attends over the latent cache [batch, kv_len, kv_lora + rope] with one KV head:
//   the keys are whole rows, the values their first kv_lora elements (v = k with k's strides,
//   v_dim = kv_lora <= qk_dim).
// Supported: qk_dim and v_dim multiples of 16 from 16 to 576, independently (GQA and MLA prefill with
// any nope + rope and v head dims, MLA decode with any kv_lora + rope). Pointers 16-byte aligned,
// strides multiples of 8 elements; 1 <= q_len <= kv_len.
struct AttentionArgs {
  const bf16_t* q = nullptr;
  const bf16_t* k = nullptr;
  const bf16_t* v = nullptr;
  bf16_t* out = nullptr;
  int batch = 0, q_len = 1, q_heads = 1, kv_heads = 1, kv_len = 1, qk_dim = 128, v_dim = 128;
  int window = 0; // sliding window in keys (0: none)
  std::int64_t k_batch_stride = 0, k_row_stride = 0, k_head_stride = 0;
  std::int64_t v_batch_stride = 0, v_row_stride = 0, v_head_stride = 0;
  float scale = 1.0f;
};

// A contiguous GQA cache: k [batch, kv_len, kv_heads, qk_dim], v [batch, kv_len, kv_heads, v_dim].
AttentionArgs attention_gqa(const bf16_t* q, const bf16_t* k, const bf16_t* v, bf16_t* out, int batch, int q_len,
                            int q_heads, int kv_heads, int kv_len, int qk_dim, int v_dim, float scale);
// Absorbed MLA decode: q [batch, heads, kv_lora + rope] (q_nope absorbed into the latent space, then
// q_rope), latent cache [batch, kv_len, kv_lora + rope], out [batch, heads, kv_lora].
AttentionArgs attention_mla_decode(const bf16_t* q, const bf16_t* latent, bf16_t* out, int batch, int heads,
                                   int kv_len, int kv_lora, int rope, float scale);

constexpr int max_attention_splits = 128;
constexpr int max_attention_head_dim = 576;
bool attention_supported(int qk_dim, int v_dim);

// The tiles `attention` runs a call with on a device that allows `max_smem_bytes` of shared memory per
// block (attention.cu says how they follow from the dims). Throws std::invalid_argument when the
// arguments are refused or no configuration fits. No GPU needed.
struct AttentionTiling {
  const char* shape = "";     // "decode", "prefill" or "latent" (values inside the keys)
  int rows_per_block = 0;     // query rows (position x head of a KV head's group) per block
  int keys_per_tile = 0;
  int threads = 0;
  int value_bucket = 0;       // v_dim rounded up to a compiled register width
  std::size_t smem_bytes = 0; // dynamic shared memory per block
};
AttentionTiling attention_tiling(const AttentionArgs& a, std::size_t max_smem_bytes);

// The key splits `attention` should use on a GPU of `sm_count` multiprocessors: 1 when the blocks
// of one split already number twice the multiprocessors, else enough for four times, with at least
// 256 keys (of those some query sees) per split (at most 64 splits).
int attention_splits(const AttentionArgs& a, int sm_count);
// Device workspace for `splits` (0 when splits is 1): fp32 partial outputs and softmax statistics.
std::size_t attention_workspace_bytes(const AttentionArgs& a, int splits);
// 1 <= splits <= max_attention_splits; workspace_bytes >= attention_workspace_bytes(a, splits).
void attention(const AttentionArgs& a, int splits, void* workspace, std::size_t workspace_bytes, cudaStream_t stream);

// ---------------------------------------------------------------------------------------------
// Grouped GEMM (kernels/grouped_gemm.cu): every local expert's GEMM in one launch, as serving
// engines run MoE experts:
//   y[r, c] = scale * sum_i x[r, i] * w[e, c, i]   for the rows r of expert e,
//   row_offsets[e] <= r < row_offsets[e + 1]
// x: [total_rows, k] and w: [experts, n, k] (each expert's weight as nn.Linear stores it), both bf16
// or both fp8 e4m3; y: [total_rows, n] bf16; fp32 accumulation, one bf16 rounding per output.
// row_offsets: [experts + 1] int32 in device memory, non-decreasing from 0 to total_rows (what
// permute writes as expert_offsets). scale: fp8 only, scale_w[0] * scale_x[0] read from device
// memory (cuBLASLt's A and B scale pointers); bf16: 1.
// The launch covers total_rows / BM + active_experts row tiles: active_experts must be at least
// the number of experts with rows (pass `experts` when unknown, as engines size their grids).
// Requires n even, k * element bytes a multiple of 16, pointers 16-byte aligned; fp8 needs compute
// capability 8.9 or newer.
struct GroupedGemmArgs {
  const void* x = nullptr;
  const void* w = nullptr;
  bf16_t* y = nullptr;
  const std::int32_t* row_offsets = nullptr;
  int experts = 0, n = 0, k = 0;
  std::int64_t total_rows = 0;
  int active_experts = 0;
  bool fp8 = false;
  const float* scale_w = nullptr;
  const float* scale_x = nullptr;
};

// The tiles a call runs with (grouped_gemm.cu says why). No GPU needed; throws std::invalid_argument
// for refused sizes.
struct GroupedGemmTiling {
  int rows_per_tile = 0, cols_per_tile = 0, threads = 0;
  std::size_t smem_bytes = 0;
  int n_tiles = 0;
  std::int64_t m_tiles = 0; // the bound the grid covers
  std::int64_t blocks = 0;
};
GroupedGemmTiling grouped_gemm_tiling(const GroupedGemmArgs& a);
void grouped_gemm(const GroupedGemmArgs& a, cudaStream_t stream);

} // namespace moesim::kernels
