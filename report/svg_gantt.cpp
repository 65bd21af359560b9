#include "report/svg_gantt.hpp"

#include "report/render.hpp"
#include "report/svg_links.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

namespace moesim {
using svg::DrawClass;
using svg::num;

std::vector<Piece> pieces_of(const TimelineEvent& e)
{
  std::vector<Piece> p;
  auto add = [&](DrawClass c, double a, double b) {
    if (b > a)
      p.push_back({c, a, b});
  };
  switch (op_class(e.kind)) {
    case OpClass::host: add(DrawClass::host_wait, e.ready, e.end); break;
    case OpClass::compute:
      add(DrawClass::host_wait, e.ready, e.start);
      add(svg::draw_class(e.kind), e.start, e.end);
      break;
    case OpClass::collective:
    case OpClass::p2p:
      add(DrawClass::host_wait, e.ready, e.start);
      add(DrawClass::peer_wait, e.start, e.sync);
      add(DrawClass::communication, e.sync, e.end);
      break;
  }
  return p;
}

std::string TimeWindow::name() const
{
  if (layer < 0)
    return "the step";
  return "layer " + std::to_string(layer) + (microbatch ? ", microbatch " + std::to_string(microbatch) : "");
}

TimeWindow representative_layer(const Timeline& t)
{
  std::set<int> layers;
  for (const TimelineEvent& e : t.events)
    if (e.layer >= 0)
      layers.insert(e.layer);
  if (layers.empty())
    throw std::invalid_argument("the timeline has no layers to show");
  TimeWindow w;
  w.layer = *std::next(layers.begin(), static_cast<long>(layers.size() / 2));
  w.microbatch = -1;
  for (const TimelineEvent& e : t.events)
    if (e.layer == w.layer && (w.microbatch < 0 || e.microbatch < w.microbatch))
      w.microbatch = e.microbatch;
  bool first = true;
  for (const TimelineEvent& e : t.events) {
    if (e.layer != w.layer || e.microbatch != w.microbatch)
      continue;
    w.t0 = first ? e.ready : std::min(w.t0, e.ready);
    w.t1 = first ? e.end : std::max(w.t1, e.end);
    first = false;
  }
  return w;
}

TimeWindow whole_step(const Timeline& t)
{
  TimeWindow w;
  w.t1 = t.step_time;
  return w;
}

std::vector<GanttRow> gantt_rows(const Timeline& t)
{
  std::set<std::pair<int, int>> seen;
  for (const TimelineEvent& e : t.events)
    seen.insert({e.rank, e.stream});
  std::vector<GanttRow> rows;
  for (const auto& [rank, stream] : seen)
    rows.push_back({rank, stream});
  return rows;
}

namespace {

using G = GanttGeometry;

std::string row_label(const GanttRow& r)
{
  return "GPU " + std::to_string(r.rank) + (r.stream ? " sends" : "");
}

std::string shape_text(const std::vector<double>& shape)
{
  std::string s;
  char buf[32];
  for (size_t i = 0; i < shape.size(); i++) {
    std::snprintf(buf, sizeof buf, "%.6g", shape[i]);
    s += (i ? "x" : "") + std::string(buf);
  }
  return s;
}

// What a hover shows for one piece of event `e`.
std::string piece_title(const TimelineEvent& e, const Piece& p)
{
  const std::string who = "GPU " + std::to_string(e.rank) + ": ";
  const std::string span = fmt_time(p.end - p.begin);
  switch (p.cls) {
    case DrawClass::host_wait:
      return who + (e.kind == OpKind::host_sync ? "host sync " + e.name + " (the host waits for the GPU, then "
                                                                         "launches again)"
                                                : "waiting for the host to launch " + e.name) +
             ": " + span;
    case DrawClass::peer_wait: return who + "waiting for peers in " + e.name + ": " + span;
    default: break;
  }
  std::ostringstream o;
  o << who << e.name << " (" << to_string(e.kind) << ")\n" << span << ", from " << fmt_time(p.begin) << " to "
    << fmt_time(p.end) << " into the step";
  if (e.bytes > 0)
    o << "\n" << fmt_bytes(e.bytes) << (op_class(e.kind) == OpClass::compute ? " read and written" : " (NCCL size)");
  if (!e.shape.empty())
    o << "\nshape " << shape_text(e.shape);
  if (!e.detail.empty())
    o << "\n" << e.detail;
  if (e.sync > e.start)
    o << "\nwaited " << fmt_time(e.sync - e.start) << " for peers first";
  return o.str();
}

std::string rect(double x, double y, double w, double h, const char* fill, const std::string& title)
{
  return "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) + "\" fill=\"" +
         fill + "\"><title>" + svg::esc(title) + "</title></rect>\n";
}

} // namespace

std::string svg_gantt(const Timeline& t, const TimeWindow& w, double scale, const std::string& id)
{
  // x = left + (t - w.t0) * scale: the window's start at the plot's left edge, `scale` px per second.
  const svg::TimeMap m{G::left, w.t0, scale};
  const std::vector<GanttRow> rows = gantt_rows(t);
  std::ostringstream body;
  double y = G::top;
  const double x1 = m.x(w.t1);
  for (const GanttRow& r : rows) {
    body << "<text x=\"" << num(G::left - 6) << "\" y=\"" << num(y + G::row * 0.7) << "\" text-anchor=\"end\">"
         << svg::esc(row_label(r)) << "</text>";
    // Idle underneath: whatever no piece covers.
    body << "<rect x=\"" << num(G::left) << "\" y=\"" << num(y) << "\" width=\"" << num(x1 - G::left)
         << "\" height=\"" << num(G::row) << "\" fill=\"" << svg::style_of(DrawClass::idle).fill << "\"/>\n";
    for (const TimelineEvent& e : t.events) {
      if (e.rank != r.rank || e.stream != r.stream || e.end <= w.t0 || e.ready >= w.t1)
        continue;
      for (const Piece& p : pieces_of(e)) {
        const double a = std::max(p.begin, w.t0), b = std::min(p.end, w.t1);
        if (b <= a)
          continue;
        body << rect(m.x(a), y, (b - a) * scale, G::row, svg::style_of(p.cls).fill, piece_title(e, p));
      }
    }
    y += G::row + G::gap;
  }
  const double rows_end = y;
  body << link_load_rows(t, w.t0, w.t1, m, y);
  // The window's end, labelled with its length: where this plan's layer is over.
  body << "<line x1=\"" << num(x1) << "\" y1=\"" << num(G::top - 12) << "\" x2=\"" << num(x1) << "\" y2=\""
       << num(rows_end - G::gap) << "\" stroke=\"#000\" stroke-dasharray=\"3 2\"/>"
       << "<text x=\"" << num(x1 + 3) << "\" y=\"" << num(G::top - 4) << "\" font-weight=\"bold\""
       << (x1 > G::left + G::plot - 60 ? " text-anchor=\"end\"" : "") << ">" << svg::esc(fmt_time(w.length()))
       << "</text>\n";
  const double span = G::plot / scale;
  body << svg::time_axis(m, span, G::top - 2, y + 2, "time from the start of " + w.name());
  const double height = y + 42;
  std::ostringstream o;
  o << "<svg class=\"gantt\" data-scenario=\"" << svg::esc(id) << "\" viewBox=\"0 0 " << num(G::width) << " "
    << num(height) << "\" width=\"" << num(G::width) << "\" height=\"" << num(height)
    << "\" font-size=\"12\" role=\"img\" aria-label=\"" << svg::esc("timeline of " + w.name() + ", " + id) << "\">\n"
    << body.str() << "</svg>";
  return o.str();
}

} // namespace moesim
