// core/heap_tuning: what tune_heap() changes in glibc's allocator, seen from outside: where a large
// block comes from and whether freeing it gives memory back. Each case runs in a forked child
// (the settings are the process's).
#include "../sim/in_child.hpp"
#include "core/heap_tuning.hpp"

#include <catch2/catch.hpp>

#include <malloc.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

using moesim::test::in_child;

// AddressSanitizer brings its own allocator: glibc's settings do not apply there.
#if defined(__SANITIZE_ADDRESS__)
#define MOESIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOESIM_ASAN 1
#endif
#endif

namespace {

// Allocates and touches a 20 MiB block, frees it, and says whether it lay below the program break
// (the heap, not a mapping of its own) and whether freeing it left the break where it was.
std::string block_fate()
{
  char* volatile block = static_cast<char*>(std::malloc(20 << 20));
  for (size_t i = 0; i < (20u << 20); i += 4096)
    block[i] = 1;
  const auto at = reinterpret_cast<std::uintptr_t>(block);
  const auto brk_before = reinterpret_cast<std::uintptr_t>(sbrk(0));
  std::free(block);
  const auto brk_after = reinterpret_cast<std::uintptr_t>(sbrk(0));
  return std::string(at < brk_before ? "heap" : "mapped") + (brk_after == brk_before ? " kept" : " returned");
}

} // namespace

TEST_CASE("tune_heap: a 20 MiB block comes from the heap and stays there when freed", "[quick]")
{
#ifdef MOESIM_ASAN
  SUCCEED("built with AddressSanitizer: glibc's allocator is not in use");
  return;
#endif
  // glibc's defaults: a block over the mmap threshold (128 KiB at start) gets a mapping of its own,
  // unmapped when freed; the break does not move, so "mapped kept". glibc raises that threshold to the
  // size of each mapped block freed (up to 32 MiB), and a forked child inherits it: after earlier test
  // cases freed a block of 20 MiB or more, the child would carve this one from the heap. So the child
  // first puts the threshold back where glibc starts it (M_MMAP_THRESHOLD 128 KiB).
  CHECK(in_child([] {
          setenv("MOESIM_HEAP_DEFAULTS", "1", 1);
          mallopt(M_MMAP_THRESHOLD, 128 * 1024);
          moesim::tune_heap(); // does nothing
          return block_fate();
        }) == "mapped kept");
  // Tuned: 20 MiB is under the 32 MiB threshold, so it is carved from the heap (below the break),
  // and with no trimming the break stays where it was when it is freed.
  CHECK(in_child([] {
          unsetenv("MOESIM_HEAP_DEFAULTS");
          moesim::tune_heap();
          return block_fate();
        }) == "heap kept");
}
