// Op-performance models of one GPU: per op family (dense GEMM, fused grouped GEMM, decode and
// prefill attention, each memory-bound kernel) and variant, dtype and launch mode, a measured grid
// over every shape dimension with a fitted form around it (core/perf). Fitted by `moesim calibrate
// --op-bench` from per-op measurement records (op_bench.hpp) and stored in the platform's
// calibration file; docs/perf-models.md has the forms and the fit quality.
#pragma once
#include "core/dtype.hpp"
#include "core/moe_layer.hpp"
#include "core/perf/op_model.hpp"
#include "core/perf/sm_limits.hpp"
#include "core/schedule.hpp"

#include <compare>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace moesim {

// Which model answers an op.
struct OpModelKey {
  OpKind kind = OpKind::gemm;  // gemm, grouped_gemm, attention_decode, attention_prefill, or a memory-bound kind
  std::string variant;         // grouped_gemm: "fused" or "loop"; attention: "gqa" or "mla"; else ""
  Dtype dtype = Dtype::bf16;   // the math (attention: queries and outputs)
  Dtype kv_dtype = Dtype::bf16; // attention: the KV cache; = dtype for every other op
  bool graph = false;          // measured inside a CUDA graph, not launched one by one from a stream
  int window = 0;              // attention: sliding window (0: none)
  auto operator<=>(const OpModelKey&) const = default;
};
// "gemm bf16", "attention_decode mla bf16 kv fp8 window 128 graph"
std::string describe(const OpModelKey& k);

// The dims of each op family, in the order the models take them. The op-bench reader and the
// schedule adapter (op_time.hpp) both build dims through these, so the two cannot disagree.
namespace op_dims {
// {batch, m, n, k}: `batch` GEMMs of m x k by k x n with different weights.
std::vector<double> gemm(double batch, double m, double n, double k);
// {n, k, active experts, total rows} from the rows of each expert.
std::vector<double> grouped(double n, double k, const std::vector<double>& rows);
// {d_qk, d_v, kv_heads, q_heads, batch, context}. MLA (absorbed): d_qk = kv_lora_rank + rope_dim,
// d_v = kv_lora_rank, one latent KV head shared by every query head.
std::vector<double> decode(double d_qk, double d_v, double kv_heads, double q_heads, double batch, double context);
// {d_qk, d_v, kv_heads, q_heads, batch, cached, prompt}
std::vector<double> prefill(double d_qk, double d_v, double kv_heads, double q_heads, double batch, double cached,
                            double prompt);
// A memory-bound kind's size fields, in the order of the schedule's shape for that kind:
// rmsnorm, silu_mul, residual_add, router {elements}; topk {tokens, experts, k};
// permute, unpermute {tokens, k, hidden}; embedding {tokens, hidden}; sample {rows, vocab}.
// Empty for kinds that are not memory-bound kernels.
const std::vector<std::string>& small_fields(OpKind kind);
// How many leading fields make a memory-bound kernel's size (topk: tokens x experts; else all).
int small_size_dims(OpKind kind);
// The dim names of a family (for hold-out rules and reports).
std::vector<std::string> names(OpKind kind);
// The dim names of a family's measured grid (perf::grid_dims): names(), except grouped_gemm's grid,
// {n, k, active, rows_per_expert} (total rows over active experts: the kernel's tile regime).
std::vector<std::string> grid_names(OpKind kind);
} // namespace op_dims

// A dense GEMM's alignment class (docs/perf-models.md, "GEMM alignment classes"). y[m, n] = x[m, k]
// w[n, k]^T runs through cuBLASLt as y^T = w^T x^T, so n and k are the dims its tensor-core kernels
// want in whole 16-byte units of the operands' dtype (NVIDIA's "Matrix Multiplication Background"
// guide, Tensor Core requirements: bf16 dims in multiples of 8, int8/fp8 in multiples of 16); m (the
// tokens) is not a leading dimension of any operand. Measured on one H100 (bench-ops, 2026-12-07/08,
// validate/results/h100-2026-12-0{7,8}-points-s23-router*): the router GEMM (bf16 operands, fp32
// logits) at n % 8 != 0 ran 13.9-18.9 us at k 1,280-1,792 and 6.7-7.4 us at k 4,096, against 4.0-6.0
// us at n % 8 == 0 (n 20-64, m 2-9), whatever n: another kernel, not a different size. So records at
// unaligned n or k are a model of their own (variant "unaligned"); a query of that class with no such
// model takes the aligned model's time as an extrapolation (op_time.cpp).
inline const std::string unaligned_variant = "unaligned";
// True when n and k are whole 16-byte units of `dtype` (bf16: multiples of 8; fp8: of 16).
bool gemm_aligned(double n, double k, Dtype dtype);

