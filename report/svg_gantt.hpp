// Gantt charts of a simulated step: a row per GPU and stream, every op drawn as the stretches of
// time it accounts for (waiting for the host, waiting for peers, its own run), coloured by class.
// Times map to pixels as svg::TimeMap says: x = left + (t - t0) * scale.
#pragma once
#include "core/timeline.hpp"
#include "report/svg.hpp"

#include <string>
#include <vector>

namespace moesim {

// One stretch of an event. They tile the event from `ready` to `end`, and per rank and stream 0 they
// add up to breakdown_of_rank: compute (gemm + attention + small kernels), comm (communication),
// host (host_wait), idle (peer_wait, and the gaps between events).
struct Piece {
  svg::DrawClass cls = svg::DrawClass::idle;
  double begin = 0;
  double end = 0;
};
std::vector<Piece> pieces_of(const TimelineEvent& e);

// A stretch of the step to draw.
struct TimeWindow {
  int layer = -1;     // -1: the whole step
  int microbatch = 0;
  double t0 = 0;
  double t1 = 0;
  double length() const { return t1 - t0; }
  std::string name() const; // "layer 31" (", microbatch 1" when not the first), "the step"
};
// The middle one of the layers in the timeline, at its first microbatch: from the earliest moment
// any of its ops was ready to run (the previous op on its stream had finished) to the last one's end.
// Throws std::invalid_argument for a timeline without layers.
TimeWindow representative_layer(const Timeline& t);
TimeWindow whole_step(const Timeline& t);

struct GanttRow {
  int rank = 0;
  int stream = 0;
};
// Every (rank, stream) with events, by rank then stream.
std::vector<GanttRow> gantt_rows(const Timeline& t);

// The picture's fixed dimensions (viewBox units, about pixels at 100%).
struct GanttGeometry {
  static constexpr double width = 900;   // the whole picture (40 on the right for the last tick label)
  static constexpr double left = 100;    // row labels; the plot starts here
  static constexpr double plot = 760;    // plot width
  static constexpr double top = 18;      // room above the first row (the window's end label)
  static constexpr double row = 18;      // a GPU row
  static constexpr double gap = 3;
  static constexpr double link_row = 24; // a link class's load
};

// One window of one scenario on a shared axis: `scale` pixels per second (the same for every plan
// compared). Each piece is a <rect> with a <title> (GPU, op, kind, shape, bytes, times, waits). The
// link load of every class with traffic in the step follows below, then the time axis from the
// window's start. `id` names the scenario in the picture's data-scenario attribute.
std::string svg_gantt(const Timeline& t, const TimeWindow& w, double scale, const std::string& id);

} // namespace moesim
