// Link load in pictures: the utilisation of each link class over time (drawn under a Gantt chart,
// on its axis) and the bytes each plan moved per class.
#pragma once
#include "core/timeline.hpp"
#include "report/result.hpp"
#include "report/svg.hpp"

#include <string>
#include <vector>

namespace moesim {

// Link classes with traffic in the step, in name order.
std::vector<std::string> busy_link_classes(const Timeline& t);

// Mean utilisation of link class `cls` in each of `bins` equal bins of [t0, t1]: every traffic
// interval's bytes spread evenly over it, the part falling in the bin, over (the class's capacity x
// the bin's length). 0 for a class without capacity.
std::vector<double> link_utilisation(const Timeline& t, const std::string& cls, double t0, double t1, int bins);

// The rows svg_gantt draws under the GPUs, from y = `y` down: per busy class an area chart of its
// utilisation over [t0, t1] in 2-pixel bins (the row's height is 100%), with a <title> giving the
// mean over the window and the class's capacity. Returns the SVG and advances `y`.
std::string link_load_rows(const Timeline& t, double t0, double t1, const svg::TimeMap& map, double& y);

// One stacked bar per scenario: the bytes its links carried per class in the step, on one scale.
std::string svg_link_bytes(const std::vector<const ScenarioResult*>& rs);

} // namespace moesim
