// Helpers for topology tests: write a topology YAML to a temp file and load or route it against the
// repository's GPU catalogue, and name a route's links as "link DIR" strings.
#pragma once
#include "topology/overrides.hpp"
#include "topology/route_policy.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace moesim::test {

inline const GpuCatalog& catalog()
{
  static const GpuCatalog c = load_gpu_catalog(std::string(MOESIM_SOURCE_DIR) + "/platforms/gpus.yaml");
  return c;
}

// ctest runs test cases in parallel processes: one file per process and name.
inline std::string yaml_file(const std::string& name, const std::string& text)
{
  const auto p = std::filesystem::temp_directory_path() /
                 ("moesim_topo_" + std::to_string(getpid()) + "_" + name + ".yaml");
  std::ofstream(p) << text;
  return p.string();
}

inline Topology topo(const std::string& name, const std::string& text)
{
  return load_topology(yaml_file(name, text), catalog());
}

inline RoutedTopology routed(const std::string& name, const std::string& text, const std::vector<Override>& o = {})
{
  Topology t = topo(name, text);
  for (const Override& x : o)
    apply_override(t, x, "--set");
  return route_topology(t);
}

inline std::vector<std::string> hops(const RoutedTopology& rt, int s, int d)
{
  std::vector<std::string> out;
  for (const Hop& h : rt.route(s, d).hops)
    out.push_back(rt.links.at(h.link).name + (h.dir == Dir::up ? " UP" : h.dir == Dir::down ? " DOWN" : ""));
  return out;
}

using Hops = std::vector<std::string>;

} // namespace moesim::test
