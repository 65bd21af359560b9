// What a replay refuses before it touches a GPU (validate/op_check.hpp): one function, used by
// `moesim-validate --check-schedule`, by `run` and by the op executor, so all three refuse with the
// same message. [quick] needs no GPU; the executor's case is [gpu].
#include "core/error.hpp"
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "tests/kernels/gpu_test.hpp"
#include "validate/op_check.hpp"
#include "validate/op_executor.hpp"
#include "validate/runner.hpp"
#include "tests/refusal.hpp"

#include <catch2/catch.hpp>

#include <functional>

using namespace moesim;
using namespace moesim::validate;

namespace {

Model load(const std::string& name, int layers)
{
  Model m = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/" + name + ".yaml").model;
  m.layers = layers;
  m.dense_layers = std::min(m.dense_layers, layers);
  return m;
}

Schedule build(const Model& m, const std::string& plan, int gpus, StepShape st, bool graphs = false)
{
  BuildOptions o;
  o.engine.cuda_graphs = graphs;
  return build_schedule(m, make_layout(Plan::parse(plan), m, gpus), st, o);
}

// DeepSeek-V3 with other MLA head dims: prefill attends with qk = nope + rope and v.
Schedule mla_dims(int nope, int rope, int v)
{
  Model m = load("deepseek-v3", 1);
  m.attn.qk_nope_head_dim = nope;
  m.attn.qk_rope_head_dim = rope;
  m.attn.v_head_dim = v;
  return build(m, "tp4", 4, StepShape{Phase::prefill, 1, 0, 64});
}

// Head dims kernels::attention has no kernel for: qk = 75 + 25 = 100 and v = 100, not multiples of 16.
Schedule odd_mla()
{
  return mla_dims(75, 25, 100);
}

using test::refusal;

} // namespace

TEST_CASE("check_replayable passes what the builder makes for the kernels there are", "[quick]")
{
  const Schedule mla = build(load("deepseek-v3", 4), "tp4", 4, StepShape{Phase::decode, 8, 100, 0});
  const Schedule gqa = build(load("qwen3-30b-a3b", 2), "ep4", 4, StepShape{Phase::prefill, 2, 0, 32});
  const Schedule windowed = build(load("gpt-oss-20b", 2), "tp2", 2, StepShape{Phase::decode, 3, 500, 0}, true);
  CHECK_NOTHROW(check_replayable(mla, "a", false));
  CHECK_NOTHROW(check_replayable(gqa, "b", false));
  CHECK_NOTHROW(check_replayable(windowed, "c", true));
}

TEST_CASE("check_replayable refuses head dims kernels::attention lacks, as run does", "[quick]")
{
  const Schedule s = odd_mla();
  // Rank 0's first attention is layer 0's.
  const std::string want = "bad.json: rank 0 op L0.attn.core: attention head dims (qk 100, v 100) are not supported "
                           "by kernels::attention";
  const std::string checked = refusal([&] { check_replayable(s, "bad.json", false); });
  CHECK_THAT(checked, Catch::StartsWith(want));
  // run refuses before it looks for GPUs, with the same message.
  CHECK(refusal([&] { run_schedule(s, "bad.json", RunConfig{}); }) == checked);
  // One op alone.
  for (const Op& op : s.ranks[0].ops)
    if (op.kind == OpKind::attention_prefill)
      CHECK(refusal([&] { check_op(s, 0, op, "bad.json"); }) == checked);
}

TEST_CASE("check_replayable takes any head dims that are multiples of 16 up to 576, and refuses others alike", "[quick]")
{
  // kernels::attention runs qk and v head dims that are multiples of 16 from 16 to 576, independently:
  // qk = 64 + 16 = 80 with v = 112, and qk = 512 + 64 = 576 with v = 16, are replayable.
  CHECK_NOTHROW(check_replayable(mla_dims(64, 16, 112), "a.json", false));
  CHECK_NOTHROW(check_replayable(mla_dims(512, 64, 16), "b.json", false));
  // Beyond the range (qk = 576 + 16 = 592) or off the grid (v = 120, qk = 104 + 16 = 120): one
  // message, naming the dims and the rule.
  const std::string fix = " are not supported by kernels::attention (fix: use head dims that are multiples of 16 from "
                          "16 to 576)";
  CHECK(refusal([&] { check_replayable(mla_dims(576, 16, 128), "c.json", false); }) ==
        "c.json: rank 0 op L0.attn.core: attention head dims (qk 592, v 128)" + fix);
  CHECK(refusal([&] { check_replayable(mla_dims(104, 16, 120), "d.json", false); }) ==
        "d.json: rank 0 op L0.attn.core: attention head dims (qk 120, v 120)" + fix);
}

TEST_CASE("check_replayable refuses a top-k above kernels::max_top_k, and host syncs in a graph", "[quick]")
{
  // Qwen3-30B-A3B with 9 of its 128 experts per token: the top-k kernel takes at most 8.
  Model m = load("qwen3-30b-a3b", 1);
  m.moe.top_k = 9;
  const Schedule s = build(m, "tp2", 2, StepShape{Phase::decode, 4, 100, 0});
  const std::string why = refusal([&] { check_replayable(s, "k.json", false); });
  CHECK(why == "k.json: rank 0 op L0.moe.topk: top-k 9 of 128 experts is not supported (at most 8) (fix: raise "
               "kernels::max_top_k)");
  CHECK(refusal([&] { run_schedule(s, "k.json", RunConfig{}); }) == why);

  // An eager expert-parallel step syncs the all-to-all counts with the host: fine eagerly, refused
  // as a CUDA graph (by --check-schedule --graph and run --graph alike).
  const Schedule ep = build(load("qwen3-30b-a3b", 1), "ep2", 2, StepShape{Phase::decode, 4, 100, 0});
  CHECK_NOTHROW(check_replayable(ep, "ep.json", false));
  const std::string graph = refusal([&] { check_replayable(ep, "ep.json", true); });
  CHECK_THAT(graph, Catch::StartsWith("ep.json: ") && Catch::Contains("host"));
  CHECK(refusal([&] { run_schedule(ep, "ep.json", RunConfig{true, 1, 0, 1}); }) == graph);
}

TEST_CASE("check_op refuses a shape of another kind and out-of-range sizes", "[quick]")
{
  Schedule s = build(load("qwen3-30b-a3b", 1), "tp1", 1, StepShape{Phase::decode, 4, 100, 0});
  Op& first = s.ranks[0].ops.at(0); // the embedding
  REQUIRE(first.kind == OpKind::embedding);
  first.shape = GemmShape{1, 2, 3};
  CHECK(refusal([&] { check_op(s, 0, first, "s.json"); }) ==
        "s.json: rank 0 op embed: the shape is not a embedding shape (fix: write the schedule with `moesim schedule`)");
  for (Op& op : s.ranks[0].ops)
    if (op.kind == OpKind::permute) {
      PermuteShape p = op.permute();
      p.first_expert = 120, p.experts = 16; // experts 120..135 of 128
      op.shape = p;
      CHECK_THAT(refusal([&] { check_op(s, 0, op, "s.json"); }),
                 Catch::Contains("keeps experts 120..135 of a model with 128"));
      break;
    }
}

TEST_CASE("the op executor refuses with check_replayable's message", "[gpu]")
{
  moesim::test::require_gpu();
  const Schedule s = odd_mla();
  OpExecutorOptions o;
  o.file = "bad.json";
  const std::string checked = refusal([&] { check_replayable(s, "bad.json", false); });
  CHECK(refusal([&] { OpExecutor ex(s, 0, 1, o); }) == checked);
}
