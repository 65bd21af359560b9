// Topology: a machine (or a cluster of identical machines) as a short YAML describes it: nodes, the
// GPU model, CPU sockets with their host memory and interconnect, the PCIe tree (switches, where
// each GPU and NIC sits), NVLink (NVSwitch or point-to-point pairs), NICs and the inter-node fabric,
// and whether GPU peer-to-peer is available. The loader is strict: unknown keys, dangling names and
// missing bandwidths are errors naming file:line and the fix. platforms/README.md has the schema.
#pragma once
#include "core/limits.hpp"
#include "topology/gpu_catalog.hpp"
#include "topology/units.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

// NCCL's path classes between two PCIe devices (nvidia-smi topo -m): through one switch, several
// switches, the CPU's host bridge, or across CPU sockets.
enum class PathLevel { pix, pxb, phb, sys };
const char* to_string(PathLevel l);
PathLevel parse_path_level(const std::string& s); // throws std::invalid_argument

enum class NvlinkKind { none, nvswitch, mesh };
enum class Fabric { rail, fat_tree };

struct PcieSwitch {
  std::string name;
  std::string parent; // "cpuN" or another switch
  Quantity uplink;
  int line = 0;
};

struct NvlinkPair {
  int a = 0, b = 0;             // local GPU indices, a < b
  std::optional<Quantity> bw;   // else the mesh bandwidth
};

struct Network {
  Quantity nic;                      // per NIC, per direction
  std::vector<std::string> nics_at;  // PCIe attach point of NIC i (= rail i)
  Fabric fabric = Fabric::rail;
  int rails = 0;
  double oversubscription = 1;       // leaf downlink : uplink
  int nodes_per_leaf = 0;            // 0: every node under one leaf (per rail)
  bool pxn = true;
  bool gpudirect = true;
  PathLevel gdr_level = PathLevel::pxb;
};

struct Topology {
  std::string file;        // the YAML it came from (for error messages)
  std::string name;        // file stem unless given
  std::string description; // one line for reports
  std::string sources;     // free text carried into the XML header
  GpuModel gpu;
  int nodes = 1;
  int gpus = 1;            // per node
  bool p2p = true;
  PathLevel p2p_level = PathLevel::sys;
  // host
  int sockets = 1;
  Quantity memory;                       // host memory per socket (SHARED)
  std::optional<Quantity> interconnect;  // between sockets, per direction
  // PCIe
  Quantity gpu_link;                     // each GPU's link to its switch or root port
  std::string gpu_link_class = "pcie";
  std::vector<PcieSwitch> switches;
  std::vector<std::string> gpus_at;      // per local GPU: "cpuN" or a switch name
  // NVLink
  NvlinkKind nvlink = NvlinkKind::none;
  Quantity nvlink_bw;                    // NVSwitch: per GPU; mesh: per pair (per direction)
  std::vector<NvlinkPair> nvlink_pairs;  // mesh only
  int nvlink_domain_nodes = 1;           // consecutive nodes sharing one NVSwitch fabric
  // network
  std::optional<Network> network;
  // extras for the simulator
  std::map<std::string, Quantity> latency; // per link class: per-crossing latency moesim adds to alpha
  std::optional<Quantity> p2p_alpha;
  std::string nccl_algo;                   // "", ring, tree
  // Where keys were written, for errors found after loading ("pcie.gpu_link" -> line).
  std::map<std::string, int> lines;

  int total_gpus() const { return nodes * gpus; }
  // "file:line" for a key path, or the file alone.
  std::string where(const std::string& key) const;
  // NIC used by local GPU g (its rail): NICs are shared out in order, g * nics / gpus.
  int nic_of(int g) const;
};

// The most GPUs a topology may have where it is loaded, and what a refusal says holds that limit.
struct GpuLimit {
  int gpus;
  const char* holder;
};
// Commands that hold a route per GPU pair (run, platform show, platform build).
inline constexpr GpuLimit pair_routes_limit{limits::gpus, "a platform may have"};
// `platform build --zones`.
inline constexpr GpuLimit zoned_limit{limits::zoned_gpus, "platform build --zones takes"};

// Loads and checks a topology; GPU names resolve through `catalog`. A topology with more than
// `limit.gpus` GPUs is refused before anything is allocated per GPU.
Topology load_topology(const std::string& path, const GpuCatalog& catalog, GpuLimit limit = pair_routes_limit);
// Re-checks the numbers after overrides; throws InputError naming `source` (e.g. "--set").
void validate_topology(const Topology& t, const std::string& source);

} // namespace moesim
