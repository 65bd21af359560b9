// The route policy on small topologies whose routes are derived by hand, case by case: NVLink
// first; PCIe P2P through the lowest common switch, several switches or the root complex, or
// across sockets; staging through host memory (PCIe and DRAM twice); rails and PXN across nodes.
#include "fixtures.hpp"
#include "topology/flows.hpp"

#include <cmath>

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;

namespace {

// Two switches under one socket: gpu0, gpu1 under sw0; gpu2, gpu3 under sw1.
const std::string two_switches = R"(description: two switches
gpu: h100-sxm5-80gb
gpus: 4
host: {sockets: 1, memory: 100GBps}
pcie:
  gpu_link: 50GBps
  switches:
    - {name: sw0, parent: cpu0, uplink: 40GBps}
    - {name: sw1, parent: cpu0, uplink: 40GBps}
  gpus_at: [sw0, sw0, sw1, sw1]
)";

// Two nodes of two GPUs on NVSwitch; GPU g and NIC g share switch g; rail r = NIC r.
std::string two_nodes(const std::string& network_extra = "")
{
  return R"(description: two nodes
gpu: h100-sxm5-80gb
nodes: 2
gpus: 2
host: {sockets: 1, memory: 100GBps}
pcie:
  gpu_link: 50GBps
  switches:
    - {name: sw0, parent: cpu0, uplink: 50GBps}
    - {name: sw1, parent: cpu0, uplink: 50GBps}
  gpus_at: [sw0, sw1]
nvlink: {switch: 400GBps}
network:
  nic: 200Gbps
  nics_at: [sw0, sw1]
  fabric: rail
  rails: 2
)" + network_extra;
}

} // namespace

TEST_CASE("NVLink is preferred over a shorter PCIe path", "[quick][topology]")
{
  // gpu0 and gpu1 share sw0 (PCIe P2P would be 2 links too), but NVLink comes first.
  auto rt = routed("nvl_first", two_switches + "nvlink: {switch: 450GBps}\n");
  CHECK(hops(rt, 0, 1) == Hops{"nvlink_gpu0 UP", "nvlink_gpu1 DOWN"});
  CHECK(rt.route(0, 1).kind == "nvlink");
  CHECK(rt.nccl_intra == "nvlink");
  CHECK(rt.symmetric(0, 1));
}

TEST_CASE("P2P under one switch, through the root complex, and through nested switches", "[quick][topology]")
{
  auto rt = routed("p2p_levels", two_switches);
  // Same switch (PIX): up to sw0 and straight down; the switch itself is not a link.
  CHECK(hops(rt, 0, 1) == Hops{"pcie_gpu0 UP", "pcie_gpu1 DOWN"});
  CHECK(rt.route(0, 1).kind == "pix");
  // Different switches under one socket (PHB): both uplinks, the root complex forwards.
  CHECK(hops(rt, 0, 2) == Hops{"pcie_gpu0 UP", "up_sw0 UP", "up_sw1 DOWN", "pcie_gpu2 DOWN"});
  CHECK(rt.route(0, 2).kind == "phb");
  CHECK(rt.nccl_intra == "pci");

  // Two leaf switches under a common parent switch (PXB): the lowest common switch is sw0.
  auto nested = routed("p2p_pxb", R"(description: nested
gpu: h100-sxm5-80gb
gpus: 2
pcie:
  gpu_link: 50GBps
  switches:
    - {name: sw0, parent: cpu0, uplink: 50GBps}
    - {name: swa, parent: sw0, uplink: 50GBps}
    - {name: swb, parent: sw0, uplink: 50GBps}
  gpus_at: [swa, swb]
)");
  CHECK(hops(nested, 0, 1) == Hops{"pcie_gpu0 UP", "up_swa UP", "up_swb DOWN", "pcie_gpu1 DOWN"});
  CHECK(nested.route(0, 1).kind == "pxb");
}

TEST_CASE("GPUs on root ports use P2P through the root complex", "[quick][topology]")
{
  auto rt = routed("root_ports", "description: x\ngpu: h100-sxm5-80gb\ngpus: 2\npcie: {gpu_link: 53GBps}\n");
  CHECK(hops(rt, 0, 1) == Hops{"pcie_gpu0 UP", "pcie_gpu1 DOWN"});
  CHECK(rt.route(0, 1).kind == "phb");
}

