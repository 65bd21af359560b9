// RouteTable: every ordered GPU pair's route, held per rail instead of per pair, so that it grows
// with the GPUs, not their square. route_topology's routes across nodes (outside one NVLink domain)
// are made of three parts (route_policy.hpp): the sender's way to a NIC, which depends on the
// sender and the destination's rail only (PXN: the local GPU on that rail forwards it); the fabric
// between the two NICs (a tree: NIC, leaf, spine); the receiver's way from its NIC, which depends
// on the receiver only. The table keeps those parts once each, plus every pair inside one block of
// nodes whole (a node, or an NVLink domain of several), and puts a route together on demand: the
// same hops, kind and detail as route_topology gives that pair (tests/topology/test_route_table.cpp
// checks every pair of shipped and generated platforms). At 4,096 GPUs: 33,000 sender parts and
// 4,096 receiver parts in place of 16.8 million routes.
#pragma once
#include "topology/route_policy.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace moesim {

struct RouteTable {
  // A run of hops in `pool`, with the kind and detail (indices into kinds, details; -1: none) of
  // the routes it starts.
  struct Piece {
    std::uint32_t first = 0, count = 0;
    int kind = -1, detail = -1;
  };

  int gpus = 0;        // GPUs in all
  int per_node = 1;    // GPUs per node
  int block_gpus = 1;  // GPUs of one block (a node or an NVLink domain): pairs inside it are held whole
  int rails = 0;       // NICs per node
  std::vector<Hop> pool;
  std::vector<Piece> block;    // [s * block_gpus + d % block_gpus]: s and d in one block
  std::vector<Piece> head;     // [s * rails + rail]: s to its NIC towards that rail
  std::vector<int> src_nic;    // [s * rails + rail]: the NIC the head ends at
  std::vector<Piece> tail;     // [d]: from its NIC on its rail to d
  std::vector<int> nic_link;   // [node * rails + nic]: the NIC's link (index into the routed links)
  std::vector<int> nic_leaf;   // [node * rails + nic]: the leaf it hangs off
  std::vector<int> leaf_up;    // [leaf]: the leaf's uplink to the spine, or -1 (non-blocking)
  std::vector<int> rail_of;    // [local GPU]: its NIC (its rail)
  std::vector<std::string> kinds, details;

  // The hops of s -> d into `out` (cleared first); empty when s == d.
  void hops(int s, int d, std::vector<Hop>& out) const;
  int kind_id(int s, int d) const { return piece(s, d).kind; }
  const std::string& kind(int s, int d) const { return kinds.at(kind_id(s, d)); }
  const std::string& detail(int s, int d) const { return details.at(piece(s, d).detail); }
  GpuRoute route(int s, int d) const;
  // As RoutedTopology::symmetric; `a` and `b` are scratch.
  bool symmetric(int s, int d, std::vector<Hop>& a, std::vector<Hop>& b) const;

private:
  // The piece that names s -> d's kind and detail: its block route, or the sender's part.
  const Piece& piece(int s, int d) const;
};

// Routes `t` as route_topology does (the same checks, errors and links), into `table`; returns the
// topology with its links and no routes.
RoutedTopology route_table(const Topology& t, RouteTable& table);

} // namespace moesim
