#include "cli/output_files.hpp"

#include "core/error.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>

namespace fs = std::filesystem;

namespace moesim {

void check_writable(const std::string& path, const std::string& flag)
{
  if (path.empty() || path == "-")
    return;
  if (fs::is_directory(path))
    throw InputError(path, flag, "is a folder", "name a file, e.g. " + (fs::path(path) / "out").string());
  fs::path dir = fs::path(path).parent_path();
  if (!dir.empty() && !fs::is_directory(dir))
    throw InputError(path, flag, "folder " + dir.string() + " does not exist", "create it or write elsewhere");
}

void write_all(const std::vector<PendingFile>& files)
{
  std::vector<std::string> tmps;
  auto drop = [&] {
    std::error_code ec;
    for (const std::string& t : tmps)
      fs::remove(t, ec);
  };
  for (const PendingFile& f : files) {
    if (f.path == "-")
      continue;
    tmps.push_back(f.path + ".tmp");
    std::ofstream o(tmps.back(), std::ios::binary);
    o << f.content;
    o.close();
    if (!o) {
      drop();
      throw InputError(f.path, "", "cannot write", "check the folder exists and is writable");
    }
  }
  size_t k = 0;
  for (const PendingFile& f : files)
    if (f.path != "-")
      fs::rename(tmps[k++], f.path);
  for (const PendingFile& f : files)
    if (f.path == "-")
      std::cout << f.content;
}

} // namespace moesim