TEST_CASE("Without P2P the data is staged through host memory, crossing PCIe and DRAM twice", "[quick][topology]")
{
  auto rt = routed("staged", two_switches, {{"p2p", "off"}});
  // Up to the socket, written to and read from DRAM, down to the receiver.
  CHECK(hops(rt, 0, 2) == Hops{"pcie_gpu0 UP", "up_sw0 UP", "dram", "dram", "up_sw1 DOWN", "pcie_gpu2 DOWN"});
  // Under one switch the uplink is crossed up and then down (free on a full-duplex link).
  CHECK(hops(rt, 0, 1) == Hops{"pcie_gpu0 UP", "up_sw0 UP", "dram", "dram", "up_sw0 DOWN", "pcie_gpu1 DOWN"});
  CHECK(rt.route(0, 1).kind == "staged");
  CHECK(rt.symmetric(0, 2));
  // NVLink is not used without P2P (NCCL_P2P_DISABLE=1 disables the P2P transport altogether).
  auto nv = routed("staged_nvl", two_switches + "nvlink: {switch: 450GBps}\np2p: false\n");
  CHECK(nv.route(0, 1).kind == "staged");
  CHECK(nv.nccl_intra == "pci");
}

TEST_CASE("A P2P level below the path's stages it instead", "[quick][topology]")
{
  // NCCL's default on Intel CPUs (PXB): under one switch P2P, across the host bridge staged.
  auto rt = routed("p2p_level", two_switches + "p2p_level: pxb\n");
  CHECK(rt.route(0, 1).kind == "pix");
  CHECK(rt.route(0, 2).kind == "staged");
}

TEST_CASE("Across sockets: P2P over the CPU interconnect, staging goes through the receiver's DRAM", "[quick][topology]")
{
  const std::string two_sockets = R"(description: two sockets
gpu: h100-sxm5-80gb
gpus: 2
host: {sockets: 2, memory: 100GBps, interconnect: 60GBps}
pcie: {gpu_link: 50GBps, gpus_at: [cpu0, cpu1]}
)";
  auto p2p = routed("sys", two_sockets);
  CHECK(hops(p2p, 0, 1) == Hops{"pcie_gpu0 UP", "cpu0_cpu1 UP", "pcie_gpu1 DOWN"});
  CHECK(p2p.route(0, 1).kind == "sys");
  CHECK(p2p.symmetric(0, 1));

  auto staged = routed("sys_staged", two_sockets, {{"p2p", "off"}});
  // NCCL's SHM buffer is on the receiving side: written across the interconnect, read locally.
  CHECK(hops(staged, 0, 1) == Hops{"pcie_gpu0 UP", "cpu0_cpu1 UP", "dram_cpu1", "dram_cpu1", "pcie_gpu1 DOWN"});
  CHECK(hops(staged, 1, 0) == Hops{"pcie_gpu1 UP", "cpu0_cpu1 DOWN", "dram_cpu0", "dram_cpu0", "pcie_gpu0 DOWN"});
  CHECK(staged.route(0, 1).kind == "staged_sys");
  CHECK_FALSE(staged.symmetric(0, 1)); // written in both directions with symmetrical="NO"
}

TEST_CASE("Across nodes: same rail through the two NICs, other rails through PXN", "[quick][topology]")
{
  auto rt = routed("rails", two_nodes());
  // gpu0 (node 0, rail 0) -> gpu2 (node 1, rail 0): its own NIC, GPUDirect (NIC on its switch).
  CHECK(hops(rt, 0, 2) == Hops{"pcie_gpu0 UP", "n0_nic0 UP", "n1_nic0 DOWN", "pcie_gpu2 DOWN"});
  CHECK(rt.route(0, 2).kind == "rail");
  CHECK(rt.symmetric(0, 2));
  // gpu0 -> gpu3 (rail 1): over NVLink to gpu1, which sits on rail 1, then gpu1's NIC.
  CHECK(hops(rt, 0, 3) == Hops{"nvlink_gpu0 UP", "nvlink_gpu1 DOWN", "pcie_gpu1 UP", "n0_nic1 UP", "n1_nic1 DOWN",
                               "pcie_gpu3 DOWN"});
  CHECK(rt.route(0, 3).kind == "pxn");
  // The reverse goes through gpu2 on node 1: another route, so both directions are written.
  CHECK(hops(rt, 3, 0) == Hops{"nvlink_gpu3 UP", "nvlink_gpu2 DOWN", "pcie_gpu2 UP", "n1_nic0 UP", "n0_nic0 DOWN",
                               "pcie_gpu0 DOWN"});
  CHECK_FALSE(rt.symmetric(0, 3));
}

