// The search's analysis (pipeline/search.hpp): Pareto front, nearest-rank bands, best plan under an
// SLO, and the parsers of --slo and --shard; each expectation derived by hand.
#include "core/error.hpp"
#include "pipeline/search.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

TEST_CASE("Pareto front of a hand-made set", "[quick][search]")
{
  // (tok/s/user, tok/s/GPU): 0 A(10,100) 1 B(20,80) 2 C(15,70) 3 D(20,80) 4 E(5,100) 5 F(30,10)
  // C is beaten by B (20 >= 15, 80 >= 70); E by A (10 > 5, 100 = 100). B and D tie: both stay.
  // Front by tok/s/user descending: F(30), B(20), D(20), A(10) -> {5, 1, 3, 0}.
  const std::vector<std::pair<double, double>> pts{{10, 100}, {20, 80}, {15, 70}, {20, 80}, {5, 100}, {30, 10}};
  CHECK(pareto_front(pts) == std::vector<size_t>{5, 1, 3, 0});
  CHECK(pareto_front({}).empty());
  CHECK(pareto_front({{1, 1}}) == std::vector<size_t>{0});
}

TEST_CASE("nearest-rank percentiles and seed bands", "[quick][search]")
{
  // {5,1,4,2,3}: p50 is the ceil(2.5) = 3rd smallest = 3; p90 the ceil(4.5) = 5th = 5.
  CHECK(nearest_rank({5, 1, 4, 2, 3}, 0.5) == 3);
  CHECK(nearest_rank({5, 1, 4, 2, 3}, 0.9) == 5);
  // 1..10: p90 is the 9th smallest; p50 the 5th.
  std::vector<double> ten{10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  CHECK(nearest_rank(ten, 0.9) == 9);
  CHECK(nearest_rank(ten, 0.5) == 5);
  // Three seeds with steps 30, 10, 20 ms: p50 = 20 ms (seed index 2), p90 = ceil(2.7) = 3rd = 30 ms
  // (index 0); the rates are those seeds' own.
  std::vector<ScenarioResult> rs(3);
  const double steps[] = {0.030, 0.010, 0.020};
  for (int i = 0; i < 3; i++) {
    rs[i].step_time = steps[i];
    rs[i].tok_s_user = 1 / steps[i];
    rs[i].tok_s_per_gpu = 64 / steps[i] / 8;
  }
  const SeedBand b = band_of(rs);
  CHECK(b.seeds == 3);
  CHECK(b.step_time.p50 == 0.020);
  CHECK(b.step_time.p90 == 0.030);
  CHECK(b.median_seed == 2);
  CHECK(b.tok_s_user.p50 == Approx(50).epsilon(1e-12));
  CHECK(b.tok_s_user.p90 == Approx(1 / 0.030).epsilon(1e-12));
  CHECK(b.tok_s_per_gpu.p90 == Approx(64 / 0.030 / 8).epsilon(1e-12));
}

TEST_CASE("seed routings are base, base+1, ... and uniform routing refuses several seeds", "[quick][search]")
{
  RoutingSpec z;
  z.kind = RoutingKind::zipf;
  z.seed = 7;
  const auto r = seed_routings(z, 3, "--seeds");
  REQUIRE(r.size() == 3);
  CHECK(r[0].seed == 7);
  CHECK(r[2].seed == 9);
  CHECK_THROWS_AS(seed_routings(RoutingSpec{}, 2, "--seeds"), InputError);
  CHECK(seed_routings(RoutingSpec{}, 1, "--seeds").size() == 1);
  CHECK_THROWS_AS(seed_routings(z, 0, "--seeds"), InputError);
}

TEST_CASE("search flags --slo and --shard parse, and refuse in one line", "[quick][search]")
{
  CHECK(parse_slo("tpot=50ms", Phase::decode).seconds == Approx(0.050).epsilon(1e-15));
  CHECK(parse_slo("tpot=800us", Phase::decode).seconds == Approx(800e-6).epsilon(1e-15));
  CHECK(parse_slo("ttft=2s", Phase::prefill).seconds == 2);
  CHECK(parse_slo("", Phase::decode).metric.empty());
  for (const char* bad : {"tpot=50", "tpot=-1ms", "tpot=ms", "latency=5ms", "tpot", "ttft=2s"})
    CHECK_THROWS_AS(parse_slo(bad, Phase::decode), InputError);
  CHECK_THROWS_AS(parse_slo("tpot=50ms", Phase::prefill), InputError);
  CHECK(parse_shard("2/8").index == 2);
  CHECK(parse_shard("2/8").count == 8);
  for (const char* bad : {"0/2", "3/2", "1/0", "a/b", "2", "1/2/3", "-1/2"})
    CHECK_THROWS_AS(parse_shard(bad), InputError);
}

namespace {

SearchRow row(size_t key, const std::string& plan, double step, int batch, double compute, double a2a)
{
  // A decode row of 8 GPUs: tok/s/user = 1 / step, tok/s/GPU = batch / step / 8.
  SearchRow r;
  r.key = key;
  r.platform = "p";
  r.plan = plan;
  r.gpus = 8;
  r.batch = batch;
  r.band.step_time = {step, step};
  r.band.tok_s_user = {1 / step, 1 / step};
  r.band.tok_s_per_gpu = {batch / step / 8, batch / step / 8};
  r.mean.compute = compute;
  r.mean.comm = a2a;
  r.comm_by_kind["all_to_all"] = a2a;
  r.capacity = 70.0 * 1073741824.0;
  r.memory = 50.0 * 1073741824.0;
  return r;
}

} // namespace

TEST_CASE("best plan under an SLO and why it beats the runner-up", "[quick][search]")
{
  // tok/s/GPU = batch / step / 8:
  //   0 ep8   b=64 step 40 ms: 200     (meets tpot 50 ms)
  //   1 tp8   b=64 step 32 ms: 250     (meets)
  //   2 ep8   b=128 step 64 ms: 250    (misses: 64 > 50)
  //   3 tp4xep2 b=64 step 25 ms: 320   (meets) -> best; runner-up: tp8 (250), another plan.
  //   4 pruned by memory: not a candidate.
  // tp4xep2 vs tp8: all-to-all 5 ms vs 12 ms is the largest saving (compute 20 vs 20):
  // 1 - 5/12 = 58% less.
  SearchSetup su;
  su.slo = {"tpot", 0.050};
  su.rank = "p50";
  std::vector<SearchRow> rows{row(0, "ep8", 0.040, 64, 0.020, 0.020), row(1, "tp8", 0.032, 64, 0.020, 0.012),
                              row(2, "ep8", 0.064, 128, 0.040, 0.024), row(3, "tp4xep2", 0.025, 64, 0.020, 0.005)};
  SearchRow pruned;
  pruned.key = 4;
  pruned.pruned = "memory";
  rows.push_back(pruned);
  const SearchAnalysis a = analyse(su, rows);
  CHECK(a.simulated == 4);
  CHECK(a.pruned.at("memory") == 1);
  CHECK(a.meeting_slo == 3);
  REQUIRE(a.best);
  CHECK(*a.best == 3);
  REQUIRE(a.runner_up);
  CHECK(*a.runner_up == 1);
  CHECK_THAT(a.why, Catch::Contains("tp4xep2 (eager) beats tp8 (eager) at batch 64: 320.0 vs 250.0 tok/s/GPU (+28%)"));
  CHECK_THAT(a.why, Catch::Contains("58% less all_to_all time per step (5.00 ms vs 12.00 ms)"));
  CHECK_THAT(a.why, Catch::Contains("same memory headroom (20.0 GiB)"));
  // Front (tok/s/user, tok/s/GPU): 0 (25, 200), 1 (31.25, 250), 2 (15.6, 250), 3 (40, 320): 3 beats all.
  CHECK(a.pareto == std::vector<size_t>{3});
  // A tighter SLO (20 ms) leaves none.
  su.slo.seconds = 0.020;
  const SearchAnalysis none = analyse(su, rows);
  CHECK(none.meeting_slo == 0);
  CHECK(!none.best);
}
