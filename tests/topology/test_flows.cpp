// Injection and bisection bandwidth over fixed routes, max-min fair, on cases derived by hand.
#include "fixtures.hpp"
#include "topology/flows.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;

TEST_CASE("A SHARED host-memory link listed twice is charged twice", "[quick][topology]")
{
  // Staged route [pcie UP, dram, dram, pcie DOWN] with PCIe at 53 and DRAM at 60 GB/s: a lone flow
  // gets min(53, 60 / 2) = 30 GB/s.
  auto rt = routed("dram_twice",
                   "description: x\ngpu: h100-sxm5-80gb\ngpus: 4\np2p: false\nhost: {memory: 60GBps}\npcie: {gpu_link: 53GBps}\n");
  CHECK(lone_rate(rt, 0, 1) == Approx(30e9));
  // gpu0 -> every peer: three flows, each crossing DRAM twice: 6 r <= 60 -> r = 10, total 30 GB/s.
  CHECK(injection(rt, 0) == Approx(30e9));
}

TEST_CASE("Bisection bandwidth of two PCIe switches, derived by hand", "[quick][topology]")
{
  // gpu0, gpu1 under sw0; gpu2, gpu3 under sw1; GPU links 50 GB/s, uplinks 40 GB/s, P2P on.
  // Cut {0,1} | {2,3}: all four flows leave through sw0's uplink (40 GB/s UP): 40 GB/s in total.
  // Cut {0,2} | {1,3}: flows 0->1 (PIX), 0->3 and 2->1 (both uplinks), 2->3 (PIX); the binding
  // links are the senders' GPU links, each shared by two flows at 25 GB/s: 4 x 25 = 100 GB/s, and
  // uplinks carry one 25 GB/s flow each. Cut {0,3} | {1,2} likewise 100. Worst: 40 GB/s.
  auto rt = routed("bisect", R"(description: x
gpu: h100-sxm5-80gb
gpus: 4
pcie:
  gpu_link: 50GBps
  switches:
    - {name: sw0, parent: cpu0, uplink: 40GBps}
    - {name: sw1, parent: cpu0, uplink: 40GBps}
  gpus_at: [sw0, sw0, sw1, sw1]
)");
  const Bisection b = bisection(rt);
  CHECK(b.exhaustive);
  CHECK(b.cuts == 3);
  CHECK(b.rate == Approx(40e9));
  CHECK(b.half == std::vector<int>{0, 1});
  // Injection of gpu0 to its three peers: its own 50 GB/s link binds (sw0's uplink carries two
  // flows of 16.7 GB/s).
  CHECK(injection(rt, 0) == Approx(50e9));
}

TEST_CASE("Bisection of an NVSwitch node and of a rail cluster", "[quick][topology]")
{
  // 8 GPUs at 450 GB/s into NVSwitch: any half sends through its 4 links: 1.8 TB/s.
  auto hgx = routed("bisect_hgx", "description: x\ngpu: h100-sxm5-80gb\ngpus: 8\nnvlink: {switch: 450GBps}\n");
  CHECK(bisection(hgx).rate == Approx(1800e9));
  CHECK(bisection(hgx).cuts == 35);
  // 2 nodes x 2 GPUs, one 25 GB/s NIC per GPU: splitting the nodes, every flow crosses the network
  // through the NIC on the destination's rail: 2 NICs x 25 GB/s = 50 GB/s.
  auto cl = routed("bisect_cluster", R"(description: x
gpu: h100-sxm5-80gb
nodes: 2
gpus: 2
pcie: {gpu_link: 50GBps}
nvlink: {switch: 400GBps}
network: {nic: 200Gbps, nics_at: [cpu0, cpu0], rails: 2, gdr_level: sys}
)");
  CHECK(bisection(cl).rate == Approx(50e9));
  CHECK(injection(cl, 0, true) == Approx(50e9));
}
