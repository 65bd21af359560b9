// The whole step of several plans in one picture: each GPU's main stream a thin strip of 4-pixel columns, each
// column split top to bottom into the shares of its time spent computing, communicating, waiting
// for the host, waiting for peers and idle. Plans share one axis; a marked window (the layer drawn
// in detail) is outlined.
#pragma once
#include "core/timeline.hpp"
#include "report/svg_gantt.hpp"

#include <array>
#include <string>
#include <vector>

namespace moesim {

// The step view's classes, in drawing order (top to bottom), with their colours.
enum class StepShare { compute, communication, host_wait, peer_wait, idle };
constexpr int step_shares = 5;
StepShare step_share_of(svg::DrawClass c);
const char* step_share_fill(StepShare s);
const char* step_share_label(StepShare s);

// For one (rank, stream) row: per bin [b * bin_s, min((b + 1) * bin_s, step)) the share of its
// length in each StepShare; idle is what no piece covers. Each bin sums to 1.
std::vector<std::array<double, step_shares>> bin_shares(const Timeline& t, const GanttRow& row, double bin_s, int bins);

struct StepStrip {
  std::string label;
  const Timeline* timeline = nullptr;
  TimeWindow mark; // outlined when its length is > 0
};
// x = left + t * plot / span: every step starts at the plot's left edge.
std::string svg_steps(const std::vector<StepStrip>& strips, double span);

} // namespace moesim
