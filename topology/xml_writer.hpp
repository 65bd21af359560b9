// Writes a routed topology as a SimGrid 3.32 platform following platforms/README.md: an opening
// comment with the drawing, representative routes and the sources; one Full zone with the moesim.*
// props; hosts gpu0..N-1 with the GPU props; every capacity-limited link with latency="0" and a
// class prop; an explicit route per GPU pair (symmetrical="NO" in both directions where the reverse
// differs). Deterministic: the same topology gives the same bytes.
#pragma once
#include "topology/route_policy.hpp"
#include "topology/route_table.hpp"

#include <string>
#include <utility>
#include <vector>

namespace moesim {

std::string platform_xml(const RoutedTopology& rt);

// What the platform holds besides links and routes, in the order the XML writes it (sim/ loads the
// same into SimGrid without the text): the zone's id (the topology's name, '-' and '.' as '_'), its
// moesim.* props, and the props of every GPU host.
std::string zone_id(const Topology& t);
std::vector<std::pair<std::string, std::string>> zone_props(const Topology& t);
std::vector<std::pair<std::string, std::string>> gpu_props(const GpuModel& g);

// One line per route kind: the first GPU pair of that kind, its links and a lone flow's rate.
std::string representative_routes(const RoutedTopology& rt, const std::string& indent);
// The same from a route table (`rt` gives the links).
std::string representative_routes(const RoutedTopology& rt, const RouteTable& table, const std::string& indent);

} // namespace moesim
