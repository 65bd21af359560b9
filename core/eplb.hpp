// Redundant experts (EPLB): where an engine puts E experts in E + R slots over the EP ranks. The
// placement follows DeepSeek's expert-parallel load balancer (deepseek-ai/eplb, global policy): give
// each further slot to the expert with the highest load per replica, then pack the replicas onto
// ranks heaviest first, each onto the least loaded rank with a free slot. Ties go to the lower index,
// so the same loads always give the same placement. A token of an expert with several replicas goes
// to each replica in equal shares.
#pragma once
#include <vector>

namespace moesim {

struct ExpertPlacement {
  int experts = 0;
  int ranks = 0;
  std::vector<int> replicas;                 // [expert] replica count (>= 1)
  std::vector<std::vector<int>> rank_slots;  // [rank] expert id of each slot, in packing order
  std::vector<double> rank_load;             // [rank] sum of the expert loads it serves
  int slots_per_rank() const { return ranks > 0 ? static_cast<int>(rank_slots[0].size()) : 0; }
  // max over ranks / mean over ranks of rank_load (1 = balanced)
  double imbalance() const;
};

// `load[e]` >= 0: the expected tokens (or any load measure) of expert e. E + redundant must be a
// multiple of `ranks`; otherwise std::invalid_argument says which redundancy would divide.
ExpertPlacement place_experts(const std::vector<double>& load, int ranks, int redundant);

// Tokens each rank's experts receive when every expert's tokens split evenly over its replicas.
std::vector<double> rank_tokens(const ExpertPlacement& p, const std::vector<double>& expert_tokens);

} // namespace moesim
