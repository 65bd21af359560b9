// The custom all-reduce kernels of serving engines (vLLM, SGLang, TensorRT-LLM), which reduce
// through IPC peer buffers instead of NCCL. One shot: every member reads the whole buffer of every
// other member and reduces locally (one phase of n (n - 1) flows of the full size). Two shot: a
// reduce-scatter (each member reads its 1/n slice from every other) then an all-gather (each reads
// every other's reduced slice): two phases of flows of 1/n of the buffer.
#include "sim/collectives/algorithm.hpp"

namespace moesim {

namespace {

std::vector<Flow> all_pairs(const CollectiveCall& c, double bytes)
{
  std::vector<Flow> flows;
  const int n = static_cast<int>(c.ranks.size());
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (i != j)
        flows.push_back({c.ranks[j], c.ranks[i], bytes * c.wire_factor}); // i reads j's buffer
  return flows;
}

} // namespace

Phases one_shot_all_reduce(const CollectiveCall& c)
{
  return {all_pairs(c, c.bytes)};
}

Phases two_shot_all_reduce(const CollectiveCall& c)
{
  const double slice = c.bytes / static_cast<double>(c.ranks.size());
  return {all_pairs(c, slice), all_pairs(c, slice)};
}

} // namespace moesim
