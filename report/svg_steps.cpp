#include "report/svg_steps.hpp"

#include "report/render.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace moesim {
using svg::num;

StepShare step_share_of(svg::DrawClass c)
{
  switch (c) {
    case svg::DrawClass::gemm:
    case svg::DrawClass::attention:
    case svg::DrawClass::small_kernel: return StepShare::compute;
    case svg::DrawClass::communication: return StepShare::communication;
    case svg::DrawClass::host_wait: return StepShare::host_wait;
    case svg::DrawClass::peer_wait: return StepShare::peer_wait;
    case svg::DrawClass::idle: break;
  }
  return StepShare::idle;
}

const char* step_share_fill(StepShare s)
{
  switch (s) {
    case StepShare::compute: return svg::style_of(svg::DrawClass::gemm).fill;
    case StepShare::communication: return svg::style_of(svg::DrawClass::communication).fill;
    case StepShare::host_wait: return svg::style_of(svg::DrawClass::host_wait).fill;
    case StepShare::peer_wait: return svg::style_of(svg::DrawClass::peer_wait).fill;
    case StepShare::idle: break;
  }
  return svg::style_of(svg::DrawClass::idle).fill;
}

const char* step_share_label(StepShare s)
{
  switch (s) {
    case StepShare::compute: return "compute";
    case StepShare::communication: return svg::style_of(svg::DrawClass::communication).label;
    case StepShare::host_wait: return svg::style_of(svg::DrawClass::host_wait).label;
    case StepShare::peer_wait: return svg::style_of(svg::DrawClass::peer_wait).label;
    case StepShare::idle: break;
  }
  return "idle";
}

std::vector<std::array<double, step_shares>> bin_shares(const Timeline& t, const GanttRow& row, double bin_s, int bins)
{
  std::vector<std::array<double, step_shares>> acc(static_cast<size_t>(std::max(bins, 0)));
  for (auto& a : acc)
    a.fill(0);
  const int idle = static_cast<int>(StepShare::idle);
  for (const TimelineEvent& e : t.events) {
    if (e.rank != row.rank || e.stream != row.stream)
      continue;
    for (const Piece& p : pieces_of(e)) {
      const int k = static_cast<int>(step_share_of(p.cls));
      const int b0 = std::max(0, static_cast<int>(std::floor(p.begin / bin_s)));
      const int b1 = std::min(bins - 1, static_cast<int>(std::floor(p.end / bin_s)));
      for (int b = b0; b <= b1; b++) {
        const double overlap = std::min(p.end, (b + 1) * bin_s) - std::max(p.begin, b * bin_s);
        if (overlap > 0)
          acc[b][k] += overlap;
      }
    }
  }
  for (int b = 0; b < bins; b++) {
    const double len = std::min(bin_s, t.step_time - b * bin_s);
    double covered = 0;
    for (int k = 0; k < step_shares; k++)
      covered += k == idle ? 0 : acc[b][k];
    acc[b][idle] = std::max(0.0, len - covered);
    for (double& v : acc[b])
      v = len > 0 ? v / len : 0;
  }
  return acc;
}

