// `moesim-validate bench-ops`: model-independent grid benches of every op a step runs, written as
// moesim-op-bench-1 records (docs/op-bench-format.md) from which op-performance models are fitted:
// dense GEMMs (bf16, fp8), expert GEMMs (one per expert and fused) over tokens-per-expert
// distributions, decode and prefill attention (GQA and MLA), the small kernels, the per-kernel gap
// inside a CUDA graph, and the host cost of each API (op_bench_grid.hpp says which points and how
// they fit a time budget). Every point is checked against the CPU reference before it is timed,
// then timed from a stream and in a CUDA graph (bench_timer.hpp); GEMMs run through the same
// GemmPlanner as the replay's, grouped GEMMs through the same GroupedGemm.
//
//   moesim-validate bench-ops --json FILE [--budget SECONDS] [--shard I/N] [--dry-run] [--list]
//                             [--only FAMILY,...] [--iters N] [--warmup N] [--seed S] [--gpu h200|h100|a100|b200]
//   moesim-validate bench-ops --from-log OPS_TXT --system SYSTEM_JSON --date YYYY-MM-DD --json FILE
//
// --dry-run prints the plan with each family's estimated seconds (no GPU needed: the rates are the
// device's, or --gpu's, or the H200's); --list also prints every point. The records go to FILE,
// rewritten after every family; FILE.run.json holds what the format has no key for: the plan and
// what ran, points skipped at a deadline, verification failures, the kernels per op, the stream
// (eager) kernel gaps, and `complete`. Exit status 0 when every point that ran verified, 1 when one
// failed (its record is not written), 2 for bad input. --from-log rebuilds FILE from a run's text
// log when its JSON was lost (op_bench_log.hpp).
#pragma once
#include "validate/device_info.hpp"
#include "validate/op_bench_grid.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace moesim::validate {

struct OpBenchOptions {
  std::string json;
  double budget_s = 480; // about 8 minutes on one GPU
  int shard = 1, shards = 1;
  bool dry_run = false, list = false;
  std::vector<opbench::Family> only; // empty: every family
  int iters = 10, warmup = 3;
  std::uint64_t seed = 1;
  std::string gpu; // rates preset for the estimates; empty: the device's
  // --from-log OPS_TXT --system SYSTEM_JSON --date YYYY-MM-DD: rebuild the records of a run from its
  // text log instead of running (op_bench_log.hpp; no GPU needed).
  std::string from_log, system, date;
  // --skip-measured RUN_JSON (repeatable): leave out the points those earlier runs timed (their
  // side files, FILE.run.json, list each point's text under extras[].point).
  std::vector<std::string> skip_measured;
  // --points FILE: time exactly the points the file names, in its order (op_bench_points.hpp),
  // instead of the grid; not with --only or --shard.
  std::string points;
};
// Takes the arguments after "bench-ops". Throws InputError ("command line", the option, the fix).
OpBenchOptions parse_op_bench_options(const std::vector<std::string>& args);

// Runs (or, with dry_run, plans) the bench; returns the exit status.
int run_op_bench(const OpBenchOptions& o, std::FILE* out);

// The format's "system" block for device 0: name, SMs, clocks, memory bandwidth (from the memory
// clock and bus width), L2, driver, CUDA, NCCL and cuBLAS versions, compute capability, today's date.
nlohmann::json op_bench_system(const SystemInfo& sys);

} // namespace moesim::validate
