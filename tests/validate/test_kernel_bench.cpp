// bench-kernels without a GPU: its command line, which ops it times (plan_kernel_bench) and the grid
// of single expert GEMMs; with a GPU: a run over a small schedule, read back by the calibration.
#include "tests/temp_dir.hpp"
#include "core/calibration.hpp"
#include "core/error.hpp"
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "core/schedule_json.hpp"
#include "tests/kernels/gpu_test.hpp"
#include "validate/kernel_bench.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

using namespace moesim;
using namespace moesim::validate;

namespace {

Schedule qwen_schedule(const std::string& plan, int gpus, int batch)
{
  const Model m = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/qwen3-30b-a3b.yaml").model;
  BuildOptions opt;
  opt.routing.kind = RoutingKind::sampled;
  return build_schedule(m, make_layout(Plan::parse(plan), m, gpus), StepShape{Phase::decode, batch, 128, 0}, opt);
}

bool mla(const Op& op)
{
  return std::holds_alternative<AttentionShape>(op.shape) && op.attention().mla;
}

} // namespace

TEST_CASE("bench-kernels command line", "[quick]")
{
  const KernelBenchOptions o = parse_kernel_bench_options({"--iters", "7", "--json", "k.json", "a.json", "b.json"});
  CHECK(o.iters == 7);
  CHECK(o.warmup == 3);
  CHECK(o.json == "k.json");
  CHECK(o.schedules == std::vector<std::string>{"a.json", "b.json"});
  auto refused = [](std::vector<std::string> args) {
    try {
      parse_kernel_bench_options(args);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(refused({"--json", "k.json"}), Catch::Contains("no schedule given"));
  CHECK_THAT(refused({"a.json"}), Catch::Contains("--json"));
  CHECK_THAT(refused({"--iters", "0", "--json", "k", "a"}), Catch::Contains("--iters"));
  CHECK_THAT(refused({"--iters", "x", "--json", "k", "a"}), Catch::Contains("not a whole number"));
  CHECK_THAT(refused({"--frobnicate", "--json", "k", "a"}), Catch::Contains("unknown option"));
  const KernelBenchOptions sh = parse_kernel_bench_options({"--shard", "2/4", "--json", "k", "a"});
  CHECK(sh.shard == 2);
  CHECK(sh.shards == 4);
  CHECK_THAT(refused({"--shard", "5/4", "--json", "k", "a"}), Catch::Contains("--shard"));
  CHECK_THAT(refused({"--shard", "2", "--json", "k", "a"}), Catch::Contains("I/N"));
  CHECK_THAT(refused({"--shard", "1/4x", "--json", "k", "a"}), Catch::Contains("I/N"));
}

TEST_CASE("bench-kernels: the single expert GEMM grid", "[quick]")
{
  // 1..8, then each step about 25% more, rounded up to even: 8*1.25 = 10, 12.5 -> 14, 15.6 -> 16,
  // 19.5 -> 20, 24.4 -> 26, 30.5 -> 32, 38.1 -> 40, 47.7 -> 48, 59.6 -> 60, 74.5 -> capped at 64
  // (the grid reaches at least 64 rows).
  CHECK(expert_gemm_grid(10) ==
        std::vector<long>{1, 2, 3, 4, 5, 6, 7, 8, 10, 14, 16, 20, 26, 32, 40, 48, 60, 64});
  const std::vector<long> big = expert_gemm_grid(1000);
  CHECK(big.back() == 1000);
  for (std::size_t i = 1; i < big.size(); i++)
    CHECK(big[i] > big[i - 1]);
}

TEST_CASE("bench-kernels: which ops a TP schedule times", "[quick]")
{
  // tp4: every rank has the same shapes, so rank 0 alone is timed; every layer has the same
  // structure, so 4 layers (0..3) plus the step-level ops, each layer op timed as its 4 instances
  // and no grouped GEMM timed; before it, one job per expert GEMM family: up (n = 2 x 768 / 4 =
  // 384, k = 2048) and down (n = 2048, k = 768 / 4 = 192), 16 copies per m (1 GiB / 1.5 MiB is
  // more than the cap of 16).
  const std::vector<KernelBenchJob> jobs = plan_kernel_bench({{"tp4.json", qwen_schedule("tp4", 4, 8)}});
  REQUIRE(jobs.size() == 3);
  const KernelBenchJob& j = jobs[2];
  CHECK(j.label == "tp4.json rank 0");
  CHECK(j.rank == 0);
  const std::vector<Op>& ops = j.schedule.ranks[0].ops;
  std::set<int> layers;
  for (std::size_t i = 0; i < ops.size(); i++) {
    CHECK(ops[i].id == static_cast<int>(i));
    CHECK(op_class(ops[i].kind) == OpClass::compute);
    CHECK(ops[i].deps.empty());
    layers.insert(ops[i].layer);
  }
  CHECK(layers == std::set<int>{-1, 0, 1, 2, 3});
  bool attention = false;
  for (const std::vector<int>& inst : j.ops) {
    const Op& first = ops.at(static_cast<std::size_t>(inst.front()));
    CHECK(first.kind != OpKind::grouped_gemm);
    // every kept op of the same kind, dtype and shape, whichever layer or role (attn.norm and
    // ffn.norm share a config): at least the 4 layers' for a layer op
    std::size_t same = 0;
    for (const Op& o : ops)
      same += o.kind == first.kind && o.dtype == first.dtype && mla(o) == mla(first) &&
              kernel_key(o) == kernel_key(first);
    CHECK(inst.size() == same);
    if (first.layer >= 0)
      CHECK(inst.size() >= 4);
    attention = attention || first.kind == OpKind::attention_decode;
  }
  CHECK(attention);
  std::set<std::string> labels{jobs[0].label, jobs[1].label};
  CHECK(labels == std::set<std::string>{"expert GEMMs n=384 k=2048 bf16", "expert GEMMs n=2048 k=192 bf16"});
  for (std::size_t k = 0; k < 2; k++) {
    const std::vector<Op>& g = jobs[k].schedule.ranks[0].ops;
    REQUIRE(!g.empty());
    CHECK(g[0].kind == OpKind::gemm);
    CHECK(g[0].gemm().m == 1);
    REQUIRE(!jobs[k].ops.empty());
    CHECK(jobs[k].ops[0].size() == 16);
    CHECK(jobs[k].ops.size() * 16 == g.size());
    // the model's facts travel with the schedule (Qwen3-30B-A3B: hidden 2048, 128 experts)
    CHECK(jobs[k].schedule.facts.hidden == 2048);
    CHECK(jobs[k].schedule.facts.moe.experts == 128);
  }
}

TEST_CASE("bench-kernels: no configuration is timed twice", "[quick]")
{
  const Schedule a = qwen_schedule("ep4", 4, 16), b = qwen_schedule("tp2xep2", 4, 16);
  const std::vector<KernelBenchJob> jobs = plan_kernel_bench({{"ep4", a}, {"tp2xep2", b}, {"again", a}});
  std::multiset<std::string> timed;
  for (const KernelBenchJob& j : jobs) {
    CHECK(j.label.rfind("again", 0) != 0); // a schedule seen before adds nothing
    for (const std::vector<int>& inst : j.ops) {
      const Op& op = j.schedule.ranks[static_cast<std::size_t>(j.rank)].ops.at(static_cast<std::size_t>(inst.front()));
      std::ostringstream key;
      key << to_string(op.kind) << to_string(op.dtype) << mla(op);
      for (double d : kernel_key(op))
        key << "," << d;
      timed.insert(key.str());
    }
  }
  for (const std::string& k : timed)
    CHECK(timed.count(k) == 1);
}

TEST_CASE("bench-kernels on a GPU writes what calibrate reads", "[gpu]")
{
  moesim::test::require_gpu();
  moesim::test::TempDir dir("moesim_test_kernel_bench");
  const std::string sched = (dir.path / "s.json").string(), out = (dir.path / "k.json").string();
  {
    std::ofstream f(sched);
    f << schedule_to_json(qwen_schedule("tp2", 2, 4)).dump();
  }
  KernelBenchOptions o = parse_kernel_bench_options({"--iters", "3", "--warmup", "1", "--json", out, sched});
  std::FILE* devnull = std::fopen("/dev/null", "w");
  run_kernel_bench(o, devnull);
  std::fclose(devnull);
  std::ifstream f(out);
  std::stringstream text;
  text << f.rdbuf();
  Calibration c;
  add_kernel_bench(c, text.str(), out);
  CHECK(!c.kernels.empty());
  REQUIRE(c.host.launch_s);
  CHECK(*c.host.launch_s > 0);
  CHECK(*c.host.launch_s < 1e-3);
  REQUIRE(c.host.sync_s);
  CHECK(*c.host.sync_s > 0);
  // Every timed op reads its weights from HBM: no GEMM beats the time to read them at 5 TB/s.
  const Schedule s = qwen_schedule("tp2", 2, 4);
  for (const Op& op : s.ranks[0].ops)
    if (op.kind == OpKind::gemm && op.gemm().batch == 1)
      if (auto t = c.kernel_time(op))
        CHECK(*t > double(op.gemm().n) * op.gemm().k * 2 / 5e12);
}
