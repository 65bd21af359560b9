// EventDetail::timed (what `moesim run` asks for when no timeline is kept) against ::described: the
// same replay, so every event's times, the link bytes and the summary must be the very same doubles
// (compared as hexfloat text); only the op names, shapes and algorithms are left out. Each replay
// runs in a child process (SimGrid allows one engine per process).
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "report/result.hpp"
#include "sim/simulation.hpp"
#include "in_child.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

using namespace moesim;

namespace {

using test::in_child;

struct Printed {
  std::string times;  // every event's rank, op, kind, layer and times, the link bytes, the summary
  std::string detail; // how many events have a name, compute events a shape, collectives an algorithm
};

Printed replay(const RoutedTopology& rt, const Schedule& s, EventDetail detail)
{
  const std::string text = in_child([&] {
    Simulation sim(rt, "cluster");
    const SimOutput out = sim.run(s, false, detail);
    std::ostringstream o;
    o << std::hexfloat;
    int named = 0, shaped = 0, explained = 0;
    for (const TimelineEvent& e : out.timeline.events) {
      o << e.rank << " " << e.op << " " << int(e.kind) << " " << e.layer << " " << e.ready << " " << e.start << " "
        << e.sync << " " << e.end << " " << e.bytes << " " << e.fixed << "\n";
      named += !e.name.empty();
      shaped += op_class(e.kind) == OpClass::compute && !e.shape.empty();
      explained += op_class(e.kind) == OpClass::collective && !e.detail.empty();
    }
    for (const auto& [cls, b] : out.link_bytes)
      o << cls << " " << b << "\n";
    ScenarioResult r;
    r.gpus = rt.gpus();
    summarise(r, s, out.timeline);
    o << result_to_json(r).dump() << "\n"; // every number summarise gives, to the last digit
    o << "|" << named << " " << shaped << " " << explained;
    return o.str();
  });
  const size_t bar = text.rfind('|');
  if (bar == std::string::npos)
    return {text, ""};
  return {text.substr(0, bar), text.substr(bar + 1)};
}

} // namespace

TEST_CASE("events without names, shapes or algorithms keep every time and the summary", "[quick][sim]")
{
  const std::string root = MOESIM_SOURCE_DIR;
  const GpuCatalog catalog = load_gpu_catalog(root + "/platforms/gpus.yaml");
  Model m = load_model_file(root + "/workloads/models/deepseek-v3.yaml").model;
  m.layers = 5; // three dense layers, two MoE layers
  // Two 8x H200 nodes on rails: all-reduces inside each node, all-to-alls across both.
  const RoutedTopology rt = route_topology(load_topology(root + "/platforms/cluster-2x8-h200-ib400.yaml", catalog));
  const Layout L = make_layout(Plan::parse("dp16xep16"), m, rt.gpus());
  BuildOptions opt;
  opt.routing.kind = RoutingKind::zipf;
  opt.routing.zipf_s = 1.2;
  opt.routing.seed = 3;
  const Schedule s = build_schedule(m, L, StepShape{Phase::decode, 64, 1024, 0}, opt);
  // Expected counts for described events: one event per op; every op has a name, every compute op a
  // kernel_key (no compute kind has an empty one) and every collective an algorithm. Timed: none.
  int ops = 0, compute = 0, collectives = 0;
  for (const RankSchedule& rs : s.ranks)
    for (const Op& o : rs.ops) {
      ops++;
      compute += op_class(o.kind) == OpClass::compute;
      collectives += op_class(o.kind) == OpClass::collective;
    }
  REQUIRE(compute > 0);
  REQUIRE(collectives > 0);
  const Printed described = replay(rt, s, EventDetail::described);
  const Printed timed = replay(rt, s, EventDetail::timed);
  REQUIRE(described.times != "failed");
  REQUIRE(timed.times != "failed");
  CHECK(timed.times == described.times);
  CHECK(described.detail == std::to_string(ops) + " " + std::to_string(compute) + " " + std::to_string(collectives));
  CHECK(timed.detail == "0 0 0");
}
