// Tree all-reduce. Inside a node NCCL's tree is a chain (trees.cc): phase 1 every member but the
// first sends the whole buffer to its predecessor (reduce towards the root, pipelined), phase 2
// the reverse (broadcast). Across nodes the node chains are linked the same way; each channel
// crosses between nodes on other GPUs (channel_orders), carrying its share of the buffer.
#include "sim/collectives/algorithm.hpp"

namespace moesim {

Phases tree_all_reduce(const CollectiveCall& c)
{
  const int n = static_cast<int>(c.ranks.size());
  const auto orders = channel_orders(c);
  std::vector<Flow> up, down;
  for (const std::vector<int>& order : orders)
    for (int k = 1; k < n; k++) {
      const int child = order[k], parent = order[k - 1];
      const double bytes = c.bytes / orders.size() * c.wire_factor;
      up.push_back({c.ranks[child], c.ranks[parent], bytes, channel_rate(c, child, parent)});
      down.push_back({c.ranks[parent], c.ranks[child], bytes, channel_rate(c, parent, child)});
    }
  return {up, down};
}

} // namespace moesim
