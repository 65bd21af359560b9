#include "topology/xml_writer.hpp"
#include "core/xml_escape.hpp"

#include "topology/drawing.hpp"
#include "topology/flows.hpp"

#include <limits>
#include <set>
#include <sstream>

namespace moesim {
namespace {

std::string attr(const std::string& s)
{
  return xml_escape(s, false);
}

// XML comments may not contain "--" nor end with '-'.
std::string comment_safe(std::string s)
{
  for (size_t p; (p = s.find("--")) != std::string::npos;)
    s.replace(p, 2, "- ");
  while (!s.empty() && (s.back() == '-' || s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

std::string indent_block(const std::string& text, const std::string& indent)
{
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line.empty() ? "\n" : indent + line + "\n";
  }
  return out;
}

std::string gpu_summary(const GpuModel& g)
{
  std::ostringstream o;
  o << "dense TFLOPS";
  for (Dtype d : spec_dtypes)
    if (g.flops.count(d))
      o << " " << to_string(d) << " " << shortest(g.flops.at(d).value() / 1e12);
  o << "; memory " << g.memory.text() << " at " << g.mem_bw.text() << "; mem_bw_eff " << shortest(g.mem_bw_eff)
    << ", flops_eff " << shortest(g.flops_eff) << ", kernel_overhead " << g.kernel_overhead.text()
    << " (efficiencies and overhead: placeholders until calibrated)";
  return o.str();
}

} // namespace

namespace {

// One line per route kind over routes held per pair or per rail (`Routes`: kind, detail, hops,
// lone, symmetric of a pair); `kinds`: how many kinds there are, if known (the scan stops there).
template <class Routes>
std::string representative(const RoutedTopology& rt, const Routes& routes, int n, size_t kinds, const std::string& indent)
{
  std::ostringstream o;
  std::set<std::string> seen;
  for (int s = 0; s < n && seen.size() < kinds; s++)
    for (int d = 0; d < n; d++) {
      if (s == d || !seen.insert(routes.kind(s, d)).second)
        continue;
      o << indent << "gpu" << s << " -> gpu" << d << ": " << routes.detail(s, d) << ", bottleneck "
        << human_rate(routes.lone(s, d)) << (routes.symmetric(s, d) ? "" : " (the reverse differs)") << "\n"
        << indent << "  [" << describe_hops(rt, routes.hops(s, d)) << "]\n";
    }
  if (seen.empty())
    o << indent << "one GPU: no GPU pair, no route\n";
  return o.str();
}

struct PairRoutes {
  const RoutedTopology& rt;
  const std::string& kind(int s, int d) const { return rt.route(s, d).kind; }
  const std::string& detail(int s, int d) const { return rt.route(s, d).detail; }
  const std::vector<Hop>& hops(int s, int d) const { return rt.route(s, d).hops; }
  double lone(int s, int d) const { return lone_rate(rt, s, d); }
  bool symmetric(int s, int d) const { return rt.symmetric(s, d); }
};

struct TableRoutes {
  const RouteTable& table;
  const TableFlows flows;
  const std::string& kind(int s, int d) const { return table.kind(s, d); }
  const std::string& detail(int s, int d) const { return table.detail(s, d); }
  std::vector<Hop> hops(int s, int d) const
  {
    std::vector<Hop> h;
    table.hops(s, d, h);
    return h;
  }
  double lone(int s, int d) const { return flows.lone_rate(s, d); }
  bool symmetric(int s, int d) const
  {
    std::vector<Hop> a, b;
    return table.symmetric(s, d, a, b);
  }
};

} // namespace

std::string representative_routes(const RoutedTopology& rt, const std::string& indent)
{
  return representative(rt, PairRoutes{rt}, rt.gpus(), std::numeric_limits<size_t>::max(), indent);
}

std::string representative_routes(const RoutedTopology& rt, const RouteTable& table, const std::string& indent)
{
  return representative(rt, TableRoutes{table, TableFlows(rt, table)}, table.gpus, table.kinds.size(), indent);
}

std::string zone_id(const Topology& t)
{
  std::string zone = t.name;
  for (char& ch : zone)
    if (ch == '-' || ch == '.')
      ch = '_';
  return zone;
}

std::vector<std::pair<std::string, std::string>> zone_props(const Topology& t)
{
  std::vector<std::pair<std::string, std::string>> p{
      {"moesim.gpus", std::to_string(t.total_gpus())}, {"moesim.p2p", t.p2p ? "yes" : "no"},
      {"moesim.description", t.description}};
  if (t.nodes > 1) {
    p.emplace_back("moesim.nodes", std::to_string(t.nodes));
    p.emplace_back("moesim.gpus_per_node", std::to_string(t.gpus));
  }
  if (t.p2p_alpha)
    p.emplace_back("moesim.p2p_alpha", t.p2p_alpha->plain());
  if (!t.nccl_algo.empty())
    p.emplace_back("moesim.nccl_algo", t.nccl_algo);
  for (const auto& [cls, q] : t.latency)
    p.emplace_back("moesim.latency." + cls, q.plain());
  return p;
}

std::vector<std::pair<std::string, std::string>> gpu_props(const GpuModel& g)
{
  std::vector<std::pair<std::string, std::string>> p{{"gpu_model", g.name},
                                                     {"sm", std::to_string(g.sm)},
                                                     {"mem_bytes", g.memory.plain()},
                                                     {"mem_bw", g.mem_bw.plain()}};
  for (Dtype d : spec_dtypes)
    if (g.flops.count(d))
      p.emplace_back(std::string("flops_") + to_string(d), g.flops.at(d).plain());
  p.emplace_back("mem_bw_eff", shortest(g.mem_bw_eff));
  p.emplace_back("flops_eff", shortest(g.flops_eff));
  p.emplace_back("kernel_overhead", g.kernel_overhead.plain());
  return p;
}

std::string platform_xml(const RoutedTopology& rt)
{
  const Topology& t = rt.topo;
  std::ostringstream o;
  o << "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n<!--\n";
  std::ostringstream c;
  c << t.name << ".xml: " << t.description << "\n\n"
    << "Generated by `moesim platform build " << t.name << ".yaml` from the topology YAML beside it:\n"
    << "edit the YAML and regenerate, never this file (platforms/README.md).\n\n"
    << indent_block(draw_ascii(rt), "  ") << "\n"
    << "Routes, one GPU pair per kind (the route elements below cover every pair):\n"
    << representative_routes(rt, "  ") << "\n";
  if (!t.sources.empty())
    c << "Sources:\n" << indent_block(t.sources, "  ") << "\n";
  c << "GPU: " << t.gpu.name << " (" << t.gpu.key << " in platforms/gpus.yaml)\n  " << gpu_summary(t.gpu) << "\n";
  if (!t.gpu.sources.empty())
    c << indent_block(t.gpu.sources, "  ");
  c << "\nConventions: platforms/README.md. Every link has latency=\"0\" (SimGrid weights sharing by\n"
    << "route latency; moesim charges per-hop alpha itself) and a class prop; SPLITDUPLEX UP is the\n"
    << "direction away from the GPU (towards the switch, CPU or fabric).";
  o << comment_safe(c.str()) << "\n-->\n";
  o << "<platform version=\"4.1\">\n";
  o << "  <zone id=\"" << attr(zone_id(t)) << "\" routing=\"Full\">\n";
  auto prop = [&](const std::string& id, const std::string& v, const char* ind) {
    o << ind << "<prop id=\"" << attr(id) << "\" value=\"" << attr(v) << "\"/>\n";
  };
  for (const auto& [id, v] : zone_props(t))
    prop(id, v, "    ");
  o << "\n    <!-- GPUs -->\n";
  const std::vector<std::pair<std::string, std::string>> gpu = gpu_props(t.gpu);
  for (int g = 0; g < t.total_gpus(); g++) {
    o << "    <host id=\"gpu" << g << "\" speed=\"" << t.gpu.flops.at(Dtype::bf16).text() << "\">\n";
    for (const auto& [id, v] : gpu)
      prop(id, v, "      ");
    o << "    </host>\n";
  }
  o << "\n    <!-- capacity-limited links (latency 0: per-hop alpha is charged by moesim) -->\n";
  for (const TopoLink& l : rt.links)
    o << "    <link id=\"" << attr(l.name) << "\" bandwidth=\"" << l.bw.text() << "\" latency=\"0\" sharing_policy=\""
      << (l.sharing == Sharing::shared ? "SHARED" : "SPLITDUPLEX") << "\"><prop id=\"class\" value=\"" << attr(l.cls)
      << "\"/></link>\n";
  if (rt.gpus() > 1)
    o << "\n    <!-- one route per GPU pair; symmetrical=\"NO\" in both directions where the reverse differs -->\n";
  auto route = [&](int s, int d, bool sym) {
    o << "    <route src=\"gpu" << s << "\" dst=\"gpu" << d << "\" symmetrical=\"" << (sym ? "YES" : "NO") << "\">";
    for (const Hop& h : rt.route(s, d).hops) {
      o << "<link_ctn id=\"" << attr(rt.links[h.link].name) << "\"";
      if (h.dir != Dir::none)
        o << " direction=\"" << (h.dir == Dir::up ? "UP" : "DOWN") << "\"";
      o << "/>";
    }
    o << "</route>\n";
  };
  for (int s = 0; s < rt.gpus(); s++)
    for (int d = s + 1; d < rt.gpus(); d++) {
      if (rt.symmetric(s, d)) {
        route(s, d, true);
      } else {
        route(s, d, false);
        route(d, s, false);
      }
    }
  o << "  </zone>\n</platform>\n";
  return o.str();
}

} // namespace moesim
