// Schedule: the contract between simulation and measurement. For each rank, the ordered ops of one
// step (decode or prefill) with their dependencies, costs and communicators. It serialises to JSON
// (schedule_json.hpp, format "moesim-schedule-2", JSON Schema in
// docs/schedule/moesim-schedule-2.schema.json) so that validate/ runs exactly what the simulator
// ran. Knows nothing of SimGrid or CUDA.
//
// Every fact a reader needs is a typed field; an op's name ("L12.attn.qkv@mb1") is for people and
// no program parses it. What an op is:
//   kind    what runs (OpKind): a GEMM, attention, a norm, a collective, ...
//   family  the block of the model it belongs to (OpFamily): embedding, attention, ffn, moe, head,
//           pipeline
//   role    what it does there (OpRole): qkv, q_a, o, router, experts_up, ...; the name is
//           "L<layer>." + op_label(family, role) + "@mb<microbatch>" (layer and microbatch parts
//           only where they apply)
//   shape   the sizes its kind needs, one struct per kind (OpShape); communication and host ops have
//           none (std::monostate) and carry comm_bytes / peer_bytes / peer / tag instead
//   costs   flops, bytes and kernel launches, which the simulator charges (the roofline or the
//           calibrated kernel tables); dtype is the op's math dtype
//
// Shapes are per GPU (after tensor, expert and data parallel splitting) and per microbatch.
#pragma once
#include "core/dtype.hpp"
#include "core/engine_profile.hpp"
#include "core/model.hpp"
#include "core/plan.hpp"

#include <cstddef>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

