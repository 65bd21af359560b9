// Test fixtures for sim/: tiny platforms written to a temp file and hand-made schedules, so that
// each test can derive its expected time by hand.
#pragma once
#include "core/schedule.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace moesim::test {

struct GpuProps {
  double flops = 1e15;   // bf16 FLOP/s (host speed)
  int sm = 90;           // compute capability: NCCL's Hopper tables
  double mem_bw = 2e12;  // B/s
  double kernel_overhead = 0;
};

// N GPUs, each with one full-duplex link of `bw` B/s to a switch; route i->j = [link_i UP, link_j DOWN].
// `link`: "nvlink" (NVSwitch-like) or "pci" (PCIe P2P through one switch).
inline std::string star_platform(const std::string& name, int n, double bw, const std::string& link = "nvlink",
                                 GpuProps g = {}, const std::string& extra_zone_props = "")
{
  std::filesystem::path p = std::filesystem::temp_directory_path() / ("moesim_test_" + name + ".xml");
  std::ofstream f(p);
  f << "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
    << "<platform version=\"4.1\">\n<zone id=\"t\" routing=\"Full\">\n"
    << "<prop id=\"moesim.gpus\" value=\"" << n << "\"/>\n" << extra_zone_props;
  for (int i = 0; i < n; i++)
    f << "<host id=\"gpu" << i << "\" speed=\"" << g.flops << "f\"><prop id=\"gpu_model\" value=\"test\"/>"
      << "<prop id=\"sm\" value=\"" << g.sm << "\"/>"
      << "<prop id=\"mem_bytes\" value=\"8e10\"/><prop id=\"mem_bw\" value=\"" << g.mem_bw << "\"/>"
      << "<prop id=\"mem_bw_eff\" value=\"1\"/><prop id=\"flops_eff\" value=\"1\"/>"
      << "<prop id=\"kernel_overhead\" value=\"" << g.kernel_overhead << "\"/></host>\n";
  for (int i = 0; i < n; i++)
    f << "<link id=\"l" << i << "\" bandwidth=\"" << bw << "Bps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\">"
      << "<prop id=\"class\" value=\"" << (link == "nvlink" ? "nvlink" : "pcie") << "\"/></link>\n";
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      f << "<route src=\"gpu" << i << "\" dst=\"gpu" << j << "\"><link_ctn id=\"l" << i
        << "\" direction=\"UP\"/><link_ctn id=\"l" << j << "\" direction=\"DOWN\"/></route>\n";
  f << "</zone>\n</platform>\n";
  return p.string();
}

// A schedule with `world` ranks, one stage group over all of them, eager launches costing nothing.
inline Schedule empty_schedule(int world)
{
  Schedule s;
  s.layout.world = world;
  s.layout.plan.name = "test";
  Group g;
  g.id = 0;
  for (int r = 0; r < world; r++)
    g.ranks.push_back(r);
  s.layout.groups.push_back(g);
  s.engine.cuda_graphs = true;
  s.engine.graph_launch_s = 0;
  s.ranks.resize(world);
  for (int r = 0; r < world; r++)
    s.ranks[r].rank = r;
  return s;
}

inline Op& add_op(Schedule& s, int rank, Op op)
{
  op.id = static_cast<int>(s.ranks[rank].ops.size());
  if (op.name.empty())
    op.name = std::string(to_string(op.kind)) + std::to_string(op.id);
  s.ranks[rank].ops.push_back(op);
  return s.ranks[rank].ops.back();
}

// The same collective on every rank of group 0.
inline void add_collective(Schedule& s, OpKind kind, double bytes, int coll = 0)
{
  for (int r = 0; r < s.layout.world; r++) {
    Op op;
    op.kind = kind;
    op.group = 0;
    op.coll = coll;
    op.comm_bytes = bytes;
    add_op(s, r, op);
  }
  s.collectives = std::max(s.collectives, coll + 1);
}

} // namespace moesim::test
