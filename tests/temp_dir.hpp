// A scratch folder under the system temp dir, unique per test process, removed at the end of the test.
#pragma once
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace moesim::test {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix)
  {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir()
  {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes `text` to `name` in the folder; returns its path.
  std::string write(const std::string& name, const std::string& text) const
  {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

} // namespace moesim::test
