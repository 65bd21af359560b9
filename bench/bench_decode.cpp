// Simulator speed: one decode step of DeepSeek-V3 (61 layers) under EP and TP at 4, 8, 64 and 256
// GPUs. Each configuration runs in a child process (SimGrid allows one engine per process) and
// reports the wall time of building the schedule and of the SimGrid replay.
//
//   build/bench/moesim_bench [--quick] [--gpus N] [--plan EP|TP|EPz] [--exact]
//
// 4 and 8 GPUs use platforms/nvswitch-4x-h100.xml and hgx-8x-h100.xml; 64 and 256 GPUs use a
// generated cluster of 8-GPU NVSwitch nodes with one 400 Gb/s NIC per GPU on rails.
#include "core/heap_tuning.hpp"
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "sim/simulation.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace moesim;
namespace fs = std::filesystem;

namespace {

// nodes x 8 H100 on NVSwitch (450 GB/s per GPU), GPU g of each node on rail NIC g (50 GB/s).
std::string cluster_platform(int gpus)
{
  const int per_node = 8, nodes = gpus / per_node;
  fs::path p = fs::temp_directory_path() / ("moesim_bench_cluster_" + std::to_string(gpus) + ".xml");
  std::ofstream f(p);
  f << "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
    << "<platform version=\"4.1\">\n<zone id=\"cluster\" routing=\"Full\">\n"
    << "<prop id=\"moesim.gpus\" value=\"" << gpus << "\"/><prop id=\"moesim.gpus_per_node\" value=\"8\"/>\n"
    << "<prop id=\"moesim.description\" value=\"" << nodes << " nodes x 8 H100, NVSwitch + 400G rails\"/>\n";
  for (int g = 0; g < gpus; g++)
    f << "<host id=\"gpu" << g << "\" speed=\"989.4Tf\"><prop id=\"gpu_model\" value=\"H100\"/><prop id=\"sm\" value=\"90\"/>"
      << "<prop id=\"mem_bytes\" value=\"85520809984\"/><prop id=\"mem_bw\" value=\"3.35e12\"/>"
      << "<prop id=\"mem_bw_eff\" value=\"0.85\"/><prop id=\"flops_eff\" value=\"0.75\"/>"
      << "<prop id=\"flops_fp8\" value=\"1978.9e12\"/><prop id=\"kernel_overhead\" value=\"2e-6\"/></host>\n"
      << "<link id=\"nvl" << g << "\" bandwidth=\"450GBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\">"
      << "<prop id=\"class\" value=\"nvlink\"/></link>\n"
      << "<link id=\"nic" << g << "\" bandwidth=\"400Gbps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\">"
      << "<prop id=\"class\" value=\"nic\"/></link>\n";
  for (int a = 0; a < gpus; a++)
    for (int b = a + 1; b < gpus; b++) {
      const bool same = a / per_node == b / per_node;
      const char* l = same ? "nvl" : "nic";
      f << "<route src=\"gpu" << a << "\" dst=\"gpu" << b << "\"><link_ctn id=\"" << l << a
        << "\" direction=\"UP\"/><link_ctn id=\"" << l << b << "\" direction=\"DOWN\"/></route>\n";
    }
  f << "</zone>\n</platform>\n";
  return p.string();
}

struct Config {
  std::string name;
  int gpus;
  std::string plan;
  bool skewed = false; // Zipf s=1.2 expert popularity (seed 1) instead of uniform routing
};

struct Timing {
  double gen_s, load_s, build_s, sim_s;
  long ops, collectives, fast;
  double step_s;
};

Timing run_one(const Config& c, bool exact)
{
  const std::string root = MOESIM_SOURCE_DIR;
  const Model m = load_model_file(root + "/workloads/models/deepseek-v3.yaml").model;
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  const std::string plat = c.gpus == 4   ? root + "/platforms/nvswitch-4x-h100.xml"
                           : c.gpus == 8 ? root + "/platforms/hgx-8x-h100.xml"
                                         : cluster_platform(c.gpus);
  auto t1 = clock::now();
  Simulation sim(plat);
  auto t2 = clock::now();
  Layout L = make_layout(Plan::parse(c.plan), m, c.gpus);
  BuildOptions opt;
  if (c.skewed) {
    opt.routing.kind = RoutingKind::zipf;
    opt.routing.zipf_s = 1.2;
    opt.routing.seed = 1;
  }
  Schedule s = build_schedule(m, L, StepShape{Phase::decode, 256, 4096, 0}, opt);
  auto t3 = clock::now();
  SimOutput out = sim.run(s, exact);
  auto t4 = clock::now();
  long ops = 0;
  for (const auto& r : s.ranks)
    ops += static_cast<long>(r.ops.size());
  auto sec = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  return {sec(t0, t1), sec(t1, t2), sec(t2, t3), sec(t3, t4), ops, s.collectives, out.fast_collectives,
          out.timeline.step_time};
}

} // namespace

