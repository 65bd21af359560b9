#include "topology/show.hpp"

#include "topology/drawing.hpp"
#include "topology/flows.hpp"
#include "topology/xml_writer.hpp"

#include <algorithm>
#include <map>
#include <sstream>

namespace moesim {
namespace {

std::string pad(std::string s, size_t w, bool right = false)
{
  if (s.size() >= w)
    return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

std::string gpu_set(const std::vector<int>& gs)
{
  std::string s;
  for (size_t i = 0; i < gs.size(); i++) {
    // Collapse runs: gpu0..gpu3
    size_t j = i;
    while (j + 1 < gs.size() && gs[j + 1] == gs[j] + 1)
      j++;
    s += (s.empty() ? "" : ",") + ("gpu" + std::to_string(gs[i])) + (j > i ? "..gpu" + std::to_string(gs[j]) : "");
    i = j;
  }
  return "{" + s + "}";
}

std::string range(const std::vector<double>& v, const std::string& what)
{
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  if (*hi - *lo <= 1e-9 * *hi)
    return human_rate(*lo) + " (every GPU)";
  return human_rate(*lo) + " (gpu" + std::to_string(lo - v.begin()) + ") to " + human_rate(*hi) + " (gpu" +
         std::to_string(hi - v.begin()) + ")" + what;
}

} // namespace

std::string show_topology(const RoutedTopology& rt, const RouteTable& table)
{
  const Topology& t = rt.topo;
  std::ostringstream o;
  o << t.name << ": " << t.description << "\n";
  o << "  from " << t.file << "; " << t.nodes << " node" << (t.nodes > 1 ? "s" : "") << " x " << t.gpus << " GPUs = "
    << t.total_gpus() << " GPUs; NCCL intra-node transport " << rt.nccl_intra << "; P2P " << (t.p2p ? "on" : "off")
    << "\n\n";
  o << "GPUs: " << t.total_gpus() << "x " << t.gpu.name << " (" << t.gpu.key << "): dense TFLOPS";
  for (Dtype d : spec_dtypes)
    if (t.gpu.flops.count(d))
      o << " " << to_string(d) << " " << shortest(t.gpu.flops.at(d).value() / 1e12);
  o << "; memory " << t.gpu.memory.text() << " at " << t.gpu.mem_bw.text() << "\n\n";

  o << "Links (capacity-limited, the only ones routes use; bandwidth per direction):\n";
  struct Group {
    int count = 0;
    const TopoLink* first = nullptr;
  };
  std::vector<std::pair<std::string, Group>> groups;
  for (const TopoLink& l : rt.links) {
    const std::string key = l.cls + "|" + l.bw.text() + "|" + (l.sharing == Sharing::shared ? "SHARED" : "SPLITDUPLEX");
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
    if (it == groups.end()) {
      groups.push_back({key, {0, &l}});
      it = groups.end() - 1;
    }
    it->second.count++;
  }
  o << "  " << pad("class", 17) << pad("count", 6, true) << "  " << pad("bandwidth", 12) << pad("sharing", 13) << "e.g.\n";
  for (const auto& [key, g] : groups)
    o << "  " << pad(g.first->cls, 17) << pad(std::to_string(g.count), 6, true) << "  " << pad(g.first->bw.text(), 12)
      << pad(g.first->sharing == Sharing::shared ? "SHARED" : "SPLITDUPLEX", 13) << g.first->name << ": " << g.first->what
      << "\n";
  if (groups.empty())
    o << "  none (no GPU pair)\n";

  o << "\nRoutes, one GPU pair per kind (bottleneck: the rate of a lone flow):\n" << representative_routes(rt, table, "  ");
  const int n = table.gpus;
  std::vector<long long> per_kind(table.kinds.size(), 0);
  long long asym = 0;
  std::vector<Hop> there, back;
  for (int s = 0; s < n; s++)
    for (int d = 0; d < n; d++)
      if (s != d) {
        per_kind[static_cast<size_t>(table.kind_id(s, d))]++;
        asym += !table.symmetric(s, d, there, back);
      }
  std::map<std::string, long long> kinds;
  for (size_t k = 0; k < per_kind.size(); k++)
    kinds[table.kinds[k]] = per_kind[k];
  if (!kinds.empty()) {
    o << "  ordered pairs by kind:";
    for (const auto& [k, count] : kinds)
      o << " " << k << " " << count;
    o << (asym ? "; " + std::to_string(asym) + " differ from their reverse" : "") << "\n";
  }

  if (n > 1) {
    const TableFlows flows(rt, table);
    std::vector<double> inj;
    for (int g = 0; g < n; g++)
      inj.push_back(flows.injection(g));
    o << "\nPer-GPU injection bandwidth (one GPU sending to every other at once): " << range(inj, "") << "\n";
    if (t.nodes > 1) {
      std::vector<double> off;
      for (int g = 0; g < n; g++)
        off.push_back(flows.injection(g, true));
      o << "  to other nodes only: " << range(off, "") << "\n";
    }
    const Bisection b = flows.bisection();
    o << "Bisection bandwidth: " << human_rate(b.rate) << " per direction: all pairs across the worst balanced cut, "
      << gpu_set(b.half) << " against the rest, max-min fair over these routes ("
      << (b.exhaustive ? (b.cuts == 1 ? std::string("the only balanced cut") : "all " + std::to_string(b.cuts) + " balanced cuts checked") : std::to_string(b.cuts) + " structured cuts checked")
      << ")\n";
  }
  o << "\nDrawing:\n";
  std::istringstream d(draw_ascii(rt));
  for (std::string line; std::getline(d, line);)
    o << (line.empty() ? "" : "  " + line) << "\n";
  return o.str();
}

} // namespace moesim
