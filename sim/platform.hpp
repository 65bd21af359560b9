// Platform: what moesim reads from a SimGrid platform once it is loaded: the GPUs (hosts gpu0..N-1
// and their properties), their nodes, and per GPU pair the route, its bottleneck, the transport NCCL
// would use over it and NCCL's view of its bandwidth; from these, a communicator's shape for the
// collective cost model.
#pragma once
#include "core/calibration.hpp"
#include "core/costs.hpp"
#include "core/software_paths.hpp"

#include <simgrid/s4u.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace moesim {
namespace sg4 = simgrid::s4u;

struct Route {
  std::vector<sg4::Link*> links;
  double bottleneck = 0; // B/s
  double latency = 0;    // s: the per-crossing latencies of its links' classes but the network's
                         // (zone props moesim.latency.<class>; the network's goes into NCCL's model)
  Transport transport = Transport::p2p; // NVLink, PCIe P2P, SHM (staged through host memory), network
  double nccl_gbs = 0;   // NCCL's view of the tightest link, GB/s (host memory unseen; a CPU link at
                         // NCCL's figure for it, nccl_intel_inter_cpu_gbs)
  double link_gbs = 0;   // the same with the CPU link unseen: what the links themselves carry
};

class Platform {
public:
  // Reads a platform already loaded into `engine`; throws InputError naming `file` when a GPU host,
  // a property or a route is missing. `calibration`: measured curves and efficiencies to use (null:
  // none), shared and never modified. `links_of`, when given, appends route s -> d's links as
  // Host::route_to would list them (without SimGrid's route lookup) and returns true, or returns
  // false for route_to to answer.
  using RouteLinks = std::function<bool(int s, int d, std::vector<sg4::Link*>& links)>;
  Platform(const sg4::Engine& engine, const std::string& file, std::shared_ptr<const Calibration> calibration = nullptr,
           const RouteLinks& links_of = {});

  int gpus() const { return static_cast<int>(hosts_.size()); }
  // GPUs per node (zone property moesim.gpus_per_node; every GPU when absent).
  int gpus_per_node() const { return gpus_per_node_; }
  int node_of(int rank) const { return rank / gpus_per_node_; }
  int sm(int rank) const { return sm_.at(rank); }
  sg4::Host* host(int rank) const { return hosts_.at(rank); }
  const GpuSpec& gpu(int rank) const { return specs_.at(rank); }
  // The fixed cost of a send or all-to-all when the platform or its calibration sets one.
  std::optional<double> p2p_alpha() const { return p2p_alpha_; }
  // Zone property moesim.nccl_algo = ring | tree restricts all-reduce like NCCL_ALGO; unset = auto.
  std::optional<CollAlgo> allreduce_algo() const { return allreduce_algo_; }
  // The NCCL release whose rules the collective model follows (NCCL_VERSION_CODE): zone property
  // moesim.nccl_version (e.g. 2.27.3), else nccl_version_modelled; set_nccl_version overrides it
  // (moesim nccl-tests --nccl-version).
  int nccl_version() const { return nccl_version_; }
  void set_nccl_version(int code) { nccl_version_ = code; }
  const std::string& file() const { return file_; }
  const std::string& description() const { return description_; }
  const Route& route(int src, int dst) const;
  // Bandwidth per link class: every distinct link of a GPU-to-GPU route once, summed in route order
  // (source, destination, then the route's links).
  const std::map<std::string, double>& class_capacity() const { return class_capacity_; }
  // Whether some route has a latency (Route::latency > 0).
  bool route_latency() const { return route_latency_; }
  // What the collective cost model needs of a communicator over these ranks (in group order).
  CommShape comm_shape(const std::vector<int>& ranks) const;
  // The measured calibration, when the platform has one.
  const Calibration* calibration() const { return calibration_.get(); }
  // Link class ("pcie", "nvlink", ...) from the link's `class` property.
  const std::string& link_class(const sg4::Link* l) const { return link_class_.at(l); }

private:
  // A link as routes see it: its bandwidth, its class's latency (0 for nic) and class.
  struct LinkFacts {
    double bandwidth = 0;
    double latency = 0;
    bool nic = false, nvlink = false, host_memory = false, pcie = false, fabric = false; // pcie: or c2c
    bool cpu_link = false; // between CPU sockets (class cpu_interconnect)
  };
  void classify(Route& r, int src, const std::vector<const LinkFacts*>& links);

  std::string file_;
  std::string description_;
  std::vector<sg4::Host*> hosts_;
  std::vector<GpuSpec> specs_;
  std::vector<int> sm_;
  std::vector<double> pcie_gbs_;    // per GPU: its PCIe link, effective GB/s (0: none)
  int gpus_per_node_ = 1;
  double net_latency_us_ = 0;       // moesim.latency.nic: the network's latency in NCCL's model
  std::optional<double> p2p_alpha_;
  std::optional<CollAlgo> allreduce_algo_;
  int nccl_version_ = nccl_version_modelled;
  std::shared_ptr<const Calibration> calibration_;
  std::vector<std::vector<Route>> routes_;
  bool route_latency_ = false;
  std::map<std::string, double> class_capacity_;
  std::unordered_map<const sg4::Link*, std::string> link_class_; // looked up, never iterated
};

// What an engine's path choices depend on: NVLink between every GPU pair of a node (a route
// with an nvlink link and no PCIe or host memory), GPU peer access (no route of a node through
// host memory), and GPUs per node.
PlatformTraits platform_traits(const Platform& p);

// Sets the network model to exact, fair max-min sharing (docs/simgrid-and-nccl.md,
// "Exact network model").
// Must run before the platform is loaded.
void configure_exact_network();

} // namespace moesim