int main(int argc, char** argv)
{
  tune_heap(); // first: before anything large is allocated
  // --quick: 4 and 8 GPUs only; --gpus N: only that size; --plan EP|TP|EPz: only those rows;
  // --exact: every collective through SimGrid.
  bool quick = false, exact = false;
  std::string only_plan; // --plan NAME: only the rows named NAME (EP, TP, EPz)
  int only = 0;
  for (int i = 1; i < argc; i++) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    exact = exact || std::strcmp(argv[i], "--exact") == 0;
    if (std::strcmp(argv[i], "--gpus") == 0 && i + 1 < argc)
      only = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--plan") == 0 && i + 1 < argc)
      only_plan = argv[++i];
  }
  // DeepSeek-V3: 128 MLA heads, 256 experts of width 2048. "TP" splits every expert (attention TP up
  // to 8 within a node, DP across nodes, tokens all-gathered to the experts); "EP" spreads the experts
  // (same attention, all-to-all dispatch/combine).
  std::vector<Config> configs = {
      {"EP", 4, "ep4"},          {"TP", 4, "tp4"},           {"EP", 8, "ep8"},
      {"TP", 8, "tp8"},          {"EP", 64, "dp8xep64"},      {"TP", 64, "dp8xtp64"},
      {"EP", 256, "dp32xep256"}, {"TP", 256, "dp32xtp256"}, {"EPz", 256, "dp32xep256", true},
  };
  std::printf("moesim bench: one DeepSeek-V3 decode step (61 layers, batch 256, context 4096)\n");
  std::printf("(EPz: Zipf s=1.2 routing; fast: collectives timed by the fluid model%s)\n", exact ? ", off: --exact" : "");
  std::printf("%-4s %5s %-12s %8s %6s %5s %8s %8s %8s %10s %8s %12s\n", "plan", "GPUs", "spec", "ops", "colls", "fast", "xml s",
              "load s", "build s", "simulate s", "total s", "sim step");
  for (const Config& c : configs) {
    if ((quick && c.gpus > 8) || (only && c.gpus != only) || (!only_plan.empty() && c.name != only_plan))
      continue;
    int fd[2];
    if (pipe(fd) != 0)
      return 1;
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      close(fd[0]);
      Timing t = run_one(c, exact);
      if (write(fd[1], &t, sizeof t) != sizeof t)
        _exit(1);
      _exit(0);
    }
    close(fd[1]);
    Timing t{};
    const bool ok = read(fd[0], &t, sizeof t) == sizeof t;
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      std::printf("%-4s %5d %-12s failed\n", c.name.c_str(), c.gpus, c.plan.c_str());
      continue;
    }
    std::printf("%-4s %5d %-12s %8ld %6ld %5ld %8.3f %8.3f %8.3f %10.3f %8.3f %9.2f ms\n", c.name.c_str(), c.gpus,
                c.plan.c_str(), t.ops, t.collectives, t.fast, t.gen_s, t.load_s, t.build_s, t.sim_s,
                t.gen_s + t.load_s + t.build_s + t.sim_s, t.step_s * 1e3);
  }
  return 0;
}
