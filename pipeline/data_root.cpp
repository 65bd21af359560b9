#include "pipeline/data_root.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cstdlib>

namespace moesim {
namespace fs = std::filesystem;

namespace {

bool holds_data(const fs::path& p)
{
  std::error_code ec;
  return fs::is_directory(p / "workloads", ec) && fs::is_directory(p / "platforms", ec);
}

std::vector<std::string> stems(const fs::path& dir, bool platforms)
{
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if ((e.path().extension() == ".yaml" || (platforms && e.path().extension() == ".xml")) &&
        !(platforms && e.path().stem() == "gpus"))
      names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

} // namespace

fs::path executable_dir()
{
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

std::string find_data_root(const std::string& root_option)
{
  if (!root_option.empty()) {
    if (!holds_data(root_option))
      throw InputError(root_option, "--root", "has no workloads/ and platforms/ folders",
                       "pass the folder that holds them (a moesim checkout, or PREFIX/share/moesim)");
    return root_option;
  }
  if (const char* env = std::getenv("MOESIM_ROOT"); env && *env) {
    if (!holds_data(env))
      throw InputError(env, "MOESIM_ROOT", "has no workloads/ and platforms/ folders",
                       "set MOESIM_ROOT to the folder that holds them, or unset it");
    return env;
  }
  const fs::path exe = executable_dir();
  const fs::path beside = exe.empty() ? fs::path() : (exe / ".." / "share" / "moesim").lexically_normal();
  if (!beside.empty() && holds_data(beside))
    return beside.string();
  throw InputError(beside.empty() ? std::string("share/moesim") : beside.string(), "data root",
                   "no workloads/ and platforms/ beside the executable",
                   "pass --root DIR or set MOESIM_ROOT to a moesim checkout or PREFIX/share/moesim");
}

DataListing list_data(const std::string& root)
{
  const fs::path r(root);
  return {stems(r / "workloads" / "models", false), stems(r / "platforms", true), stems(r / "workloads" / "studies", false)};
}

} // namespace moesim
