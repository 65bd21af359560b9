// glibc's allocator set for what a simulation allocates: hundreds of thousands of small objects
// (ops, timeline events, their names and shapes) that live for the whole step, and flow tables of
// megabytes made and dropped per collective. With the defaults, every new 4 KiB page is a fault
// when first touched (a 256-GPU decode step: 88,000 faults, a third of its CPU time on this VM)
// and large blocks are mapped and unmapped per collective. glibc reads its settings only when a
// process starts (GLIBC_TUNABLES), so the process is run again once with them set:
//   glibc.malloc.hugetlb=1             transparent huge pages for the heap (madvise)
//   glibc.malloc.mmap_threshold=32 MiB blocks below it come from the heap and are reused
//   glibc.malloc.trim_threshold=4 GiB  freed heap memory is kept for the next block
// The numbers a run prints do not depend on it; only time and peak memory do (docs/scale.md).
#pragma once

namespace moesim {

// The settings, as GLIBC_TUNABLES spells them.
const char* heap_tunables();

// Re-runs this program (/proc/self/exe, same argv) with heap_tunables() added to GLIBC_TUNABLES,
// unless they are already there or MOESIM_HEAP_DEFAULTS is set; returns (and the program carries
// on with glibc's defaults) where the program cannot be run again. Call first thing in main.
void run_with_heap_tunables(char** argv);

} // namespace moesim
