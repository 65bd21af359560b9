// `moesim-validate bench-kernels`: the kernel calibration micro-benchmark. It times, one at a time on
// GPU 0, every distinct compute-op configuration of the given schedules (which should be calibration
// schedules, never the validation cases: `validate/gpu_tool.py calibration-schedules` writes them at
// other batches and another routing seed) through the same OpExecutor the replay uses, plus, for every
// grouped expert GEMM's (n, k, dtype), single GEMMs {m, n, k} over a grid of m (what a per-expert
// launch costs).
//
// How an op is timed (bench_timer.hpp, shared with bench-ops): every instance of the configuration
// (the same op in several layers, weights of its own each) back to back between two events after a
// read-only L2 flush, queued behind a GPU-side wait so that the host's launch cost stays out, from a
// stream and captured in a CUDA graph; the time per instance is the span over the count. The host's
// enqueue time per launch is recorded too (the simulator's launch cost), and, once, the host round
// trip of a small device-to-host copy and stream synchronise (the host_sync cost) and the latency of
// a one-kernel graph launch.
//
// Every configuration is first checked against the CPU reference (OpExecutor::verify).
// The JSON (--json) is what `moesim calibrate --bench-kernels` reads (core/calibration.hpp).
#pragma once
#include "core/schedule.hpp"

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace moesim::validate {

// moesim-validate bench-kernels [--iters N] [--warmup N] [--seed S] [--shard I/N] [--dry-run] --json FILE
//                               SCHEDULE.json...
// --dry-run lists the executors and the ops each would time, with no GPU (and writes no JSON).
// --shard I/N keeps every N-th executor from the I-th (1-based), to spread one plan over N GPUs
// (one process each, CUDA_VISIBLE_DEVICES); `moesim calibrate` takes every shard's JSON.
struct KernelBenchOptions {
  std::vector<std::string> schedules;
  std::string json;
  bool dry_run = false;
  int shard = 1, shards = 1;
  int iters = 10;
  int warmup = 3;
  unsigned long long seed = 1;
};
// Takes the arguments after "bench-kernels". Throws InputError ("command line", the option, the fix).
KernelBenchOptions parse_kernel_bench_options(const std::vector<std::string>& args);

// One OpExecutor's worth of work: a schedule reduced to what is timed, the rank to build, and the
// configurations to time, each as its instances (ids into schedule.ranks[rank].ops: the same op in
// several layers, each with weights of its own), timed back to back.
struct KernelBenchJob {
  std::string label;             // "file.json rank 2" or "expert GEMMs n=1536 k=2048 bf16"
  Schedule schedule;
  int rank = 0;
  std::vector<std::vector<int>> ops;
};

// No GPU. For each schedule, the ranks whose compute ops add configurations not seen before (keys:
// kind, dtype, shape), each reduced to its step-level ops and the first 4 layers of each distinct
// layer structure (the executor infers elementwise shapes from the ops before them, so whole layers
// are kept), with communication and host ops removed and ids renumbered. Grouped GEMMs are kept but
// not timed. Before those, one job per grouped-GEMM family (n, k, dtype) of single GEMMs, m over
// 1..8, then steps of about 25% up to the largest rows any expert had (at least 64), each m as 2 to
// 16 copies with weights of their own (what one launch per expert costs, back to back).
std::vector<KernelBenchJob> plan_kernel_bench(const std::vector<std::pair<std::string, Schedule>>& schedules);

// The m values of the single-GEMM grid up to `max_rows`.
std::vector<long> expert_gemm_grid(long max_rows);

// Runs every job on GPU 0, printing one line per timed configuration to `out`; writes the JSON.
void run_kernel_bench(const KernelBenchOptions& o, std::FILE* out);

} // namespace moesim::validate
