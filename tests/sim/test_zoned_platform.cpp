// The nested-zone platform (topology/zoned_xml.hpp) against the flat one of the same topology, both
// loaded by SimGrid itself: every GPU pair's route must be the same links in the same order once
// the hubs are dropped, and an all-to-all of unequal flows must end at the very same doubles. Each
// platform is loaded in a child process (SimGrid allows one engine per process).
#include "core/error.hpp"
#include "sim/platform.hpp"
#include "topology/gpu_catalog.hpp"
#include "topology/xml_writer.hpp"
#include "topology/zoned_xml.hpp"
#include "in_child.hpp"

#include <catch2/catch.hpp>
#include <simgrid/s4u.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

using namespace moesim;
namespace fs = std::filesystem;
namespace sg4 = simgrid::s4u;

namespace {

using test::in_child;

// Loads `xml` into a fresh engine and returns three parts split by "--": every ordered GPU pair's
// route ("s>d: link ...", hubs dropped), how many hub links it holds ("s>d n"), and the end
// of every flow ("s d end", hexfloat, by (s, d)) of a fifth of an all-to-all, all started at 0:
// s -> d where 3s + d is a multiple of 5, carrying 1 MB x (1 + (3s + 5d) mod 7); or of one flow gpu0 -> gpu9 of `lone` bytes.
std::string load(const std::string& xml, int gpus, double lone = 0)
{
  static int argc = 1;
  static char arg0[] = "moesim";
  static char* argv[] = {arg0, nullptr};
  sg4::Engine e(&argc, argv);
  xbt_log_control_set("root.thresh:critical");
  configure_exact_network();
  e.load_platform(xml);
  std::vector<sg4::Host*> h;
  for (int g = 0; g < gpus; g++)
    h.push_back(sg4::Host::by_name("gpu" + std::to_string(g)));
  std::ostringstream routes, hubs, times;
  times << std::hexfloat;
  std::map<std::pair<int, int>, double> ends; // by (s, d): flows ending together may finish in any order
  for (int s = 0; s < gpus; s++)
    for (int d = 0; d < gpus; d++) {
      if (s == d)
        continue;
      std::vector<sg4::Link*> links;
      double lat = 0;
      h[s]->route_to(h[d], links, &lat);
      routes << s << ">" << d << ":";
      int hub = 0;
      for (const sg4::Link* l : links)
        if (l->get_name().rfind("hub_", 0) == 0)
          hub++;
        else
          routes << " " << l->get_name();
      routes << "\n";
      hubs << s << ">" << d << " " << hub << "\n";
    }
  sg4::Actor::create("driver", h[0], [&] {
    std::vector<sg4::CommPtr> comms;
    std::vector<std::pair<int, int>> who;
    for (int s = 0; s < gpus; s++)
      for (int d = 0; d < gpus; d++)
        if (s != d && (lone > 0 ? s == 0 && d == 9 : (3 * s + d) % 5 == 0)) {
          comms.push_back(sg4::Comm::sendto_async(h[s], h[d], lone > 0 ? static_cast<uint64_t>(lone)
                                                                       : 1000000ull * (1 + (3 * s + 5 * d) % 7)));
          who.push_back({s, d});
        }
    while (!comms.empty()) {
      const ssize_t i = sg4::Comm::wait_any(comms);
      ends[who[i]] = sg4::Engine::get_clock();
      comms.erase(comms.begin() + i);
      who.erase(who.begin() + i);
    }
  });
  e.run();
  for (const auto& [sd, end] : ends)
    times << sd.first << " " << sd.second << " " << end << "\n";
  return routes.str() + "--\n" + hubs.str() + "--\n" + times.str();
}

std::string part(const std::string& text, int n)
{
  size_t at = 0;
  for (int i = 0; i < n; i++)
    at = text.find("--\n", at) + 3;
  return text.substr(at, text.find("--\n", at) == std::string::npos ? std::string::npos : text.find("--\n", at) - at);
}

std::string write(const fs::path& p, const std::string& text)
{
  std::ofstream f(p);
  f << text;
  return p.string();
}

RoutedTopology rail_cluster(int nodes, const std::string& fabric = "  oversubscription: 1 ")
{
  // The shipped 4-node rail cluster with `nodes` nodes: rails, PXN, non-blocking rail leaves (or
  // `fabric` in place of its oversubscription line).
  const std::string root = MOESIM_SOURCE_DIR;
  std::ifstream in(root + "/platforms/cluster-4x8-h100-ib400.yaml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = std::regex_replace(text.str(), std::regex("\nnodes: 4\n"), "\nnodes: " + std::to_string(nodes) + "\n");
  yaml = std::regex_replace(yaml, std::regex("  oversubscription: 1 "), fabric);
  const fs::path p = fs::temp_directory_path() / ("moesim_test_zoned_" + std::to_string(getpid()) + ".yaml");
  write(p, yaml);
  RoutedTopology rt = route_topology(load_topology(p.string(), load_gpu_catalog(root + "/platforms/gpus.yaml")));
  fs::remove(p);
  return rt;
}

size_t count(const std::string& text, const std::string& what)
{
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    n++;
  return n;
}

} // namespace

TEST_CASE("a rail cluster as nested zones routes and times every flow as the flat platform", "[quick][sim]")
{
  const RoutedTopology rt = rail_cluster(8);
  REQUIRE(rt.gpus() == 64);
  const std::string zoned = zoned_platform_xml(rt);
  // Elements, derived: 8 nodes in groups of ceil(sqrt 8) = 3 nodes (3, 3, 2), 8 rails, one GPU per
  // rail per node. Each of the 64 cells holds 8 routes to its exits, 1 from its entry, 7 to its
  // node's other GPUs and 1 from them: 17. A group of m cells: m(m-1) cell pairs + 8m exits + m
  // entries: 6+24+3, 6+24+3, 2+16+2 = 86 per rail. A rail: 3x2 group pairs + 3x7 exits + 3 entries =
  // 30. The top: 8x7 rail pairs and 64x7 same-node pairs on other rails.
  CHECK(count(zoned, "<route ") == 64u * 17);
  CHECK(count(zoned, "<zoneRoute ") == 8u * 86 + 8u * 30 + 56);
  CHECK(count(zoned, "<bypassZoneRoute ") == 64u * 7);

  const fs::path dir = fs::temp_directory_path();
  const std::string zfile = write(dir / ("moesim_test_zoned_" + std::to_string(getpid()) + "_z.xml"), zoned);
  const std::string ffile = write(dir / ("moesim_test_zoned_" + std::to_string(getpid()) + "_f.xml"), platform_xml(rt));
  const std::string z = in_child([&] { return load(zfile, 64); });
  const std::string f = in_child([&] { return load(ffile, 64); });
  // One flow alone, gpu0 -> gpu9 (node 1, rail 1): PXN through gpu1, its NIC, node 1's NIC 1; the
  // tightest link is the NIC at 400 Gb/s = 50 GB/s, so 1e9 bytes take 1e9 / 50e9 = 0.02 s.
  const std::string lone = in_child([&] { return load(zfile, 64, 1e9); });
  fs::remove(zfile);
  fs::remove(ffile);
  REQUIRE(z != "failed");
  REQUIRE(f != "failed");
  CHECK(part(z, 0) == part(f, 0));
  CHECK(part(z, 2) == part(f, 2));
  // Flows: for each s, the d != s in 0..63 with d = -3s mod 5: 13 of them when that residue is 0..3
  // (d = r, r+5, ..., up to 63), 12 when it is 4; minus d = s where 4s = 0 mod 5, i.e. s = 0 mod 5.
  // Residues -3s mod 5 cycle 0,2,4,1,3 with s; s = 0..63 gives residue 4 for s = 2 mod 5 (13 values)
  // and 13 values of s = 0 mod 5: 64 x 13 - 13 - 13 = 806.
  CHECK(count(part(z, 2), "\n") == 806u);
  CHECK(part(z, 0).find("\n0>9: nvlink_gpu0_UP nvlink_gpu1_DOWN pcie_gpu1_UP n0_nic1_UP n1_nic1_DOWN pcie_gpu9_DOWN\n") !=
        std::string::npos);
  // Hubs: gpu0 -> gpu1 (one node, rails 0 and 1): the bypass and the way into gpu1's cell, 2.
  // gpu0 -> gpu8 (rail 0, groups 0 and 0): the cell pair's route, 1. gpu0 -> gpu40 (rail 0, node 5,
  // group 1): group exit, group pair, group entry, 3. gpu0 -> gpu9: group exit, rail exit, rail pair,
  // rail entry, group entry, 5.
  const std::string hubs = "\n" + part(z, 1);
  CHECK(hubs.find("\n0>1 2\n") != std::string::npos);
  CHECK(hubs.find("\n0>8 1\n") != std::string::npos);
  CHECK(hubs.find("\n0>40 3\n") != std::string::npos);
  CHECK(hubs.find("\n0>9 5\n") != std::string::npos);
  double end = 0;
  REQUIRE(std::sscanf(part(lone, 2).c_str(), "0 9 %la", &end) == 1);
  CHECK(end == Approx(0.02).epsilon(1e-12));
}

TEST_CASE("a topology that does not split into zones is refused", "[quick][sim]")
{
  // One node: nothing crosses a NIC.
  const std::string root = MOESIM_SOURCE_DIR;
  const RoutedTopology one = route_topology(load_topology(root + "/platforms/hgx-8x-h100.yaml", load_gpu_catalog(root + "/platforms/gpus.yaml")));
  CHECK_THROWS_AS(zoned_platform_xml(one), InputError);
  // 16 nodes, 4 per leaf of each rail, leaves 2:1 oversubscribed: gpu0 -> gpu9 (node 1, same leaf)
  // crosses no leaf uplink, gpu0 -> gpu33 (node 4, another leaf) crosses two, so the path between
  // rails 0 and 1 is not one path.
  const RoutedTopology two_tier = rail_cluster(16, "  oversubscription: 2\n  nodes_per_leaf: 4\n");
  CHECK_THROWS_WITH(zoned_platform_xml(two_tier), Catch::Contains("gpu0 -> gpu33: its fabric path between the rails"));
  // Non-blocking, the same 16 nodes split: every cross-rail path is the two NICs alone.
  CHECK_NOTHROW(zoned_platform_xml(rail_cluster(16)));
}

TEST_CASE("the zoned file from the topology alone is the zoned file from all routes, byte for byte", "[quick][sim]")
{
  // zoned_platform_xml(Topology) splits each route as it is made and drops it, renumbering the
  // links it kept at the end; the result must not differ by a byte from the writer that reads the
  // stored routes: 8 nodes (groups 3, 3, 2) and 16 nodes (groups of 4), 64 and 128 GPUs.
  for (int nodes : {8, 16}) {
    const RoutedTopology rt = rail_cluster(nodes);
    const std::string from_routes = zoned_platform_xml(rt);
    CHECK(from_routes.size() > 10000);
    CHECK(zoned_platform_xml(rt.topo) == from_routes);
  }
  // The same refusals, naming the same first pair (pairs come in the same order).
  const RoutedTopology two_tier = rail_cluster(16, "  oversubscription: 2\n  nodes_per_leaf: 4\n");
  CHECK_THROWS_WITH(zoned_platform_xml(two_tier.topo), Catch::Contains("gpu0 -> gpu33: its fabric path between the rails"));
  const std::string root = MOESIM_SOURCE_DIR;
  const Topology one = load_topology(root + "/platforms/hgx-8x-h100.yaml", load_gpu_catalog(root + "/platforms/gpus.yaml"));
  CHECK_THROWS_AS(zoned_platform_xml(one), InputError);
}
