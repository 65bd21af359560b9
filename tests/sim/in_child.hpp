// Runs a piece of a test in a forked child (SimGrid allows one engine per process) and returns what
// it printed, or "failed" when it threw or died; a thrown exception's message goes to stderr.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace moesim::test {

template <class Work>
std::string in_child(Work work)
{
  namespace fs = std::filesystem;
  const fs::path out = fs::temp_directory_path() / ("moesim_test_child_" + std::to_string(getpid()) + ".txt");
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    try {
      std::ofstream f(out);
      f << work();
      f.close();
      _exit(f ? 0 : 1);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      _exit(1);
    } catch (...) {
      _exit(1);
    }
  }
  int st = 0;
  waitpid(pid, &st, 0);
  std::ifstream f(out);
  std::stringstream text;
  text << f.rdbuf();
  fs::remove(out);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? text.str() : "failed";
}

} // namespace moesim::test
