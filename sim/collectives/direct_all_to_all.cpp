// Direct all-to-all(v): every member sends its share to every other member at once (NCCL issues
// all peers' send/recv in one group). Empty shares and the local share make no flow. A sender's
// rate is shared out over its peers in proportion to bytes (NCCL gives a larger send more
// channels); a share staged through host memory also keeps to its receiver's read rate.
#include "core/costs.hpp"
#include "sim/collectives/algorithm.hpp"

namespace moesim {

Phases direct_all_to_all(const CollectiveCall& c)
{
  const int n = static_cast<int>(c.ranks.size());
  std::vector<std::vector<double>> rates;
  if (c.rate > 0) {
    std::vector<std::vector<bool>> shm = c.shm.empty() ? std::vector<std::vector<bool>>(n, std::vector<bool>(n, false)) : c.shm;
    rates = direct_flow_rates(c.peer_bytes, std::vector<double>(n, c.rate), shm, std::vector<double>(n, c.shm_rate));
  }
  std::vector<Flow> flows;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (i != j && c.peer_bytes[i][j] > 0)
        flows.push_back({c.ranks[i], c.ranks[j], c.peer_bytes[i][j] * c.wire_factor, rates.empty() ? 0 : rates[i][j]});
  return {flows};
}

} // namespace moesim
