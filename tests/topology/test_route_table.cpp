// The route table (routes held per rail, `platform show`) against the routes held per GPU pair:
// every pair's route, and the injection, bisection and lone rates `platform show` prints.
#include "fixtures.hpp"
#include "topology/flows.hpp"
#include "topology/route_table.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <regex>

using namespace moesim;
using namespace moesim::test;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p)
{
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// platforms/cluster-4x8-h100-ib400.yaml with `nodes` nodes and `network` lines added to (or, where
// they repeat a key, replacing) its network section.
std::string cluster(int nodes, const std::string& network = "")
{
  std::string y = slurp(fs::path(MOESIM_SOURCE_DIR) / "platforms" / "cluster-4x8-h100-ib400.yaml");
  y = std::regex_replace(y, std::regex("\nnodes: 4\n"), "\nnodes: " + std::to_string(nodes) + "\n");
  if (network.empty())
    return y;
  std::string kept;
  std::istringstream in(y);
  for (std::string line; std::getline(in, line);) {
    bool replaced = false;
    for (const char* key : {"  oversubscription:", "  pxn:", "  gpudirect:", "  fabric:"})
      replaced = replaced || (line.rfind(key, 0) == 0 && network.find(std::string(key).substr(2)) != std::string::npos);
    if (!replaced)
      kept += line + "\n";
    if (line == "network:")
      kept += network;
  }
  return kept;
}

// Everything route_topology says of every pair, the table says the same.
void same_routes(const Topology& t)
{
  INFO(t.file);
  const RoutedTopology flat = route_topology(t);
  RouteTable table;
  const RoutedTopology rt = route_table(t, table);
  REQUIRE(rt.links.size() == flat.links.size());
  for (size_t l = 0; l < rt.links.size(); l++)
    REQUIRE(rt.links[l].name == flat.links[l].name);
  CHECK(rt.nccl_intra == flat.nccl_intra);
  CHECK(rt.routes.empty());
  REQUIRE(table.gpus == flat.gpus());
  std::vector<Hop> h, a, b;
  for (int s = 0; s < flat.gpus(); s++)
    for (int d = 0; d < flat.gpus(); d++) {
      if (s == d)
        continue;
      INFO("gpu" << s << " -> gpu" << d);
      table.hops(s, d, h);
      REQUIRE(h == flat.route(s, d).hops);
      REQUIRE(table.kind(s, d) == flat.route(s, d).kind);
      REQUIRE(table.detail(s, d) == flat.route(s, d).detail);
      REQUIRE(table.symmetric(s, d, a, b) == flat.symmetric(s, d));
    }
}

} // namespace

TEST_CASE("the route table gives every pair of every shipped platform the route held per pair", "[quick][topology]")
{
  int files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(MOESIM_SOURCE_DIR) / "platforms"))
    if (e.path().extension() == ".yaml" && e.path().filename() != "gpus.yaml") {
      same_routes(load_topology(e.path().string(), catalog()));
      files++;
    }
  // 30 topology YAMLs ship beside gpus.yaml.
  CHECK(files >= 30);
}

TEST_CASE("the route table gives every pair the route held per pair on generated clusters", "[quick][topology]")
{
  // Oversubscribed rail leaves of 2 nodes (3 leaves per rail, each with its uplink), without PXN
  // (cross-rail traffic leaves through the sender's own NIC and crosses the spine), without
  // GPUDirect (staged through host memory to the NIC), a fat tree, and 2 NICs for 8 GPUs.
  const Topology leaves = topo("table_leaves", cluster(6, "  oversubscription: 2\n  nodes_per_leaf: 2\n"));
  same_routes(leaves);
  // 6 nodes, 2 per leaf: 3 leaves per rail, 8 rails, each leaf with its 2:1 uplink, every one of
  // them crossed by some route (the table's fabric part is exercised): 24.
  RouteTable table;
  const RoutedTopology rt = route_table(leaves, table);
  CHECK(std::count_if(table.leaf_up.begin(), table.leaf_up.end(), [](int l) { return l >= 0; }) == 24);
  CHECK(std::count_if(rt.links.begin(), rt.links.end(), [](const TopoLink& l) { return l.cls == "fabric"; }) == 24);
  same_routes(topo("table_nopxn", cluster(6, "  pxn: false\n  oversubscription: 2\n  nodes_per_leaf: 3\n")));
  same_routes(topo("table_nogdr", cluster(3, "  gpudirect: false\n")));
  const std::string fat = cluster(4, "  fabric: fat_tree\n  oversubscription: 4\n  nodes_per_leaf: 2\n");
  same_routes(topo("table_fat", std::regex_replace(fat, std::regex("  rails: 8[^\n]*\n"), "")));
  std::string two_nics = std::regex_replace(cluster(3), std::regex("nics_at: \\[[^\\]]*\\]"), "nics_at: [sw0, sw2]");
  two_nics = std::regex_replace(two_nics, std::regex("rails: 8"), "rails: 2");
  same_routes(topo("table_two_nics", two_nics));
}

