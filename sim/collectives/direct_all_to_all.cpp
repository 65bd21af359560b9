// Direct all-to-all(v): every member sends its share to every other member at once (NCCL issues
// all peers' send/recv in one group: docs/simgrid-and-nccl.md, "Send/recv and all-to-all"). Empty
// shares and the local share make no flow.
#include "sim/collectives/algorithm.hpp"

namespace moesim {

Phases direct_all_to_all(const CollectiveCall& c)
{
  const int n = static_cast<int>(c.ranks.size());
  std::vector<Flow> flows;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (i != j && c.peer_bytes[i][j] > 0)
        flows.push_back({c.ranks[i], c.ranks[j], c.peer_bytes[i][j] * c.wire_factor});
  return {flows};
}

} // namespace moesim
