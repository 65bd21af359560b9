// Loads a routed topology straight into SimGrid through its s4u API: the zone, its props, the GPU
// hosts, the links and one route per GPU pair, in the order and with the values that the platform
// XML written for it (topology/xml_writer.hpp) declares, numbers read by SimGrid's own unit parser
// from the same text. A replay on it gives the same bytes as on that XML, without writing,
// checking and parsing the text (298 MB with a million route elements at 1,024 GPUs).
#pragma once
#include "topology/route_policy.hpp"

namespace moesim {

// Into the engine that exists, before any other zone; must run once, where load_platform would.
void load_routed_platform(const RoutedTopology& rt);

} // namespace moesim
