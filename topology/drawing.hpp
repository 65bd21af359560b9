// Drawings of a topology for people: an ASCII tree of one node (sockets, switches, GPUs, NICs, with
// each link's bandwidth), NVLink and the fabric in a few lines, for the platform file's opening
// comment and `platform show`; and the same as an SVG picture (`platform show --svg`).
// The ASCII never contains "--", which XML comments forbid.
#pragma once
#include "topology/route_policy.hpp"

#include <string>

namespace moesim {

std::string draw_ascii(const RoutedTopology& rt);
std::string draw_svg(const RoutedTopology& rt);

} // namespace moesim
