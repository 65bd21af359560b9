// Plan: how a model is split (attention TP x DP, MoE TP x EP, PP) and how tokens reach experts.
// Layout: the plan applied to a GPU count: each rank's coordinates and every communicator group.
#pragma once
#include <string>
#include <vector>

namespace moesim {

struct Model;

enum class ExpertComm {
  all_to_all,  // tokens partitioned across ranks; dispatch/combine all-to-all-v
  all_reduce,  // tokens replicated over the whole stage; one all-reduce after the experts
  allgather,   // tokens partitioned; all-gather before the experts, reduce-scatter after
};
const char* to_string(ExpertComm c);

struct Plan {
  std::string name;
  std::string where; // where the plan was written, for messages: "study.yaml:12", "--plan"
  int attn_tp = 1;
  int attn_dp = 1;
  int moe_tp = 1;
  int ep = 1;
  int pp = 1;
  int microbatches = 1;
  ExpertComm expert_comm = ExpertComm::all_reduce;
  bool comm_explicit = false;  // the plan names how tokens reach the experts (":a2a", experts_via)
  int redundant_experts = 0;   // extra expert slots over the EP ranks (EPLB replicas)

  int stage_size() const { return attn_tp * attn_dp; }
  int world() const { return stage_size() * pp; }
  // "tp4", "ep4", "pp4", "tp2xep2", "tp2xpp2", "dp4xep4", "ep4xpp2"; optional ":a2a" / ":allreduce" /
  // ":allgather" suffix and ":mbN" for PP microbatches. Throws std::invalid_argument explaining why,
  // also for a degree above limits::gpus or more microbatches than limits::batch.
  static Plan parse(const std::string& spec);
  std::string describe() const; // "attn TP4xDP1 | MoE TP1xEP4 | PP1 | all_to_all"
};

enum class GroupKind { attn_tp, moe_tp, ep, stage, dp };
const char* to_string(GroupKind k);

struct Group {
  int id = 0;
  GroupKind kind = GroupKind::stage;
  std::vector<int> ranks; // global ranks, ascending
  int index_of(int rank) const;
};

struct RankCoord {
  int rank = 0;
  int stage = 0;    // pp stage
  int local = 0;    // index within the stage
  int attn_dp = 0;  // attention data-parallel replica
  int attn_tp = 0;  // index within the attention TP group
  int ep = 0;       // expert-parallel index (which expert shard)
  int moe_tp = 0;   // index within the MoE TP group
};

struct Layout {
  Plan plan;
  int world = 0;
  std::vector<RankCoord> ranks;
  std::vector<Group> groups;
  // group ids per rank
  std::vector<int> attn_tp_group, moe_tp_group, ep_group, stage_group, dp_group;
  // layers [first, last) of each stage
  std::vector<std::pair<int, int>> stage_layers;

  const Group& group(int id) const { return groups.at(id); }
  int rank_of(int stage, int local) const { return stage * plan.stage_size() + local; }
};

// Checks degrees and divisibility against the model and the GPU count, then builds the layout.
// Throws std::invalid_argument with the reason and the fix.
Layout make_layout(const Plan& plan, const Model& model, int gpus);

// Splits n items into `parts` nearly equal parts (the first n % parts get one more).
std::vector<int> split_even(int n, int parts);

} // namespace moesim
