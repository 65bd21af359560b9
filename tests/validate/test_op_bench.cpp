// bench-ops without a GPU: its command line, the grid (levels, distributions, candidates), the cost
// estimates, the budget (prefixes that fit, redistribution, shards), the records it writes and the
// spread of repetitions ([quick]); with a GPU, one small point of every family verified and timed,
// and a whole run of one family written to disk ([gpu]).
#include "tests/temp_dir.hpp"
#include "core/error.hpp"
#include "tests/kernels/gpu_test.hpp"
#include "validate/bench_timer.hpp"
#include "validate/op_bench.hpp"
#include "validate/op_bench_family.hpp"
#include "validate/op_bench_grid.hpp"
#include "validate/op_bench_points.hpp"
#include "validate/op_bench_record.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <set>
#include <utility>

using namespace moesim;
using namespace moesim::validate;
using namespace moesim::validate::opbench;

namespace {

std::set<std::string> keys(const nlohmann::json& j)
{
  std::set<std::string> k;
  for (const auto& [key, v] : j.items())
    k.insert(key);
  return k;
}

std::string refused(const std::vector<std::string>& args)
{
  try {
    parse_op_bench_options(args);
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}

// What a GPU test of the bench needs: device 0's rates, a timer of 3 iterations after 1 warm-up with
// the graph launch measured, a planner, and the context over them (seed 7).
struct GpuBench {
  SystemInfo sys = query_system_info();
  DeviceRates rates = rates_for_device(sys.devices[0].name, sys.devices[0].cc_major * 10 + sys.devices[0].cc_minor,
                                       sys.devices[0].sm_count, double(sys.devices[0].memory_bytes), 0, 1);
  BenchTimer timer{3, 1};
  GemmPlanner planner;
  BenchContext ctx{timer, planner, rates, 7};
  GpuBench() { timer.graph_launch_seconds(); }
};

} // namespace

TEST_CASE("bench-ops command line", "[quick]")
{
  const OpBenchOptions o = parse_op_bench_options({"--json", "ops.json"});
  CHECK(o.json == "ops.json");
  CHECK(o.budget_s == 480);
  CHECK(o.shard == 1);
  CHECK(o.shards == 1);
  CHECK(o.only.empty());
  CHECK_FALSE(o.dry_run);
  const OpBenchOptions p = parse_op_bench_options(
      {"--dry-run", "--budget", "300", "--shard", "2/3", "--only", "gemm,host", "--iters", "5", "--gpu", "a100"});
  CHECK(p.dry_run);
  CHECK(p.budget_s == 300);
  CHECK(p.shard == 2);
  CHECK(p.shards == 3);
  CHECK(p.only == std::vector<Family>{Family::gemm, Family::host});
  CHECK(p.iters == 5);
  CHECK(p.gpu == "a100");
  CHECK(parse_op_bench_options({"--list"}).dry_run); // --list is a dry run that names every point
  CHECK_THAT(refused({}), Catch::Contains("--json"));
  CHECK_THAT(refused({"--json", "f", "--budget", "5"}), Catch::Contains("from 10 to 86400"));
  CHECK_THAT(refused({"--json", "f", "--budget", "8x"}), Catch::Contains("--budget"));
  CHECK_THAT(refused({"--json", "f", "--only", "gemm,attention"}), Catch::Contains("unknown op family 'attention'"));
  CHECK_THAT(refused({"--json", "f", "--gpu", "v100"}), Catch::Contains("unknown GPU 'v100'"));
  CHECK_THAT(refused({"--json", "f", "--shard", "3/2"}), Catch::Contains("I/N"));
  CHECK_THAT(refused({"--json", "f", "--frob"}), Catch::Contains("unknown option"));
}

TEST_CASE("bench-ops grid: axis levels and expert row distributions", "[quick]")
{
  // 15 values (m = 1 .. 16384): every fourth and the last are level 0, the other even ones 1, odd 2.
  std::vector<int> levels;
  for (std::size_t i = 0; i < 15; i++)
    levels.push_back(axis_level(i, 15));
  CHECK(levels == std::vector<int>{0, 2, 1, 2, 0, 2, 1, 2, 0, 2, 1, 2, 0, 2, 0});
  // uniform: 10 pairs over 4 experts: 10 / 4 = 2 each, the first 10 % 4 = 2 one more.
  CHECK(expert_rows(10, 4, "uniform") == std::vector<long>{3, 3, 2, 2});
  // zipf: weights 1, 1/2, 1/3 (sum 11/6) of 11 pairs: exactly 6, 3, 2.
  CHECK(expert_rows(11, 3, "zipf") == std::vector<long>{6, 3, 2});
  // sparse: every 8th expert of 16 (experts 0 and 8), 5 each.
  std::vector<long> sparse(16, 0);
  sparse[0] = sparse[8] = 5;
  CHECK(expert_rows(10, 16, "sparse") == sparse);
  // Fewer pairs than experts: uniform gives the first `tokens` experts one row each.
  CHECK(expert_rows(2, 4, "uniform") == std::vector<long>{1, 1, 0, 0});
  CHECK_THROWS_AS(expert_rows(4, 4, "bimodal"), std::invalid_argument);
  CHECK_THROWS_AS(expert_rows(4, 0, "uniform"), std::invalid_argument);
}

TEST_CASE("bench-ops grid: candidates cover the ranges, coarse first, deterministic", "[quick]")
{
  const DeviceRates h200 = preset_rates("h200");
  const std::vector<Point> gemm = candidates(Family::gemm, h200);
  CHECK(gemm == candidates(Family::gemm, h200)); // the same order every time
  std::set<std::string> seen;
  bool fp8 = false;
  for (const Point& p : gemm) {
    CHECK(seen.insert(describe(p)).second); // no duplicates
    const GemmPoint& g = std::get<GemmPoint>(p);
    fp8 |= g.dtype == Dtype::fp8;
    CHECK(2.0 * g.m * g.n * g.k <= 1.2e13);
  }
  CHECK(fp8); // the H200 has FP8 tensor cores
  // Corners: the smallest point and m = n = k = 16384 (8.8 TFLOP) are in; m 16384 x n 262144 x
  // k 16384 (1.4e17 FLOP) is not.
  CHECK(seen.count("gemm bf16 m=1 n=128 k=128"));
  CHECK(seen.count("gemm bf16 m=16384 n=16384 k=16384"));
  CHECK(seen.count("gemm bf16 m=16384 n=262144 k=128"));
  CHECK_FALSE(seen.count("gemm bf16 m=16384 n=262144 k=16384"));
  // The first point of the order is of level 0 on every axis: m, n and k powers of 16 from their
  // first value (m 1, 16, 256, 4096, or the last 16384; n 128, 2048, 32768, 262144; k 128, 2048, 16384).
  const GemmPoint& first = std::get<GemmPoint>(gemm.front());
  CHECK(std::set<long>{1, 16, 256, 4096, 16384}.count(first.m));
  CHECK(std::set<long>{128, 2048, 32768, 262144}.count(first.n));
  CHECK(std::set<long>{128, 2048, 16384}.count(first.k));
  // An A100 has no FP8 tensor cores: bf16 only.
  for (const Point& p : candidates(Family::gemm, preset_rates("a100")))
    CHECK(std::get<GemmPoint>(p).dtype == Dtype::bf16);
  // Attention decode reaches 128k of context, GQA and MLA.
  bool ctx128k = false, mla = false;
  for (const Point& p : candidates(Family::attention_decode, h200)) {
    const AttnPoint& a = std::get<AttnPoint>(p);
    ctx128k |= a.context == 131072;
    mla |= a.mla;
    CHECK(a.q_heads % a.kv_heads == 0);
  }
  CHECK(ctx128k);
  CHECK(mla);
  // Expert GEMMs: both implementations, every distribution, rows summing to the tokens.
  std::set<std::string> impls, dists;
  for (const Point& p : candidates(Family::grouped_gemm, h200)) {
    const GroupedPoint& g = std::get<GroupedPoint>(p);
    impls.insert(g.fused ? "fused" : "loop");
    dists.insert(g.dist);
    long sum = 0;
    for (long r : g.rows)
      sum += r;
    CHECK(sum == g.tokens);
  }
  CHECK(impls == std::set<std::string>{"fused", "loop"});
  CHECK(dists == std::set<std::string>{"sparse", "uniform", "zipf"});
  // Every small kernel the format names.
  std::set<std::string> ops;
  for (const Point& p : candidates(Family::small, h200))
    ops.insert(std::get<SmallPoint>(p).op);
  CHECK(ops == std::set<std::string>{"embedding", "permute", "residual_add", "rmsnorm", "router", "sample", "silu_mul",
                                     "topk", "unpermute"});
}

TEST_CASE("bench-ops estimates: roofline times at the device's rates", "[quick]")
{
  const DeviceRates h200 = preset_rates("h200"); // 989 TFLOP/s bf16, 4.8 TB/s
  // m = n = k = 4096 bf16: 2 * 4096^3 = 1.374e11 FLOP at 70% of 989e12 = 198.5 us; bytes
  // (2 * 4096^2) * 2 + 4096^2 * 2 = 1.007e8 at 80% of 4.8e12 = 26.2 us; compute-bound, plus 4 us.
  CHECK(op_seconds(GemmPoint{Dtype::bf16, 4096, 4096, 4096}, h200) ==
        Approx(2.0 * 4096 * 4096 * 4096 / (0.7 * 989e12) + 4e-6).epsilon(1e-9));
  // m = 1: the weights, (4096 + 4096^2) * 2 + 4096 * 2 bytes at 80% of 4.8e12, plus 4 us.
  CHECK(op_seconds(GemmPoint{Dtype::bf16, 1, 4096, 4096}, h200) ==
        Approx(((4096.0 + 4096.0 * 4096) * 2 + 4096.0 * 2) / (0.8 * 4.8e12) + 4e-6).epsilon(1e-9));
  // rmsnorm 1024 x 4096: 2 * 1024 * 4096 * 2 + 4096 * 2 bytes at 70% of 4.8e12, plus 3 us.
  SmallPoint r;
  r.op = "rmsnorm", r.rows = 1024, r.width = 4096;
  CHECK(small_kernel_bytes(r) == 2.0 * 1024 * 4096 * 2 + 4096 * 2);
  CHECK(small_kernel_elements(r) == 1024.0 * 4096);
  CHECK(op_seconds(r, h200) == Approx(small_kernel_bytes(r) / (0.7 * 4.8e12) + 3e-6).epsilon(1e-9));
  // A loop over experts costs one GEMM per expert with rows: 2 experts of 8 rows.
  GroupedPoint loop;
  loop.fused = false, loop.n = 1024, loop.k = 2048, loop.experts = 4, loop.tokens = 16, loop.rows = {8, 0, 8, 0};
  CHECK(op_seconds(loop, h200) == Approx(2 * op_seconds(GemmPoint{Dtype::bf16, 8, 1024, 2048}, h200)).epsilon(1e-12));
  // Estimates grow with the work and include at least both launch modes' waits.
  const CostModel c{10, 3};
  CHECK(estimate_seconds(GemmPoint{Dtype::bf16, 4096, 4096, 4096}, h200, c) >
        estimate_seconds(GemmPoint{Dtype::bf16, 64, 4096, 4096}, h200, c));
  CHECK(estimate_seconds(GemmPoint{Dtype::bf16, 1, 128, 128}, h200, c) > 2e-3);
  // Instances: weights of their own for about 1 GiB: 16 copies of a small weight, 1 of a 2 GiB one,
  // 8 of 128 MiB (8192 x 8192 bf16: about 39 us each, well under the 2 ms per repetition).
  CHECK(instances_for(GemmPoint{Dtype::bf16, 1, 128, 128}, h200) == 16);
  CHECK(instances_for(GemmPoint{Dtype::bf16, 1, 65536, 16384}, h200) == 1);
  CHECK(instances_for(GemmPoint{Dtype::bf16, 1, 8192, 8192}, h200) == 8);
  // 4096^3 takes about 0.2 ms: 2 ms / 0.2 ms = 10 instances of the 16 its 32 MiB weights allow.
  CHECK(instances_for(GemmPoint{Dtype::bf16, 4096, 4096, 4096}, h200) ==
        static_cast<int>(2e-3 / op_seconds(GemmPoint{Dtype::bf16, 4096, 4096, 4096}, h200)));
  CHECK(instances_for(GemmPoint{Dtype::bf16, 4096, 4096, 4096}, h200) == 9);
  // A loop over 256 experts is 256 launches: one instance per repetition.
  GroupedPoint many;
  many.fused = false, many.n = 256, many.k = 512, many.experts = 256, many.tokens = 256;
  many.rows = expert_rows(256, 256, "uniform");
  CHECK(instances_for(many, h200) == 1);
  // Greedy sampling: logits of its own per instance, about 1 GiB in all. 1024 x 131,072 fp32 is 512
  // MiB: 2 instances (its ~0.16 ms allows 12 under 2 ms). 28 x 151,936 fp32 is 17.0 MB: 63 by the
  // GiB, capped at 16 (about 8 us each). The embedding lookup keeps 8 (token ids of its own per
  // instance, a few KiB), as every kernel without weights does.
  CHECK(instances_for(SmallPoint{"sample", 1024, 0, 0, 0, 131072, false}, h200) == 2);
  CHECK(instances_for(SmallPoint{"sample", 28, 0, 0, 0, 151936, false}, h200) == 16);
  CHECK(instances_for(SmallPoint{"embedding", 16384, 7168, 0, 0, 0, false}, h200) == 8);
  CHECK(instances_for(SmallPoint{"rmsnorm", 16, 4096, 0, 0, 0, false}, h200) == 8);
}

TEST_CASE("bench-ops plan: prefixes within the budget, shares redistributed, shards disjoint", "[quick]")
{
  const DeviceRates h200 = preset_rates("h200");
  const CostModel c{10, 3};
  const Plan p = make_plan(h200, 480, c, {});
  CHECK(p == make_plan(h200, 480, c, {})); // deterministic
  CHECK(p.estimate_s <= 480);
  CHECK(p.families.size() == all_families().size());
  double budgets = 0;
  for (const FamilyPlan& f : p.families) {
    INFO(to_string(f.family));
    CHECK(f.estimate_s <= f.budget_s + 1e-9);
    budgets += f.budget_s;
    // A prefix of the candidates, and the longest that fits: the next one would not.
    const std::vector<Point> cand = candidates(f.family, h200);
    REQUIRE(f.points.size() <= cand.size());
    for (std::size_t i = 0; i < f.points.size(); i++)
      CHECK(f.points[i] == cand[i]);
    if (f.points.size() < cand.size())
      CHECK(f.estimate_s + estimate_seconds(cand[f.points.size()], h200, c) > f.budget_s);
    CHECK_FALSE(f.points.empty());
  }
  // The families share what the budget leaves after 8 s of start-up (some family is cut at 480 s,
  // so nothing is left unassigned).
  CHECK(budgets == Approx(480 - 8).epsilon(1e-9));
  // A larger budget takes at least as many points of every family.
  const Plan big = make_plan(h200, 960, c, {});
  for (std::size_t i = 0; i < p.families.size(); i++)
    CHECK(big.families[i].points.size() >= p.families[i].points.size());
  // Two shards of 480 s split the points of one plan for twice the time after start-up, 2 * (480 - 8)
  // + 8 = 952 s, between them (each point once, in order); host and graph_gap stay whole in shard 1.
  const Plan s1 = make_plan(h200, 480, c, {}, 1, 2), s2 = make_plan(h200, 480, c, {}, 2, 2);
  const Plan both = make_plan(h200, 952, c, {});
  for (std::size_t i = 0; i < both.families.size(); i++) {
    const Family f = both.families[i].family;
    INFO(to_string(f));
    const auto& a = s1.families[i].points;
    const auto& b = s2.families[i].points;
    const auto& whole = both.families[i].points;
    if (f == Family::host || f == Family::graph_gap) {
      CHECK(a == whole);
      CHECK(b.empty());
      continue;
    }
    REQUIRE(a.size() + b.size() == whole.size());
    for (std::size_t j = 0; j < whole.size(); j++)
      CHECK((j % 2 == 0 ? a[j / 2] : b[j / 2]) == whole[j]);
  }
  // --only: the budget goes to the families named. 112 s is more than graph_gap's 7 chains and
  // host's 3 thread counts (1, 2, 4 on one GPU) need: both are whole, and a family that is whole
  // keeps only what it uses.
  const Plan only = make_plan(h200, 120, c, {Family::graph_gap, Family::host});
  REQUIRE(only.families.size() == 2);
  CHECK(only.families[0].points.size() == 7);
  CHECK(only.families[1].points.size() == 3);
  for (const FamilyPlan& f : only.families)
    CHECK(f.budget_s == f.estimate_s);
  // Cut to 10 s (2 s after start-up) the host family (1.25 s for one thread, 1.5 for two) keeps one
  // thread count.
  const Plan tight = make_plan(h200, 10, c, {Family::host});
  REQUIRE(tight.families.size() == 1);
  CHECK(tight.families[0].points == std::vector<Point>{HostPoint{1}});
  CHECK(tight.families[0].estimate_s == Approx(1.25).epsilon(1e-12));
  CHECK_THAT(plan_text(p), Catch::Contains("attention_decode") && Catch::Contains("total"));
}

TEST_CASE("bench-ops plan: points an earlier run timed are left out, wide experts are candidates", "[quick]")
{
  const DeviceRates h200 = preset_rates("h200");
  const CostModel c{10, 3};
  const Plan p = make_plan(h200, 120, c, {Family::grouped_gemm});
  REQUIRE(p.families.size() == 1);
  REQUIRE(p.families[0].points.size() > 10);
  // The first 10 points of that plan as an earlier run would have timed them.
  std::set<std::string> measured;
  for (std::size_t i = 0; i < 10; i++)
    measured.insert(describe(p.families[0].points[i]));
  const Plan q = make_plan(h200, 120, c, {Family::grouped_gemm}, 1, 1, measured);
  CHECK(p.measured == 0);
  CHECK(q.measured == 10);
  CHECK(q.families[0].candidates == p.families[0].candidates - 10);
  // The rest keep their order: q's points are the candidates less the measured ones, from the start.
  std::vector<Point> rest;
  for (const Point& x : candidates(Family::grouped_gemm, h200))
    if (measured.count(describe(x)) == 0)
      rest.push_back(x);
  REQUIRE(q.families[0].points.size() <= rest.size());
  for (std::size_t i = 0; i < q.families[0].points.size(); i++) {
    CHECK(q.families[0].points[i] == rest[i]);
    CHECK(measured.count(describe(q.families[0].points[i])) == 0);
  }
  // The same budget buys at least the points p had after its first 10 (the 10 free their time).
  CHECK(q.families[0].points.size() >= p.families[0].points.size() - 10);
  // Expert GEMMs reach Mixtral-8x22B's fused gate+up (n = 2 x 16,384 = 32,768) and its down
  // projection's k (16,384): 8 bf16 experts of 32,768 x 16,384 are 8 GiB, at the weights' limit.
  bool n32k = false, k16k = false;
  for (const Point& x : candidates(Family::grouped_gemm, h200)) {
    const GroupedPoint& g = std::get<GroupedPoint>(x);
    n32k |= g.n == 32768;
    k16k |= g.k == 16384;
    CHECK(double(g.experts) * g.n * g.k * (g.dtype == Dtype::fp8 ? 1 : 2) <= 8.0 * 1024 * 1024 * 1024);
  }
  CHECK(n32k);
  CHECK(k16k);
}

TEST_CASE("bench-ops records: the format's keys and values", "[quick]")
{
  const Measured stream{false, 1.5e-5, 10, 0.02}, graph{true, 1.2e-5, 10, 0.01};
  const nlohmann::json g = gemm_record(GemmPoint{Dtype::fp8, 64, 4096, 7168}, stream);
  CHECK(keys(g) == std::set<std::string>{"batch", "dtype", "k", "launch", "m", "n", "op", "reps", "seconds", "spread"});
  CHECK(g["op"] == "gemm");
  CHECK(g["dtype"] == "fp8");
  CHECK(g["launch"] == "stream");
  CHECK(g["m"] == 64);
  CHECK(g["seconds"] == 1.5e-5);
  GroupedPoint gp;
  gp.fused = false, gp.n = 1536, gp.k = 2048, gp.experts = 4, gp.tokens = 11, gp.rows = {3, 0, 7, 1};
  const nlohmann::json gg = grouped_record(gp, graph);
  CHECK(keys(gg) == std::set<std::string>{"dtype", "impl", "k", "launch", "n", "op", "reps", "rows", "seconds", "spread"});
  CHECK(gg["impl"] == "loop");
  CHECK(gg["launch"] == "graph");
  CHECK(gg["rows"] == std::vector<long>{3, 0, 7, 1});
  AttnPoint mla;
  mla.decode = true, mla.mla = true, mla.batch = 8, mla.q_heads = 32, mla.kv_heads = 1, mla.kv_lora = 512, mla.rope = 64;
  mla.qk = 576, mla.v = 512, mla.context = 4096;
  const nlohmann::json a = attention_record(mla, stream);
  CHECK(a["attn"] == "mla");
  CHECK(a["kv_heads"] == 1);
  CHECK(a["head_dim_qk"] == 576);
  CHECK(a["kv_lora_rank"] == 512);
  CHECK(a["rope_dim"] == 64);
  CHECK(a["context"] == 4096);
  CHECK_FALSE(a.contains("prompt"));
  AttnPoint pre;
  pre.decode = false, pre.batch = 1, pre.q_heads = 16, pre.kv_heads = 16, pre.qk = 192, pre.v = 128, pre.prompt = 2048,
  pre.cached = 2048;
  const nlohmann::json b = attention_record(pre, stream);
  CHECK(b["op"] == "attention_prefill");
  CHECK(b["attn"] == "gqa"); // prefill runs as multi-head attention over up-projected heads
  CHECK(b["context"] == 4096);
  CHECK(b["prompt"] == 2048);
  CHECK(b["kv_lora_rank"] == 0);
  SmallPoint r;
  r.op = "rmsnorm", r.rows = 16, r.width = 4096;
  const nlohmann::json s = small_record(r, stream);
  CHECK(keys(s) == std::set<std::string>{"bytes", "dtype", "elements", "launch", "op", "reps", "rows", "seconds", "spread",
                                         "width"});
  CHECK(s["elements"] == 16.0 * 4096);
  CHECK(s["bytes"] == 2.0 * 16 * 4096 * 2 + 4096 * 2);
  SmallPoint t;
  t.op = "topk", t.rows = 64, t.width = 128, t.experts = 128, t.k = 8;
  CHECK(keys(small_record(t, stream)) == std::set<std::string>{"bytes", "dtype", "elements", "experts", "k", "launch", "op",
                                                               "reps", "seconds", "spread", "tokens"});
  CHECK(small_record(t, stream)["dtype"] == "fp32");
  // Sample and embedding records say their instances read cold inputs; no other op has the key, and
  // a record recovered from a log that does not say so leaves it out.
  SmallPoint sm;
  sm.op = "sample", sm.rows = 16, sm.vocab = 131072;
  CHECK(small_record(sm, stream)["inputs"] == "cold");
  CHECK_FALSE(small_record(sm, stream, false).contains("inputs"));
  SmallPoint em;
  em.op = "embedding", em.rows = 64, em.width = 4096;
  CHECK(small_record(em, stream)["inputs"] == "cold");
  CHECK_FALSE(s.contains("inputs"));
  CHECK(keys(gap_record(64, 1.1e-6)) == std::set<std::string>{"kernels", "op", "seconds"});
  const nlohmann::json h = host_record("nccl_call", true, 4, 9e-6);
  CHECK(h == nlohmann::json{{"op", "host"}, {"api", "nccl_call"}, {"gpu_state", "busy"}, {"threads", 4}, {"seconds", 9e-6}});
  const nlohmann::json doc = op_bench_document("moesim-validate bench-ops", {{"gpu", "NVIDIA H200"}}, {g});
  CHECK(keys(doc) == std::set<std::string>{"format", "records", "source", "system"});
  CHECK(doc["format"] == "moesim-op-bench-1");
  // Written whole through a temporary file; a missing folder is refused naming the path.
  test::TempDir dir("op_bench_records");
  const std::string path = (dir.path / "ops.json").string();
  write_json_file(path, doc);
  std::ifstream in(path);
  CHECK(nlohmann::json::parse(in) == doc);
  CHECK_THROWS_AS(write_json_file((dir.path / "no" / "ops.json").string(), doc), InputError);
}

TEST_CASE("bench timer statistics: quantiles and spread", "[quick]")
{
  // 1 .. 10: p10 = the value at index round(0.9) = 1 -> 2; p90 at round(8.1) = 8 -> 9; median 5.5.
  std::vector<double> v;
  for (int i = 10; i >= 1; i--)
    v.push_back(i);
  CHECK(quantile(v, 0.1) == 2);
  CHECK(quantile(v, 0.9) == 9);
  CHECK(quantile(v, 0) == 1);
  CHECK(quantile(v, 1) == 10);
  CHECK(spread_of(v) == Approx((9.0 - 2.0) / 5.5).epsilon(1e-12));
  CHECK(spread_of({}) == 0);
  CHECK(spread_of({3, 3, 3}) == 0);
}

TEST_CASE("bench-ops --dry-run plans without a GPU and prints the estimate", "[quick]")
{
  std::string output;
  FILE* p = popen((std::string("'") + MOESIM_VALIDATE_EXE + "' bench-ops --dry-run --gpu h200 2>&1").c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p))
    output.append(buf.data(), n);
  const int st = pclose(p);
  INFO(output);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  for (const char* family : {"gemm", "grouped_gemm", "attention_decode", "attention_prefill", "small", "graph_gap", "host"})
    CHECK_THAT(output, Catch::Contains(family));
  CHECK_THAT(output, Catch::Contains("total"));
}

