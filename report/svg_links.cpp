#include "report/svg_links.hpp"

#include "report/render.hpp"
#include "report/svg_gantt.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

namespace moesim {
using svg::num;

std::vector<std::string> busy_link_classes(const Timeline& t)
{
  std::set<std::string> cls;
  for (const LinkTraffic& l : t.link_traffic)
    if (l.bytes > 0)
      cls.insert(l.link_class);
  return {cls.begin(), cls.end()};
}

std::vector<double> link_utilisation(const Timeline& t, const std::string& cls, double t0, double t1, int bins)
{
  std::vector<double> u(static_cast<size_t>(std::max(bins, 0)), 0.0);
  const auto cap = t.link_capacity.find(cls);
  if (cap == t.link_capacity.end() || cap->second <= 0 || t1 <= t0 || bins < 1)
    return u;
  const double dt = (t1 - t0) / bins;
  for (const LinkTraffic& l : t.link_traffic) {
    if (l.link_class != cls || l.end <= l.start)
      continue;
    const double a = std::max(l.start, t0), b = std::min(l.end, t1);
    if (b <= a)
      continue;
    const double rate = l.bytes / (l.end - l.start);
    const int i0 = std::clamp(static_cast<int>(std::floor((a - t0) / dt)), 0, bins - 1);
    const int i1 = std::clamp(static_cast<int>(std::floor((b - t0) / dt)), 0, bins - 1);
    for (int i = i0; i <= i1; i++) {
      const double overlap = std::min(b, t0 + (i + 1) * dt) - std::max(a, t0 + i * dt);
      if (overlap > 0)
        u[i] += rate * overlap;
    }
  }
  for (double& v : u)
    v /= cap->second * dt;
  return u;
}

namespace {

std::string pct(double v)
{
  char buf[32];
  std::snprintf(buf, sizeof buf, v >= 0.1 || v == 0 ? "%.0f%%" : "%.1f%%", 100 * v);
  return buf;
}

std::string rate_text(double bytes_per_s)
{
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g GB/s", bytes_per_s / 1e9);
  return buf;
}

} // namespace

std::string link_load_rows(const Timeline& t, double t0, double t1, const svg::TimeMap& m, double& y)
{
  using G = GanttGeometry;
  std::ostringstream o;
  const double width = (t1 - t0) * m.scale;
  const int bins = std::max(1, static_cast<int>(std::lround(width / 2)));
  const double h = G::link_row - 4;
  for (const std::string& cls : busy_link_classes(t)) {
    const std::vector<double> u = link_utilisation(t, cls, t0, t1, bins);
    double mean = 0, peak = 0;
    for (double v : u) {
      mean += v / bins;
      peak = std::max(peak, v);
    }
    const svg::LinkStyle& st = svg::link_style(cls);
    const std::string label = *st.label ? st.label : cls;
    const double base = y + h;
    // The row is 100% high: a bin at utilisation v rises v * h above the base (drawn up to 100%).
    std::ostringstream path;
    path << "M" << num(m.x(t0)) << " " << num(base);
    for (int i = 0; i < bins; i++) {
      const double top = base - std::min(u[i], 1.0) * h;
      path << " L" << num(m.x(t0) + i * width / bins) << " " << num(top) << " L"
           << num(m.x(t0) + (i + 1) * width / bins) << " " << num(top);
    }
    path << " L" << num(m.x(t1)) << " " << num(base) << " Z";
    const auto cap = t.link_capacity.find(cls);
    const std::string title = label + " load: " + pct(mean) + " of " +
                              (cap != t.link_capacity.end() ? rate_text(cap->second) : std::string("?")) +
                              " (all its links) on average over this window, " + pct(peak) +
                              " at most; the row's height is 100%";
    o << "<g class=\"link\" data-class=\"" << svg::esc(cls) << "\"><text x=\"" << num(m.left - 6) << "\" y=\""
      << num(y + h * 0.75) << "\" text-anchor=\"end\" fill=\"" << st.fill << "\">" << svg::esc(label) << "</text>"
      << "<rect x=\"" << num(m.x(t0)) << "\" y=\"" << num(y) << "\" width=\"" << num(width) << "\" height=\""
      << num(h) << "\" fill=\"#fff\" stroke=\"" << st.fill << "\" stroke-opacity=\"0.4\"><title>" << svg::esc(title)
      << "</title></rect><path d=\"" << path.str() << "\" fill=\"" << st.fill << "\" fill-opacity=\"0.75\"><title>"
      << svg::esc(title) << "</title></path>";
    // The numbers beside the row: after its end when there is room, else inside it.
    const bool room = m.x(t1) + 150 < G::left + G::plot + 30;
    o << "<text x=\"" << num(room ? m.x(t1) + 6 : m.x(t1) - 4) << "\" y=\"" << num(y + h * 0.75) << "\""
      << (room ? "" : " text-anchor=\"end\"") << " fill=\"#444\">mean " << pct(mean) << ", peak " << pct(peak)
      << "</text></g>\n";
    y += G::link_row;
  }
  return o.str();
}

std::string svg_link_bytes(const std::vector<const ScenarioResult*>& rs)
{
  constexpr double left = 100, plot = 500, row = 20, width = 900;
  double most = 0;
  std::set<std::string> classes;
  for (const ScenarioResult* r : rs) {
    double sum = 0;
    for (const auto& [c, b] : r->link_bytes) {
      sum += b;
      classes.insert(c);
    }
    most = std::max(most, sum);
  }
  const double scale = most > 0 ? plot / most : 0; // px per byte
  std::ostringstream body;
  double y = 4;
  for (const ScenarioResult* r : rs) {
    double x = left, sum = 0;
    std::string parts;
    body << "<text x=\"" << num(left - 6) << "\" y=\"" << num(y + 13) << "\" text-anchor=\"end\">" << svg::esc(r->plan)
         << "</text>";
    for (const auto& [c, b] : r->link_bytes) {
      const svg::LinkStyle& st = svg::link_style(c);
      const std::string label = *st.label ? st.label : c;
      body << "<rect x=\"" << num(x) << "\" y=\"" << num(y + 2) << "\" width=\"" << num(b * scale) << "\" height=\""
           << num(row - 6) << "\" fill=\"" << st.fill << "\"><title>" << svg::esc(r->plan + ": " + label + " " + fmt_bytes(b))
           << "</title></rect>";
      x += b * scale;
      sum += b;
      parts += (parts.empty() ? "" : ", ") + label + " " + fmt_bytes(b);
    }
    body << "<text x=\"" << num(x + 6) << "\" y=\"" << num(y + 13) << "\">"
         << svg::esc(sum > 0 ? fmt_bytes(sum) + (r->link_bytes.size() > 1 ? " (" + parts + ")" : "") : "none")
         << "</text>\n";
    y += row;
  }
  std::vector<svg::LegendItem> items;
  for (const std::string& c : classes) {
    const svg::LinkStyle& st = svg::link_style(c);
    items.push_back({*st.label ? st.label : c, st.fill});
  }
  std::ostringstream o;
  o << "<svg class=\"bytes\" viewBox=\"0 0 " << num(width) << " " << num(y + 4) << "\" width=\"" << num(width)
    << "\" height=\"" << num(y + 4) << "\" font-size=\"12\" role=\"img\" aria-label=\"bytes over links per class\">\n"
    << body.str() << "</svg>";
  return svg::legend(items, width) + o.str();
}

} // namespace moesim
