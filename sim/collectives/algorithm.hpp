// One interface for every collective algorithm: given the call (kind, members, sizes), return the
// point-to-point flows to run, in phases (flows of one phase run concurrently; a phase starts when
// the previous one has finished on every member). SimGrid then shares link bandwidth between
// concurrent flows; each flow also runs no faster than its rate cap, the speed NCCL's channels
// move data at. Each algorithm lives in its own small file; the table is in algorithms.cpp.
#pragma once
#include "core/schedule.hpp"

#include <vector>

namespace moesim {

struct Flow {
  int src = 0; // global ranks
  int dst = 0;
  double bytes = 0;
  double rate = 0; // B/s at most (0: only the links limit it)
};

struct CollectiveCall {
  OpKind kind = OpKind::all_reduce;
  std::vector<int> ranks;                      // members in group order
  double bytes = 0;                            // NCCL's size (identical on every member)
  // all_to_all: (*peer_bytes[i])[j] bytes member i sends member j; the rows are the members' own
  // (Op::peer_bytes), not copies.
  std::vector<const PeerBytes*> peer_bytes;
  double wire_factor = 1;                      // protocol overhead on the wire
  double rate = 0;                             // ring, tree: each flow; direct: each sender in all (B/s on the wire)
  double shm_rate = 0;                         // what a member reads through host memory in all (B/s on the wire)
  std::vector<std::vector<bool>> shm;          // [i][j]: member i reaches member j through host memory
  std::vector<int> node;                       // per member: its node
  int rings = 1;                               // parallel rings, each entering every node on another GPU
};

using Phases = std::vector<std::vector<Flow>>;
using AlgorithmFn = Phases (*)(const CollectiveCall&);

// The member order of each of the call's `rings` channels: channel r visits the nodes in group
// order and each node's members starting from its r-th, so that channels cross between nodes on
// different GPUs (and through their NICs), as NCCL's channels do.
std::vector<std::vector<int>> channel_orders(const CollectiveCall& c);
// A flow's rate cap on one channel: the call's rate shared over the channels, and for a hop through
// host memory no more than the receiver's read rate (shared likewise).
double channel_rate(const CollectiveCall& c, int i, int j);

// `rings` rings, each member sending `per_member` / rings bytes to its successor in each at once
// (ring_*.cpp).
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
