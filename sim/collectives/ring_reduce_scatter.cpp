// Ring reduce-scatter: the mirror of the all-gather; S = the input buffer, (n-1)/n * S per member.
#include "sim/collectives/algorithm.hpp"

namespace moesim {

Phases ring_reduce_scatter(const CollectiveCall& c)
{
  const int n = static_cast<int>(c.ranks.size());
  std::vector<Flow> flows;
  for (int i = 0; i < n; i++)
    flows.push_back({c.ranks[i], c.ranks[(i + 1) % n], double(n - 1) / n * c.bytes * c.wire_factor});
  return {flows};
}

} // namespace moesim