namespace moesim {

enum class OpKind {
  // compute
  embedding, rmsnorm, gemm, attention_decode, attention_prefill, topk, permute, grouped_gemm, silu_mul,
  unpermute, residual_add, sample,
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

// The block of the model an op belongs to. ffn: the feed-forward sub-block's norm and residual in
// every layer, and the dense MLP of dense layers; moe: what a MoE layer adds (router, routing,
// token exchange, experts, shared experts); pipeline: the sends and receives between PP stages.
enum class OpFamily { embedding, attention, ffn, moe, head, pipeline };
const char* to_string(OpFamily f);
OpFamily parse_op_family(const std::string& s); // throws std::invalid_argument

// What an op does in its family.
enum class OpRole {
  lookup,                                  // embedding: the table lookup
  norm, residual,                          // the sub-block's pre-norm and residual add
  allreduce, allgather, reducescatter,     // the family's tensor-parallel collectives
  qkv,                                     // GQA: fused q, k, v projection
  q, q_a, q_norm, q_b,                     // MLA: query projection (direct, or down, norm, up)
  kv_a, kv_norm, kv_b,                     // MLA: latent KV down projection, its norm, up projection
  q_absorb, v_absorb,                      // MLA decode: per-head projections into / out of the latent space
  core,                                    // attention over the KV cache
  chunk_kv_b, chunk,                       // a decode step's prefill chunk: its kv_b up projection, its attention
  o,                                       // attention output projection
  up, act, down,                           // dense MLP: gate+up, SiLU-and-multiply, down
  router, topk, permute, unpermute,        // MoE routing
  counts, counts_sync, dispatch, combine,  // MoE token exchange (all-to-all-v counts, their host sync)
  experts_up, experts_act, experts_down,   // routed experts
  expert_count_sync, expert,               // a host loop per expert: its count read back, its fused MLP
  dequant,                                 // the local experts' weights dequantised to bf16
  shared_up, shared_act, shared_down,      // shared experts
  lm_head, logits_allgather, sample,       // head
  send, recv,                              // pipeline
};
const char* to_string(OpRole r);
OpRole parse_op_role(const std::string& s); // throws std::invalid_argument
// The name of an op without layer and microbatch: "attn.qkv", "moe.experts.up", "embed", "pp.send".
// Reports group ops by it (all layers together).
std::string op_label(OpFamily f, OpRole r);

// Collective algorithms (how sim/ decomposes a collective into flows).
enum class CollAlgo { ring, tree, direct, p2p, one_shot, two_shot }; // the last two: custom all-reduce kernels
const char* to_string(CollAlgo a);

// ---- shapes, one struct per compute-op kind -------------------------------------------------

// gemm: y[m, n] = x[m, k] W[k, n], `batch` times with weights of their own (MLA's per-head absorbed
// projections). Weights in op.dtype; activations in the model's activation dtype; the output in
// `out` (bf16, or fp32 for the router's logits, which topk reads).
struct GemmShape {
  long m = 0, n = 0, k = 0;
  long batch = 1;
  Dtype out = Dtype::bf16;
  // fp8 weights with one scale per 128x128 block and activations quantized per 1x128 group
  // (DeepSeek-V3's checkpoints; DeepGEMM runs them), a kernel apart from per-tensor fp8.
  bool block_scales = false;
};

// grouped_gemm: the local experts' GEMMs y_e[rows_e, n] = x_e[rows_e, k] W_e[k, n], weights in op.dtype.
// Experts [first_expert, first_expert + experts) are this GPU's; rows[e] are the token-expert pairs
// expert first_expert + e received (fractional under expected-value routing: round_group_rows
// gives the whole rows a replay runs).
struct GroupedGemmShape {
  int experts = 0;
  int first_expert = 0;
  std::vector<double> rows; // one per local expert
  long n = 0, k = 0;
  double total_rows() const; // sum of rows, in order
};

// attention_decode / attention_prefill over a KV cache, per GPU. Each of `batch` sequences has
// `prompt` new query tokens (decode: 1) that attend, causally, to `cached` tokens already in the
// cache before them and to themselves: context() = cached + prompt keys for the last query.
// `cached` is after the sliding window (a windowed layer sees at most sliding_window tokens;
// sliding_window is 0 for full-attention layers). q_heads and kv_heads are this GPU's; head_dim_qk
// and head_dim_v the model's. MLA (mla = true): prefill attends with q_heads KV heads up-projected
// from the latent cache (head_dim_qk = nope + rope); decode runs absorbed, over the latent cache
// [context, kv_lora_rank + rope_dim] as one shared head, with queries of kv_lora_rank + rope_dim
// and outputs of kv_lora_rank.
struct AttentionShape {
  long batch = 0;
  int q_heads = 0, kv_heads = 0;
  int head_dim_qk = 0, head_dim_v = 0;
  long prompt = 1;
  long cached = 0;
  bool causal = true;
  int sliding_window = 0;
  bool mla = false;
  int kv_lora_rank = 0, rope_dim = 0; // mla only
  Dtype kv_dtype = Dtype::bf16;       // the KV cache's dtype (the op's dtype is its queries')
  long context() const { return cached + prompt; }
};

// rmsnorm: `rows` rows of `width` elements (width: the hidden size, or a latent rank for MLA's
// q_norm / kv_norm). silu_mul: rows of 2 * width in (gate, then up), `width` out. Rows are
// fractional where expected-value routing makes them so (expert activations).
struct RowsShape {
  double rows = 0;
  long width = 0;
  double elements() const { return rows * static_cast<double>(width); }
};

// residual_add: out[i] = x[i] + residual[i] over `elements`.
struct ElementsShape {
  double elements = 0;
};

// topk: each token's k largest of `experts` fp32 router logits, softmax weights renormalised.
struct TopkShape {
  long tokens = 0;
  int experts = 0, k = 0;
};

// permute / unpermute: `tokens` rows of `hidden` elements, each chosen by k experts; the slots of
// experts [first_expert, first_expert + experts) are kept (all experts when tokens are exchanged
// by all-to-all; this GPU's expert shard when they are replicated), the others dropped.
struct PermuteShape {
  long tokens = 0;
  int k = 0;
  long hidden = 0;
  int first_expert = 0, experts = 0;
};

// embedding: `tokens` lookups of `hidden` elements in a table of `vocab` rows, vocab-parallel over
// attention TP: this GPU holds table_rows = ceil(vocab / attn_tp) rows, for token ids
// [first_id, first_id + table_rows), and writes zeros for the others (an all-reduce completes the
// lookup).
struct EmbeddingShape {
  long tokens = 0, hidden = 0, vocab = 0;
  long first_id = 0, table_rows = 0;
};

// sample: greedy sampling (argmax) over `rows` rows of `vocab` fp32 logits.
struct SampleShape {
  long rows = 0, vocab = 0;
};

using OpShape = std::variant<std::monostate, GemmShape, GroupedGemmShape, AttentionShape, RowsShape, ElementsShape,
                             TopkShape, PermuteShape, EmbeddingShape, SampleShape>;
// Whether `s` holds the alternative op kind `k` takes (monostate for communication and host ops).
bool shape_fits(OpKind k, const OpShape& s);
// Who runs an all-reduce: NCCL (its own algorithm and protocol choice), or an engine's custom
// kernel over IPC peer buffers, one shot (every rank reads every peer's buffer) or two shot
// (reduce-scatter then all-gather, each rank reading 1/n of every peer's buffer).
enum class AllReduceImpl { nccl, one_shot, two_shot };
const char* to_string(AllReduceImpl a);

// What one member of an all-to-all sends each member of its group (by group index), 0 where it
// sends nothing. Only the members it sends to are stored: a rank of a 1,024-member expert group
// sends to a few dozen, and a dense row per rank and layer took 1 GB at 1,024 GPUs. Reads as a
// row of `size()` values; writes are the row's values in member order (push_back), the same value
// to every member (assign), or one member's (set).
class PeerBytes {
public:
  struct Entry {
    int member = 0;
    double bytes = 0; // never 0
    bool operator==(const Entry&) const = default;
  };
  PeerBytes() = default;
  PeerBytes(const std::vector<double>& row); // a dense row; implicit, as the row it stands for
  PeerBytes(std::initializer_list<double> row) : PeerBytes(std::vector<double>(row)) {}

