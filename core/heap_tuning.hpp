// glibc's allocator set for what a simulation allocates: hundreds of thousands of small objects
// (ops, timeline events, their names and shapes) that live for the whole step, and flow tables of
// megabytes made and dropped per collective. With the defaults every new 4 KiB page is a fault when
// first touched (a 256-GPU decode step: 88,000 faults, a third of its CPU time on a VM) and large
// blocks are mapped and unmapped per collective. tune_heap():
//   * takes blocks up to 32 MiB from the heap and never gives freed heap memory back (it is
//     reused for later blocks);
//   * grows the heap by 4 GiB of address space at start (pages are only backed when touched; a
//     1,024-GPU step peaks at 2.7 GiB) and marks that range for transparent huge pages (madvise),
//     so that it faults in 2 MiB pages.
// Growth past it gets ordinary pages. The numbers a run prints do not depend on it; only time and
// peak memory do (docs/scale.md). MOESIM_HEAP_DEFAULTS=1 in the environment leaves glibc's defaults.
#pragma once

namespace moesim {

// Call first thing in main, before anything large is allocated. Does nothing where the calls are
// refused (the defaults stay).
void tune_heap();

} // namespace moesim
