// The NCCL communicators that replaying a schedule needs, and which rank joins which: one per set
// of ranks that some collective's group spans (groups of different kinds over the same ranks, like
// attn_tp and stage under tp4, share it, as one engine process group would), plus one over the
// whole world for sends and receives when there are any (point-to-point needs a communicator
// holding both peers; the world one serves every pair, and keeping it apart from the collective
// ones keeps pipeline traffic, on its own stream, out of their issue order).
// No GPU needed: `moesim-validate --check-schedule` prints it.
#pragma once
#include "core/schedule.hpp"

#include <string>
#include <vector>

namespace moesim::validate {

struct CommSpec {
  std::vector<int> groups; // the layout groups (ids, ascending) it carries; empty for the p2p one
  std::string kind;        // their kinds joined by '+' ("attn_tp+stage"), or "p2p"
  std::vector<int> ranks;  // global ranks, ascending; a member's NCCL rank is its index here
};

struct CommPlan {
  std::vector<CommSpec> comms;              // by lowest group id, then the p2p communicator
  std::vector<std::vector<int>> rank_comms; // per global rank: indices into `comms` it joins, ascending
};

// Also checks what a replay relies on, and throws InputError naming `file`, the op and the fix:
// rank i of the schedule is rank i; a collective's rank is a member of its group, its all-to-all
// has one peer_bytes entry per member, and every member of a communicator issues its collectives
// in the same order (NCCL hangs otherwise); a send or receive names another rank of the world, and the sends
// from r to p match the receives on p from r one for one, in order, in tag and size.
CommPlan plan_communicators(const Schedule& s, const std::string& file);

std::string join(const std::vector<int>& v); // {0, 1, 3} -> "0 1 3"

} // namespace moesim::validate
