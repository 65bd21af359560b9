// What every fuzz target shares: the input written to a file (the loaders read paths, as the CLI
// gives them), the loader run on it, and only InputError let through. Any other exception escapes
// to libFuzzer, which reports it as a finding: on bad input the CLI would have printed "internal
// error" and exited 1. Crashes, leaks and undefined behaviour are found by ASan and UBSan.
#pragma once
#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace moesim::fuzz {

// One folder per fuzzing process under TMPDIR, removed when the process exits normally.
class InputFolder {
public:
  InputFolder()
      : dir_(std::filesystem::temp_directory_path() / ("moesim-fuzz-" + std::to_string(::getpid())))
  {
    std::filesystem::create_directories(dir_);
  }
  ~InputFolder()
  {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::filesystem::path& dir() const { return dir_; }

private:
  std::filesystem::path dir_;
};

inline const InputFolder& input_folder()
{
  static const InputFolder folder;
  return folder;
}

// Writes the bytes to input<ext> and returns its path.
inline std::string write_input(const uint8_t* data, size_t size, const std::string& ext)
{
  const std::string path = (input_folder().dir() / ("input" + ext)).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
  return path;
}

// Runs `load(path)`; an InputError is the promised answer to bad input, so it ends the run quietly.
template <class Load>
int run_loader(const uint8_t* data, size_t size, const std::string& ext, Load load)
{
  const std::string path = write_input(data, size, ext);
  try {
    load(path);
  } catch (const InputError&) {
  }
  return 0;
}

} // namespace moesim::fuzz
