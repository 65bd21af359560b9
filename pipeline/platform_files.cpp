#include "pipeline/platform_files.hpp"

#include "core/error.hpp"
#include "core/study.hpp"
#include "topology/xml_writer.hpp"

namespace moesim {
namespace fs = std::filesystem;

const GpuCatalog& PlatformFiles::catalog()
{
  if (!catalog_)
    catalog_ = load_gpu_catalog((fs::path(root_) / "platforms" / "gpus.yaml").string());
  return *catalog_;
}

RoutedTopology PlatformFiles::routed(const std::string& name_or_path, const std::vector<Override>& overrides,
                                     const std::string& flag, std::vector<std::string>* no_effect,
                                     GpuLimit limit)
{
  return route_topology(topology(name_or_path, overrides, flag, no_effect, limit));
}

std::vector<std::string> PlatformFiles::no_effect(const std::string& name_or_path,
                                                  const std::vector<Override>& overrides, const std::string& flag)
{
  const std::string path = resolve_platform_path(name_or_path, root_, !overrides.empty());
  if (overrides.empty())
    return {};
  if (!path.ends_with(".yaml"))
    return get(name_or_path, overrides, flag).no_effect; // refused: an XML has no topology to edit
  std::vector<std::string> none;
  topology(path, overrides, flag, &none);
  return none;
}

Topology PlatformFiles::topology(const std::string& name_or_path, const std::vector<Override>& overrides,
                                 const std::string& flag, std::vector<std::string>* no_effect, GpuLimit limit)
{
  const std::string path = resolve_platform_path(name_or_path, root_, true);
  if (!path.ends_with(".yaml"))
    throw InputError(path, "platform", "is a SimGrid XML platform, not a topology YAML",
                     "give a topology YAML (platforms/*.yaml; platforms/README.md has the schema)");
  Topology t = load_topology(path, catalog(), limit);
  for (const Override& o : overrides)
    if (!apply_override(t, o, flag) && no_effect)
      no_effect->push_back(o.key);
  return t;
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
    return {stem, path, path, false, {}, nullptr};
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
  return made_[key] = {stem, path, source, !overrides.empty(), no_effect, std::move(routed)};
}

std::unique_ptr<Simulation> open_simulation(const std::string& xml, const RoutedTopology* routed,
                                            std::shared_ptr<const Calibration> calibration)
{
  if (routed)
    return std::make_unique<Simulation>(*routed, xml, std::move(calibration));
  return std::make_unique<Simulation>(xml, std::move(calibration));
}

PlatformFacts platform_facts(const PlatformFile& f)
{
  if (!f.routed)
    return {platform_gpus_from_xml(f.xml), platform_traits_from_xml(f.xml)};
  auto [gpus, traits] = platform_facts_from_xml_text(platform_xml(*f.routed), f.xml);
  return {std::move(gpus), traits};
}

} // namespace moesim
