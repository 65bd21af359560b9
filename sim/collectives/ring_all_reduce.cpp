// Ring all-reduce: reduce-scatter then all-gather around the ring, pipelined. Each member sends
// 2(n-1)/n of the buffer to its successor, all members at once (nccl-tests busbw factor 2(n-1)/n).
#include "sim/collectives/algorithm.hpp"

#include <algorithm>

namespace moesim {

Phases ring_to_successor(const CollectiveCall& c, double per_member)
{
  const int n = static_cast<int>(c.ranks.size());
  const int rings = std::max(1, c.rings);
  // Members by node, in group order (a single node when the call does not say).
  std::vector<std::vector<int>> nodes;
  for (int i = 0; i < n; i++) {
    if (nodes.empty() || (!c.node.empty() && c.node[i] != c.node[nodes.back().front()]))
      nodes.emplace_back();
    nodes.back().push_back(i);
  }
  std::vector<Flow> flows;
  for (int r = 0; r < rings; r++) {
    std::vector<int> order;
    for (const auto& members : nodes)
      for (size_t t = 0; t < members.size(); t++)
        order.push_back(members[(r + t) % members.size()]);
    for (int k = 0; k < n; k++) {
      const int i = order[k], j = order[(k + 1) % n];
      double rate = c.rate / rings;
      if (!c.shm.empty() && c.shm[i][j] && c.shm_rate > 0)
        rate = rate > 0 ? std::min(rate, c.shm_rate / rings) : c.shm_rate / rings;
      flows.push_back({c.ranks[i], c.ranks[j], per_member / rings * c.wire_factor, rate});
    }
  }
  return {flows};
}

Phases ring_all_reduce(const CollectiveCall& c)
{
  const double n = static_cast<double>(c.ranks.size());
  return ring_to_successor(c, 2.0 * (n - 1) / n * c.bytes);
}

} // namespace moesim
