// Shard: one GPU's slice of the model (widths after tensor, expert and attention-DP splitting), as
// the schedule builder and the memory estimate both take it.
#pragma once
#include "core/model.hpp"
#include "core/plan.hpp"

namespace moesim {

struct Shard {
  int q_heads = 0;    // attention heads on this rank
  int kv_heads = 0;   // KV heads on this rank (replicated when TP exceeds the KV head count)
  int dense_inter = 0;
  int expert_inter = 0;
  int experts = 0;     // local routed experts
  int first_expert = 0;
};

Shard shard_of(const Model& m, const Layout& L, int rank);

} // namespace moesim
