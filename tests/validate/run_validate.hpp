// moesim-validate run as a child process by the tests: its exit status and its stdout and stderr
// together. MOESIM_VALIDATE_EXE is the built binary (tests/validate/CMakeLists.txt).
#pragma once
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace moesim::test {

struct ValidateRun {
  int status = -1;
  std::string output; // stdout and stderr
};

inline ValidateRun run_validate(const std::string& args)
{
  ValidateRun r;
  FILE* p = popen((std::string("'") + MOESIM_VALIDATE_EXE + "' " + args + " 2>&1").c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p))
    r.output.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

} // namespace moesim::test
