// OpExecutor: runs the compute ops of one rank's schedule on the current GPU with real kernels over
// real (seeded random) data, so that validate/ can time each op against what the simulator charged.
//
// Each compute-op kind has a handler (op_handler.hpp; validate/ops/<kind>.cpp says what it runs):
//   gemm                         cuBLASLt (gemm_plan.hpp), BF16 in and out, fp32 accumulate; FP8 e4m3
//                                with per-tensor scales when the weights are fp8 and the GPU is sm_89
//                                or newer; batched over per-head slices; fp32 logits for the router
//   grouped_gemm                 GroupedGemm (grouped_gemm.hpp) as engine.grouped_gemm says: fused, one
//                                kernels::grouped_gemm launch over the local experts; per_expert, one
//                                cuBLASLt GEMM per local expert that received rows, each with its own
//                                weights (experts without rows read nothing, as the simulator charges)
//   attention_decode / _prefill  kernels::attention (tensor-core flash attention) over a per-layer
//                                bf16 KV cache (GQA [batch, context, kv_heads, head_dim] for K and V;
//                                MLA: the latent cache [batch, context, kv_lora + rope])
//   topk                         kernels::topk_softmax over the router's fp32 logits
//   permute / unpermute          kernels::permute / unpermute with expert ids from a fixed draw
//   silu_mul, rmsnorm,           kernels::silu_mul, rmsnorm, residual_add, embedding
//   residual_add, embedding
//   sample                       kernels::argmax over fp32 logits [rows, vocab]
// Every size comes from the ops' typed shapes and the schedule's model facts, never from op names.
// Inputs are never written by a launch (every op reads input buffers and writes output buffers), so
// the values stay finite however often and in whatever order ops are launched. Device memory:
// buffers.hpp.
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
  // The schedule's file, named in refusals ("schedule" for one built in memory).
  std::string file = "schedule";
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
  // naming the schedule op: for an op no replay can run (check_op, op_check.hpp: the same message as
  // `moesim-validate --check-schedule`), and with the bytes needed vs free when the GPU lacks memory.
  OpExecutor(const Schedule& s, int rank, std::uint64_t seed);
  OpExecutor(const Schedule& s, int rank, std::uint64_t seed, const OpExecutorOptions& options);
  ~OpExecutor();
  OpExecutor(const OpExecutor&) = delete;
  OpExecutor& operator=(const OpExecutor&) = delete;

  // Runs every distinct compute-op configuration once on fresh random inputs with outputs poisoned
  // first, copies back, and compares with a CPU reference within the tolerance its precision allows
  // (derived in kernels/reference.cpp and validate/ops/). Throws std::runtime_error naming the op and
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

} // namespace moesim::validate
