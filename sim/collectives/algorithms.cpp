// The table of collective algorithms: one line per (collective, algorithm).
#include "sim/collectives/algorithm.hpp"

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

AlgorithmFn find_algorithm(OpKind kind, CollAlgo algo)
{
  for (const Entry& e : table)
    if (e.kind == kind && e.algo == algo)
      return e.fn;
  throw std::invalid_argument(std::string("no ") + to_string(algo) + " algorithm for " + to_string(kind));
}

} // namespace moesim
