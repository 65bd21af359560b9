// PlatformFiles: the platform files a run simulates. A study names SimGrid XML files or topology
// YAMLs; a YAML (or any platform under --set) is generated into a private temporary folder, owned
// by this object and removed with it (or by the signal handlers of core/temp_paths.hpp), so nothing
// is written in the user's folders. A generated file is checked as it is written, and an error in
// it names its source and the what-ifs, never the temporary file.
#pragma once
#include "core/temp_paths.hpp"
#include "topology/gpu_catalog.hpp"
#include "topology/overrides.hpp"
#include "topology/route_policy.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

struct PlatformFile {
  std::string name;   // what reports call it: the source's file stem
  std::string source; // the file the study or the user named (topology YAML or SimGrid XML)
  std::string xml;    // the file to load
  bool edited = false; // what-if overrides were applied (a machine nobody measured)
  std::vector<std::string> no_effect; // keys of the overrides that changed nothing on this platform
};

class PlatformFiles {
public:
  explicit PlatformFiles(std::string root) : root_(std::move(root)) {}
  PlatformFiles(const PlatformFiles&) = delete;
  PlatformFiles& operator=(const PlatformFiles&) = delete;

  // The platform a study entry names, with `overrides` applied (they need a topology YAML; a
  // hand-written XML without one is refused naming `flag`).
  PlatformFile get(const std::string& name_or_path, const std::vector<Override>& overrides,
                   const std::string& flag = "--set");

  // Loads, overrides and routes a topology YAML (name or path). `no_effect`, when given, receives
  // the keys of the overrides that changed nothing.
  RoutedTopology routed(const std::string& name_or_path, const std::vector<Override>& overrides,
                        const std::string& flag = "--set", std::vector<std::string>* no_effect = nullptr);
  const GpuCatalog& catalog();

private:
  std::string root_;
  std::optional<GpuCatalog> catalog_;
  std::optional<TempDir> dir_;
  std::map<std::string, PlatformFile> made_; // source + overrides -> generated file
};

} // namespace moesim