TEST_CASE("bench-ops --skip-measured reads an earlier run's side file and refuses what is not one", "[quick]")
{
  auto run = [](const std::string& args, int& status) {
    std::string output;
    FILE* p = popen((std::string("'") + MOESIM_VALIDATE_EXE + "' bench-ops --dry-run --gpu h200 --only grouped_gemm " + args +
                     " 2>&1").c_str(), "r");
    REQUIRE(p);
    std::array<char, 4096> buf;
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p))
      output.append(buf.data(), n);
    status = pclose(p);
    return output;
  };
  // A side file naming two candidates (twice each, as a run writes one extra per launch mode) and
  // one point that is no candidate: 2 left out.
  const DeviceRates h200 = preset_rates("h200");
  const std::vector<Point> cand = candidates(Family::grouped_gemm, h200);
  test::TempDir dir("op_bench_skip");
  nlohmann::json extras = nlohmann::json::array();
  for (const std::string& t : {describe(cand[0]), describe(cand[0]), describe(cand[5]), describe(cand[5]),
                               std::string("grouped_gemm no such point")})
    extras.push_back({{"point", t}});
  std::string side = dir.write("ops.json.run.json", nlohmann::json{{"tool", "moesim-validate bench-ops"}, {"extras", extras}}.dump());
  int st = 0;
  std::string out = run("--skip-measured " + side, st);
  INFO(out);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK_THAT(out, Catch::Contains("# 2 candidates left out"));
  // Not a side file (records, or a .gz): one line naming the file and the key, exit 2.
  side = dir.write("ops.json", R"({"format": "moesim-op-bench-1", "records": []})");
  out = run("--skip-measured " + side, st);
  CHECK(WEXITSTATUS(st) == 2);
  CHECK_THAT(out, Catch::Contains(side) && Catch::Contains("extras"));
  side = dir.file("absent.run.json");
  out = run("--skip-measured " + side, st);
  CHECK(WEXITSTATUS(st) == 2);
  CHECK_THAT(out, Catch::Contains(side));
}

