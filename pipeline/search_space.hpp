// Search space: every plan `moesim search` considers for a model on a GPU count, and the rule that
// enumerates them. A plan is kept when core's make_layout accepts it (the one validity rule);
// the enumeration only chooses which degrees to try:
//   PP in the divisors of G (at most the model's layers); stage size S = G / PP;
//   attention TP x DP = S (TP over the divisors of S); MoE TP x EP = S (EP over the divisors of S);
//   experts via all_to_all, allgather or all_reduce (one choice when S = 1: no expert traffic);
//   microbatches PP and 2 PP when PP > 1 (1 otherwise).
// Order (the stable key of every later step): PP, attention TP, EP, dispatch (a2a, allgather,
// allreduce), microbatches, all ascending. Names are specs Plan::parse reads back.
#pragma once
#include "core/model.hpp"
#include "core/plan.hpp"

#include <string>
#include <vector>

namespace moesim {

// The spec of a plan as Plan::parse reads it: "tp2xep4xdp2xpp2:a2a:mb4" (degrees of 1 left out,
// the dispatch always written, :mbN only with PP).
std::string plan_spec(const Plan& p);

// Every plan of `gpus` GPUs that make_layout accepts for `model`, in the order above.
std::vector<Plan> enumerate_plans(const Model& model, int gpus);

// The divisors of n, ascending.
std::vector<int> divisors(int n);

} // namespace moesim
