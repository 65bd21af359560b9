// Plans and layouts: parsing plan specs, every impossibility refused with its reason, and the
// communicator groups of the hybrids.
#include "core/model_loader.hpp"
#include "core/plan.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using Catch::Matchers::Contains;

namespace {
Model load(const std::string& name)
{
  return load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/" + name + ".yaml").model;
}
} // namespace

TEST_CASE("plan specs parse into degrees", "[quick][plan]")
{
  Plan tp = Plan::parse("tp4");
  CHECK((tp.attn_tp == 4 && tp.attn_dp == 1 && tp.moe_tp == 4 && tp.ep == 1 && tp.pp == 1));
  CHECK(tp.expert_comm == ExpertComm::all_reduce);
  Plan ep = Plan::parse("ep4");
  CHECK((ep.attn_tp == 4 && ep.moe_tp == 1 && ep.ep == 4));
  CHECK(ep.expert_comm == ExpertComm::all_to_all);
  Plan h = Plan::parse("tp2xep2");
  CHECK((h.attn_tp == 4 && h.moe_tp == 2 && h.ep == 2 && h.world() == 4));
  Plan pp = Plan::parse("tp2xpp2");
  CHECK((pp.attn_tp == 2 && pp.moe_tp == 2 && pp.pp == 2 && pp.world() == 4 && pp.microbatches == 2));
  Plan p4 = Plan::parse("pp4");
  CHECK((p4.stage_size() == 1 && p4.world() == 4));
  Plan dp = Plan::parse("dp4xep4");
  CHECK((dp.attn_dp == 4 && dp.attn_tp == 1 && dp.ep == 4 && dp.expert_comm == ExpertComm::all_to_all));
  Plan dpg = Plan::parse("dp2xtp2");
  CHECK((dpg.attn_dp == 2 && dpg.attn_tp == 1 && dpg.moe_tp == 2 && dpg.expert_comm == ExpertComm::allgather));
  Plan opt = Plan::parse("ep4xpp2:allgather:mb4");
  CHECK((opt.expert_comm == ExpertComm::allgather && opt.microbatches == 4 && opt.world() == 8));
}

TEST_CASE("malformed plan specs are refused with the grammar", "[quick][plan]")
{
  CHECK_THROWS_WITH(Plan::parse("tq4"), Contains("tq4") && Contains("e.g. tp4"));
  CHECK_THROWS_WITH(Plan::parse("tp0"), Contains("at least 1"));
  CHECK_THROWS_WITH(Plan::parse("tp4xtp2"), Contains("tp4xtp2"));
  CHECK_THROWS_WITH(Plan::parse("ep4:fast"), Contains(":fast"));
  CHECK_THROWS_WITH(Plan::parse("tp2xdp4"), Contains("does not divide"));
}

TEST_CASE("impossible layouts name the reason and the fix", "[quick][plan]")
{
  const Model qwen = load("qwen3-coder-480b-a35b"); // 96 q heads, 8 kv heads, 160 experts, 62 layers
  const Model mixtral = load("mixtral-8x7b");       // 8 experts
  CHECK_THROWS_WITH(make_layout(Plan::parse("tp4"), qwen, 8), Contains("uses 4 GPUs but the platform has 8"));
  CHECK_THROWS_WITH(make_layout(Plan::parse("dp3xep3"), mixtral, 3), Contains("8 experts do not divide by EP 3"));
  CHECK_THROWS_WITH(make_layout(Plan::parse("tp5"), qwen, 5), Contains("96 attention heads do not divide"));
  CHECK_THROWS_WITH(make_layout(Plan::parse("dp3xtp3"), qwen, 3), Contains("expert width 2560 does not divide by MoE TP 3"));
  Plan bad = Plan::parse("dp4xtp4");
  bad.expert_comm = ExpertComm::all_reduce;
  CHECK_THROWS_WITH(make_layout(bad, qwen, 4), Contains("use :allgather or :a2a"));
  Plan mismatch;
  mismatch.name = "custom";
  mismatch.attn_tp = 4;
  mismatch.moe_tp = 2;
  CHECK_THROWS_WITH(make_layout(mismatch, qwen, 4), Contains("MoE TP x EP = 2"));
}

TEST_CASE("tp2xep2 groups: MoE TP pairs, EP pairs, one attention group", "[quick][plan]")
{
  const Layout L = make_layout(Plan::parse("tp2xep2"), load("qwen3-coder-480b-a35b"), 4);
  // Stage rank i: ep index i / moe_tp, moe_tp index i % moe_tp.
  CHECK(L.group(L.moe_tp_group[0]).ranks == std::vector<int>{0, 1});
  CHECK(L.group(L.moe_tp_group[3]).ranks == std::vector<int>{2, 3});
  CHECK(L.group(L.ep_group[0]).ranks == std::vector<int>{0, 2});
  CHECK(L.group(L.ep_group[1]).ranks == std::vector<int>{1, 3});
  CHECK(L.group(L.attn_tp_group[2]).ranks == std::vector<int>{0, 1, 2, 3});
  CHECK(L.ranks[3].ep == 1);
  CHECK(L.ranks[3].moe_tp == 1);
}

TEST_CASE("pipeline stages split layers as evenly as possible", "[quick][plan]")
{
  // 62 layers over 4 stages: 62 = 4*15 + 2, so the first two stages get 16.
  const Layout L = make_layout(Plan::parse("pp4"), load("qwen3-coder-480b-a35b"), 4);
  REQUIRE(L.stage_layers.size() == 4);
  CHECK(L.stage_layers[0] == std::pair{0, 16});
  CHECK(L.stage_layers[1] == std::pair{16, 32});
  CHECK(L.stage_layers[2] == std::pair{32, 47});
  CHECK(L.stage_layers[3] == std::pair{47, 62});
  CHECK(L.ranks[3].stage == 3);
  CHECK(split_even(7, 3) == std::vector<int>{3, 2, 2});
}
