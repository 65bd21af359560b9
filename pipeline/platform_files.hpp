// PlatformFiles: the platforms a run simulates. A study names SimGrid XML files or topology YAMLs;
// a YAML (with its what-ifs) is routed once and loaded straight into SimGrid by each scenario
// (sim/routed_platform.hpp): no XML is written or parsed, so nothing lands in the user's folders
// and a 1,024-GPU platform costs no 298 MB of text. Errors name the YAML and the what-ifs.
#pragma once
#include "sim/platform_check.hpp"
#include "sim/simulation.hpp"
#include "topology/gpu_catalog.hpp"
#include "topology/overrides.hpp"
#include "topology/route_policy.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

struct PlatformFile {
  std::string name;   // what reports call it: the source's file stem
  std::string source; // the file the study or the user named (topology YAML or SimGrid XML)
  std::string xml;    // the XML file to load; for a topology YAML, the YAML and its what-ifs (errors name it)
  bool edited = false; // what-if overrides were applied (a machine nobody measured)
  std::vector<std::string> no_effect; // keys of the overrides that changed nothing on this platform
  std::shared_ptr<const RoutedTopology> routed; // a topology YAML, routed (else null: load `xml`)
};

// The simulation of a platform: the routed topology when there is one (`xml` then names it), its
// XML file otherwise.
std::unique_ptr<Simulation> open_simulation(const std::string& xml, const RoutedTopology* routed,
                                            std::shared_ptr<const Calibration> calibration);

// What a command reads of a platform before an engine starts: its GPUs (with their memory) and an
// engine profile's traits, by the XML checker's one rule: from the XML file, or for a routed
// topology from the XML text it would write.
struct PlatformFacts {
  std::vector<XmlGpu> gpus;
  PlatformTraits traits;
};
PlatformFacts platform_facts(const PlatformFile& f);

class PlatformFiles {
public:
  explicit PlatformFiles(std::string root) : root_(std::move(root)) {}
  PlatformFiles(const PlatformFiles&) = delete;
  PlatformFiles& operator=(const PlatformFiles&) = delete;

  // The platform a study entry names, with `overrides` applied (they need a topology YAML; a
  // hand-written XML without one is refused naming `flag`).
  PlatformFile get(const std::string& name_or_path, const std::vector<Override>& overrides,
                   const std::string& flag = "--set");

  // Loads and overrides a topology YAML (name or path), refusing more GPUs than `limit`.
  // `no_effect`, when given, receives the keys of the overrides that changed nothing.
  Topology topology(const std::string& name_or_path, const std::vector<Override>& overrides,
                    const std::string& flag = "--set", std::vector<std::string>* no_effect = nullptr,
                    GpuLimit limit = pair_routes_limit);
  // The keys of `overrides` that change nothing on this platform, without routing it (a million
  // routes at 1,024 GPUs); refused as get() refuses.
  std::vector<std::string> no_effect(const std::string& name_or_path, const std::vector<Override>& overrides,
                                     const std::string& flag = "--set");
  // The same, routed.
  RoutedTopology routed(const std::string& name_or_path, const std::vector<Override>& overrides,
                        const std::string& flag = "--set", std::vector<std::string>* no_effect = nullptr,
                        GpuLimit limit = pair_routes_limit);
  const GpuCatalog& catalog();
  const std::string& root() const { return root_; }

private:
  std::string root_;
  std::optional<GpuCatalog> catalog_;
  std::map<std::string, PlatformFile> made_; // source + overrides -> routed platform
};

} // namespace moesim
