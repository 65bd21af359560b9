// What the report's SVG pictures share: escaping, fixed-precision numbers (the same bytes on every
// machine), the map from seconds to pixels, round axis ticks and the colour of every class drawn.
#pragma once
#include "core/schedule.hpp"

#include <string>
#include <vector>

namespace moesim::svg {

// Text and attribute values: & < > " escaped.
std::string esc(const std::string& s);
// A coordinate or length with one decimal ("12.5"; "-0.0" written as "0.0").
std::string num(double v);

// Seconds to pixels along a time axis: x = left + (t - t0) * scale, scale in pixels per second.
struct TimeMap {
  double left = 0;
  double t0 = 0;
  double scale = 1;
  double x(double t) const { return left + (t - t0) * scale; }
};

// Round tick values 0, step, 2 step, ... <= span, step 1, 2 or 5 times a power of ten, giving about
// `target` intervals.
std::vector<double> ticks(double span, int target);
// A tick label in the unit that suits `step`: "0", "50 us", "1.5 ms".
std::string tick_label(double seconds, double step);

// A time axis under a plot: grid lines from y_top down, ticks and labels at y_axis for [t0, t0 +
// span] of `m` (labels count from t0), and a caption below.
std::string time_axis(const TimeMap& m, double span, double y_top, double y_axis, const std::string& caption);

// How the Gantt charts colour a stretch of a GPU's time: what its op is, or what it waits for.
enum class DrawClass { gemm, attention, small_kernel, communication, host_wait, peer_wait, idle };
struct DrawStyle {
  DrawClass cls;
  const char* key;   // CSS-safe name: "gemm", "comm", ...
  const char* label; // legend text
  const char* fill;
};
// Every class in legend order.
const std::vector<DrawStyle>& draw_styles();
const DrawStyle& style_of(DrawClass c);
// The class of an op's own run time (its waits are host_wait / peer_wait).
DrawClass draw_class(OpKind k);

// Link classes ("pcie", ...) as people name them, with a colour each.
struct LinkStyle {
  const char* link_class;
  const char* label;
  const char* fill;
};
const LinkStyle& link_style(const std::string& link_class);

// A row of coloured boxes with labels (the legend of a chart), `width` wide, at (x, y).
struct LegendItem {
  std::string label;
  std::string fill;
};
std::string legend(const std::vector<LegendItem>& items, double width);

} // namespace moesim::svg