TEST_CASE("Without PXN, cross-rail traffic goes through the spine, which only counts when oversubscribed",
          "[quick][topology]")
{
  auto flat = routed("cross_rail", two_nodes("  pxn: false\n"));
  CHECK(hops(flat, 0, 3) == Hops{"pcie_gpu0 UP", "n0_nic0 UP", "n1_nic1 DOWN", "pcie_gpu3 DOWN"});
  CHECK(flat.route(0, 3).kind == "cross_rail");
  // 2:1: each rail leaf's uplink carries (2 nodes x 25 GB/s) / 2 = 25 GB/s.
  auto over = routed("cross_rail_over", two_nodes("  pxn: false\n  oversubscription: 2\n"));
  CHECK(hops(over, 0, 3) == Hops{"pcie_gpu0 UP", "n0_nic0 UP", "rail0_up UP", "rail1_up DOWN", "n1_nic1 DOWN",
                                 "pcie_gpu3 DOWN"});
  for (const TopoLink& l : over.links)
    if (l.name == "rail0_up")
      CHECK(l.bw.value() == Approx(25e9));
  // Same rail never leaves the leaf.
  CHECK(hops(over, 0, 2) == Hops{"pcie_gpu0 UP", "n0_nic0 UP", "n1_nic0 DOWN", "pcie_gpu2 DOWN"});
}

TEST_CASE("Beyond the GPUDirect level the NIC reads from host memory", "[quick][topology]")
{
  // gdr_level pix: GPU and NIC share a switch, fine; with the NICs swapped they do not (PHB).
  auto rt = routed("gdr", two_nodes("  gdr_level: pix\n  pxn: false\n"));
  CHECK(rt.route(0, 2).kind == "rail");
  CHECK(hops(rt, 0, 2).size() == 4);
  std::string swapped = two_nodes("  pxn: false\n");
  swapped.replace(swapped.find("nics_at: [sw0, sw1]"), 19, "nics_at: [sw1, sw0]");
  auto st = routed("gdr_staged", swapped);
  CHECK(hops(st, 0, 2) == Hops{"pcie_gpu0 UP", "n0_up_sw0 UP", "n0_dram", "n0_dram", "n0_up_sw1 DOWN", "n0_nic0 UP",
                               "n1_nic0 DOWN", "n1_up_sw1 UP", "n1_dram", "n1_dram", "n1_up_sw0 DOWN", "pcie_gpu2 DOWN"});
}

TEST_CASE("An NVLink mesh links only its pairs, the others use PCIe", "[quick][topology]")
{
  auto rt = routed("mesh", R"(description: mesh
gpu: a100-sxm4-80gb
gpus: 3
pcie: {gpu_link: 26.5GBps}
nvlink:
  mesh: 100GBps
  pairs: [[0, 1], [1, 2, 50GBps]]
)");
  CHECK(hops(rt, 0, 1) == Hops{"nvlink_gpu0_gpu1 UP"});
  CHECK(hops(rt, 2, 1) == Hops{"nvlink_gpu1_gpu2 DOWN"});
  CHECK(rt.route(1, 2).kind == "nvlink");
  // No GPU forwards NVLink traffic: gpu0 -> gpu2 takes PCIe.
  CHECK(hops(rt, 0, 2) == Hops{"pcie_gpu0 UP", "pcie_gpu2 DOWN"});
  CHECK(rt.nccl_intra == "nvlink"); // every GPU has an NVLink
}

TEST_CASE("An NVSwitch fabric can span nodes (NVL72)", "[quick][topology]")
{
  auto rt = routed("nvl72", R"(description: rack
gpu: gb200-nvl72
nodes: 3
gpus: 2
nvlink: {switch: 900GBps, domain_nodes: 3}
)");
  CHECK(hops(rt, 0, 5) == Hops{"nvlink_gpu0 UP", "nvlink_gpu5 DOWN"});
}

TEST_CASE("max-min rates end even when a capacity is not finite", "[quick][topology][robust]")
{
  // The loaders refuse non-finite bandwidths; the solver must still end if one got through: each
  // round freezes the flows on the bottleneck. Two GPUs on NVLink, the links made infinite: the
  // lone flow's rate is unbounded (inf), and the call returns.
  RoutedTopology rt = routed("inf_cap", R"(description: x
gpu: h100-sxm5-80gb
gpus: 2
nvlink: {switch: 450GBps}
)");
  for (TopoLink& l : rt.links)
    l.bw = Quantity{INFINITY, "GBps"};
  const std::vector<double> r = max_min_rates(rt, {{0, 1}, {1, 0}});
  REQUIRE(r.size() == 2);
  CHECK(std::isinf(r[0]));
}
