// Reader of per-op measurement records ("moesim-op-bench-1", written by `moesim-validate bench-ops`
// and by conversions of public per-op tables). Strict: an unknown key, a missing field or a value
// of the wrong type is an InputError naming the file and the record's key path.
#pragma once
#include "core/op_models.hpp"

#include <map>
#include <string>
#include <vector>

namespace moesim {

struct OpBenchSystem {
  std::string gpu, driver, cuda, nccl, cublas, date, cc;
  double sms = 0, sm_clock_mhz = 0, mem_clock_mhz = 0, mem_bw = 0, l2_bytes = 0;
  // "NVIDIA H200, 132 SMs, driver 580.159.04, CUDA 13.0, 2026-12-04" (the fields present)
  std::string describe() const;
};

struct OpBench {
  std::string source;
  OpBenchSystem system;
  std::vector<OpRecord> ops;
  std::vector<double> graph_gaps;   // seconds per kernel inside a CUDA graph
  std::vector<HostApiCost> host;
  // Records read and checked but not modelled, by op: "moe" (a whole fused MoE layer, which the
  // schedule times as its expert GEMMs, activation and routing kernels apart).
  std::map<std::string, size_t> unmodelled;
};

// `file` names the input in errors.
OpBench parse_op_bench(const std::string& json_text, const std::string& file);
OpBench load_op_bench_file(const std::string& path);

} // namespace moesim
