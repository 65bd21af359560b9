// Link load over time: every collective and pipeline send leaves its bytes per link class with the
// interval they crossed in, summing to the step's link bytes; the capacity per class counts each
// link once.
#include "fixtures.hpp"
#include "sim/simulation.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;

namespace {

// 4 GPUs, PCIe 50 GB/s per direction each, one SHARED DRAM of 80 GB/s crossed twice per route.
std::string staged_platform(const std::string& name)
{
  std::filesystem::path p = std::filesystem::temp_directory_path() / ("moesim_test_traffic_" + name + ".xml");
  std::ofstream f(p);
  f << "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
    << "<platform version=\"4.1\">\n<zone id=\"t\" routing=\"Full\">\n"
    << "<prop id=\"moesim.gpus\" value=\"4\"/><prop id=\"moesim.nccl_intra\" value=\"pci\"/>\n";
  for (int i = 0; i < 4; i++)
    f << "<host id=\"gpu" << i << "\" speed=\"1e15f\"><prop id=\"gpu_model\" value=\"test\"/>"
      << "<prop id=\"sm\" value=\"90\"/>"
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

double sum_traffic(const Timeline& t, const std::string& cls)
{
  double b = 0;
  for (const LinkTraffic& l : t.link_traffic)
    b += l.link_class == cls ? l.bytes : 0;
  return b;
}

} // namespace

TEST_CASE("link traffic: a staged send leaves its bytes on PCIe and host memory over its transfer", "[quick][sim]")
{
  // One send gpu0 -> gpu1 of S = 8 MB over NCCL's SHM transport (no P2P: staged through host memory).
  // Its transfer starts after NCCL's p2p alpha on PCI, 8.4 + 5.7 = 14.1 us, plus one hop through host
  // memory, 0.917 us (core/costs TransportTerms): 15.017 us. It moves at what its 2 channels send
  // through host memory, 2 x 8.06 = 16.12 GB/s (below the receiver's 0.45 of its 50 GB/s PCIe link,
  // 22.5 GB/s, and DRAM's 80 GB/s / 2 crossings = 40 GB/s): S / 16.12 GB/s = 496.28 us. It crosses
  // two PCIe halves (pcie0 UP, pcie1 DOWN) and DRAM twice: 2S on each class, over
  // [15.017 us, 511.297 us].
  // Capacity: the routes between 4 GPUs use both halves of the 4 PCIe links, 8 x 50 GB/s = 400 GB/s,
  // and the one DRAM link, counted once: 80 GB/s.
  Simulation sim(staged_platform("send"));
  Schedule s = empty_schedule(4);
  Op a;
  a.kind = OpKind::send;
  a.peer = 1;
  a.tag = 0;
  a.comm_bytes = 8e6;
  add_op(s, 0, a);
  Op b = a;
  b.kind = OpKind::recv;
  b.peer = 0;
  add_op(s, 1, b);
  SimOutput out = sim.run(s);
  const Timeline& t = out.timeline;
  REQUIRE(t.link_traffic.size() == 2);
  CHECK(t.link_traffic[0].link_class == "host_memory"); // same start: sorted by class
  CHECK(t.link_traffic[1].link_class == "pcie");
  for (const LinkTraffic& l : t.link_traffic) {
    CHECK(l.start == Approx(15.017e-6).epsilon(1e-9));
    CHECK(l.end == Approx(15.017e-6 + 8e6 / 16.12e9).epsilon(1e-9));
    CHECK(l.bytes == 2 * 8e6);
  }
  CHECK(t.link_capacity.at("pcie") == Approx(400e9).epsilon(1e-12));
  CHECK(t.link_capacity.at("host_memory") == Approx(80e9).epsilon(1e-12));
  // The send's own event carries its size.
  CHECK(t.events[0].bytes == 8e6);
}

TEST_CASE("link traffic: every collective, simulated or replayed, sums to the step's link bytes", "[quick][sim]")
{
  // Two identical all-reduces of 4 MB over 4 GPUs on a star of 100 GB/s links: the second is replayed
  // from the first's measured duration. Each leaves one interval on nvlink starting after its alpha
  // (its event's sync + alpha) and ending with its event; the second starts after the first ends.
  // Their bytes sum to out.link_bytes (each flow counted on both links it crosses).
  Simulation sim(star_platform("traffic_ar", 4, 100e9));
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, 4e6, 0);
  add_collective(s, OpKind::all_reduce, 4e6, 1);
  SimOutput out = sim.run(s);
  const Timeline& t = out.timeline;
  REQUIRE(t.link_traffic.size() == 2);
  CHECK(sum_traffic(t, "nvlink") == Approx(out.link_bytes.at("nvlink")).epsilon(1e-12));
  CHECK(t.link_traffic[0].bytes == Approx(t.link_traffic[1].bytes).epsilon(1e-12));
  for (int i = 0; i < 2; i++) {
    const TimelineEvent& e = t.events[i]; // rank 0's collectives in op order
    const double alpha = std::stod(e.detail.substr(e.detail.find("alpha=") + 6)) * 1e-6;
    // alpha is printed to 6 significant digits: within 0.5e-4 us of the one the flows waited for.
    CHECK(t.link_traffic[i].start == Approx(e.sync + alpha).margin(5e-11));
    CHECK(t.link_traffic[i].end == Approx(e.end).epsilon(1e-12));
    CHECK(e.bytes == 4e6);
  }
  CHECK(t.link_traffic[1].start >= t.link_traffic[0].end);
  CHECK(t.link_capacity.at("nvlink") == Approx(8 * 100e9).epsilon(1e-12));
}
