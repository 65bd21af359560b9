// What one streaming multiprocessor can hold at once, by compute capability: the limits that decide
// how many blocks of a kernel are resident on an SM (the decode_tiles form counts them).
#pragma once
#include <string>

namespace moesim::perf {

struct SmLimits {
  double smem_per_sm = 0;    // shared memory of one SM (bytes)
  double smem_per_block = 0; // the most one block may opt into (bytes)
  double smem_reserved = 0;  // reserved by the runtime for each resident block (bytes)
  double threads_per_sm = 0; // resident threads
  bool known() const { return smem_per_sm > 0; }
};

// From a compute capability as "9.0" (the op-bench records' system.cc) or "90" (platforms/gpus.yaml's
// sm). All zeros for a capability the table does not hold or text that is not one.
SmLimits sm_limits(const std::string& cc);

} // namespace moesim::perf
