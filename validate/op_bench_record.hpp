// The records `moesim-validate bench-ops` writes, in the "moesim-op-bench-1" format
// (docs/op-bench-format.md): one JSON object per measured op and launch mode, with the GPU time of one
// op in seconds (the median over the timed repetitions) and the spread of the repetitions. Only the
// format's keys are written (its readers refuse unknown keys); what the format has no key for goes to
// the run's side file (<json>.run.json, op_bench.hpp). No GPU needed.
#pragma once
#include "validate/op_bench_grid.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace moesim::validate::opbench {

// One timed measurement of a point.
struct Measured {
  bool graph = false; // launched from a stream, or captured in a CUDA graph
  double seconds = 0;
  int reps = 0;
  double spread = 0;
};

// "stream" or "graph".
const char* launch_name(bool graph);

nlohmann::json gemm_record(const GemmPoint& p, const Measured& m);
// impl "fused" or "loop" (one GEMM per expert); rows per local expert.
nlohmann::json grouped_record(const GroupedPoint& p, const Measured& m);
// attention_decode / attention_prefill. MLA decode: attn "mla", one latent KV head, head_dim_qk =
// kv_lora + rope, head_dim_v = kv_lora. Prefill runs as multi-head attention over up-projected
// heads for either model kind: attn "gqa" with its heads and dims.
nlohmann::json attention_record(const AttnPoint& p, const Measured& m);
// The memory-bound kernels: elements and bytes moved (read + written), plus the sizes the format
// names for the op (rmsnorm rows and width; topk tokens, experts, k; permute / unpermute tokens, k,
// hidden; embedding tokens, hidden; sample rows, vocab).
// The end of bench-ops' header line since sample and embedding read cold inputs; --from-log marks the
// recovered sample and embedding records cold only when the log's header ends so.
inline constexpr const char* cold_inputs_words = "sample and embedding inputs cold";

// `cold_inputs`: each instance read logits (sample) or token rows (embedding) of its own, as bench-ops
// has timed them since 2026-12-06 (op_bench_small.cpp); written as "inputs": "cold" on those two ops.
// A point of --points' "inputs=cold" (p.cold_inputs, any other small op) is written so too, whatever
// `cold_inputs` says; core fits those as models of their own (variant "cold", core/l2_reuse.hpp).
nlohmann::json small_record(const SmallPoint& p, const Measured& m, bool cold_inputs = true);
// The per-kernel gap inside a CUDA graph (a plain chain: no launch word, as every earlier run wrote it).
nlohmann::json gap_record(int kernels, double seconds);
// A launch-family point other than a plain chain (GapPoint::plain() false), from a stream or in a
// graph: its kernels, distinct (where not 1), events (where not 0), launch and seconds, which are
// per boundary for a distinct chain, per op for a bracketed chain (what its events add), per event
// pair for a point of events alone (op_bench_launch.cpp).
nlohmann::json gap_record(const GapPoint& p, bool graph, double seconds);
// Host time of one call of `api` (kernel_launch, cublaslt_call, nccl_call, event_record, sync,
// graph_launch), GPU idle or busy, `threads` host threads at once.
nlohmann::json host_record(const std::string& api, bool busy, int threads, double seconds);

// The file: {"format": "moesim-op-bench-1", "source", "system", "records"}.
nlohmann::json op_bench_document(const std::string& source, const nlohmann::json& system, const nlohmann::json& records);

// Writes `j` to `path` through a temporary file and a rename, so that a run stopped at a time limit
// leaves the previous complete file. Throws moesim::InputError naming the path.
void write_json_file(const std::string& path, const nlohmann::json& j);

} // namespace moesim::validate::opbench
