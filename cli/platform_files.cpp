#include "cli/platform_files.hpp"

#include "core/error.hpp"
#include "core/study.hpp"

namespace moesim {
namespace fs = std::filesystem;

const GpuCatalog& PlatformFiles::catalog()
{
  if (!catalog_)
    catalog_ = load_gpu_catalog((fs::path(root_) / "platforms" / "gpus.yaml").string());
  return *catalog_;
}

RoutedTopology PlatformFiles::routed(const std::string& name_or_path, const std::vector<Override>& overrides,
                                     const std::string& flag, std::vector<std::string>* no_effect)
{
  const std::string path = resolve_platform_path(name_or_path, root_, true);
  if (!path.ends_with(".yaml"))
    throw InputError(path, "platform", "is a SimGrid XML platform, not a topology YAML",
                     "give a topology YAML (platforms/*.yaml; platforms/README.md has the schema)");
  Topology t = load_topology(path, catalog());
  for (const Override& o : overrides)
    if (!apply_override(t, o, flag) && no_effect)
      no_effect->push_back(o.key);
  return route_topology(t);
}

PlatformFile PlatformFiles::get(const std::string& name_or_path, const std::vector<Override>& overrides,
                                const std::string& flag)
{
  const std::string path = resolve_platform_path(name_or_path, root_, !overrides.empty());
  const std::string stem = fs::path(path).stem().string();
  if (!path.ends_with(".yaml")) {
    if (!overrides.empty())
      throw InputError(path, flag,
                       "what-if overrides edit a topology YAML, and this SimGrid XML platform has none beside it",
                       "write a topology YAML for it (platforms/README.md), or drop " + flag);
    return {stem, path, "auto", {}, nullptr};
  }
  std::string key = path;
  for (const Override& o : overrides)
    key += "\n" + o.key + "=" + o.value;
  if (auto it = made_.find(key); it != made_.end())
    return it->second;
  std::vector<std::string> no_effect;
  auto routed = std::make_shared<const RoutedTopology>(this->routed(path, overrides, flag, &no_effect));
  std::string source = path;
  for (const Override& o : overrides)
    source += (source == path ? " with " : ", ") + (o.flag.empty() ? flag : o.flag) + " " + o.key + "=" + o.value;
  // A measured calibration belongs to the machine as it is: beside the YAML, and only unmodified.
  std::string cal;
  const fs::path c = fs::path(path).parent_path() / "calibration" / (stem + ".yaml");
  if (overrides.empty() && fs::exists(c))
    cal = c.string();
  return made_[key] = {stem, source, cal, no_effect, std::move(routed)};
}

std::unique_ptr<Simulation> open_simulation(const std::string& xml, const RoutedTopology* routed,
                                            const std::string& calibration)
{
  if (routed)
    return std::make_unique<Simulation>(*routed, xml, calibration);
  return std::make_unique<Simulation>(xml, calibration);
}

} // namespace moesim
