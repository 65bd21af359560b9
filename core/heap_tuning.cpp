#include "core/heap_tuning.hpp"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdlib>

namespace moesim {

void tune_heap()
{
  if (std::getenv("MOESIM_HEAP_DEFAULTS") != nullptr)
    return;
  constexpr int mmap_threshold = 32 << 20; // glibc's largest on 64-bit
  // The heap grows by 1.5 GiB at a time, and is trimmed only when 2 GiB (mallopt takes an int) lie
  // free at its top: more than a growth, so what was marked for huge pages is not given back.
  constexpr int pad = 1536 << 20;
  if (mallopt(M_MMAP_THRESHOLD, mmap_threshold) != 1 || mallopt(M_TRIM_THRESHOLD, INT_MAX) != 1 ||
      mallopt(M_TOP_PAD, pad) != 1)
    return;
  // One block larger than the heap's free top makes it grow by the block and the pad; freed, it
  // stays in the heap (no trimming). Volatile: a compiler may drop a malloc whose block is unused.
  const auto before = reinterpret_cast<std::uintptr_t>(sbrk(0));
  void* volatile block = std::malloc(16 << 20);
  std::free(block);
  const auto after = reinterpret_cast<std::uintptr_t>(sbrk(0));
  constexpr std::uintptr_t huge = 2u << 20;
  const std::uintptr_t first = (before + huge - 1) & ~(huge - 1), last = after & ~(huge - 1);
  if (last > first)
    madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

} // namespace moesim
