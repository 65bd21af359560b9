// Direct all-to-all(v): every member sends its share to every other member at once (NCCL issues
// all peers' send/recv in one group). Empty shares and the local share make no flow. A sender's
// rate is shared out over its peers in proportion to bytes (NCCL gives a larger send more
// channels); a share staged through host memory also keeps to its receiver's read rate.
#include "core/costs.hpp"
#include "sim/collectives/algorithm.hpp"

namespace moesim {

Phases direct_all_to_all(const CollectiveCall& c)
{
  const size_t n = c.ranks.size();
  const std::vector<std::vector<bool>> none(c.shm.empty() ? n : 0, std::vector<bool>(n, false));
  const std::vector<std::vector<bool>>& shm = c.shm.empty() ? none : c.shm;
  DirectShares shares;
  if (c.rate > 0)
    shares = direct_shares(c.peer_bytes, shm);
  std::vector<Flow> flows;
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    count += c.peer_bytes[i]->entries().size();
  flows.reserve(count);
  for (size_t i = 0; i < n; i++)
    for (const PeerBytes::Entry& e : c.peer_bytes[i]->entries()) {
      const size_t j = static_cast<size_t>(e.member);
      if (i != j && e.bytes > 0)
        flows.push_back({c.ranks[i], c.ranks[j], e.bytes * c.wire_factor,
                         c.rate > 0 ? direct_flow_rate(shares, e.bytes, i, j, c.rate, shm[i][j], c.shm_rate) : 0});
    }
  Phases phases;
  phases.push_back(std::move(flows)); // moved: a braced list would copy every flow
  return phases;
}

} // namespace moesim
