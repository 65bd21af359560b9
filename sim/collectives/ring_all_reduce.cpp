// Ring all-reduce: reduce-scatter then all-gather around the ring, pipelined. Each member sends
// 2(n-1)/n of the buffer to its successor, all members at once (nccl-tests busbw factor 2(n-1)/n).
#include "sim/collectives/algorithm.hpp"

namespace moesim {

Phases ring_to_successor(const CollectiveCall& c, double per_member)
{
  const int n = static_cast<int>(c.ranks.size());
  const auto orders = channel_orders(c);
  std::vector<Flow> flows;
  for (const std::vector<int>& order : orders)
    for (int k = 0; k < n; k++) {
      const int i = order[k], j = order[(k + 1) % n];
      flows.push_back({c.ranks[i], c.ranks[j], per_member / orders.size() * c.wire_factor, channel_rate(c, i, j)});
    }
  return {flows};
}

Phases ring_all_reduce(const CollectiveCall& c)
{
  const double n = static_cast<double>(c.ranks.size());
  return ring_to_successor(c, 2.0 * (n - 1) / n * c.bytes);
}

} // namespace moesim
