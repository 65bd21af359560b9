#include "pipeline/platform_files.hpp"

#include "core/error.hpp"
#include "core/study.hpp"
#include "topology/xml_writer.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace moesim {
namespace fs = std::filesystem;

PlatformFiles::~PlatformFiles()
{
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

const GpuCatalog& PlatformFiles::catalog()
{
  if (!catalog_)
    catalog_ = load_gpu_catalog((fs::path(root_) / "platforms" / "gpus.yaml").string());
  return *catalog_;
}

RoutedTopology PlatformFiles::routed(const std::string& name_or_path, const std::vector<Override>& overrides,
                                     const std::string& flag)
{
  const std::string path = resolve_platform_path(name_or_path, root_, true);
  if (!path.ends_with(".yaml"))
    throw InputError(path, "platform", "is a SimGrid XML platform, not a topology YAML",
                     "give a topology YAML (platforms/*.yaml; platforms/README.md has the schema)");
  Topology t = load_topology(path, catalog());
  for (const Override& o : overrides)
    apply_override(t, o, flag);
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
    return {stem, path, path, false};
  }
  std::string key = path;
  for (const Override& o : overrides)
    key += "\n" + o.key + "=" + o.value;
  if (auto it = made_.find(key); it != made_.end())
    return it->second;
  const std::string xml = platform_xml(routed(path, overrides, flag));
  if (dir_.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "moesim-platforms.XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      throw std::runtime_error(std::string("cannot create a temporary folder: ") + std::strerror(errno));
    dir_ = tmpl;
  }
  const fs::path out = dir_ / (std::to_string(made_.size()) + "-" + stem + ".xml");
  std::ofstream f(out, std::ios::binary);
  f << xml;
  f.close();
  if (!f)
    throw std::runtime_error("cannot write " + out.string());
  return made_[key] = {stem, path, out.string(), !overrides.empty()};
}

} // namespace moesim
