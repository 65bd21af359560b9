#include "report/svg.hpp"

#include "core/xml_escape.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace moesim::svg {

std::string esc(const std::string& s)
{
  return xml_escape(s, true);
}

std::string num(double v)
{
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  return s == "-0.0" ? "0.0" : s;
}

std::vector<double> ticks(double span, int target)
{
  std::vector<double> out;
  if (!(span > 0) || target < 1)
    return {0.0};
  // The smallest of 1, 2, 5 x 10^k that cuts the span into at most `target` intervals.
  double step = std::pow(10, std::floor(std::log10(span / target)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (span / (step * m) <= target) {
      step *= m;
      break;
    }
  for (int i = 0; i * step <= span * (1 + 1e-9); i++)
    out.push_back(i * step);
  return out;
}

std::string tick_label(double s, double step)
{
  if (s == 0)
    return "0";
  char buf[48];
  // Enough decimals for the step: 0.5 ms needs one, 50 us none.
  auto put = [&](double v, double unit_step, const char* unit) {
    const int decimals = unit_step >= 1 ? 0 : unit_step >= 0.1 ? 1 : 2;
    std::snprintf(buf, sizeof buf, "%.*f %s", decimals, v, unit);
    return std::string(buf);
  };
  if (step >= 0.5)
    return put(s, step, "s");
  if (step >= 0.5e-3)
    return put(s * 1e3, step * 1e3, "ms");
  return put(s * 1e6, step * 1e6, "us");
}

std::string time_axis(const TimeMap& m, double span, double y_top, double y_axis, const std::string& caption)
{
  std::ostringstream o;
  const std::vector<double> tk = ticks(span, 8);
  const double step = tk.size() > 1 ? tk[1] : span;
  o << "<g class=\"axis\">";
  for (double v : tk) {
    const double x = m.left + v * m.scale;
    o << "<line x1=\"" << num(x) << "\" y1=\"" << num(y_top) << "\" x2=\"" << num(x) << "\" y2=\"" << num(y_axis + 4)
      << "\" stroke=\"#000\" stroke-opacity=\"0.15\"/>"
      << "<text x=\"" << num(x) << "\" y=\"" << num(y_axis + 16) << "\" text-anchor=\"middle\">"
      << esc(tick_label(v, step)) << "</text>";
  }
  o << "<line x1=\"" << num(m.left) << "\" y1=\"" << num(y_axis) << "\" x2=\"" << num(m.left + span * m.scale)
    << "\" y2=\"" << num(y_axis) << "\" stroke=\"#555\"/>"
    << "<text class=\"caption\" x=\"" << num(m.left) << "\" y=\"" << num(y_axis + 31) << "\" fill=\"#555\">"
    << esc(caption) << "</text></g>\n";
  return o.str();
}


const std::vector<DrawStyle>& draw_styles()
{
  // Okabe-Ito colours (told apart with the common colour-vision deficiencies); waits in greys.
  static const std::vector<DrawStyle> styles = {
      {DrawClass::gemm, "gemm", "GEMM", "#0072b2"},
      {DrawClass::attention, "attn", "attention", "#009e73"},
      {DrawClass::small_kernel, "small", "small kernels", "#56b4e9"},
      {DrawClass::communication, "comm", "collectives and sends", "#d55e00"},
      {DrawClass::host_wait, "host", "waiting for the host", "#cc79a7"},
      {DrawClass::peer_wait, "peers", "waiting for peers", "#a8a8a8"},
      {DrawClass::idle, "idle", "idle", "#ececec"},
  };
  return styles;
}

const DrawStyle& style_of(DrawClass c)
{
  for (const DrawStyle& s : draw_styles())
    if (s.cls == c)
      return s;
  return draw_styles().back();
}

DrawClass draw_class(OpKind k)
{
  switch (op_class(k)) {
    case OpClass::collective:
    case OpClass::p2p: return DrawClass::communication;
    case OpClass::host: return DrawClass::host_wait;
    case OpClass::compute: break;
  }
  switch (compute_family(k)) {
    case ComputeFamily::gemm: return DrawClass::gemm;
    case ComputeFamily::attention: return DrawClass::attention;
    case ComputeFamily::other: break;
  }
  return DrawClass::small_kernel;
}

const LinkStyle& link_style(const std::string& link_class)
{
  // Paul Tol's muted scheme, apart from the op colours.
  static const LinkStyle styles[] = {
      {"nvlink", "NVLink", "#117733"},       {"pcie", "PCIe", "#332288"},
      {"host_memory", "host memory", "#882255"}, {"cpu_interconnect", "CPU link", "#999933"},
      {"nic", "NIC", "#aa4499"},
  };
  static const LinkStyle other = {"", "", "#666666"};
  for (const LinkStyle& s : styles)
    if (link_class == s.link_class)
      return s;
  return other;
}

std::string legend(const std::vector<LegendItem>& items, double width)
{
  // Items flow left to right and wrap; about 7 px per character at font-size 12.
  std::ostringstream o;
  double x = 0, y = 0;
  std::ostringstream body;
  for (const LegendItem& it : items) {
    const double w = 22 + 7.0 * static_cast<double>(it.label.size()) + 18;
    if (x > 0 && x + w > width) {
      x = 0;
      y += 20;
    }
    body << "<rect x=\"" << num(x) << "\" y=\"" << num(y + 3) << "\" width=\"14\" height=\"12\" fill=\"" << it.fill
         << "\" stroke=\"#666\" stroke-width=\"0.5\"/><text x=\"" << num(x + 20) << "\" y=\"" << num(y + 13) << "\">"
         << esc(it.label) << "</text>";
    x += w;
  }
  o << "<svg class=\"legend\" viewBox=\"0 0 " << num(width) << " " << num(y + 20) << "\" width=\"" << num(width)
    << "\" height=\"" << num(y + 20) << "\" font-size=\"12\" role=\"img\" aria-label=\"legend\">" << body.str()
    << "</svg>";
  return o.str();
}

} // namespace moesim::svg