  std::size_t size() const { return members_; } // members of the group; 0: no row given
  bool empty() const { return members_ == 0; }
  double operator[](std::size_t member) const;  // 0 where it sends nothing; member < size()
  double at(std::size_t member) const;          // the same, std::out_of_range past size()
  const std::vector<Entry>& entries() const { return entries_; } // ascending member
  std::vector<double> dense() const;
  double sum() const;

  void push_back(double bytes); // the next member's value
  void assign(std::size_t members, double bytes);
  void set(std::size_t member, double bytes); // member < size()
  bool operator==(const PeerBytes&) const = default;

private:
  std::size_t members_ = 0;
  std::vector<Entry> entries_;
};

struct Op {
  int id = 0;             // index in the rank's op list
  std::string name;       // "L12.moe.dispatch": for people, unique per rank, never parsed
  OpKind kind = OpKind::gemm;
  OpFamily family = OpFamily::attention;
  OpRole role = OpRole::core;
  int layer = -1;         // -1 for embedding / head / pipeline / step-level ops
  int microbatch = 0;
  int stream = 0;         // 0 = compute + collectives, 1 = pipeline sends
  std::vector<int> deps;  // op ids on the same rank that must finish first (besides stream order)

  // compute ops
  double flops = 0;
  double bytes = 0;       // bytes read + written in device memory
  Dtype dtype = Dtype::bf16; // math dtype: GEMM weights; activations for elementwise ops; fp32 for topk
  OpShape shape;          // the kind's shape struct
  int kernels = 1;        // kernel launches this op costs (host side in eager mode)

