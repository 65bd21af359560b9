#include "pipeline/memory_fit.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace moesim {

MemoryFit check_memory_fit(const Model& model, const Layout& L, const StepShape& st,
                           const std::vector<double>& gpu_mem_bytes, double utilization)
{
  // The most loaded rank against the smallest GPU's usable memory.
  MemoryFit fit;
  double cap = INFINITY;
  for (double bytes : gpu_mem_bytes)
    cap = std::min(cap, bytes * utilization);
  fit.capacity = cap;
  for (int rank = 0; rank < L.world; rank++) {
    const MemoryUse m = memory_per_rank(model, L, st, rank);
    if (m.total() > fit.busiest.total())
      fit.busiest = m, fit.busiest_rank = rank;
  }
  if (fit.busiest.total() <= cap)
    return fit;
  const MemoryUse& m = fit.busiest;
  char buf[512];
  const double gib = 1073741824.0;
  std::snprintf(buf, sizeof buf,
                "does not fit: GPU %d needs %.1f GiB (weights %.1f + KV cache %.1f + activations %.1f) but has "
                "%.1f GiB usable (%.0f%% of %.1f GiB); short by %.1f GiB",
                fit.busiest_rank, m.total() / gib, m.weights / gib, m.kv_cache / gib, m.activations / gib, cap / gib,
                utilization * 100, cap / utilization / gib, (m.total() - cap) / gib);
  fit.fits = false;
  fit.refusal = buf;
  return fit;
}

} // namespace moesim
