// Plan-search speed (moesim search, issue 13): 10,116 configurations in two searches, decode at
// context 4096, uniform routing, batches 1, 8, 32, 64, 128, 256, CUDA graphs off and on:
//   Qwen3-235B-A22B on the eight 8-GPU platforms (hgx-8x-{a100,h100,h100-nop2p,h200,h200-nop2p,
//     b200}, server-8x-rtxpro6000-pcie-switches{,-nop2p}): 100 plans x 6 x 2 x 8 = 9,600
//   Qwen3-30B-A3B on nvswitch-4x-h100: 43 plans x 6 x 2                             =   516
// Reports candidates, pruned (memory, batch), simulated, wall time and CPU time (this process and
// its scenario processes). The machine may be shared: CPU time, not wall, is the figure to quote;
// CPU / cores is the wall time on that many quiet cores.
//
//   build/bench/moesim_bench_search [--sample N] [-j J]
//     --sample N: only shard 1/N of each search (every N-th candidate by key: a uniform sample of
//                 the mix), with the totals extrapolated by N.
#include "core/heap_tuning.hpp"
#include "pipeline/search.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace moesim;

namespace {

double cpu_seconds()
{
  double s = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    getrusage(who, &u);
    s += u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  }
  return s;
}

} // namespace

int main(int argc, char** argv)
{
  tune_heap(); // first: before anything large is allocated
  int sample = 1;
  int jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < argc; i++) {
    if (!std::strcmp(argv[i], "--sample") && i + 1 < argc)
      sample = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "-j") && i + 1 < argc)
      jobs = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: moesim_bench_search [--sample N] [-j J]\n");
      return 2;
    }
  }
  if (sample < 1 || jobs < 1) {
    std::fprintf(stderr, "moesim_bench_search: --sample and -j take positive numbers\n");
    return 2;
  }
  std::vector<SearchRequest> mix(2);
  mix[0].model = "qwen3-235b-a22b";
  mix[0].platforms = {"hgx-8x-a100", "hgx-8x-h100", "hgx-8x-h100-nop2p", "hgx-8x-h200", "hgx-8x-h200-nop2p",
                      "hgx-8x-b200", "server-8x-rtxpro6000-pcie-switches", "server-8x-rtxpro6000-pcie-switches-nop2p"};
  mix[1].model = "qwen3-30b-a3b";
  mix[1].platforms = {"nvswitch-4x-h100"};
  std::printf("search mix, shard 1/%d of each, -j %d\n", sample, jobs);
  std::printf("%-18s %10s %8s %8s %9s %9s %9s %12s\n", "model", "candidates", "shard", "pruned", "simulated", "wall s",
              "CPU s", "CPU ms/sim");
  size_t all = 0, shard_all = 0, sims = 0;
  double wall_all = 0, cpu_all = 0;
  for (SearchRequest& q : mix) {
    q.root = MOESIM_SOURCE_DIR;
    q.calibration = "none";
    q.shard = "1/" + std::to_string(sample);
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    const SearchResult r = run_search(q, jobs);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - c0;
    int pruned = 0;
    for (const auto& [why, n] : r.analysis.pruned)
      pruned += n;
    std::printf("%-18s %10zu %8zu %8d %9d %9.1f %9.1f %12.1f\n", q.model.c_str(), r.setup.candidates, r.rows.size(),
                pruned, r.analysis.simulated, wall, cpu, r.analysis.simulated ? 1e3 * cpu / r.analysis.simulated : 0.0);
    all += r.setup.candidates;
    shard_all += r.rows.size();
    sims += static_cast<size_t>(r.analysis.simulated);
    wall_all += wall;
    cpu_all += cpu;
  }
  const double scale = static_cast<double>(all) / static_cast<double>(shard_all);
  std::printf("total: %zu configurations; this run %zu (%zu simulated) in %.1f s wall, %.1f s CPU\n", all, shard_all,
              sims, wall_all, cpu_all);
  std::printf("all %zu: %.0f s CPU (x%.2f), so %.1f min on 2 quiet cores (target 10 min)\n", all, cpu_all * scale, scale,
              cpu_all * scale / 2 / 60);
  return 0;
}
