// Tree all-reduce. Inside a node NCCL's tree is a chain (trees.cc): phase 1 every member but the
// first sends the whole buffer to its predecessor (reduce towards the root, pipelined), phase 2
// the reverse (broadcast). Across nodes the node chains are linked the same way, first member to
// first member.
#include "sim/collectives/algorithm.hpp"

#include <algorithm>

namespace moesim {

Phases tree_all_reduce(const CollectiveCall& c)
{
  const int n = static_cast<int>(c.ranks.size());
  std::vector<Flow> up, down;
  for (int i = 1; i < n; i++) {
    double rate = c.rate;
    if (!c.shm.empty() && c.shm_rate > 0 && (c.shm[i][i - 1] || c.shm[i - 1][i]))
      rate = rate > 0 ? std::min(rate, c.shm_rate) : c.shm_rate;
    up.push_back({c.ranks[i], c.ranks[i - 1], c.bytes * c.wire_factor, rate});
    down.push_back({c.ranks[i - 1], c.ranks[i], c.bytes * c.wire_factor, rate});
  }
  return {up, down};
}

} // namespace moesim
