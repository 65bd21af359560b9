// Schedule: the contract between simulation and measurement. For each rank, the ordered ops of one
// step (decode or prefill) with their dependencies, costs and communicators. It serialises to JSON
// (schedule_json.hpp) so that validate/ runs exactly what the simulator ran. Knows nothing of
// SimGrid or CUDA.
#pragma once
#include "core/dtype.hpp"
#include "core/plan.hpp"

#include <string>
#include <vector>

namespace moesim {

enum class OpKind {
  // compute
  embedding, rmsnorm, gemm, attention_decode, attention_prefill, router, topk, permute, grouped_gemm,
  silu_mul, unpermute, residual_add, sample,
  // communication
  all_reduce, all_gather, reduce_scatter, all_to_all, send, recv,
  // host
  host_sync,
};
enum class OpClass { compute, collective, p2p, host };

const char* to_string(OpKind k);
OpKind parse_op_kind(const std::string& s); // throws std::invalid_argument
OpClass op_class(OpKind k);
const char* to_string(OpClass c);
// What a compute op mostly is, for people: matrix multiplies, attention, or the small kernels
// around them (norms, routing, permutes, element-wise). Communication and host ops: other.
enum class ComputeFamily { gemm, attention, other };
ComputeFamily compute_family(OpKind k);

// Collective algorithms (how sim/ decomposes a collective into flows).
enum class CollAlgo { ring, tree, direct, p2p, one_shot, two_shot }; // the last two: custom all-reduce kernels
const char* to_string(CollAlgo a);

// Who runs an all-reduce: NCCL (its own algorithm and protocol choice), or an engine's custom
// kernel over IPC peer buffers, one shot (every rank reads every peer's buffer) or two shot
// (reduce-scatter then all-gather, each rank reading 1/n of every peer's buffer).
enum class AllReduceImpl { nccl, one_shot, two_shot };
const char* to_string(AllReduceImpl a);

struct Op {
  int id = 0;             // index in the rank's op list
  std::string name;       // "L12.moe.dispatch", unique per rank
  OpKind kind = OpKind::gemm;
  int layer = -1;         // -1 for embedding / head / step-level ops
  int microbatch = 0;
  int stream = 0;         // 0 = compute + collectives, 1 = pipeline sends
  std::vector<int> deps;  // op ids on the same rank that must finish first (besides stream order)

  // compute ops
  double flops = 0;
  double bytes = 0;       // bytes read + written in device memory
  Dtype dtype = Dtype::bf16;      // dtype of the tensor-core math
  // gemm: {m, n, k}, or {m, n, k, batch} for per-head batched GEMMs (MLA's absorbed projections)
  // grouped_gemm: {local experts, rows (token-expert pairs), n, k}; group_rows below splits the rows
  // attention_decode, GQA: {batch, q heads, kv heads, context, head_dim}
  // attention_decode, MLA (absorbed): {batch, heads, context, kv_lora_rank, rope_dim}
  // attention_prefill, GQA: {batch, q heads, kv heads, prompt, cached context, head_dim}
  // attention_prefill, MLA: {batch, heads, prompt, cached context, qk head dim, v head dim}
  // elementwise / norm: {elements} ; topk: {tokens, experts, k} ; permute/unpermute: {tokens, k, hidden}
  // embedding: {tokens, hidden} ; sample: {rows, vocab}
  std::vector<double> shape;
  std::vector<double> group_rows; // grouped_gemm: rows per local expert (fractional under expected routing)
  bool mla = false;               // attention ops: multi-head latent attention
  int kernels = 1;                // kernel launches this op costs (host side in eager mode)

  // communication ops
  int group = -1;                 // communicator (Layout::groups); p2p ops: -1
  int coll = -1;                  // collective instance id, identical on every member
  double comm_bytes = 0;          // NCCL's size: all_reduce buffer, all_gather output, reduce_scatter input,
                                  // all_to_all this rank's send total, send/recv payload
  std::vector<double> peer_bytes; // all_to_all: bytes this rank sends to each group member (by group index)
  int peer = -1;                  // send/recv: the other global rank
  int tag = -1;                   // send/recv: matching tag, identical on both sides
  AllReduceImpl ar_impl = AllReduceImpl::nccl; // all_reduce: who runs it
  double ar_fixed_s = 0;          // all_reduce by a custom kernel: its fixed cost per call

  bool is_comm() const { return op_class(kind) == OpClass::collective || op_class(kind) == OpClass::p2p; }
};

// Fractional rows per expert (expected-value routing) as whole rows that keep the total, the way the
// harness runs them: each is floored, then the round(total) - sum(floors) largest remainders get one
// more (ties: lower index). Negative rows count as 0.
std::vector<long> round_group_rows(const std::vector<double>& rows);

struct RankSchedule {
  int rank = 0;
  std::vector<Op> ops;
};

// What a real serving engine pays on the host. In eager mode every kernel is launched by the host
// (`launch_s` each) and the host can run ahead of the GPU; a host synchronisation (all-to-all-v
// counts must reach the host to size the receive buffers) drains that queue and costs `sync_s`.
// Under CUDA graphs the whole step is one launch (`graph_launch_s`) and no op syncs.
struct EngineParams {
  bool cuda_graphs = false;
  double launch_s = 5e-6;
  double sync_s = 20e-6;
  double graph_launch_s = 10e-6;
  // How the engine runs a grouped expert GEMM: one fused kernel over all local experts (serving
  // engines' fused-MoE kernels), or one GEMM launch per expert that received tokens (a loop of
  // library GEMMs, as validate/'s harness does): then every launch pays the host and kernel costs.
  bool grouped_gemm_per_expert = false;
  // Every op bracketed by two CUDA event records, as validate/'s harness times ops in eager mode:
  // each op costs the host two event records more (measured: Calibration::host.event_record_s,
  // else `event_record_s` here). Off for a real serving engine; on to compare with the harness.
  bool timed_ops = false;
  double event_record_s = 2e-6;
  // The fraction of datasheet memory bandwidth an engine's decode attention and MoE kernels reach,
  // replacing the platform's placeholder where no measured table covers the op (0: the platform's).
  double attention_bw_fraction = 0;
  double moe_bw_fraction = 0;
};

enum class Phase { decode, prefill };
const char* to_string(Phase p);

struct StepShape {
  Phase phase = Phase::decode;
  int batch = 1;      // sequences
  int context = 0;    // decode: tokens already in the KV cache per sequence
  int prompt = 0;     // prefill: prompt length per sequence
  int tokens_per_seq = 1; // decode: tokens each sequence runs (1 + draft tokens under speculative decoding)
  // Decode steps with a prefill chunk mixed in (continuous batching): every attention-DP replica
  // also runs `chunk` prompt tokens of one sequence that already has `chunk_context` of its prompt
  // in the KV cache. 0 = a pure decode step.
  int chunk = 0;
  int chunk_context = 0;
  int tokens() const { return phase == Phase::decode ? batch * tokens_per_seq : batch * prompt; }
};

struct Schedule {
  std::string model;
  std::string routing;    // description
  StepShape step;
  EngineParams engine;
  Layout layout;
  int collectives = 0;    // number of collective instances (coll ids are 0..collectives-1)
  std::vector<RankSchedule> ranks;
};

} // namespace moesim
