#include "core/heap_tuning.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace moesim {

const char* heap_tunables()
{
  return "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296";
}

void run_with_heap_tunables(char** argv)
{
  if (std::getenv("MOESIM_HEAP_DEFAULTS") != nullptr)
    return;
  const char* current = std::getenv("GLIBC_TUNABLES");
  std::string tunables = current != nullptr ? current : "";
  if (tunables.find("glibc.malloc.hugetlb") != std::string::npos)
    return; // already set (by the first run, or by the user)
  tunables += (tunables.empty() ? "" : ":") + std::string(heap_tunables());
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0)
    return;
  execv("/proc/self/exe", argv);
  // Not run again (no /proc): carry on with the defaults, the environment as it was.
  if (current != nullptr)
    setenv("GLIBC_TUNABLES", current, 1);
  else
    unsetenv("GLIBC_TUNABLES");
}

} // namespace moesim
