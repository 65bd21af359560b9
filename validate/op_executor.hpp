// OpExecutor: runs the compute ops of one rank's schedule on the current GPU with real kernels over
// real (seeded random) data, so that validate/ can time each op against what the simulator charged.
//
// What each compute op runs (op_executor.cpp has the details):
//   gemm {m, n, k[, batch]}      cublasLt, BF16 in and out, fp32 accumulate; FP8 e4m3 with per-tensor
//                                scales when the op's dtype is fp8 and the GPU is sm_89 or newer;
//                                batch > 1: strided-batched over per-head slices (MLA's absorptions).
//                                moe.router writes fp32 logits (what moe.topk reads).
//   grouped_gemm                 one cublasLt GEMM per local expert that received rows, each with its
//                                own weights (experts without rows read nothing, as the simulator charges)
//   attention_decode / _prefill  kernels::attention (tensor-core flash attention) over a per-layer
//                                bf16 KV cache (GQA [batch, context, kv_heads, head_dim] for K and V;
//                                MLA: the latent cache [batch, context, kv_lora + rope])
//   topk                         kernels::topk_softmax over the router's fp32 logits
//   permute / unpermute          kernels::permute / unpermute with expert ids from a fixed draw
//   silu_mul, rmsnorm,           kernels::silu_mul, rmsnorm, residual_add, embedding
//   residual_add, embedding
//   sample                       kernels::argmax over fp32 logits [rows, vocab]
// Inputs are never written by a launch (every op reads input buffers and writes output buffers), so
// the values stay finite however often and in whatever order ops are launched.
#pragma once
#include "core/schedule.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moesim::validate {

struct OpExecutorOptions {
  // The most device memory (bytes) the executor may hold, on top of what the GPU keeps free anyway
  // (10% of its memory). 0: no limit but the GPU's. Tests use it to force rotating weights.
  std::size_t memory_limit = 0;
};

// How one compute op is run (for the runner's report).
struct OpRunInfo {
  std::string config;       // the distinct configuration ("gemm m=8 n=4096 k=7168 fp8"); verify() checks each once
  std::string math;         // "bf16", "fp8 e4m3", "fp32" (elementwise ops: "bf16")
  std::string substitution; // empty when run as scheduled, else what differs and why
  int launches = 0;         // kernel launches (cuBLAS calls count one each) launch(op) enqueues
};

class OpExecutor {
public:
  // On the current device (the caller did cudaSetDevice): allocates and fills with seeded random data
  // the weights, activations, KV cache and workspaces that rank `rank`'s compute ops read and write,
  // and a send and a receive buffer for its communication ops (at least the largest comm op's bytes;
  // for all_to_all the largest of sum(peer_bytes) and comm_bytes). Throws moesim::InputError (core/error.hpp)
  // naming the schedule op and the bytes needed vs free when the GPU lacks memory.
  OpExecutor(const Schedule& s, int rank, std::uint64_t seed);
  OpExecutor(const Schedule& s, int rank, std::uint64_t seed, const OpExecutorOptions& options);
  ~OpExecutor();
  OpExecutor(const OpExecutor&) = delete;
  OpExecutor& operator=(const OpExecutor&) = delete;

  // Runs every distinct compute-op configuration once on fresh random inputs with outputs poisoned
  // first, copies back, and compares with a CPU reference within the tolerance its precision allows
  // (derived in kernels/reference.cpp and op_executor.cpp). Throws std::runtime_error naming the op and
  // the worst element on a mismatch. Every configuration runs at its full scheduled size; large
  // outputs are compared on samples (rows, columns, sequences, heads), always including the first and
  // last, and scanned in full for unwritten (poisoned) elements up to 256 MiB.
  void verify(cudaStream_t stream);
  // Enqueues the kernel(s) of compute op `op` (op_class(op.kind) == OpClass::compute) on `stream`.
  // Never synchronises and never allocates: it can be captured in a CUDA graph. Ops run on one
  // stream at a time (they share activation buffers and the cuBLAS workspace).
  void launch(const Op& op, cudaStream_t stream);

  void* send_buffer() const;
  void* recv_buffer() const;
  std::size_t comm_buffer_bytes() const;
  std::size_t device_bytes() const; // total device memory this executor holds

  // How `op` runs: its configuration, math precision and any substitution (FP4 weights run in BF16
  // on Hopper, FP8 without support). Throws std::invalid_argument for an op not of this rank.
  const OpRunInfo& info(const Op& op) const;
  // Whether this GPU runs FP8 GEMMs (compute capability 8.9 or newer).
  bool fp8_supported() const;
  // Whether every (layer, op) has its own weights and KV cache (false: they rotate among copies).
  bool distinct_weights() const;
  // What the executor did that a reader of its timings should know, one line each: memory layout
  // (distinct or rotating copies and the working set against L2), substitutions, kernels.
  std::string notes() const;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

// Helpers with no GPU (op_executor.cpp uses them; tested on their own).
namespace detail {
// Rounds fractional rows per expert to integers that keep the total: each is floored, then the
// round(total) - sum(floors) largest remainders get one more (ties: lower index). Negative -> 0.
std::vector<long> round_group_rows(const std::vector<double>& rows);
// "L12.attn.qkv@mb1" -> "attn.qkv": the op's name without its layer and microbatch.
std::string base_name(const std::string& op_name);
// Copies per buffer class so that the classes fit in `budget` bytes: as many as there are users when
// everything fits, else about the same fraction of each class (at least one copy). `sizes[i]` bytes a
// copy, `users[i]` buffers of the class. Returns an empty vector when one copy of each does not fit.
std::vector<long> plan_copies(const std::vector<double>& sizes, const std::vector<long>& users, double budget);
} // namespace detail

} // namespace moesim::validate
