// A routed multi-node topology written as nested SimGrid zones, so that the file grows about as
// N^1.5 instead of one route per GPU pair (N^2): 4,096 GPUs need ~0.2 million route elements instead
// of 16.8 million. The zones:
//
//   platform zone (Full): every link, then one zone per rail, then a zoneRoute per rail pair and a
//   |                     bypassZoneRoute per GPU pair of one node on different rails
//   +- rail a (Full): one zone per group of ~sqrt(nodes) nodes, an exit per other rail, an entry
//      +- group j (Full): a cell per GPU on rail a, an exit per rail, an entry
//         +- cell of gpu s (Full): the host, a router where its traffic to rail b has left its
//            node (route: up to and including the NIC hop UP), a router before its NIC hop DOWN
//
// SimGrid joins a route from the gateways of each zone pair, so a GPU's way out may depend only on
// the destination's rail and its way in only on itself (NCCL's PXN: the sender's part depends on
// the destination's rail, exactly that). Every route is checked on the way: head (to the NIC hop
// UP) per (sender, destination rail), tail (from the NIC hop DOWN) per receiver, the fabric between
// per rail pair or group pair; a topology where that does not hold is refused.
//
// What differs from the flat file: SimGrid refuses a route without links, so a route that has no
// link of the topology (joining zones, mostly) carries a hub of its own, `hub_<from>_<to>` (FATPIPE:
// each flow alone bounded by 1e21 B/s, never shared, so never a bottleneck). A route between two
// GPUs is the flat route with 0 to 5 hubs inserted (see the test); rates and times are the same.
// Flows that share a hub share a max-min constraint, which costs SimGrid's solver time.
#pragma once
#include "topology/route_policy.hpp"

#include <string>

namespace moesim {

// Nodes per group zone: the ceiling of sqrt(nodes).
int zone_group_nodes(int nodes);

// Throws InputError naming the topology file when the topology has one node or a route that does
// not decompose as above (a multi-node NVLink domain, a fabric whose path between two NICs depends
// on more than the rails or groups).
std::string zoned_platform_xml(const RoutedTopology& rt);
// The same bytes from the topology alone: each GPU pair's route is checked and split as it is
// made, then dropped (route_each), so memory grows with the pieces (~N x (rails + GPUs per node))
// instead of with the N^2 routes.
std::string zoned_platform_xml(const Topology& t);

} // namespace moesim