TEST_CASE("bench-ops: one small point of every family verifies and times on a GPU", "[gpu]")
{
  test::require_gpu();
  GpuBench gpu;
  BenchContext& ctx = gpu.ctx;
  bench_gemm(ctx, GemmPoint{Dtype::bf16, 64, 256, 512});
  GroupedPoint g;
  g.n = 256, g.k = 512, g.experts = 8, g.tokens = 40, g.dist = "zipf", g.rows = expert_rows(40, 8, "zipf");
  for (bool fused : {true, false}) {
    g.fused = fused;
    bench_grouped(ctx, g);
  }
  AttnPoint d;
  d.decode = true, d.batch = 2, d.q_heads = 16, d.kv_heads = 2, d.qk = 96, d.v = 96, d.context = 1000;
  bench_attention(ctx, d);
  AttnPoint m = d;
  m.mla = true, m.kv_heads = 1, m.kv_lora = 384, m.rope = 64, m.qk = 448, m.v = 384;
  bench_attention(ctx, m);
  AttnPoint pf;
  pf.decode = false, pf.batch = 1, pf.q_heads = 8, pf.kv_heads = 2, pf.qk = 192, pf.v = 128, pf.prompt = 100, pf.cached = 50;
  bench_attention(ctx, pf);
  for (const char* op : {"rmsnorm", "silu_mul", "residual_add", "topk", "permute", "unpermute", "embedding", "sample", "router"}) {
    SmallPoint s;
    s.op = op, s.rows = 64, s.width = 1024, s.k = 4, s.experts = 64, s.vocab = 32768;
    if (s.op == "residual_add")
      s.rows = 65536;
    INFO(op);
    bench_small(ctx, s);
  }
  // Two records (stream and graph) per point: 1 + 2 + 3 attention + 9 small = 15 points.
  CHECK(ctx.records.size() == 30);
  for (const auto& r : ctx.records) {
    CHECK(r["seconds"].get<double>() > 0);
    CHECK(r["seconds"].get<double>() < 0.1);
  }
  bench_gap(ctx, GapPoint{16});
  bench_host(ctx, HostPoint{1});
  CHECK(ctx.records.size() >= 30 + 11); // the host's 11 records; the gap's when positive
}

