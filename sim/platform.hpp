// Platform: what moesim reads from a SimGrid platform once it is loaded: the GPUs (hosts gpu0..N-1
// and their properties), the NCCL link class, and per GPU pair the route and its bottleneck.
#pragma once
#include "core/calibration.hpp"
#include "core/costs.hpp"
#include "core/software_paths.hpp"

#include <simgrid/s4u.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim {
namespace sg4 = simgrid::s4u;

struct Route {
  std::vector<sg4::Link*> links;
  double bottleneck = 0; // B/s
  double latency = 0;    // s: the per-crossing latencies of its links' classes (zone props moesim.latency.<class>)
};

class Platform {
public:
  // Reads a platform already loaded into `engine`; throws InputError naming `file` when a GPU host,
  // a property or a route is missing. `calibration_file`: measured curves and efficiencies to use
  // ("" = none).
  Platform(const sg4::Engine& engine, const std::string& file, const std::string& calibration_file = "");

  int gpus() const { return static_cast<int>(hosts_.size()); }
  // GPUs per node (zone property moesim.gpus_per_node; every GPU when absent).
  int gpus_per_node() const { return gpus_per_node_ > 0 ? gpus_per_node_ : gpus(); }
  sg4::Host* host(int rank) const { return hosts_.at(rank); }
  const GpuSpec& gpu(int rank) const { return specs_.at(rank); }
  LinkClass nccl_link() const { return nccl_link_; }
  double p2p_alpha() const { return p2p_alpha_; }
  const NcclLatencies& nccl() const { return nccl_; }
  // Zone property moesim.nccl_algo = ring | tree restricts all-reduce like NCCL_ALGO; unset = auto.
  std::optional<CollAlgo> allreduce_algo() const { return allreduce_algo_; }
  const std::string& file() const { return file_; }
  const std::string& description() const { return description_; }
  const Route& route(int src, int dst) const;
  // The measured calibration, when the platform has one.
  const Calibration* calibration() const { return calibration_ ? &*calibration_ : nullptr; }
  // Link class ("pcie", "nvlink", ...) from the link's `class` property.
  const std::string& link_class(const sg4::Link* l) const { return link_class_.at(l); }

private:
  std::string file_;
  std::string description_;
  int gpus_per_node_ = 0;
  std::vector<sg4::Host*> hosts_;
  std::vector<GpuSpec> specs_;
  LinkClass nccl_link_ = LinkClass::pci;
  double p2p_alpha_ = 0;
  std::optional<CollAlgo> allreduce_algo_;
  std::optional<Calibration> calibration_;
  NcclLatencies nccl_;
  std::vector<std::vector<Route>> routes_;
  std::map<const sg4::Link*, std::string> link_class_;
};

// What an engine's path choices depend on: NVLink between every GPU pair of a node (a route
// with an nvlink link and no PCIe or host memory), GPU peer access (no route of a node through
// host memory), and GPUs per node.
PlatformTraits platform_traits(const Platform& p);

// Sets the network model to exact, fair max-min sharing (simgrid-nccl-notes.md traps 2-5).
// Must run before the platform is loaded.
void configure_exact_network();

} // namespace moesim
