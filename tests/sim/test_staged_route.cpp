// Without P2P a GPU-to-GPU flow is staged through host memory: it crosses PCIe twice (out of the
// source GPU, into the destination) and host DRAM twice (written, then read).
#include "fixtures.hpp"
#include "sim/simulation.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;

namespace {

// 4 GPUs, PCIe 50 GB/s per direction each, one SHARED DRAM of 80 GB/s.
std::string staged_platform(const std::string& name)
{
  // One file per test: ctest runs tests in parallel.
  std::filesystem::path p = std::filesystem::temp_directory_path() / ("moesim_test_staged_" + name + ".xml");
  std::ofstream f(p);
  f << "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
    << "<platform version=\"4.1\">\n<zone id=\"t\" routing=\"Full\">\n"
    << "<prop id=\"moesim.gpus\" value=\"4\"/><prop id=\"moesim.nccl_intra\" value=\"pci\"/>\n";
  for (int i = 0; i < 4; i++)
    f << "<host id=\"gpu" << i << "\" speed=\"1e15f\"><prop id=\"gpu_model\" value=\"test\"/>"
      << "<prop id=\"mem_bytes\" value=\"8e10\"/><prop id=\"mem_bw\" value=\"2e12\"/>"
      << "<prop id=\"mem_bw_eff\" value=\"1\"/><prop id=\"flops_eff\" value=\"1\"/>"
      << "<prop id=\"kernel_overhead\" value=\"0\"/></host>\n"
      << "<link id=\"pcie" << i << "\" bandwidth=\"50GBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\">"
      << "<prop id=\"class\" value=\"pcie\"/></link>\n";
  f << "<link id=\"dram\" bandwidth=\"80GBps\" latency=\"0\"><prop id=\"class\" value=\"host_memory\"/></link>\n";
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++)
      f << "<route src=\"gpu" << i << "\" dst=\"gpu" << j << "\"><link_ctn id=\"pcie" << i
        << "\" direction=\"UP\"/><link_ctn id=\"dram\"/><link_ctn id=\"dram\"/><link_ctn id=\"pcie" << j
        << "\" direction=\"DOWN\"/></route>\n";
  f << "</zone>\n</platform>\n";
  return p.string();
}

void send(Schedule& s, int src, int dst, double bytes, int tag)
{
  Op a;
  a.kind = OpKind::send;
  a.peer = dst;
  a.tag = tag;
  a.comm_bytes = bytes;
  add_op(s, src, a);
  Op b;
  b.kind = OpKind::recv;
  b.peer = src;
  b.tag = tag;
  b.comm_bytes = bytes;
  add_op(s, dst, b);
}

} // namespace

TEST_CASE("a staged flow is limited by DRAM crossed twice", "[quick][sim]")
{
  // One flow gpu0 -> gpu1 of S = 8 MB: PCIe allows 50 GB/s, DRAM carries it twice so 80/2 = 40 GB/s.
  // alpha for a p2p on PCI (Simple ring base + one hop) = 8.4 + 5.7 = 14.1 us.
  // Expected: 14.1e-6 + 8e6 / 4e10 = 14.1e-6 + 200e-6 s. PCIe carries S twice, DRAM twice.
  Simulation sim(staged_platform("one"));
  Schedule s = empty_schedule(4);
  send(s, 0, 1, 8e6, 0);
  SimOutput out = sim.run(s);
  CHECK(out.timeline.step_time == Approx(14.1e-6 + 8e6 / 4e10).epsilon(1e-9));
  CHECK(out.link_bytes.at("pcie") == 2 * 8e6);
  CHECK(out.link_bytes.at("host_memory") == 2 * 8e6);
}

TEST_CASE("two staged flows share host memory", "[quick][sim]")
{
  // gpu0 -> gpu1 and gpu2 -> gpu3 at once: disjoint PCIe links, but DRAM carries both flows twice:
  // 4 * rate <= 80 GB/s, so each gets 20 GB/s: 14.1e-6 + 8e6 / 2e10 = 14.1e-6 + 400e-6 s.
  Simulation sim(staged_platform("two"));
  Schedule s = empty_schedule(4);
  send(s, 0, 1, 8e6, 0);
  send(s, 2, 3, 8e6, 1);
  CHECK(sim.run(s).timeline.step_time == Approx(14.1e-6 + 8e6 / 2e10).epsilon(1e-9));
}
