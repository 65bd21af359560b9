// `moesim platform show`: what a person needs to trust a platform: the GPUs, the links by class,
// one route per kind with its links and the rate of a lone flow, per-GPU injection bandwidth,
// bisection bandwidth, and the drawing.
#pragma once
#include "topology/route_policy.hpp"
#include "topology/route_table.hpp"

#include <string>

namespace moesim {

// `platform show` holds the routes per rail (route_table.hpp), so it takes as many GPUs as
// `platform build --zones`; its injection and bisection still solve every pair across each cut.
inline constexpr GpuLimit show_limit{limits::zoned_gpus, "platform show takes"};

// `rt`: the topology and its links (route_table's answer, no routes); `table`: its routes.
std::string show_topology(const RoutedTopology& rt, const RouteTable& table);

} // namespace moesim
