#include "sim/platform.hpp"

#include "core/error.hpp"

#include <xbt/log.h>

#include <cmath>
#include <cstring>
#include <limits>

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

Platform::Platform(const sg4::Engine& e, const std::string& file, const std::string& calibration_file) : file_(file)
{
  if (!calibration_file.empty())
    calibration_ = cached_calibration(calibration_file);
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
  gpus_per_node_ = static_cast<int>(
      number_prop(zone->get_property("moesim.gpus_per_node"), file, "zone.moesim.gpus_per_node", false, 0));
  std::string link = zone->get_property("moesim.nccl_intra") ? zone->get_property("moesim.nccl_intra") : "";
  if (link == "nvlink")
    nccl_link_ = LinkClass::nvlink;
  else if (link == "pci")
    nccl_link_ = LinkClass::pci;
  else
    throw InputError(file, "moesim.nccl_intra", "missing or unknown ('" + link + "')",
                     "add <prop id=\"moesim.nccl_intra\" value=\"nvlink\"/> or value=\"pci\" to the zone");
  // Fixed cost of a p2p / all-to-all call: NCCL has no constant for it (notes §6.5); until
  // calibrated, use the Simple ring base plus one hop of the link class.
  const int li = static_cast<int>(nccl_link_);
  p2p_alpha_ = number_prop(zone->get_property("moesim.p2p_alpha"), file, "zone.moesim.p2p_alpha", false,
                           (nccl_.base_ring[2] + nccl_.hw_ring[li][2]) * 1e-6);
  if (const char* a = zone->get_property("moesim.nccl_algo")) {
    std::string algo = a;
    if (algo == "ring")
      allreduce_algo_ = CollAlgo::ring;
    else if (algo == "tree")
      allreduce_algo_ = CollAlgo::tree;
    else if (algo != "auto")
      throw InputError(file, "moesim.nccl_algo", "unknown value '" + algo + "'", "use ring, tree or auto");
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
  std::map<std::string, double> class_latency;
  for (int s = 0; s < gpus; s++)
    for (int d = 0; d < gpus; d++) {
      if (s == d)
        continue;
      Route& r = routes_[s][d];
      double lat = 0;
      try {
        hosts_[s]->route_to(hosts_[d], r.links, &lat);
      } catch (const std::exception& ex) {
        throw InputError(file, "route gpu" + std::to_string(s) + "->gpu" + std::to_string(d),
                         std::string("no route: ") + ex.what(), "add a <route> between them");
      }
      if (r.links.empty())
        throw InputError(file, "route gpu" + std::to_string(s) + "->gpu" + std::to_string(d),
                         "the GPUs are not connected", "add a <route> between them");
      r.bottleneck = std::numeric_limits<double>::infinity();
      for (sg4::Link* l : r.links) {
        r.bottleneck = std::min(r.bottleneck, l->get_bandwidth());
        if (!link_class_.count(l)) {
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
          link_class_[l] = c;
        }
        // Links stay latency-free in SimGrid (notes trap 4); a class latency is charged as alpha.
        const std::string& cls = link_class_.at(l);
        auto lat = class_latency.find(cls);
        if (lat == class_latency.end())
          lat = class_latency
                    .emplace(cls, number_prop(zone->get_property("moesim.latency." + cls), file,
                                              "zone.moesim.latency." + cls, false, 0))
                    .first;
        r.latency += lat->second;
      }
    }
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
