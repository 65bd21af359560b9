// Ring reduce-scatter: the mirror of the all-gather; S = the input buffer, (n-1)/n * S per member,
// each step's chunk reduced on arrival.
#include "sim/collectives/algorithm.hpp"

namespace moesim {

Phases ring_reduce_scatter(const CollectiveCall& c)
{
  const double n = static_cast<double>(c.ranks.size());
  return ring_to_successor(c, (n - 1) / n * c.bytes);
}

} // namespace moesim
