// The size checks of each op, shared by its launcher (<op>.cu) and its CPU reference
// (reference.cpp) so that both refuse the same arguments with the same message:
// std::invalid_argument("kernels::<op>: <what is wrong>"). Internal to kernels/; plain C++.
#pragma once
#include "kernels/kernels.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace moesim::kernels::detail {

inline void require(bool ok, const char* op, const std::string& what)
{
  if (!ok)
    throw std::invalid_argument(std::string("kernels::") + op + ": " + what);
}

inline void require_at_least(const char* op, const char* name, std::int64_t value, std::int64_t least)
{
  require(value >= least, op, std::string(name) + " must be >= " + std::to_string(least) + ", got " +
                                  std::to_string(value));
}

// 1 <= k <= limit, where limit is max_top_k or less.
inline void require_top_k(const char* op, int k, int limit)
{
  require(k >= 1 && k <= limit, op, "k must be in [1, " + std::to_string(limit) + "], got " + std::to_string(k));
}

inline void check_rmsnorm(int rows, int dim, float eps)
{
  require_at_least("rmsnorm", "rows", rows, 0);
  require_at_least("rmsnorm", "dim", dim, 1);
  require(eps >= 0.0f, "rmsnorm", "eps must be >= 0, got " + std::to_string(eps));
}

inline void check_silu_mul(int rows, int inter)
{
  require_at_least("silu_mul", "rows", rows, 0);
  require_at_least("silu_mul", "inter", inter, 1);
}

inline void check_residual_add(std::int64_t n)
{
  require_at_least("residual_add", "n", n, 0);
}

inline void check_topk_softmax(int tokens, int experts, int k)
{
  require_at_least("topk_softmax", "tokens", tokens, 0);
  require_at_least("topk_softmax", "experts", experts, 1);
  require_top_k("topk_softmax", k, std::min(experts, max_top_k));
}

// k is not bounded by `experts`: an EP shard may hold fewer experts than a token chooses.
inline void check_permute(int tokens, int hidden, int k, int experts)
{
  require_at_least("permute", "tokens", tokens, 0);
  require_at_least("permute", "hidden", hidden, 1);
  require_at_least("permute", "experts", experts, 1);
  require_top_k("permute", k, max_top_k);
  require(static_cast<std::int64_t>(tokens) * k <= INT32_MAX, "permute", "tokens * k must fit in int32");
}

inline void check_unpermute(int tokens, int hidden, int k)
{
  require_at_least("unpermute", "tokens", tokens, 0);
  require_at_least("unpermute", "hidden", hidden, 1);
  require_top_k("unpermute", k, max_top_k);
}

inline void check_embedding(int tokens, int hidden, int rows)
{
  require_at_least("embedding", "tokens", tokens, 0);
  require_at_least("embedding", "hidden", hidden, 1);
  require_at_least("embedding", "rows", rows, 1);
}

inline void check_argmax(int rows, int cols)
{
  require_at_least("argmax", "rows", rows, 0);
  require_at_least("argmax", "cols", cols, 1);
}

inline void check_fill(std::int64_t n, float lo, float hi)
{
  require_at_least("fill", "n", n, 0);
  require(lo <= hi, "fill", "lo must be <= hi, got [" + std::to_string(lo) + ", " + std::to_string(hi) + ")");
}

inline void check_grouped_gemm(int experts, int n, int k, bool fp8, std::int64_t total_rows, int active_experts)
{
  const char* op = "grouped_gemm";
  require_at_least(op, "experts", experts, 1);
  require_at_least(op, "n", n, 2);
  require_at_least(op, "k", k, 1);
  require_at_least(op, "total_rows", total_rows, 0);
  require(active_experts >= (total_rows > 0 ? 1 : 0) && active_experts <= experts, op,
          "active_experts must be in [1, experts] when there are rows, got " + std::to_string(active_experts));
  require(n % 2 == 0, op, "n must be even (bf16 pairs are stored together), got " + std::to_string(n));
  require((static_cast<std::int64_t>(k) * (fp8 ? 1 : 2)) % 16 == 0, op,
          "k must be a multiple of " + std::string(fp8 ? "16" : "8") + " (16-byte rows), got " + std::to_string(k));
  require(total_rows <= INT32_MAX, op, "total_rows must fit in int32");
}

inline bool attention_dims_supported(int qk_dim, int v_dim)
{
  auto ok = [](int d) { return d >= 16 && d <= max_attention_head_dim && d % 16 == 0; };
  return ok(qk_dim) && ok(v_dim);
}

// Sizes only (the launcher checks pointers, strides and alignment besides).
inline void check_attention(int batch, int q_len, int q_heads, int kv_heads, int kv_len, int qk_dim, int v_dim)
{
  const char* op = "attention";
  require_at_least(op, "batch", batch, 0);
  require(batch <= 65535, op, "batch must be <= 65535, got " + std::to_string(batch));
  require_at_least(op, "q_len", q_len, 1);
  require_at_least(op, "q_heads", q_heads, 1);
  require_at_least(op, "kv_heads", kv_heads, 1);
  require(kv_heads <= 65535, op, "kv_heads must be <= 65535, got " + std::to_string(kv_heads));
  require(q_heads % kv_heads == 0, op,
          "q_heads (" + std::to_string(q_heads) + ") must be a multiple of kv_heads (" + std::to_string(kv_heads) + ")");
  require(kv_len >= q_len, op,
          "kv_len (" + std::to_string(kv_len) + ") must be >= q_len (" + std::to_string(q_len) +
              "): the queries are the last q_len positions");
  require(static_cast<std::int64_t>(q_len) * (q_heads / kv_heads) <= INT32_MAX / 2, op, "q_len * q_heads is too large");
  require(attention_dims_supported(qk_dim, v_dim), op,
          "(qk_dim, v_dim) = (" + std::to_string(qk_dim) + ", " + std::to_string(v_dim) +
              ") is not supported: both must be multiples of 16 from 16 to " + std::to_string(max_attention_head_dim));
}

} // namespace moesim::kernels::detail