TEST_CASE("bench-ops writes the records and the run file on a GPU", "[gpu]")
{
  test::require_gpu();
  test::TempDir dir("op_bench_run");
  OpBenchOptions o;
  o.json = (dir.path / "ops.json").string();
  o.budget_s = 30;
  o.only = {Family::graph_gap};
  o.iters = 3, o.warmup = 1;
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  CHECK(run_op_bench(o, out) == 0);
  std::fclose(out);
  std::ifstream in(o.json), run(o.json + ".run.json");
  const nlohmann::json doc = nlohmann::json::parse(in), side = nlohmann::json::parse(run);
  CHECK(doc["format"] == "moesim-op-bench-1");
  CHECK(doc["system"].contains("gpu"));
  CHECK(side["complete"] == true);
  CHECK(side["graph_gaps"].size() == 7);
}

TEST_CASE("bench-ops: the boundary points of validate/oos/points-s19-boundary.txt run on a GPU", "[gpu]")
{
  test::require_gpu();
  GpuBench gpu;
  BenchContext& ctx = gpu.ctx;
  const std::vector<Point> pts =
      read_points_file(std::string(MOESIM_SOURCE_DIR) + "/validate/oos/points-s19-boundary.txt");
  for (const Point& p : pts) {
    INFO(describe(p));
    bench_gap(ctx, std::get<GapPoint>(p));
  }
  // One side-file entry per point, with the figures of its kind; records only where positive, each
  // a point's own text in extras, and never a launch word on a plain chain's.
  REQUIRE(ctx.stream_gaps.size() == pts.size());
  for (std::size_t i = 0; i < pts.size(); i++) {
    const GapPoint& g = std::get<GapPoint>(pts[i]);
    const nlohmann::json& e = ctx.stream_gaps[i];
    INFO(e.dump());
    if (!g.plain())
      CHECK(e["point"] == describe(pts[i]));
    if (g.kernels == 0)
      CHECK(e["pair_span_graph_seconds"].get<double>() >= 0);
    else if (g.events)
      CHECK(e["pair_span_stream_seconds"].get<double>() > e["kernel_seconds"].get<double>() / 2);
    else
      CHECK(e["kernel_seconds"].get<double>() > 0);
  }
  for (const nlohmann::json& r : ctx.records) {
    CHECK(r["op"] == "graph_gap");
    CHECK(r["seconds"].get<double>() > 0);
    CHECK(r["seconds"].get<double>() < 1e-4);
    CHECK(r.contains("launch") == (r.contains("distinct") || r.contains("events")));
  }
}

