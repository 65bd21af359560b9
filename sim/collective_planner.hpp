// CollectivePlanner: what NCCL would do for one collective on a platform: its algorithm, protocol
// and fixed cost from the cost model or the platform's measured curves, the communicator's shape
// (built once per member list), a calibrated collective's flows held to the measured time, and the
// links' own latencies. The replay (simulation.cpp) asks it once per collective instance.
#pragma once
#include "sim/collectives/algorithm.hpp"
#include "sim/platform.hpp"

#include <map>
#include <vector>

namespace moesim {

class CollectivePlanner {
public:
  explicit CollectivePlanner(const Platform& p) : p_(p) {}

  const CommShape& shape(const std::vector<int>& ranks);
  // per_root: an all_gather / reduce_scatter run as one broadcast / reduce per member (Op::per_root).
  CollChoice choose(OpKind kind, const std::vector<int>& ranks, double bytes, int curve_ranks = 0,
                    bool per_root = false);
  void hold_to_measurement(Phases& phases) const;
  double wire_latency(OpKind kind, CollAlgo algo, const std::vector<int>& ranks) const;

private:
  const Platform& p_;
  std::map<std::vector<int>, CommShape> shapes_; // communicator -> what the cost model sees
};

} // namespace moesim
