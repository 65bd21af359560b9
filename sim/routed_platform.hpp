// Loads a routed topology straight into SimGrid through its s4u API: the zone, its props, the GPU
// hosts, the links and one route per GPU pair, in the order and with the values that the platform
// XML written for it (topology/xml_writer.hpp) declares, numbers read by SimGrid's own unit parser
// from the same text. A replay on it gives the same bytes as on that XML, without writing,
// checking and parsing the text (298 MB with a million route elements at 1,024 GPUs).
#pragma once
#include "topology/route_policy.hpp"

#include <simgrid/s4u/Link.hpp>

#include <array>
#include <vector>

namespace moesim {

// Per topology link (RoutedTopology::links), the SimGrid link that Host::route_to lists for a hop
// in each direction (indexed by Dir: up, down, none): a split-duplex link's UP or DOWN half, a
// shared link itself; null for a split-duplex link without a direction (SimGrid refuses it).
using LoadedLinks = std::vector<std::array<simgrid::s4u::Link*, 3>>;

// Into the engine that exists, before any other zone; must run once, where load_platform would.
// Returns the links it made.
LoadedLinks load_routed_platform(const RoutedTopology& rt);

// Route s -> d's links as Host::route_to gives them on the platform `loaded` came from, appended to
// `links`, without asking SimGrid (whose route lookup per GPU pair is ~0.5 s at 1,024 GPUs): a
// symmetric route is stored once and its reverse read back reversed with the halves swapped,
// which is route(d, s)'s hops (RoutedTopology::symmetric). False, `links` unchanged, when a hop
// has no link for its direction.
bool routed_links(const RoutedTopology& rt, const LoadedLinks& loaded, int s, int d,
                  std::vector<simgrid::s4u::Link*>& links);

} // namespace moesim
