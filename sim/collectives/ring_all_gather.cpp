// Ring all-gather: each member forwards n-1 chunks of size S/n (S = the gathered output) to its
// successor: (n-1)/n * S per member, all members at once.
#include "sim/collectives/algorithm.hpp"

namespace moesim {

Phases ring_all_gather(const CollectiveCall& c)
{
  const double n = static_cast<double>(c.ranks.size());
  return ring_to_successor(c, (n - 1) / n * c.bytes);
}

} // namespace moesim
