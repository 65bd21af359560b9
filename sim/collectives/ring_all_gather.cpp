// Ring all-gather: each member forwards n-1 chunks of size S/n (S = the gathered output) to its
// successor: (n-1)/n * S per member, all members at once.
#include "sim/collectives/algorithm.hpp"

namespace moesim {

Phases ring_all_gather(const CollectiveCall& c)
{
  const int n = static_cast<int>(c.ranks.size());
  std::vector<Flow> flows;
  for (int i = 0; i < n; i++)
    flows.push_back({c.ranks[i], c.ranks[(i + 1) % n], double(n - 1) / n * c.bytes * c.wire_factor});
  return {flows};
}

} // namespace moesim
