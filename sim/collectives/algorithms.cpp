// The table of collective algorithms: one line per (collective, algorithm).
#include "sim/collectives/algorithm.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace moesim {

namespace {
struct Entry {
  OpKind kind;
  CollAlgo algo;
  AlgorithmFn fn;
};
constexpr Entry table[] = {
    {OpKind::all_reduce, CollAlgo::ring, ring_all_reduce},
    {OpKind::all_reduce, CollAlgo::tree, tree_all_reduce},
    {OpKind::all_gather, CollAlgo::ring, ring_all_gather},
    {OpKind::reduce_scatter, CollAlgo::ring, ring_reduce_scatter},
    {OpKind::all_to_all, CollAlgo::direct, direct_all_to_all},
    {OpKind::all_reduce, CollAlgo::one_shot, one_shot_all_reduce},
    {OpKind::all_reduce, CollAlgo::two_shot, two_shot_all_reduce},
};
} // namespace

std::vector<std::vector<int>> channel_orders(const CollectiveCall& c)
{
  const int n = static_cast<int>(c.ranks.size());
  std::vector<std::vector<int>> nodes;
  for (int i = 0; i < n; i++) {
    if (nodes.empty() || (!c.node.empty() && c.node[i] != c.node[nodes.back().front()]))
      nodes.emplace_back();
    nodes.back().push_back(i);
  }
  std::vector<std::vector<int>> orders(std::max(1, c.rings));
  for (size_t r = 0; r < orders.size(); r++)
    for (const auto& members : nodes)
      for (size_t t = 0; t < members.size(); t++)
        orders[r].push_back(members[(r + t) % members.size()]);
  return orders;
}

double channel_rate(const CollectiveCall& c, int i, int j)
{
  const int rings = std::max(1, c.rings);
  double rate = c.rate / rings;
  if (!c.shm.empty() && c.shm[i][j] && c.shm_rate > 0)
    rate = rate > 0 ? std::min(rate, c.shm_rate / rings) : c.shm_rate / rings;
  return rate;
}

AlgorithmFn find_algorithm(OpKind kind, CollAlgo algo)
{
  for (const Entry& e : table)
    if (e.kind == kind && e.algo == algo)
      return e.fn;
  throw std::invalid_argument(std::string("no ") + to_string(algo) + " algorithm for " + to_string(kind));
}

} // namespace moesim
