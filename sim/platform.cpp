#include "sim/platform.hpp"

#include "core/error.hpp"

#include <xbt/log.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

namespace moesim {

void configure_exact_network()
{
  sg4::Engine::set_config("network/model:CM02");
  sg4::Engine::set_config("network/crosstraffic:0");
  sg4::Engine::set_config("network/TCP-gamma:0");
  sg4::Engine::set_config("surf/precision:1e-13");
  sg4::Engine::set_config("maxmin/precision:1e-13");
  sg4::Engine::set_config("network/loopback-bw:1e15");
}

static double number_prop(const char* v, const std::string& file, const std::string& key, bool required, double dflt)
{
  if (!v) {
    if (required)
      throw InputError(file, key, "missing property", "add <prop id=\"" + key.substr(key.rfind('.') + 1) +
                                                          "\" value=\"...\"/> (see platforms/README.md)");
    return dflt;
  }
  try {
    size_t pos = 0;
    double d = std::stod(v, &pos);
    if (pos != std::string(v).size() || !std::isfinite(d) || d < 0)
      throw std::invalid_argument(v);
    return d;
  } catch (const std::exception&) {
    throw InputError(file, key, std::string("'") + v + "' is not a non-negative number", "write a plain number, e.g. 3.35e12");
  }
}

Platform::Platform(const sg4::Engine& e, const std::string& file, std::shared_ptr<const Calibration> calibration,
                   const RouteLinks& links_of)
    : file_(file), calibration_(std::move(calibration))
{
  const sg4::NetZone* root = e.get_netzone_root();
  const sg4::NetZone* zone = root;
  if (!root->get_property("moesim.gpus") && root->get_children().size() == 1)
    zone = root->get_children().front();
  const char* n = zone->get_property("moesim.gpus");
  if (!n)
    throw InputError(file, "moesim.gpus", "missing zone property", "add <prop id=\"moesim.gpus\" value=\"N\"/> to the zone");
  const int gpus = static_cast<int>(number_prop(n, file, "zone.moesim.gpus", true, 0));
  if (gpus < 1)
    throw InputError(file, "moesim.gpus", "must be at least 1", "set it to the number of gpuN hosts");
  if (const char* d = zone->get_property("moesim.description"))
    description_ = d;
  if (zone->get_property("moesim.p2p_alpha"))
    p2p_alpha_ = number_prop(zone->get_property("moesim.p2p_alpha"), file, "zone.moesim.p2p_alpha", false, 0);
  gpus_per_node_ = static_cast<int>(
      number_prop(zone->get_property("moesim.gpus_per_node"), file, "zone.moesim.gpus_per_node", false, gpus));
  if (gpus_per_node_ < 1 || gpus % gpus_per_node_ != 0)
    throw InputError(file, "moesim.gpus_per_node", "must divide moesim.gpus (" + std::to_string(gpus) + ")",
                     "give the GPUs per node of identical nodes");
  // moesim.nodes: the nodes, as many as moesim.gpus over moesim.gpus_per_node (which it gives when
  // that is absent).
  if (const char* v = zone->get_property("moesim.nodes")) {
    const double nodes = number_prop(v, file, "zone.moesim.nodes", true, 1);
    if (nodes < 1 || nodes != std::floor(nodes) || gpus % static_cast<int>(nodes) != 0)
      throw InputError(file, "moesim.nodes", std::string("'") + v + "' does not divide moesim.gpus (" + std::to_string(gpus) + ")",
                       "write the number of identical nodes");
    if (!zone->get_property("moesim.gpus_per_node"))
      gpus_per_node_ = gpus / static_cast<int>(nodes);
    else if (gpus_per_node_ * static_cast<int>(nodes) != gpus)
      throw InputError(file, "moesim.nodes",
                       std::string(v) + " nodes x moesim.gpus_per_node " + std::to_string(gpus_per_node_) + " is not moesim.gpus (" +
                           std::to_string(gpus) + ")",
                       "write nodes x GPUs per node = GPUs");
  }
  if (const char* a = zone->get_property("moesim.nccl_algo")) {
    std::string algo = a;
    if (algo == "ring")
      allreduce_algo_ = CollAlgo::ring;
    else if (algo == "tree")
      allreduce_algo_ = CollAlgo::tree;
    else if (algo != "auto")
      throw InputError(file, "moesim.nccl_algo", "unknown value '" + algo + "'", "use ring, tree or auto");
  }
  if (const char* v = zone->get_property("moesim.nccl_version")) {
    const std::optional<int> code = parse_nccl_version(v);
    if (!code)
      throw InputError(file, "moesim.nccl_version", std::string("'") + v + "' is not an NCCL version",
                       "write major.minor.patch, e.g. 2.27.3");
    nccl_version_ = *code;
  }
  for (int r = 0; r < gpus; r++) {
    std::string name = "gpu" + std::to_string(r);
    sg4::Host* h = e.host_by_name_or_null(name);
    if (!h)
      throw InputError(file, name, "no host named " + name + " although moesim.gpus is " + std::to_string(gpus),
                       "name the GPU hosts gpu0..gpu" + std::to_string(gpus - 1));
    hosts_.push_back(h);
    GpuSpec g;
    const std::string k = name + ".";
    g.model = h->get_property("gpu_model") ? h->get_property("gpu_model") : "";
    if (g.model.empty())
      throw InputError(file, k + "gpu_model", "missing property", "add <prop id=\"gpu_model\" value=\"H100-SXM5-80GB\"/>");
    g.mem_bytes = number_prop(h->get_property("mem_bytes"), file, k + "mem_bytes", true, 0);
    g.mem_bw = number_prop(h->get_property("mem_bw"), file, k + "mem_bw", true, 0);
    g.mem_bw_eff = number_prop(h->get_property("mem_bw_eff"), file, k + "mem_bw_eff", true, 0);
    g.flops_eff = number_prop(h->get_property("flops_eff"), file, k + "flops_eff", true, 0);
    g.kernel_overhead = number_prop(h->get_property("kernel_overhead"), file, k + "kernel_overhead", true, 0);
    g.flops[Dtype::bf16] = h->get_speed();
    g.flops[Dtype::fp16] = h->get_speed();
    for (auto [prop, dt] : {std::pair{"flops_fp8", Dtype::fp8}, {"flops_nvfp4", Dtype::nvfp4},
                            {"flops_mxfp4", Dtype::mxfp4}, {"flops_fp32", Dtype::fp32}})
      if (const char* v = h->get_property(prop))
        g.flops[dt] = number_prop(v, file, k + prop, true, 0);
    const double sm = number_prop(h->get_property("sm"), file, k + "sm", true, 0);
    if (!(sm >= 30 && sm < 1000) || sm != std::floor(sm)) // before the cast: 1e300 does not fit an int
      throw InputError(file, k + "sm", "'" + std::string(h->get_property("sm")) + "' is not a compute capability",
                       "write major*10+minor, e.g. 90 for Hopper (add sm: to the GPU in platforms/gpus.yaml)");
    sm_.push_back(static_cast<int>(sm));
    if (g.mem_bw <= 0 || g.mem_bw_eff <= 0 || g.flops_eff <= 0 || g.mem_bytes <= 0 || h->get_speed() <= 0)
      throw InputError(file, name, "memory size, bandwidth, speed and efficiencies must be positive",
                       "fix the host's speed and properties");
    if (calibration_) {
      if (calibration_->mem_bw_eff)
        g.mem_bw_eff = *calibration_->mem_bw_eff;
      if (calibration_->flops_eff)
        g.flops_eff = *calibration_->flops_eff;
      if (calibration_->kernel_overhead)
        g.kernel_overhead = *calibration_->kernel_overhead;
    }
    specs_.push_back(g);
  }
  if (calibration_ && calibration_->p2p_alpha)
    p2p_alpha_ = *calibration_->p2p_alpha;
  routes_.assign(gpus, std::vector<Route>(gpus));
  pcie_gbs_.assign(gpus, 0);
  net_latency_us_ = number_prop(zone->get_property("moesim.latency.nic"), file, "zone.moesim.latency.nic", false, 0) * 1e6;
  std::map<std::string, double> class_latency;
  // What each link contributes to a route, worked out the first time a route crosses it.
  std::unordered_map<const sg4::Link*, LinkFacts> facts;
  auto facts_of = [&](sg4::Link* l) -> const LinkFacts& {
    auto [it, fresh] = facts.try_emplace(l);
    if (!fresh)
      return it->second;
    // SPLITDUPLEX links keep their properties on the pair, not on the _UP/_DOWN halves.
    const char* c = l->get_property("class");
    std::string name = l->get_name();
    for (const char* suffix : {"_UP", "_DOWN"})
      if (!c && name.ends_with(suffix))
        if (const auto* sd = e.split_duplex_link_by_name(name.substr(0, name.size() - std::strlen(suffix))))
          c = sd->get_property("class");
    if (!c)
      throw InputError(file, "link " + l->get_name(), "missing property class",
                       "add <prop id=\"class\" value=\"pcie\"/> (nvlink, pcie, host_memory, cpu_interconnect, nic)");
    const std::string& cls = link_class_.emplace(l, c).first->second;
    LinkFacts& f = it->second;
    f.bandwidth = l->get_bandwidth();
    class_capacity_[cls] += f.bandwidth;
    f.nic = cls == "nic";
    f.nvlink = cls == "nvlink";
    f.host_memory = cls == "host_memory";
    f.pcie = cls == "pcie" || cls == "c2c";
    f.fabric = cls == "fabric";
    f.cpu_link = cls == "cpu_interconnect";
    // Links stay latency-free in SimGrid, which would weight flows by route latency; a class
    // latency is charged as alpha instead (docs/simgrid-and-nccl.md, "Exact network model"), the
    // network's inside NCCL's model.
    if (!f.nic) {
      auto lat = class_latency.find(cls);
      if (lat == class_latency.end())
        lat = class_latency
                  .emplace(cls, number_prop(zone->get_property("moesim.latency." + cls), file,
                                            "zone.moesim.latency." + cls, false, 0))
                  .first;
      f.latency = lat->second;
    }
    return f;
  };
  std::vector<const LinkFacts*> route_facts;
  for (int s = 0; s < gpus; s++)
    for (int d = 0; d < gpus; d++) {
      if (s == d)
        continue;
      Route& r = routes_[s][d];
      double lat = 0;
      try {
        if (!links_of || !links_of(s, d, r.links))
          hosts_[s]->route_to(hosts_[d], r.links, &lat);
      } catch (const std::exception& ex) {
        throw InputError(file, "route gpu" + std::to_string(s) + "->gpu" + std::to_string(d),
                         std::string("no route: ") + ex.what(), "add a <route> between them");
      }
      if (r.links.empty())
        throw InputError(file, "route gpu" + std::to_string(s) + "->gpu" + std::to_string(d),
                         "the GPUs are not connected", "add a <route> between them");
      r.links.shrink_to_fit();
      r.bottleneck = std::numeric_limits<double>::infinity();
      route_facts.clear();
      for (sg4::Link* l : r.links) {
        const LinkFacts& f = facts_of(l);
        route_facts.push_back(&f);
        r.bottleneck = std::min(r.bottleneck, f.bandwidth);
        if (!f.nic)
          r.latency += f.latency;
      }
      classify(r, s, route_facts);
      route_latency_ = route_latency_ || r.latency > 0;
    }
}

void Platform::classify(Route& r, int src, const std::vector<const LinkFacts*>& links)
{
  // The transport NCCL picks over this route, and its view of the route's tightest link.
  bool nic = false, nvlink = false, staged = false, sys = false;
  double view = std::numeric_limits<double>::infinity();
  for (const LinkFacts* f : links) {
    const double gbs = f->bandwidth / 1e9;
    nic = nic || f->nic;
    nvlink = nvlink || f->nvlink;
    staged = staged || f->host_memory;
    sys = sys || f->cpu_link;
    if (f->nvlink)
      view = std::min(view, nccl_nvlink_gbs(sm_[src], gbs));
    else if (f->pcie)
      view = std::min(view, nccl_pcie_gbs(gbs));
    else if (f->nic || f->fabric)
      view = std::min(view, gbs);
  }
  r.transport = nic ? Transport::net : staged ? Transport::shm : nvlink ? Transport::nvlink : Transport::p2p;
  // NCCL charges traffic through the (Intel) root complex 6/5 of its bytes on PCIe. What the links
  // carry is seen that way; NCCL's view of a path across CPU sockets (SYS) takes the CPU link at its
  // table's figure instead, without that charge (search.cc followPath: PHB paths only).
  const double links_view = r.transport == Transport::shm ? view / intel_p2p_overhead : view;
  r.link_gbs = links_view;
  r.nccl_gbs = sys && !nic ? std::min(view, nccl_intel_inter_cpu_gbs) : links_view;
  // The GPU's own PCIe link is the first link of a route that leaves it over PCIe.
  if (pcie_gbs_[src] == 0 && links.front()->pcie)
    pcie_gbs_[src] = links.front()->bandwidth / 1e9;
}

CommShape Platform::comm_shape(const std::vector<int>& ranks) const
{
  const int n = static_cast<int>(ranks.size());
  CommShape s;
  s.transport.assign(n, std::vector<Transport>(n, Transport::nvlink));
  s.path_gbs.assign(n, std::vector<double>(n, 0));
  std::vector<std::vector<double>> link_gbs(n, std::vector<double>(n, 0));
  s.p2p_alpha = p2p_alpha_;
  int sm = 1000;
  for (int i = 0; i < n; i++) {
    s.pcie_gbs.push_back(pcie_gbs_.at(ranks[i]));
    sm = std::min(sm, sm_.at(ranks[i]));
    for (int j = 0; j < n; j++)
      if (i != j) {
        s.transport[i][j] = route(ranks[i], ranks[j]).transport;
        s.path_gbs[i][j] = route(ranks[i], ranks[j]).nccl_gbs;
        link_gbs[i][j] = route(ranks[i], ranks[j]).link_gbs;
      }
  }
  s.node = nccl_nodes(s.transport);
  NcclComm& c = s.nccl;
  c.ranks = n;
  c.nodes = n > 0 ? 1 + *std::max_element(s.node.begin(), s.node.end()) : 1;
  c.sm = sm;
  c.net_latency_us = net_latency_us_;
  c.version = nccl_version_;
  // NCCL's intra-node view: the NVLink row when every pair inside a node is NVLink; the ring must fit
  // through its tightest hop; one channel at most the fastest path.
  bool intra_pairs = false;
  c.nvlink = true;
  double capacity = std::numeric_limits<double>::infinity(), fastest = 0;
  double link_capacity = capacity, link_fastest = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (i != j && s.node[i] == s.node[j]) {
        intra_pairs = true;
        c.nvlink = c.nvlink && s.transport[i][j] == Transport::nvlink;
        fastest = std::max(fastest, s.path_gbs[i][j]);
        link_fastest = std::max(link_fastest, link_gbs[i][j]);
        if (j == (i + 1) % n) {
          capacity = std::min(capacity, s.path_gbs[i][j]);
          link_capacity = std::min(link_capacity, link_gbs[i][j]);
        }
      }
  c.nvlink = c.nvlink && intra_pairs;
  if (c.nodes == 1) {
    c.graph = nccl_ring_search(sm, capacity, fastest);
    s.link_graph = link_capacity == capacity ? c.graph : nccl_ring_search(sm, link_capacity, link_fastest);
    return s;
  }
  // Across nodes every ring leaves a node through one NIC: as many rings as the first node's
  // members use NICs to reach the others, each channel within one NIC's speed.
  std::vector<const sg4::Link*> nics;
  double nic_gbs = std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (s.node[i] == 0 && s.node[j] != 0)
        for (sg4::Link* l : route(ranks[i], ranks[j]).links)
          if (link_class_.at(l) == "nic") {
            if (std::find(nics.begin(), nics.end(), l) == nics.end())
              nics.push_back(l);
            nic_gbs = std::min(nic_gbs, l->get_bandwidth() / 1e9);
            break;
          }
  s.rings = std::max<int>(1, static_cast<int>(nics.size()));
  if (!intra_pairs)
    capacity = std::numeric_limits<double>::infinity();
  c.graph = nccl_ring_search(sm, std::min(capacity, s.rings * nic_gbs), nic_gbs, true);
  s.link_graph = c.graph;
  return s;
}

const Route& Platform::route(int src, int dst) const
{
  return routes_.at(src).at(dst);
}

PlatformTraits platform_traits(const Platform& p)
{
  PlatformTraits t;
  t.gpus = p.gpus();
  t.gpus_per_node = p.gpus_per_node();
  t.nvlink = true;
  t.p2p = true;
  for (int a = 0; a < p.gpus(); a++)
    for (int b = 0; b < p.gpus(); b++) {
      if (a == b || a / t.gpus_per_node != b / t.gpus_per_node)
        continue;
      bool nvlink = false, pcie = false, host = false;
      for (const sg4::Link* l : p.route(a, b).links) {
        const std::string& c = p.link_class(l);
        nvlink = nvlink || c == "nvlink";
        pcie = pcie || c == "pcie";
        host = host || c == "host_memory" || c == "cpu_interconnect";
      }
      t.nvlink = t.nvlink && nvlink && !pcie && !host;
      t.p2p = t.p2p && !host;
    }
  return t;
}

} // namespace moesim