// One measurement as the models take it (op_measurements.hpp builds them from op_bench.hpp's records).
struct OpRecord {
  OpModelKey key;
  std::vector<double> dims;
  std::vector<double> rows; // grouped_gemm: rows per expert
  double bytes = 0;         // memory-bound kinds: bytes moved
  double seconds = 0;       // GPU time of one op
  std::string kernel;       // the kernel or library that ran it, when the record says
  bool cold_inputs = false; // every timed instance read inputs of its own (op-bench "inputs"); in a fit, sample and embedding only
  std::string where;        // "file: records[12]" for messages and reports
};

// Host cost of one API call, eager mode (op-bench "host" records).
struct HostApiCost {
  std::string api;   // kernel_launch, cublaslt_call, nccl_call, event_record, sync, graph_launch
  bool busy = true;  // the GPU was busy (the launch queued) rather than idle
  int threads = 1;   // host threads launching at once
  double seconds = 0;
  auto operator<=>(const HostApiCost&) const = default;
};

struct KeyedOpModel {
  OpModelKey key;
  perf::OpModel model;
  perf::ErrorStats fit; // the form alone against the records it was fitted to (in-sample)
};

struct OpModels {
  std::string source;  // where the records came from
  std::string system;  // the GPU they were measured on, one line
  double sms = 0;
  std::vector<KeyedOpModel> models; // sorted by key
  std::optional<double> graph_gap_s; // per kernel inside a CUDA graph
  // The gap a measured timeline's event brackets leave between two ops, per launch mode: the mean
  // over measured runs (bracket_gaps.hpp). Where given, the simulator's kernel boundary (boundary_gap).
  std::optional<double> bracket_gap_eager_s, bracket_gap_graph_s;
  // The GPU's L2 in bytes, where a small kernel has a model of its own with cold inputs (variant
  // "cold"): how much the ops between two of its kind must move before its inputs are cold
  // (l2_reuse.hpp). 0 where no model is cold.
  double l2_bytes = 0;
  // Whole fused MoE layers over tokens (moe_layer.hpp), from `moe` records. Not written to a
  // calibration file yet: they reach a simulation through a calibration fitted in memory
  // (`op_records` of a published row).
  MoeLayerModels moe_layers;

  bool empty() const
  {
    return models.empty() && !graph_gap_s && !bracket_gap_eager_s && !bracket_gap_graph_s && moe_layers.empty();
  }
  const KeyedOpModel* find(const OpModelKey& k) const;
};

// The form a family uses, with its given fields (SMs, element sizes) set; `bytes_per_item` is the
// memory-bound kinds' bytes per unit of size.
// Decode attention takes `decode_form`; decode_tiles needs the SM's limits (`sm`), and without them
// falls back to decode_splitk. Prefill attention takes `prefill_form` (prefill_tiles or prefill_kernel_tiles).
perf::FormParams given_form(const OpModelKey& key, double sms, double bytes_per_item = 0, double l2_bytes = 0,
                            const perf::SmLimits& sm = {}, perf::FormKind decode_form = perf::FormKind::decode_splitk,
                            perf::FormKind prefill_form = perf::FormKind::prefill_tiles);

// Records held out of a fit: those whose dim `name` takes one of `values` (e.g. n in {4096, 7168}).
struct HoldOut {
  std::map<std::string, std::set<double>> values;
  bool empty() const { return values.empty(); }
  bool holds(const OpRecord& r) const;
};
// "n=4096,7168" -> {n: {4096, 7168}} added to `h`; throws std::invalid_argument on bad syntax.
void add_hold_out(HoldOut& h, const std::string& spec);

struct FitOptions {
  double sms = 0;                                    // the GPU's SM count (required)
  double l2_bytes = 0;                               // the GPU's L2 size (0: unknown)
  perf::SmLimits sm;                                 // one SM's limits (from the compute capability; zeros: unknown)
  perf::FormKind decode_form = perf::FormKind::decode_splitk; // decode attention's form
  perf::FormKind prefill_form = perf::FormKind::prefill_tiles; // prefill attention's form
  std::function<bool(const OpRecord&)> exclude;      // records to leave out (e.g. one model family's shapes)
};

// Fits one model per key from the records (grouped_gemm loop records are not fitted: a loop is the
// sum of its dense GEMMs; they serve to check that). Graph gaps: the median. Deterministic.
OpModels fit_op_models(const std::vector<OpRecord>& records, const std::vector<double>& graph_gaps,
                       const FitOptions& opt);

// The models' estimate for a record (loop records: the sum of the dense GEMMs of their rows; an
// unaligned GEMM without a model of its class: the aligned one's, extrapolated at best); nullopt when
// no model covers it.
std::optional<perf::Estimate> estimate_record(const OpModels& m, const OpRecord& r);

} // namespace moesim
