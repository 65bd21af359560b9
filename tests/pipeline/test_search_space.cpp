// The search space (pipeline/search_space.hpp): how many plans a model has on 8 GPUs, counted by
// hand, and plan specs that Plan::parse reads back to the same plan.
#include "core/model_loader.hpp"
#include "pipeline/search_space.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace moesim;

namespace {

Model qwen235()
{
  return load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/qwen3-235b-a22b.yaml").model;
}

} // namespace

TEST_CASE("divisors", "[quick][search]")
{
  CHECK(divisors(8) == std::vector<int>{1, 2, 4, 8});
  CHECK(divisors(12) == std::vector<int>{1, 2, 3, 4, 6, 12});
  CHECK(divisors(1) == std::vector<int>{1});
}

TEST_CASE("Qwen3-235B on 8 GPUs: 100 plans, counted by hand", "[quick][search]")
{
  // Qwen3-235B-A22B: 64 query heads, 4 KV heads, 128 experts of width 1536, no shared expert, 94
  // layers. Every divisor of 8 divides 64, 128 and 1536, and 4 KV heads divide TP 1, 2, 4 and are
  // divided by TP 8: no degree is refused. The only rules that bite: all_reduce needs attention DP 1,
  // and a stage of one GPU has one dispatch.
  //   PP1, S=8: attention (TP,DP) 4 ways x MoE (TP,EP) 4 ways = 16 for a2a, 16 for allgather,
  //             4 for allreduce (DP 1 only)                                  = 36
  //   PP2, S=4: 3 x 3 = 9 + 9 + 3 = 21, x 2 microbatch choices (2, 4)       = 42
  //   PP4, S=2: 2 x 2 = 4 + 4 + 2 = 10, x 2 (4, 8)                          = 20
  //   PP8, S=1: one plan, x 2 (8, 16)                                       =  2
  //   total                                                                 = 100
  const std::vector<Plan> plans = enumerate_plans(qwen235(), 8);
  CHECK(plans.size() == 100);
  std::set<std::string> names;
  for (const Plan& p : plans)
    names.insert(p.name);
  CHECK(names.size() == 100); // every spec names one plan
}

TEST_CASE("the enumeration keeps exactly what make_layout accepts", "[quick][search]")
{
  // 4 experts: EP 8 is refused (8 does not divide 4). Recount with EP in {1, 2, 4}:
  //   PP1, S=8: attention 4 ways x MoE 3 ways = 12 a2a + 12 allgather + 3 allreduce = 27
  //   PP2, S=4: 3 x 3 = 9 + 9 + 3 = 21, x 2                                          = 42
  //   PP4, S=2: 2 x 2 = 4 + 4 + 2 = 10, x 2                                          = 20
  //   PP8, S=1: 1 x 2                                                                =  2
  //   total                                                                          = 91
  Model m = qwen235();
  m.moe.experts = 4;
  CHECK(enumerate_plans(m, 8).size() == 91);
  // 2 layers: PP4 and PP8 refused (more stages than layers): 36 + 42 = 78.
  Model two = qwen235();
  two.layers = 2;
  CHECK(enumerate_plans(two, 8).size() == 78);
}

TEST_CASE("a plan's spec reads back to the same plan", "[quick][search]")
{
  for (const Plan& p : enumerate_plans(qwen235(), 8)) {
    INFO(p.name << " = " << p.describe());
    const Plan q = Plan::parse(p.name);
    CHECK(q.attn_tp == p.attn_tp);
    CHECK(q.attn_dp == p.attn_dp);
    CHECK(q.moe_tp == p.moe_tp);
    CHECK(q.ep == p.ep);
    CHECK(q.pp == p.pp);
    CHECK(q.microbatches == p.microbatches);
    CHECK(q.expert_comm == p.expert_comm);
  }
  Plan p;
  p.attn_tp = 4;
  p.attn_dp = 2;
  p.ep = 8;
  p.expert_comm = ExpertComm::all_to_all;
  CHECK(plan_spec(p) == "ep8xdp2:a2a");
  Plan one; // a stage of one GPU
  one.pp = 8;
  one.microbatches = 16;
  CHECK(plan_spec(one) == "tp1xpp8:allreduce:mb16");
}