TEST_CASE("bench timer: repetitions wait one by one where one wait would hold back more than the queue takes",
          "[quick]")
{
  using moesim::validate::entries_per_rep;
  using moesim::validate::kQueuedEntriesPerWait;
  using moesim::validate::wait_per_rep;
  // 13 repetitions (10 timed after 3 warm-up) of 16 instances x 16 per-expert GEMMs: each queues
  // 16 x 16 + 3 = 259 entries (the calls, the L2 flush, two events), 13 x 259 = 3,367 in all, far past
  // the 768 one wait holds: each repetition waits on its own (the point took 29 s of retries).
  CHECK(entries_per_rep(16, 16) == 259);
  CHECK(wait_per_rep(13, 16, 16));
  // A dense GEMM, 8 instances of one launch: 13 x (8 + 3) = 143 entries behind one wait, as before.
  CHECK(entries_per_rep(8, 1) == 11);
  CHECK_FALSE(wait_per_rep(13, 8, 1));
  // The edge: 13 x 59 = 767 fits (56 calls + 3), 13 x 60 = 780 does not (57 + 3).
  CHECK(13 * entries_per_rep(56, 1) == 767);
  CHECK_FALSE(wait_per_rep(13, 56, 1));
  CHECK(wait_per_rep(13, 57, 1));
  // Zero or negative counts are one instance of one launch: 13 x 4 = 52.
  CHECK(entries_per_rep(0, 0) == 4);
  CHECK(kQueuedEntriesPerWait == 768);
}