  // communication ops
  int group = -1;                 // communicator (Layout::groups); p2p ops: -1
  int coll = -1;                  // collective instance id, identical on every member
  double comm_bytes = 0;          // NCCL's size: all_reduce buffer, all_gather output, reduce_scatter input,
                                  // all_to_all this rank's send total, send/recv payload
  PeerBytes peer_bytes;           // all_to_all: bytes this rank sends to each group member (by group index)
  int peer = -1;                  // send/recv: the other global rank
  int tag = -1;                   // send/recv: matching tag, identical on both sides
  AllReduceImpl ar_impl = AllReduceImpl::nccl; // all_reduce: who runs it
  double ar_fixed_s = 0;          // all_reduce by a custom kernel: its fixed cost per call
  // all_gather / reduce_scatter run as one NCCL broadcast / reduce per member in a group (the
  // engine passes each member's size: TensorRT-LLM's attention-DP MoE gather and scatter).
  bool per_root = false;

  bool is_comm() const { return op_class(kind) == OpClass::collective || op_class(kind) == OpClass::p2p; }

  // The shape as its kind's struct; std::bad_variant_access when the op is of another kind.
  const GemmShape& gemm() const { return std::get<GemmShape>(shape); }
  const GroupedGemmShape& grouped() const { return std::get<GroupedGemmShape>(shape); }
  const AttentionShape& attention() const { return std::get<AttentionShape>(shape); }
  const RowsShape& rows() const { return std::get<RowsShape>(shape); }
  const ElementsShape& elements() const { return std::get<ElementsShape>(shape); }
  const TopkShape& topk() const { return std::get<TopkShape>(shape); }
  const PermuteShape& permute() const { return std::get<PermuteShape>(shape); }
  const EmbeddingShape& embedding() const { return std::get<EmbeddingShape>(shape); }
  const SampleShape& sample() const { return std::get<SampleShape>(shape); }
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
  // The fraction of datasheet tensor rate an engine's MoE kernel reaches, likewise (0: the platform's).
  double moe_flops_fraction = 0;
  // Whose measured whole MoE layers a step reads (core/moe_layer.hpp).
  MoeBackend moe_backend = MoeBackend::fastest;
};

enum class Phase { decode, prefill };
const char* to_string(Phase p);

struct StepShape {
  Phase phase = Phase::decode;
  int batch = 1;      // sequences
  int context = 0;    // tokens already in the KV cache per sequence
  int prompt = 0;     // prefill: prompt length per sequence
  int tokens_per_seq = 1; // decode: tokens each sequence runs (1 + draft tokens under speculative decoding)
  // Decode steps with a prefill chunk mixed in (continuous batching): every attention-DP replica
  // also runs `chunk` prompt tokens of one sequence that already has `chunk_context` of its prompt
  // in the KV cache. 0 = a pure decode step.
  int chunk = 0;
  int chunk_context = 0;
  int tokens() const { return phase == Phase::decode ? batch * tokens_per_seq : batch * prompt; }
};

// The model's architecture as the schedule was built for it (whole-model widths, before any
// splitting): what a replay needs beyond the op shapes (the routing draw's expert count, the
// vocabulary), and what a reader needs to know which model the shapes came from.
struct ModelFacts {
  int hidden = 0;
  int layers = 0;
  int vocab = 0;
  int dense_intermediate = 0;
  Attention attn; // kind, heads, head dims, MLA ranks, sliding window
  MoeBlock moe;   // experts, top-k, expert and shared widths (all 0 for a dense model)
  ModelDtypes dtypes;
};
ModelFacts model_facts(const Model& m);

struct Schedule {
  std::string model;      // the model's name
  ModelFacts facts;
  std::string routing;    // description
  StepShape step;
  EngineParams engine;
  Layout layout;          // plan, world and groups (rank coordinates are not serialised)
  int collectives = 0;    // number of collective instances (coll ids are 0..collectives-1)
  std::vector<RankSchedule> ranks;
};

} // namespace moesim
