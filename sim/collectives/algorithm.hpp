// One interface for every collective algorithm: given the call (kind, members, sizes), return the
// point-to-point flows to run, in phases (flows of one phase run concurrently; a phase starts when
// the previous one has finished on every member). SimGrid then shares link bandwidth between
// concurrent flows. Each algorithm lives in its own small file; the table is in algorithms.cpp.
#pragma once
#include "core/schedule.hpp"

#include <vector>

namespace moesim {

struct Flow {
  int src = 0; // global ranks
  int dst = 0;
  double bytes = 0;
};

struct CollectiveCall {
  OpKind kind = OpKind::all_reduce;
  std::vector<int> ranks;                     // members in group order
  double bytes = 0;                           // NCCL's size (identical on every member)
  std::vector<std::vector<double>> peer_bytes; // all_to_all: [i][j] bytes member i sends member j
  double wire_factor = 1;                     // protocol overhead on the wire
};

using Phases = std::vector<std::vector<Flow>>;
using AlgorithmFn = Phases (*)(const CollectiveCall&);

// Every member sends `per_member` bytes to its successor in group order, all at once (ring_*.cpp).
Phases ring_to_successor(const CollectiveCall& c, double per_member);

Phases ring_all_reduce(const CollectiveCall& c);
Phases ring_all_gather(const CollectiveCall& c);
Phases ring_reduce_scatter(const CollectiveCall& c);
Phases tree_all_reduce(const CollectiveCall& c);
Phases direct_all_to_all(const CollectiveCall& c);
Phases one_shot_all_reduce(const CollectiveCall& c);
Phases two_shot_all_reduce(const CollectiveCall& c);

// The algorithm for (kind, algo); throws std::invalid_argument for a pair that has none.
AlgorithmFn find_algorithm(OpKind kind, CollAlgo algo);

} // namespace moesim
