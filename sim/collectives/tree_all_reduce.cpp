// Tree all-reduce (NCCL's choice for small buffers): a binary tree over the members; phase 1 every
// child sends the whole buffer to its parent (reduce), phase 2 every parent sends it back to its
// children (broadcast). Member i's parent is (i-1)/2.
#include "sim/collectives/algorithm.hpp"

namespace moesim {

Phases tree_all_reduce(const CollectiveCall& c)
{
  const int n = static_cast<int>(c.ranks.size());
  std::vector<Flow> up, down;
  for (int i = 1; i < n; i++) {
    up.push_back({c.ranks[i], c.ranks[(i - 1) / 2], c.bytes * c.wire_factor});
    down.push_back({c.ranks[(i - 1) / 2], c.ranks[i], c.bytes * c.wire_factor});
  }
  return {up, down};
}

} // namespace moesim
