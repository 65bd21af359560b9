#include "sim/routed_platform.hpp"

#include "topology/xml_writer.hpp"

#include <simgrid/s4u.hpp>
#include <xbt/parse_units.hpp>

#include <unordered_map>

namespace moesim {
namespace sg4 = simgrid::s4u;

LoadedLinks load_routed_platform(const RoutedTopology& rt)
{
  const Topology& t = rt.topo;
  // The XML parser's steps, element by element: a Full zone (the root, being the first), each
  // host created, given its props and sealed, each link likewise, then the routes in file order.
  sg4::NetZone* zone = sg4::create_full_zone(zone_id(t));
  std::unordered_map<std::string, std::string> gpu;
  for (const auto& [k, v] : gpu_props(t.gpu))
    gpu.emplace(k, v);
  const std::string speed = t.gpu.flops.at(Dtype::bf16).text();
  for (int g = 0; g < t.total_gpus(); g++) {
    const std::string name = "gpu" + std::to_string(g);
    zone->create_host(name, std::vector<double>{xbt_parse_get_speed("", 0, speed, "")})->set_properties(gpu)->seal();
  }
  std::vector<const sg4::Link*> links;
  links.reserve(rt.links.size());
  LoadedLinks loaded;
  loaded.reserve(rt.links.size());
  for (const TopoLink& l : rt.links) {
    const double bw = xbt_parse_get_bandwidth("", 0, l.bw.text(), "");
    sg4::Link* link;
    if (l.sharing == Sharing::splitduplex) {
      sg4::SplitDuplexLink* sd = zone->create_split_duplex_link(l.name, bw);
      link = sd;
      loaded.push_back({sd->get_link_up(), sd->get_link_down(), nullptr});
    } else {
      link = zone->create_link(l.name, bw);
      link->set_sharing_policy(sg4::Link::SharingPolicy::SHARED);
      loaded.push_back({link, link, link});
    }
    link->set_properties({{"class", l.cls}})->set_latency(0.0)->seal();
    links.push_back(link);
  }
  std::vector<simgrid::kernel::routing::NetPoint*> point(t.total_gpus());
  for (int g = 0; g < t.total_gpus(); g++)
    point[g] = sg4::Host::by_name("gpu" + std::to_string(g))->get_netpoint();
  std::vector<sg4::LinkInRoute> list;
  auto route = [&](int s, int d, bool sym) {
    list.clear();
    for (const Hop& h : rt.route(s, d).hops)
      list.emplace_back(links[h.link], h.dir == Dir::up     ? sg4::LinkInRoute::Direction::UP
                                       : h.dir == Dir::down ? sg4::LinkInRoute::Direction::DOWN
                                                            : sg4::LinkInRoute::Direction::NONE);
    zone->add_route(point[s], point[d], nullptr, nullptr, list, sym);
  };
  for (int s = 0; s < rt.gpus(); s++)
    for (int d = s + 1; d < rt.gpus(); d++) {
      const bool sym = rt.symmetric(s, d);
      route(s, d, sym);
      if (!sym)
        route(d, s, false);
    }
  for (const auto& [k, v] : zone_props(t))
    zone->set_property(k, v);
  sg4::Engine::on_platform_created();
  return loaded;
}

bool routed_links(const RoutedTopology& rt, const LoadedLinks& loaded, int s, int d, std::vector<sg4::Link*>& links)
{
  const std::vector<Hop>& hops = rt.route(s, d).hops;
  for (const Hop& h : hops)
    if (loaded.at(h.link)[static_cast<size_t>(h.dir)] == nullptr)
      return false;
  for (const Hop& h : hops)
    links.push_back(loaded[h.link][static_cast<size_t>(h.dir)]);
  return true;
}

} // namespace moesim
