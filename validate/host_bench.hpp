// `moesim-validate bench-host`: what the host pays per API call, the way an eager replay pays it.
// An eager step launches into a GPU that is often idle (the host is the bottleneck at small batch),
// from one thread per GPU of one process, and its calls are not all kernel launches. Measured, each
// as the host time of one call (the median over the repetitions, per thread, then the median over
// threads):
//   kernel_launch   an almost empty kernel (it reads 64 bytes)
//   cublaslt_call   a small cuBLASLt GEMM (m 8, n 256, k 256, bf16) through the GemmPlanner the
//                   replay uses
//   nccl_call       an all-reduce of 1 KiB on a one-rank communicator of the thread's own: NCCL's
//                   host side (argument checks, enqueue), with no peer to wait for
//   event_record    cudaEventRecord
//   sync            a 64-byte device-to-host copy and a stream synchronise (GPU idle only: with the
//                   GPU busy it would time the GPU's work)
//   graph_launch    cudaGraphLaunch of a one-kernel graph
// each with the GPU busy (the calls queue behind a GPU-side wait: the host runs ahead) and idle (the
// stream synchronised before each call), from 1 .. N host threads at once, thread i driving GPU
// i % gpus (threads beyond the GPUs share them). bench-ops runs the same measurement (its host family).
#pragma once
#include "validate/device_info.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace moesim::validate {

// moesim-validate bench-host [-g GPUS] [-t THREADS] [-n REPS] [--json FILE]
struct HostBenchOptions {
  int gpus = 1;    // devices used
  int threads = 0; // largest thread count (0: gpus); counts 1, 2, 4, ... up to it, and it
  int reps = 200;
  std::string json;
};
HostBenchOptions parse_host_bench_options(const std::vector<std::string>& args); // throws InputError

// The thread counts measured up to `most`: 1, 2, 4, ... below most, then most.
std::vector<int> host_bench_threads(int most);

// The APIs, in the order they are measured.
const std::vector<std::string>& host_apis();

struct HostCost {
  std::string api;
  bool busy = false;
  int threads = 0;
  double seconds = 0; // host time of one call
};

// One measurement with `threads` threads at once over the first `gpus` devices (NVLink multicast
// must already be off for NCCL: nccl_env.hpp). Throws InputError when fewer GPUs are visible.
std::vector<HostCost> measure_host_costs(int threads, int gpus, int reps);

// Every thread count of the options, printing a table to `out`.
std::vector<HostCost> run_host_bench(const HostBenchOptions& o, std::FILE* out);
// The costs as a moesim-op-bench-1 document of host records.
nlohmann::json host_bench_json(const HostBenchOptions& o, const std::vector<HostCost>& rows, const SystemInfo& sys);

} // namespace moesim::validate
