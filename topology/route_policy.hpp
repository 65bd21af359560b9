// RoutedTopology: a Topology built node by node into a Boost.Graph graph (GPUs, CPU sockets, PCIe
// switches, NICs, NVSwitch fabrics, fabric leaves and spine; an edge per physical connection, which
// carries a capacity-limited link or none for ideal switch internals), checked for connectivity,
// and every ordered GPU pair routed the way NCCL picks its transport:
//   * NVLink first (through the NVSwitch fabric, or the pair's own link in a mesh);
//   * else PCIe P2P, through the lowest common switch or the root complex (or across sockets),
//     when P2P is on and the path is no further than p2p_level;
//   * else staged through host memory: to the receiver's socket, DRAM twice, down to the receiver;
//   * across nodes: through the NIC on the destination's rail, reached directly when the sender is
//     on that rail, or over NVLink through the local GPU on that rail (PXN); GPUDirect RDMA when the
//     GPU-NIC path is within gdr_level, else staged through host memory.
// Only capacity-limited links appear in routes (ideal switches cost solver time: docs/simgrid-and-nccl.md,
// "Ideal links still cost solver time").
#pragma once
#include "topology/topology.hpp"

#include <functional>
#include <string>
#include <vector>

namespace moesim {

enum class Sharing { splitduplex, shared };
enum class Dir { up, down, none };

struct TopoLink {
  std::string name;  // XML link id
  std::string cls;   // nvlink, pcie, host_memory, cpu_interconnect, nic, fabric (or the GPU link class)
  Quantity bw;
  Sharing sharing = Sharing::splitduplex;
  std::string what;  // for people: "gpu3's PCIe link", "sw0 uplink to cpu0"
};

struct Hop {
  int link = 0;
  Dir dir = Dir::none;
  bool operator==(const Hop&) const = default;
};

// Whether `back` is `there` walked backwards: the same links in reverse order, each in the other
// direction (a route and its reverse are symmetric).
bool mirrored(const std::vector<Hop>& there, const std::vector<Hop>& back);

struct GpuRoute {
  std::vector<Hop> hops;
  std::string kind;    // stable short key: nvlink, pix, pxb, phb, sys, staged, rail, pxn, cross_rail
  std::string detail;  // for people: "NVLink through NVSwitch", "PXN via gpu3", ...
};

struct RoutedTopology {
  Topology topo;
  std::vector<TopoLink> links;               // every link some route uses, in declaration order
  std::vector<std::vector<GpuRoute>> routes; // [src][dst], empty on the diagonal
  std::string nccl_intra;                    // nvlink or pci: NCCL's intra-node transport

  int gpus() const { return static_cast<int>(routes.size()); }
  const GpuRoute& route(int s, int d) const { return routes.at(s).at(d); }
  // True when route(d, s) is route(s, d) reversed with UP and DOWN swapped (SimGrid's symmetrical).
  bool symmetric(int s, int d) const;
};

// Builds the graph, checks that it is connected and that every GPU pair has a route under the
// policy above; throws InputError naming the file, the line and the fix.
RoutedTopology route_topology(const Topology& t);

// The same routes, each handed to `visit(s, d, route, links)` as it is made and then dropped, for a
// caller that keeps pieces of them: the route's hops index `links` (every link the builder made).
// Returns the topology with its links as route_topology has them and no routes; `link_index` maps
// a hop's link to its index there (-1 for a link no route uses).
using RouteVisitor = std::function<void(int s, int d, const GpuRoute& route, const std::vector<TopoLink>& links)>;
RoutedTopology route_each(const Topology& t, const RouteVisitor& visit, std::vector<int>& link_index);

// "pcie_gpu0 UP, dram, dram, pcie_gpu1 DOWN"
std::string describe_hops(const RoutedTopology& rt, const std::vector<Hop>& hops);

} // namespace moesim
