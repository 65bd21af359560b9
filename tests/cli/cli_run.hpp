// Helpers for the command-line tests: run the real moesim binary and read what it left behind.
#pragma once
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace cli_test {

namespace fs = std::filesystem;

struct Run {
  int code = -1;
  std::string out, err;
};

// Runs `moesim --root <source tree> ARGS`; stderr goes to a file per process (ctest runs test
// cases in parallel).
inline Run moesim(const std::string& args)
{
  const fs::path err = fs::temp_directory_path() / ("moesim_cli_test." + std::to_string(getpid()) + ".err");
  const std::string cmd = std::string(MOESIM_BIN) + " --root " + MOESIM_SOURCE_DIR + " " + args + " 2>" + err.string();
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream f(err);
  std::stringstream ss;
  ss << f.rdbuf();
  r.err = ss.str();
  return r;
}

inline std::string slurp(const fs::path& p)
{
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A fresh, empty folder under the system temp dir.
inline fs::path scratch(const std::string& name)
{
  fs::path d = fs::temp_directory_path() / ("moesim_cli_" + name + "." + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

inline fs::path write(const fs::path& dir, const std::string& name, const std::string& text)
{
  std::ofstream(dir / name) << text;
  return dir / name;
}

// One line on stderr naming the fix, exit code 2, nothing on stdout, no output file.
inline void expect_usage_error(const Run& r, const fs::path& out_file)
{
  CHECK(r.code == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_THAT(r.err, Catch::Matchers::Contains("moesim: error: ") && Catch::Matchers::Contains("(fix: "));
  CHECK(r.out.empty());
  CHECK_FALSE(fs::exists(out_file));
}

// (size, out-of-place time in us) of every row of an nccl-tests table: plain text, or the -J JSON.
inline std::vector<std::pair<double, double>> nccl_rows(const std::string& text)
{
  std::vector<std::pair<double, double>> v;
  if (!text.empty() && text[0] == '{') {
    const nlohmann::json j = nlohmann::json::parse(text); // (a temporary's member would dangle in the loop)
    for (const auto& r : j.at("results"))
      v.push_back({r.at("size").get<double>(), r.at("out_of_place").at("time").get<double>()});
    return v;
  }
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream w(line);
    double size, count, t;
    std::string type, redop, root;
    if (w >> size >> count >> type >> redop >> root >> t)
      v.push_back({size, t});
  }
  return v;
}

} // namespace cli_test
