// Simulator cost at scale, stage by stage, on the user's path: a rail-optimised cluster of 8x H100
// nodes (platforms/cluster-4x8-h100-ib400.yaml with more nodes) routed and loaded into SimGrid (as
// `moesim run` does with a topology YAML: no XML), then one DeepSeek-V3 decode step (batch 256,
// context 2048, Zipf s=1.2 routing, seed 1, CUDA graphs) built, replayed and summarised. Each size runs in a child
// process (SimGrid allows one engine per process); the table gives each stage's CPU time (user +
// system) and the child's peak resident memory.
//
//   build/bench/moesim_bench_scale [--gpus N]... [--layers L] [--platform-only] [--exact] [--via-xml]
//
// Default sizes: 256 GPUs (dp32xep256) and 1,024 GPUs (dp128xtp4xep256). --platform-only stops after
// the XML is written (the cost of `moesim platform build`), for sizes whose replay is not wanted.
// --via-xml loads the platform the old way: XML written, checked and parsed by SimGrid.
// --layers L replays the model cut to L layers (its dense layers kept), to see the cost per layer.
#include "core/heap_tuning.hpp"
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "report/result.hpp"
#include "sim/platform_check.hpp"
#include "sim/simulation.hpp"
#include "topology/route_policy.hpp"
#include "topology/xml_writer.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using namespace moesim;
namespace fs = std::filesystem;

namespace {

constexpr int stages = 7;
const char* const stage_names[stages] = {"route", "xml", "check", "load", "build", "replay", "summary"};

struct Result {
  double cpu_s[stages] = {};
  long max_rss_kib = 0;
  double step_s = 0;
  long collectives = 0, fast = 0;
  long xml_bytes = 0;
};

double cpu_now()
{
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

std::string plan_for(int gpus)
{
  // One attention replica per node; experts spread over every GPU up to DeepSeek-V3's 256, TP inside
  // each expert beyond that: dp32xep256 at 256 GPUs, dp128xtp4xep256 at 1,024.
  const std::string dp = "dp" + std::to_string(gpus / 8);
  if (gpus <= 256)
    return dp + "xep" + std::to_string(gpus);
  return dp + "xtp" + std::to_string(gpus / 256) + "xep256";
}

Result run_one(int gpus, int layers, bool platform_only, bool exact, bool via_xml)
{
  const std::string root = MOESIM_SOURCE_DIR;
  Result res;
  double t = cpu_now();
  auto lap = [&](int stage) {
    const double now = cpu_now();
    res.cpu_s[stage] = now - t;
    t = now;
  };
  const GpuCatalog catalog = load_gpu_catalog(root + "/platforms/gpus.yaml");
  Topology topo = load_topology(root + "/platforms/cluster-4x8-h100-ib400.yaml", catalog);
  topo.nodes = gpus / topo.gpus;
  topo.name = "cluster-" + std::to_string(topo.nodes) + "x8-h100-ib400";
  const RoutedTopology rt = route_topology(topo);
  lap(0);
  // `moesim platform build` writes the XML; `moesim run` loads the routed topology into SimGrid
  // without it (sim/routed_platform.hpp); --via-xml runs the old way: write, check, parse.
  const fs::path file = fs::temp_directory_path() / ("moesim_bench_scale_" + std::to_string(getpid()) + ".xml");
  if (platform_only || via_xml) {
    std::string xml = platform_xml(rt);
    res.xml_bytes = static_cast<long>(xml.size());
    lap(1);
    if (via_xml) {
      check_platform_xml_text(xml, topo.name);
      std::ofstream f(file, std::ios::binary);
      f << xml;
    }
    lap(2);
  }
  if (!platform_only) {
    std::unique_ptr<Simulation> sim = via_xml ? std::make_unique<Simulation>(file.string())
                                              : std::make_unique<Simulation>(rt, topo.name);
    lap(3);
    Model m = load_model_file(root + "/workloads/models/deepseek-v3.yaml").model;
    if (layers > 0)
      m.layers = layers;
    const Layout L = make_layout(Plan::parse(plan_for(gpus)), m, gpus);
    BuildOptions opt;
    opt.routing.kind = RoutingKind::zipf;
    opt.routing.zipf_s = 1.2;
    opt.routing.seed = 1;
    opt.engine.cuda_graphs = true;
    const Schedule s = build_schedule(m, L, StepShape{Phase::decode, 256, 2048, 0}, opt);
    lap(4);
    const SimOutput out = sim->run(s, exact, EventDetail::timed); // as `moesim run` without a timeline
    lap(5);
    ScenarioResult r;
    r.gpus = gpus;
    summarise(r, s, out.timeline);
    lap(6);
    res.step_s = out.timeline.step_time;
    res.collectives = s.collectives;
    res.fast = out.fast_collectives;
  }
  fs::remove(file);
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  res.max_rss_kib = u.ru_maxrss;
  return res;
}

} // namespace

int main(int argc, char** argv)
{
  tune_heap(); // first: before anything large is allocated
  std::vector<int> sizes;
  int layers = 0;
  bool platform_only = false, exact = false, via_xml = false;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--gpus") == 0 && i + 1 < argc)
      sizes.push_back(std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--layers") == 0 && i + 1 < argc)
      layers = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--platform-only") == 0)
      platform_only = true;
    else if (std::strcmp(argv[i], "--exact") == 0)
      exact = true;
    else if (std::strcmp(argv[i], "--via-xml") == 0)
      via_xml = true;
    else {
      std::fprintf(stderr, "usage: moesim_bench_scale [--gpus N]... [--layers L] [--platform-only] [--exact] [--via-xml]\n");
      return 2;
    }
  }
  if (sizes.empty())
    sizes = {256, 1024};
  std::printf("moesim bench-scale: rail cluster of 8x H100 nodes, DeepSeek-V3 decode (batch 256, context 2048, "
              "Zipf 1.2)%s%s%s\n",
              layers > 0 ? (", " + std::to_string(layers) + " layers").c_str() : ", 61 layers", exact ? ", --exact" : "", via_xml ? ", platform through XML" : "");
  std::printf("CPU seconds (user + system) per stage, peak RSS of the process\n");
  std::printf("%5s %-16s", "GPUs", "plan");
  for (const char* n : stage_names)
    std::printf(" %8s", n);
  std::printf(" %8s %9s %8s %6s %5s %10s\n", "total", "RSS MiB", "XML MiB", "colls", "fast", "step");
  for (int gpus : sizes) {
    if (gpus < 8 || gpus % 8 != 0) {
      std::fprintf(stderr, "--gpus %d: a multiple of 8 (whole nodes) is needed\n", gpus);
      return 2;
    }
    int fd[2];
    if (pipe(fd) != 0)
      return 1;
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
      close(fd[0]);
      const Result r = run_one(gpus, layers, platform_only, exact, via_xml);
      if (write(fd[1], &r, sizeof r) != sizeof r)
        _exit(1);
      _exit(0);
    }
    close(fd[1]);
    Result r{};
    const bool ok = read(fd[0], &r, sizeof r) == sizeof r;
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    std::printf("%5d %-16s", gpus, plan_for(gpus).c_str());
    if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      std::printf(" failed\n");
      continue;
    }
    double total = 0;
    for (double s : r.cpu_s) {
      std::printf(" %8.2f", s);
      total += s;
    }
    std::printf(" %8.2f %9.0f %8.1f %6ld %5ld %7.2f ms\n", total, r.max_rss_kib / 1024.0, r.xml_bytes / 1048576.0,
                r.collectives, r.fast, r.step_s * 1e3);
  }
  return 0;
}