TEST_CASE("the route table holds a PXN route as its three parts and grows with the GPUs", "[quick][topology]")
{
  RouteTable table;
  const RoutedTopology rt = route_table(topo("table_pxn", cluster(4)), table);
  // gpu0 -> gpu9 (node 1, rail 1): over NVLink to gpu1 (node 0's GPU on rail 1), up its PCIe link
  // to its NIC (same switch: GPUDirect), across rail 1 (non-blocking: the two NICs only), down
  // gpu9's PCIe link.
  std::vector<Hop> h;
  table.hops(0, 9, h);
  CHECK(describe_hops(rt, h) == "nvlink_gpu0 UP, nvlink_gpu1 DOWN, pcie_gpu1 UP, n0_nic1 UP, n1_nic1 DOWN, pcie_gpu9 DOWN");
  CHECK(table.kind(0, 9) == "pxn");
  CHECK(table.detail(0, 9) == "PXN: NVLink to gpu1, its NIC on rail 1");
  // Hops kept per GPU: 7 NVLink routes of 2 hops to the peers of its node (14), its way to its own
  // NIC (1: its PCIe link), to each of the 7 other rails through a PXN peer (3 each: 21), and its
  // way from its NIC (1): 37, so 32 GPUs keep 1,184 hops and 64 GPUs 2,368, where routes held per
  // pair grow with the square (32 x 31 routes, then 64 x 63).
  CHECK(table.pool.size() == 37u * 32);
  RouteTable twice;
  route_table(topo("table_pxn8", cluster(8)), twice);
  CHECK(twice.pool.size() == 37u * 64);
}

TEST_CASE("injection, bisection and lone rates over the route table are the doubles over routes per pair", "[quick][topology]")
{
  for (const char* name : {"cluster-4x8-h100-ib400", "cluster-2x8-h200-ib400", "hgx-8x-h100-nop2p",
                                  "server-8x-rtxpro6000-pcie-switches", "gb200-nvl72"}) {
    INFO(name);
    const Topology t = load_topology(std::string(MOESIM_SOURCE_DIR) + "/platforms/" + name + ".yaml", catalog());
    const RoutedTopology flat = route_topology(t);
    RouteTable table;
    const RoutedTopology rt = route_table(t, table);
    const TableFlows flows(rt, table);
    for (int g = 0; g < flat.gpus(); g += 7) {
      CHECK(flows.injection(g) == injection(flat, g));
      CHECK(flows.injection(g, true) == injection(flat, g, true));
      CHECK(flows.lone_rate(g, flat.gpus() - 1 - g) == lone_rate(flat, g, flat.gpus() - 1 - g));
    }
    const Bisection a = flows.bisection(), b = bisection(flat);
    CHECK(a.rate == b.rate);
    CHECK(a.half == b.half);
    CHECK(a.cuts == b.cuts);
  }
  // Oversubscribed leaves: the leaf uplinks bind, so the solver freezes flows over several rounds.
  const Topology t = topo("table_rates", cluster(6, "  oversubscription: 3\n  nodes_per_leaf: 2\n"));
  const RoutedTopology flat = route_topology(t);
  RouteTable table;
  const RoutedTopology rt = route_table(t, table);
  const TableFlows flows(rt, table);
  for (int g : {0, 13, 47})
    CHECK(flows.injection(g) == injection(flat, g));
  CHECK(flows.bisection().rate == bisection(flat).rate);
}