std::string svg_steps(const std::vector<StepStrip>& strips, double span)
{
  using G = GanttGeometry;
  constexpr double bin_px = 4, strip = 12, h = 11, block_gap = 12;
  const double scale = G::plot / span;
  const svg::TimeMap m{G::left, 0, scale};
  const double bin_s = bin_px / scale;
  std::ostringstream body;
  double y = 8;
  for (const StepStrip& s : strips) {
    const Timeline& t = *s.timeline;
    const std::vector<GanttRow> rows = gantt_rows(t);
    const double block_top = y;
    const int bins = static_cast<int>(std::ceil(t.step_time / bin_s - 1e-9));
    for (const GanttRow& r : rows) {
      if (r.stream != 0)
        continue; // pipeline sends: a few kB, drawn in the layer view
      // Each column's class boundaries in sixteenths of the strip; equal neighbours merge into one
      // rectangle per class, one path per class.
      const auto shares = bin_shares(t, r, bin_s, bins);
      std::vector<std::array<int, step_shares + 1>> cuts(shares.size());
      for (size_t b = 0; b < shares.size(); b++) {
        double cum = 0;
        cuts[b][0] = 0;
        for (int k = 0; k < step_shares; k++) {
          cum += shares[b][k];
          cuts[b][k + 1] = static_cast<int>(std::lround(16 * cum));
        }
      }
      std::array<std::ostringstream, step_shares> paths;
      for (int b = 0; b < bins;) {
        int e = b;
        while (e + 1 < bins && cuts[e + 1] == cuts[b])
          e++;
        const double x0 = m.x(b * bin_s), x1 = m.x(std::min((e + 1) * bin_s, t.step_time));
        for (int k = 0; k < step_shares; k++)
          if (cuts[b][k + 1] > cuts[b][k])
            paths[k] << "M" << num(x0) << " " << num(y + h * cuts[b][k] / 16) << "h" << num(x1 - x0) << "v"
                     << num(h * (cuts[b][k + 1] - cuts[b][k]) / 16) << "h" << num(x0 - x1) << "z";
        b = e + 1;
      }
      for (int k = 0; k < step_shares; k++)
        if (!paths[k].str().empty())
          body << "<path d=\"" << paths[k].str() << "\" fill=\"" << step_share_fill(static_cast<StepShare>(k))
               << "\"/>";
      {
        const Breakdown bd = breakdown_of_rank(t, r.rank);
        auto p = [&](double v) { return std::to_string(static_cast<int>(std::lround(100 * v / t.step_time))) + "%"; };
        body << "<rect x=\"" << num(m.x(0)) << "\" y=\"" << num(y) << "\" width=\"" << num(t.step_time * scale)
             << "\" height=\"" << num(h) << "\" fill=\"transparent\"><title>"
             << svg::esc(s.label + ", GPU " + std::to_string(r.rank) + " over the step (" + fmt_time(t.step_time) +
                         "): compute " + p(bd.compute) + ", communication " + p(bd.comm) + ", host " + p(bd.host) +
                         ", idle " + p(bd.idle))
             << "</title></rect>";
      }
      body << "\n";
      y += strip;
    }
    const double mid = (block_top + y) / 2;
    body << "<text x=\"" << num(G::left - 8) << "\" y=\"" << num(mid - 2) << "\" text-anchor=\"end\" "
         << "font-weight=\"bold\">" << svg::esc(s.label) << "</text><text x=\"" << num(G::left - 8) << "\" y=\""
         << num(mid + 12) << "\" text-anchor=\"end\">" << svg::esc(fmt_time(t.step_time)) << "</text>";
    if (s.mark.length() > 0)
      body << "<rect x=\"" << num(m.x(s.mark.t0)) << "\" y=\"" << num(block_top - 2) << "\" width=\""
           << num(std::max(1.5, s.mark.length() * scale)) << "\" height=\"" << num(y - block_top + 3)
           << "\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\"><title>"
           << svg::esc(s.label + ": " + s.mark.name() + ", drawn above") << "</title></rect>";
    body << "\n";
    y += block_gap;
  }
  body << svg::time_axis(m, span, 4, y, "time from the start of the step");
  const double height = y + 42;
  std::vector<svg::LegendItem> items;
  for (int k = 0; k < step_shares; k++)
    items.push_back({step_share_label(static_cast<StepShare>(k)), step_share_fill(static_cast<StepShare>(k))});
  std::ostringstream o;
  o << svg::legend(items, G::width) << "<svg class=\"steps\" viewBox=\"0 0 " << num(G::width) << " " << num(height)
    << "\" width=\"" << num(G::width) << "\" height=\"" << num(height)
    << "\" font-size=\"12\" role=\"img\" aria-label=\"whole steps\">\n"
    << body.str() << "</svg>";
  return o.str();
}

} // namespace moesim
