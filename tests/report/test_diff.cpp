// moesim diff: errors per class, per layer and per op family, derived by hand from two small
// timelines of the same schedule.
#include "core/error.hpp"
#include "report/diff.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

namespace {

TimelineEvent ev(int rank, int op, const std::string& name, OpKind kind, int layer, double start, double sync,
                 double end, double ready = -1)
{
  TimelineEvent e;
  e.rank = rank;
  e.op = op;
  e.name = name;
  e.kind = kind;
  e.layer = layer;
  e.ready = ready < 0 ? start : ready;
  e.start = start;
  e.sync = sync;
  e.end = end;
  return e;
}

// Two ranks, two layers: a GEMM then an all-reduce per layer. Times in microseconds * 1e-6.
// `typed`: the events carry their family and role (timelines written before schedule format 2 do not).
Timeline make(double gemm0, double gemm1, double ar, const std::string& source, bool typed = true)
{
  Timeline t;
  t.source = source;
  t.world = 2;
  for (int r = 0; r < 2; r++) {
    double now = 0;
    int id = 0;
    for (int l = 0; l < 2; l++) {
      const double g = (l == 0 ? gemm0 : gemm1) * 1e-6;
      t.events.push_back(ev(r, id++, "L" + std::to_string(l) + ".attn.qkv", OpKind::gemm, l, now, now, now + g));
      if (typed)
        t.events.back().family = OpFamily::attention, t.events.back().role = OpRole::qkv;
      now += g;
      t.events.push_back(
          ev(r, id++, "L" + std::to_string(l) + ".attn.allreduce", OpKind::all_reduce, l, now, now, now + ar * 1e-6));
      if (typed)
        t.events.back().family = OpFamily::attention, t.events.back().role = OpRole::allreduce;
      now += ar * 1e-6;
    }
    t.step_time = now;
  }
  return t;
}

} // namespace

TEST_CASE("diff: step, class, layer and op errors", "[quick][report]")
{
  // Predicted: GEMMs 10 us in both layers, all-reduce 5 us: step 30 us.
  // Measured:  GEMMs 12 and 8 us, all-reduce 10 us: step 40 us.
  // Step error (30 - 40) / 40 = -25%. GEMM class per rank: 20 vs 20 us (0%); all_reduce 10 vs 20 us
  // (-50%). Layer 0: 15 vs 22 us; layer 1: 15 vs 18 us. Largest contributor: attn.allreduce (10 us off).
  Timeline p = make(10, 10, 5, "sim"), m = make(12, 8, 10, "measured");
  TimelineDiff d = diff_timelines(p, m, "m.json");
  CHECK(d.matched_ops == 8);
  CHECK(d.step_error() == Approx(-0.25));
  auto row = [](const std::vector<DiffRow>& v, const std::string& n) {
    for (const auto& r : v)
      if (r.name == n)
        return r;
    FAIL("no row " << n);
    return DiffRow{};
  };
  CHECK(row(d.by_class, "GEMM").predicted == Approx(20e-6));
  CHECK(row(d.by_class, "GEMM").measured == Approx(20e-6));
  CHECK(row(d.by_class, "all_reduce").error() == Approx(-0.5));
  CHECK(row(d.by_layer, "L0").measured == Approx(22e-6));
  CHECK(row(d.by_layer, "L1").predicted == Approx(15e-6));
  CHECK(d.top_contributors.front().name == "attn.allreduce");
  const std::string text = render_diff(d, p, m);
  CHECK_THAT(text, Catch::Matchers::Contains("error -25.0%"));
}

TEST_CASE("diff groups ops by the family and role of either timeline, never by their names", "[quick][report]")
{
  // A measured timeline written before schedule format 2 has no family and role: the predicted
  // one's apply, and the rows are the same as above (attn.allreduce 10 us off, attn.qkv 0 us).
  Timeline p = make(10, 10, 5, "sim"), m = make(12, 8, 10, "measured", false);
  TimelineDiff d = diff_timelines(p, m, "m.json");
  REQUIRE(d.top_contributors.size() == 2);
  CHECK(d.top_contributors[0].name == "attn.allreduce");
  CHECK(d.top_contributors[1].name == "attn.qkv");
  // The label comes from the role, not the name: a renamed op still counts as attn.qkv.
  p.events[0].name = m.events[0].name = "renamed";
  CHECK(diff_timelines(p, m, "m.json").top_contributors[1].name == "attn.qkv");
  // Neither side typed: refused, naming the file.
  p = make(10, 10, 5, "sim", false);
  m = make(12, 8, 10, "measured", false);
  CHECK_THROWS_WITH(diff_timelines(p, m, "m.json"), Catch::Matchers::Contains("m.json: events") &&
                                                        Catch::Matchers::Contains("no family and role"));
}

TEST_CASE("diff refuses timelines of different schedules", "[quick][report]")
{
  Timeline p = make(10, 10, 5, "sim"), m = make(10, 10, 5, "measured");
  m.events[1].name = "L0.moe.dispatch";
  CHECK_THROWS_AS(diff_timelines(p, m, "m.json"), InputError);
  m = make(10, 10, 5, "measured");
  m.world = 4;
  CHECK_THROWS_WITH(diff_timelines(p, m, "m.json"), Catch::Matchers::Contains("m.json"));
}

TEST_CASE("diff counts the GPU's wait before an op as host once", "[quick][report]")
{
  // One rank: a GEMM ready at 0 that starts at 1 us (a kernel boundary or a launch wait) and ends at
  // 10 us, then a host sync ready at 10 us, started at 12 us, back at 20 us. Host: the GEMM's wait,
  // 1 us, plus the sync's whole wait from ready to end, 10 us (its start - ready is inside that):
  // 11 us, not 13. GEMM: end - start = 9 us. The same on both sides, so the errors are 0.
  Timeline t;
  t.world = 1;
  t.events.push_back(ev(0, 0, "L0.attn.qkv", OpKind::gemm, 0, 1e-6, 1e-6, 10e-6, 0));
  t.events.back().family = OpFamily::attention, t.events.back().role = OpRole::qkv;
  t.events.push_back(ev(0, 1, "L0.sync", OpKind::host_sync, 0, 12e-6, 12e-6, 20e-6, 10e-6));
  t.events.back().family = OpFamily::attention, t.events.back().role = OpRole::qkv;
  t.step_time = 20e-6;
  const TimelineDiff d = diff_timelines(t, t, "m.json");
  double host = -1, gemm = -1;
  for (const DiffRow& r : d.by_class) {
    if (r.name == "host")
      host = r.predicted;
    if (r.name == "GEMM")
      gemm = r.measured;
  }
  CHECK(host == Approx(11e-6));
  CHECK(gemm == Approx(9e-6));
}
