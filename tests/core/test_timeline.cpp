// The timeline JSON keeps what the report draws: each op's shape and bytes, the link traffic and the
// capacity per link class; a timeline without them (a measured one) reads back with them empty.
#include "core/error.hpp"
#include "core/timeline.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace moesim;

TEST_CASE("timeline JSON round-trips shapes, bytes and link traffic", "[quick][core]")
{
  Timeline t;
  t.source = "sim";
  t.platform = "p";
  t.plan = "tp2";
  t.world = 2;
  t.step_time = 40e-6;
  TimelineEvent g;
  g.name = "L0.attn.qkv";
  g.kind = OpKind::gemm;
  g.layer = 0;
  g.end = 10e-6;
  g.shape = {1, 7168, 2048};
  g.bytes = 29.4e6;
  t.events.push_back(g);
  TimelineEvent a;
  a.op = 1;
  a.name = "L0.attn.allreduce";
  a.kind = OpKind::all_reduce;
  a.start = a.sync = 10e-6;
  a.end = 40e-6;
  a.bytes = 14336;
  t.events.push_back(a);
  t.link_capacity = {{"pcie", 424e9}, {"host_memory", 249.6e9}};
  t.link_traffic = {{"host_memory", 12e-6, 40e-6, 28672}, {"pcie", 12e-6, 40e-6, 28672}};

  const Timeline b = timeline_from_json(timeline_to_json(t), "t.json");
  REQUIRE(b.events.size() == 2);
  CHECK(b.events[0].shape == std::vector<double>{1, 7168, 2048});
  CHECK(b.events[0].bytes == 29.4e6);
  CHECK(b.events[1].shape.empty());
  CHECK(b.events[1].bytes == 14336);
  CHECK(b.link_capacity == t.link_capacity);
  REQUIRE(b.link_traffic.size() == 2);
  CHECK(b.link_traffic[1].link_class == "pcie");
  CHECK(b.link_traffic[1].start == 12e-6);
  CHECK(b.link_traffic[1].end == 40e-6);
  CHECK(b.link_traffic[1].bytes == 28672);
  // Same bytes out again.
  CHECK(timeline_to_json(b).dump() == timeline_to_json(t).dump());
}

TEST_CASE("a timeline without shapes or link traffic reads back empty", "[quick][core]")
{
  nlohmann::json j = {{"format", "moesim-timeline-1"}, {"source", "measured"}, {"platform", "p"}, {"plan", "tp2"},
                      {"world", 1}, {"step_time", 1e-5},
                      {"events", {{{"rank", 0}, {"op", 0}, {"stream", 0}, {"layer", 0}, {"name", "L0.x"},
                                   {"kind", "gemm"}, {"ready", 0}, {"start", 0}, {"sync", 0}, {"end", 1e-5}}}}};
  const Timeline t = timeline_from_json(j, "m.json");
  CHECK(t.events.at(0).shape.empty());
  CHECK(t.events.at(0).bytes == 0);
  CHECK(t.link_capacity.empty());
  CHECK(t.link_traffic.empty());
  CHECK_FALSE(timeline_to_json(t).contains("link_traffic"));
}
