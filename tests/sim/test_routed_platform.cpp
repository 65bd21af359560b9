// A topology YAML loaded straight into SimGrid (sim/routed_platform.hpp) against the XML written for
// it: the same hosts, links and routes, so every route's links and every replayed time must be the
// very same doubles (compared with ==, not a tolerance). Each replay runs in a child process
// (SimGrid allows one engine per process).
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "sim/simulation.hpp"
#include "topology/xml_writer.hpp"
#include "in_child.hpp"

#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace moesim;
namespace fs = std::filesystem;

namespace {

using test::in_child;

// Every route (link names, bottleneck, transport, NCCL's view) and every event's times, in full
// precision (hexfloat), then the step's link bytes and capacities.
std::string replay(Simulation& sim, const Schedule& s)
{
  std::ostringstream o;
  o << std::hexfloat;
  const Platform& p = sim.platform();
  for (int a = 0; a < p.gpus(); a++)
    for (int b = 0; b < p.gpus(); b++) {
      if (a == b)
        continue;
      const Route& r = p.route(a, b);
      o << a << ">" << b << ":";
      for (const sg4::Link* l : r.links)
        o << " " << l->get_name() << "@" << l->get_bandwidth();
      o << " " << r.bottleneck << " " << int(r.transport) << " " << r.nccl_gbs << "\n";
    }
  const SimOutput out = sim.run(s);
  for (const TimelineEvent& e : out.timeline.events)
    o << e.rank << " " << e.op << " " << e.ready << " " << e.start << " " << e.sync << " " << e.end << "\n";
  for (const auto& [cls, b] : out.link_bytes)
    o << cls << " " << b << "\n";
  for (const auto& [cls, b] : out.timeline.link_capacity)
    o << cls << " capacity " << b << "\n";
  o << "step " << out.timeline.step_time << " fast " << out.fast_collectives << "\n";
  return o.str();
}

} // namespace

TEST_CASE("a routed topology loaded into SimGrid replays exactly as its XML", "[quick][sim]")
{
  const std::string root = MOESIM_SOURCE_DIR;
  const GpuCatalog catalog = load_gpu_catalog(root + "/platforms/gpus.yaml");
  Model m = load_model_file(root + "/workloads/models/deepseek-v3.yaml").model;
  m.layers = 5; // three dense layers, two MoE layers
  // Two nodes on rails with PXN (routes that differ from their reverse), and a PCIe server without
  // P2P (routes staged through SHARED host memory, crossing it twice).
  for (const auto& [yaml, plan] : {std::pair{"cluster-2x8-h200-ib400", "dp16xep16"},
                                   std::pair{"server-8x-rtxpro6000-pcie-switches-nop2p", "dp4xep8"}}) {
    const RoutedTopology rt = route_topology(load_topology(root + "/platforms/" + yaml + ".yaml", catalog));
    const Layout L = make_layout(Plan::parse(plan), m, rt.gpus());
    BuildOptions opt;
    opt.routing.kind = RoutingKind::zipf;
    opt.routing.zipf_s = 1.2;
    opt.routing.seed = 3;
    const Schedule s = build_schedule(m, L, StepShape{Phase::decode, 64, 1024, 0}, opt);
    const fs::path xml = fs::temp_directory_path() / (std::string("moesim_test_routed_") + yaml + ".xml");
    {
      std::ofstream f(xml);
      f << platform_xml(rt);
    }
    const std::string from_xml = in_child([&] {
      Simulation sim(xml.string());
      return replay(sim, s);
    });
    const std::string direct = in_child([&] {
      Simulation sim(rt, xml.string());
      return replay(sim, s);
    });
    fs::remove(xml);
    INFO(yaml);
    REQUIRE(from_xml != "failed");
    REQUIRE(from_xml.size() > 1000);
    CHECK(direct == from_xml);
  }
}
