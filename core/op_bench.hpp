// Per-op measurement records ("moesim-op-bench-1"): one GPU time per op shape, as the harness's
// `bench-ops` writes them from our own GPUs and tools/aic-import writes them from NVIDIA
// AIConfigurator's public tables. Read strictly (an unknown key is an error naming the record),
// written one record per line in a fixed key order, so the same records give the same bytes.
#pragma once
#include "core/dtype.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

// The `source` the harness's bench-ops writes: its records are timings of our own kernels
// (kernels/), which the decode_tiles form follows (op_fit.hpp's default_decode_form).
inline constexpr const char* kHarnessOpBenchSource = "moesim-validate bench-ops";

enum class BenchOp {
  gemm,
  grouped_gemm,
  attention_decode,
  attention_prefill,
  moe, // a whole fused MoE layer on one GPU (AIConfigurator's moe tables)
  rmsnorm,
  silu_mul,
  residual_add,
  topk,
  permute,
  unpermute,
  embedding,
  sample,
  router,
  graph_gap,
  host,
};
const char* to_string(BenchOp op);

struct BenchRecord {
  BenchOp op = BenchOp::gemm;
  std::optional<Dtype> dtype;  // absent for graph_gap and host
  std::string attn;            // attention: "gqa" or "mla"
  std::string impl;            // grouped_gemm: "loop" or "fused"
  std::string kernel;          // the kernel that ran, where the source names it
  std::string launch;          // "stream" or "graph"
  std::string distribution;    // moe: the routing distribution measured
  std::string api, gpu_state;  // host
  std::string kv_dtype;        // attention: the KV cache's dtype when it is not `dtype`
  std::string scales;          // gemm: "block" for fp8 with 128x128 block scales; empty: per tensor
  std::string inputs;          // small kernels: "cold" when every timed instance read inputs of its own
  std::map<std::string, double> dims; // numeric shape fields by their contract names (m, n, k, batch, ...)
  std::vector<double> rows;    // grouped_gemm: tokens per expert
  double seconds = 0;          // GPU time of one op
  std::optional<double> reps, spread;
  std::string source_row;

  // A shape field; throws std::invalid_argument naming the op and key when absent.
  double dim(const std::string& key) const;
  // A small kernel other than sample and embedding timed with inputs of its own per instance
  // (bench-ops --points' inputs=cold): a study of L2 eviction, kept out of every fit and transfer
  // until the simulator decides when a step reads such inputs cold. (Sample's and embedding's cold
  // records are how those two are fitted: op_fit.hpp's superseded_by_cold.)
  bool cold_study() const;
};

struct OpBenchSystem {
  std::map<std::string, std::string> text;   // gpu, driver, cuda, nccl, cublas, date, cc
  std::map<std::string, double> numbers;     // sms, sm_clock_mhz, mem_clock_mhz, mem_bw, l2_bytes
  // A field, "" or 0 when the file leaves it out.
  std::string word(const std::string& key) const;
  double number(const std::string& key) const;
  // "NVIDIA H200, 132 SMs, driver 580.159.04, CUDA 13.0, cuBLAS 13.1.0, 2026-12-04" (the fields present)
  std::string describe() const;
};

struct OpBench {
  std::string source;
  OpBenchSystem system;
  std::vector<BenchRecord> records;
};

// Parses the JSON text of an op-bench file; `file` names it in errors (InputError, with the
// record index and key).
OpBench parse_op_bench(const std::string& text, const std::string& file);
// Reads a file, plain or gzip-compressed.
OpBench read_op_bench_file(const std::string& path);
// One record per line, keys in the contract's order; numbers with 4 significant digits for times.
std::string write_op_bench(const OpBench& doc);

// The identity of a measurement: op, attn, impl, dtype, distribution and every shape field (not
// the kernel, launch mode, time or provenance). Two records of one shape have equal keys.
std::string shape_key(const BenchRecord& r);

} // namespace moesim
