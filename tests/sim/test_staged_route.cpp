// Without P2P a GPU-to-GPU flow is staged through host memory: it crosses PCIe twice (out of the
// source GPU, into the destination) and host DRAM twice (written, then read).
#include "fixtures.hpp"
#include "sim/simulation.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;

namespace {

// 4 GPUs, PCIe 50 GB/s per direction each, one SHARED DRAM (80 GB/s unless given).
std::string staged_platform(const std::string& name, const std::string& dram = "80GBps")
{
  // One file per test: ctest runs tests in parallel.
  std::filesystem::path p = std::filesystem::temp_directory_path() / ("moesim_test_staged_" + name + ".xml");
  std::ofstream f(p);
  f << "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
    << "<platform version=\"4.1\">\n<zone id=\"t\" routing=\"Full\">\n"
    << "<prop id=\"moesim.gpus\" value=\"4\"/>\n";
  for (int i = 0; i < 4; i++)
    f << "<host id=\"gpu" << i << "\" speed=\"1e15f\"><prop id=\"gpu_model\" value=\"test\"/><prop id=\"sm\" value=\"90\"/>"
      << "<prop id=\"mem_bytes\" value=\"8e10\"/><prop id=\"mem_bw\" value=\"2e12\"/>"
      << "<prop id=\"mem_bw_eff\" value=\"1\"/><prop id=\"flops_eff\" value=\"1\"/>"
      << "<prop id=\"kernel_overhead\" value=\"0\"/></host>\n"
      << "<link id=\"pcie" << i << "\" bandwidth=\"50GBps\" latency=\"0\" sharing_policy=\"SPLITDUPLEX\">"
      << "<prop id=\"class\" value=\"pcie\"/></link>\n";
  f << "<link id=\"dram\" bandwidth=\"" << dram << "\" latency=\"0\"><prop id=\"class\" value=\"host_memory\"/></link>\n";
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

// NCCL sees the staged route as its PCIe links through the (Intel) root complex: 50 x 48/53 =
// 45.28 GB/s, / 1.2 = 37.74 GB/s. A send through host memory is NCCL's SHM transport: PCI latency
// row plus a host-memory round trip (0.917 us), and the receiver reads host memory over PCIe at
// 0.45 of its link: 22.5 GB/s. NCCL gives a PCIe peer 2 channels, each moving a send through host
// memory at 8.06 GB/s with Simple (core/costs.hpp TransportTerms): 16.12 GB/s for one send.

TEST_CASE("a staged send is held to the receiver's host-memory read rate", "[quick][sim]")
{
  // One send gpu0 -> gpu1 of S = 8 MB, Simple: alpha = 8.4 + 5.7 + 0.917 = 15.017 us. The sender could
  // move 0.81 x 37.74 GB/s = 30.6, DRAM (crossed twice) 80 / 2 = 40, PCIe 50, gpu1 reads host
  // memory at 0.45 x 50 = 22.5 GB/s, but the send's 2 channels move 2 x 8.06 = 16.12 GB/s.
  // Expected: 15.017e-6 + 8e6 / 16.12e9. PCIe and DRAM carry S twice.
  Simulation sim(staged_platform("one"));
  Schedule s = empty_schedule(4);
  send(s, 0, 1, 8e6, 0);
  SimOutput out = sim.run(s);
  CHECK(out.timeline.step_time == Approx(15.017e-6 + 8e6 / 16.12e9).epsilon(1e-9));
  CHECK(out.link_bytes.at("pcie") == 2 * 8e6);
  CHECK(out.link_bytes.at("host_memory") == 2 * 8e6);
}

TEST_CASE("two staged flows share host memory", "[quick][sim]")
{
  // gpu0 -> gpu1 and gpu2 -> gpu3 at once, DRAM of 40 GB/s: disjoint PCIe links, but DRAM carries
  // both flows twice: 4 * rate <= 40 GB/s, so each gets 10 GB/s (below a send's 2 channels, 16.12,
  // and the 22.5 read rate): 15.017e-6 + 8e6 / 1e10 s.
  Simulation sim(staged_platform("two", "40GBps"));
  Schedule s = empty_schedule(4);
  send(s, 0, 1, 8e6, 0);
  send(s, 2, 3, 8e6, 1);
  CHECK(sim.run(s).timeline.step_time == Approx(15.017e-6 + 8e6 / 1e10).epsilon(1e-9));
}

TEST_CASE("a ring all-reduce through host memory", "[quick][sim]")
{
  // 4 GPUs, every pair staged, S = 16 MB. NCCL's search at 37.74 GB/s: 30 (1), 24 (1), 20 (1),
  // 15 (2 = 30, not more), stop at 12: 1 x 30 doubled to 2 x 15, bus bandwidth 30. Simple
  // (42.6 + S / (30 x 4/6) = 842.6 us against LL 12.6 + S / (15 x 4/6) = 1612.6 us).
  // NCCL's table charges 8.4 + 6 x 5.7 = 42.6 us plus a host-memory round trip on each of the 6
  // steps (every ring hop is staged): 6 x 0.917 = 5.502 us. The 4 flows (1.5 S each) could run at 30 x
  // 0.95 = 28.5 GB/s (their 4 channels, 2 doubled, at 4 x 11.43 = 45.72), their receivers read at
  // 22.5, but DRAM carries each twice: 8 x rate <= 80 -> 10 GB/s. The ring's pipeline of 6 steps of
  // 6.617 us hides under its transfer (X at the 22.5 read rate, 1066.7 us: 39.7 + X x 7/12 = 661.9 <
  // X), so alpha is NCCL's base, 8.4 us. Expected: 8.4e-6 + 1.5 S / 10e9.
  Simulation sim(staged_platform("ring"));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, 16e6);
  SimOutput out = sim.run(s);
  CHECK(out.algorithms.at("all_reduce ring/Simple") == 1);
  CHECK(out.timeline.step_time == Approx(8.4e-6 + 1.5 * 16e6 / 1e10).epsilon(1e-9));
}