TEST_CASE("bench-ops --points: every grid point reads back from its text and a bad line is refused", "[quick]")
{
  // describe() then parse_point() gives the same point for every candidate of the five families
  // --points takes (on the H200's grid: thousands of points, MLA and windowed ones among them, and
  // every small kernel: sample with no width, residual_add with its width of 1 left out).
  const DeviceRates h200 = preset_rates("h200");
  std::size_t n = 0;
  for (Family f : {Family::gemm, Family::grouped_gemm, Family::attention_decode, Family::attention_prefill, Family::small})
    for (const Point& p : candidates(f, h200)) {
      const std::string text = describe(p);
      INFO(text);
      REQUIRE(parse_point(text) == p);
      n++;
    }
  CHECK(n > 1000);
  // A two-tile point off the grid: 8 experts of 20 rows (tokens 160, uniform) at n 16384 k 4096.
  const Point g = parse_point("grouped_gemm bf16 fused n=16384 k=4096 experts=8 tokens=160 uniform");
  const auto& gp = std::get<GroupedPoint>(g);
  CHECK(gp.rows == std::vector<long>(8, 20));
  CHECK(gp.fused);
  // MLA decode: dims 576/512 are kv_lora 512 + rope 64 over kv_lora 512.
  // (A copy: a reference into parse_point's temporary would dangle.)
  const AttnPoint m = std::get<AttnPoint>(parse_point("attention_decode mla batch=4 heads=32/1 dims=576/512 context=4096"));
  CHECK(m.kv_lora == 512);
  CHECK(m.rope == 64);
  CHECK(m.context == 4096);
  // Refusals name the word that is wrong.
  auto why = [](const std::string& t) {
    try {
      parse_point(t);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(why("gemm bf16 m=64 n=4096"), Catch::Contains("'k=' missing"));
  CHECK_THAT(why("gemm bf16 m=64 n=4096 k=12x"), Catch::Contains("k=12x"));
  CHECK_THAT(why("gemm bf16 m=64 n=4096 k=128 q=1"), Catch::Contains("unknown key 'q='"));
  CHECK_THAT(why("grouped_gemm bf16 fused n=64 k=64 experts=8 tokens=16 gauss"), Catch::Contains("gauss"));
  CHECK_THAT(why("attention_prefill gqa batch=1 heads=40/7 dims=128/128 prompt=512 cached=0"), Catch::Contains("multiple"));
  CHECK_THAT(why("small rmsnorm rows=4"), Catch::Contains("not a family"));
  CHECK_THAT(why("sample rows=16"), Catch::Contains("'vocab=' missing"));
  CHECK_THAT(why("rmsnorm rows=16"), Catch::Contains("'width=' missing"));
  CHECK_THAT(why("sample rows=16 vocab=8192 colour=3"), Catch::Contains("unknown key 'colour='"));
  const SmallPoint sp = std::get<SmallPoint>(parse_point("sample rows=28 vocab=151936")); // a copy, as above
  CHECK(sp.rows == 28);
  CHECK(sp.vocab == 151936);
  CHECK(sp.width == 0);
}

TEST_CASE("bench-ops --points: plans exactly the file's points in order and refuses a bad file", "[quick]")
{
  test::TempDir dir("op_bench_points");
  const std::string file = dir.write("points.txt", "# two-tile experts, then prefill attention at 40/8 heads\n"
                                                   "grouped_gemm bf16 fused n=16384 k=4096 experts=8 tokens=160 uniform\n"
                                                   "\n"
                                                   "grouped_gemm bf16 fused n=8192 k=4096 experts=12 tokens=264 uniform (12 active)\n"
                                                   "attention_prefill gqa batch=1 heads=40/8 dims=128/128 prompt=512 cached=0\n");
  const std::vector<Point> pts = read_points_file(file);
  REQUIRE(pts.size() == 3);
  const DeviceRates h100 = preset_rates("h100");
  const Plan plan = points_plan(pts, h100, CostModel{}, 300);
  // Two runs of one family: grouped (2 points), then prefill attention (1), each allowed all 300 s.
  REQUIRE(plan.families.size() == 2);
  CHECK(plan.families[0].family == Family::grouped_gemm);
  CHECK(plan.families[0].points.size() == 2);
  CHECK(plan.families[1].family == Family::attention_prefill);
  CHECK(plan.families[1].budget_s == 300);
  CHECK(plan.estimate_s == Approx(estimate_seconds(pts[0], h100, CostModel{}) + estimate_seconds(pts[1], h100, CostModel{}) +
                                  estimate_seconds(pts[2], h100, CostModel{})));
  // The command line: a bad line names FILE:LINE and exits 2; --points with --only is refused.
  const std::string bad = dir.write("bad.txt", "gemm bf16 m=64 n=4096 k=128\n\ngemm bf16 m=64 n=4096\n");
  std::string output;
  FILE* p = popen((std::string("'") + MOESIM_VALIDATE_EXE + "' bench-ops --dry-run --gpu h100 --points " + bad + " 2>&1").c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf;
  while (std::size_t k = std::fread(buf.data(), 1, buf.size(), p))
    output.append(buf.data(), k);
  const int st = pclose(p);
  CHECK(WEXITSTATUS(st) == 2);
  CHECK_THAT(output, Catch::Contains(bad + ":3") && Catch::Contains("'k=' missing"));
  CHECK_THAT(refused({"--points", file, "--only", "gemm", "--json", "x"}), Catch::Contains("--points"));
}

TEST_CASE("bench-ops graph_gap points: distinct chains and event brackets read back, estimate and record", "[quick]")
{
  // The grid's launch family is unchanged: 7 plain chains whose text is that of every earlier run.
  const DeviceRates h100 = preset_rates("h100");
  const std::vector<Point> grid = candidates(Family::graph_gap, h100);
  REQUIRE(grid.size() == 7);
  CHECK(describe(grid[0]) == "graph_gap kernels=16");
  for (const Point& p : grid) {
    INFO(describe(p));
    CHECK(std::get<GapPoint>(p).plain());
    REQUIRE(parse_point(describe(p)) == p);
  }
  // The new points: their text, and back.
  const std::vector<std::pair<GapPoint, std::string>> named = {
      {GapPoint{16, 4, 0}, "graph_gap kernels=16 distinct=4"},
      {GapPoint{16, 1, 16}, "graph_gap kernels=16 events=16"},
      {GapPoint{64, 8, 64}, "graph_gap kernels=64 distinct=8 events=64"},
      {GapPoint{0, 1, 16}, "graph_gap kernels=0 events=16"}};
  for (const auto& [p, text] : named) {
    CHECK(describe(p) == text);
    CHECK(parse_point(text) == Point(p));
    CHECK_FALSE(p.plain());
  }
  // distinct=1 and events=0 written out are the plain point, whose text leaves them out.
  CHECK(parse_point("graph_gap kernels=16 distinct=1 events=0") == Point(GapPoint{16}));
  // Refusals name the key and its value.
  auto why = [](const std::string& t) {
    try {
      parse_point(t);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(why("graph_gap kernels=16 distinct=9"), Catch::Contains("'distinct=9'"));   // 8 variants
  CHECK_THAT(why("graph_gap kernels=4 distinct=8"), Catch::Contains("'distinct=8'"));    // more than the chain
  CHECK_THAT(why("graph_gap kernels=16 events=8"), Catch::Contains("'events=8'"));       // one pair per kernel
  CHECK_THAT(why("graph_gap kernels=0"), Catch::Contains("'events=0'"));                 // nothing at all
  CHECK_THAT(why("graph_gap kernels=0 events=1"), Catch::Contains("'events=1'"));        // N against 1 needs 2
  CHECK_THAT(why("graph_gap kernels=0 distinct=2 events=16"), Catch::Contains("'distinct=2'"));
  CHECK_THAT(why("graph_gap kernels=1"), Catch::Contains("'kernels=1'"));
  CHECK_THAT(why("graph_gap kernels=16 events=x"), Catch::Contains("'events=x'"));
  CHECK_THAT(why("graph_gap distinct=2"), Catch::Contains("'kernels=' missing"));
  CHECK_THAT(why("graph_gap kernels=16 colour=2"), Catch::Contains("unknown key 'colour='"));
  // Estimates on the H100: the L2 flush reads 2 x 50 MiB at 3.35 TB/s, + 4 us; 13 repetitions.
  const double flush = 2 * 50.0 * 1048576 / 3.35e12 + 4e-6;
  const CostModel c;
  // A plain chain of 16 as before: op 16 x 3 us; 2 timings, 2 x (2 ms + 13 x (2 op + 2 flush)) + 10 ms.
  CHECK(estimate_seconds(GapPoint{16}, h100, c) == Approx(2 * (2e-3 + 13 * (2 * 48e-6 + 2 * flush)) + 0.01));
  // A distinct chain costs what the plain one does (the same 2 timings of the same work).
  CHECK(estimate_seconds(GapPoint{16, 4, 0}, h100, c) == estimate_seconds(GapPoint{16}, h100, c));
  // A bracketed chain: op 16 x 3 us + 16 x 2 us = 80 us; 3 timings (chain, one kernel, chain with
  // events) of 2 ms + 13 x (2 op + 2 flush) + 5 ms, the wait while the host queues 32 event records
  // in each of 13 repetitions at 25 us, and the stream run for the spans, 3 ms + op.
  CHECK(estimate_seconds(GapPoint{16, 1, 16}, h100, c) ==
        Approx(3 * (2e-3 + 13 * (2 * 80e-6 + 2 * flush) + 0.005) + 13 * 25e-6 * 32 + 3e-3 + 80e-6));
  // Event pairs alone: op 16 x 2 us after a 20 us kernel = 52 us; 2 timings (16 pairs, 1 pair), the
  // same wait, the stream run.
  CHECK(estimate_seconds(GapPoint{0, 1, 16}, h100, c) ==
        Approx(2 * (2e-3 + 13 * (2 * 52e-6 + 2 * flush) + 0.005) + 13 * 25e-6 * 32 + 3e-3 + 52e-6));
  // Records: the plain one as every earlier run wrote it; the others with their fields and a launch.
  CHECK(gap_record(16, 1e-6) == nlohmann::json{{"op", "graph_gap"}, {"kernels", 16}, {"seconds", 1e-6}});
  CHECK(gap_record(GapPoint{16, 4, 0}, true, 2.5e-6) ==
        nlohmann::json{{"op", "graph_gap"}, {"kernels", 16}, {"distinct", 4}, {"launch", "graph"}, {"seconds", 2.5e-6}});
  CHECK(gap_record(GapPoint{16, 1, 16}, false, 1.5e-6) ==
        nlohmann::json{{"op", "graph_gap"}, {"kernels", 16}, {"events", 16}, {"launch", "stream"}, {"seconds", 1.5e-6}});
  CHECK(gap_record(GapPoint{0, 1, 16}, true, 0.8e-6) ==
        nlohmann::json{{"op", "graph_gap"}, {"kernels", 0}, {"events", 16}, {"launch", "graph"}, {"seconds", 0.8e-6}});
}

TEST_CASE("bench-ops --points validate/oos/points-s19-boundary.txt plans the boundary points well under 30 s", "[quick]")
{
  const std::string file = std::string(MOESIM_SOURCE_DIR) + "/validate/oos/points-s19-boundary.txt";
  const std::vector<Point> pts = read_points_file(file);
  // Distinct chains of 16 and 64 kernels at K = 1, 2, 4, 8 (8), bracketed chains of 16 and 64
  // identical kernels and of 64 over 8 functions (3), event pairs alone, 16 and 64 (2): 13 points.
  REQUIRE(pts.size() == 13);
  std::set<std::pair<int, int>> chains;
  int bracketed = 0, pairs = 0;
  for (const Point& p : pts) {
    const GapPoint& g = std::get<GapPoint>(p);
    if (g.events == 0)
      chains.insert({g.kernels, g.distinct});
    else if (g.kernels > 0)
      bracketed++;
    else
      pairs++;
  }
  CHECK(chains == std::set<std::pair<int, int>>{{16, 1}, {16, 2}, {16, 4}, {16, 8}, {64, 1}, {64, 2}, {64, 4}, {64, 8}});
  CHECK(bracketed == 3);
  CHECK(pairs == 2);
  const DeviceRates h100 = preset_rates("h100");
  const Plan plan = points_plan(pts, h100, CostModel{}, 480);
  // One run of one family. Each point is well under a second: the 64-kernel bracketed chains are
  // the longest, 3 x (7 ms + 13 x (2 x 320 us + 2 x 35.3 us)) + 13 x 128 x 25 us + 3.3 ms = 93.6 ms;
  // the 13 points 0.51 s in all (the CUDA start-up, cuBLAS handles and files come on top).
  REQUIRE(plan.families.size() == 1);
  CHECK(plan.families[0].family == Family::graph_gap);
  CHECK(plan.families[0].points == pts);
  CHECK(plan.families[0].estimates[10] == Approx(3 * (7e-3 + 13 * (2 * 320e-6 + 2 * 35.30077611940299e-6)) +
                                                 13 * 128 * 25e-6 + 3e-3 + 320e-6));
  CHECK(plan.estimate_s > 0.4);
  CHECK(plan.estimate_s < 1.0);
  // The command line prints the same plan (--dry-run, no GPU) and exits 0.
  std::string output;
  FILE* p = popen((std::string("'") + MOESIM_VALIDATE_EXE + "' bench-ops --dry-run --gpu h100 --points " + file + " 2>&1").c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf;
  while (std::size_t k = std::fread(buf.data(), 1, buf.size(), p))
    output.append(buf.data(), k);
  const int st = pclose(p);
  CHECK(WEXITSTATUS(st) == 0);
  CHECK_THAT(output, Catch::Contains(plan_text(plan)));
}
