// `moesim platform show`: what a person needs to trust a platform: the GPUs, the links by class,
// one route per kind with its links and the rate of a lone flow, per-GPU injection bandwidth,
// bisection bandwidth, and the drawing.
#pragma once
#include "topology/route_policy.hpp"

#include <string>

namespace moesim {

std::string show_topology(const RoutedTopology& rt);

} // namespace moesim
