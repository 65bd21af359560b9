// `moesim-validate bench-host`: what the host pays per launch, the way the replay's eager loop pays
// it. bench-kernels measures launches with the GPU busy, from one thread of one process; the eager
// replay launches into a GPU that is often idle (the host is the bottleneck at small batch), from one
// thread per GPU of one process. This bench measures each of those, with 1 to N threads at once
// (thread i drives GPU i, all threads timed together between barriers):
//   launch_busy   an empty kernel launched behind a GPU wait (the queue is never empty)
//   launch_idle   an empty kernel launched into an idle GPU (synchronised before each launch)
//   event_record  cudaEventRecord behind a GPU wait
//   sync          a 64-byte device-to-host copy and a stream synchronise, GPU idle
// Each is the median over its repetitions, per thread, then the median over threads.
#pragma once
#include "validate/device_info.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace moesim::validate {

// moesim-validate bench-host [-g GPUS] [-n REPS] [--json FILE]
struct HostBenchOptions {
  int gpus = 1;    // thread counts 1, 2, 4, ... up to gpus (and gpus itself)
  int reps = 200;
  std::string json;
};
HostBenchOptions parse_host_bench_options(const std::vector<std::string>& args); // throws InputError

// The thread counts measured for `gpus`: 1, 2, 4, ... below gpus, then gpus.
std::vector<int> host_bench_threads(int gpus);

struct HostCostRow {
  int threads = 0;
  double launch_busy_s = 0, launch_idle_s = 0, event_record_s = 0, sync_s = 0;
};

// Runs on the first o.gpus devices, printing a table to `out`. Throws InputError with too few GPUs.
std::vector<HostCostRow> run_host_bench(const HostBenchOptions& o, std::FILE* out);
nlohmann::json host_bench_json(const HostBenchOptions& o, const std::vector<HostCostRow>& rows, const SystemInfo& sys);

} // namespace moesim::validate
