#include "core/heap_tuning.hpp"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace moesim {

void tune_heap()
{
  if (std::getenv("MOESIM_HEAP_DEFAULTS") != nullptr)
    return;
  constexpr int mmap_threshold = 32 << 20;   // glibc's largest on 64-bit
  constexpr int mmap_max = 65536;            // glibc's default number of mappings
  constexpr size_t reserve = size_t(4) << 30; // address space made huge-page eligible at start
  // -1: never trim (glibc stores the threshold unsigned). The heap keeps every page it grew by, so
  // the range marked below stays marked.
  if (mallopt(M_TRIM_THRESHOLD, -1) != 1 || mallopt(M_TOP_PAD, 64 << 20) != 1)
    return;
  // One block of `reserve` from the heap (mappings off for it) grows the heap by that much address
  // space; freed, it stays in the heap for later blocks. Pages are only backed when touched.
  // Volatile: a compiler may drop a malloc whose block is unused.
  const auto before = reinterpret_cast<std::uintptr_t>(sbrk(0));
  mallopt(M_MMAP_MAX, 0);
  void* volatile block = std::malloc(reserve);
  std::free(block);
  mallopt(M_MMAP_MAX, mmap_max);
  mallopt(M_MMAP_THRESHOLD, mmap_threshold);
  const auto after = reinterpret_cast<std::uintptr_t>(sbrk(0));
  constexpr std::uintptr_t huge = 2u << 20;
  const std::uintptr_t first = (before + huge - 1) & ~(huge - 1), last = after & ~(huge - 1);
  if (block != nullptr && last > first)
    madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

} // namespace moesim
