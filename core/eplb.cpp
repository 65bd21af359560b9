#include "core/eplb.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace moesim {

double ExpertPlacement::imbalance() const
{
  if (rank_load.empty())
    return 1.0;
  const double sum = std::accumulate(rank_load.begin(), rank_load.end(), 0.0);
  const double mx = *std::max_element(rank_load.begin(), rank_load.end());
  return sum > 0 ? mx / (sum / rank_load.size()) : 1.0;
}

ExpertPlacement place_experts(const std::vector<double>& load, int ranks, int redundant)
{
  const int E = static_cast<int>(load.size());
  if (E < 1 || ranks < 1 || redundant < 0)
    throw std::invalid_argument("expert placement needs at least one expert, one rank and no negative redundancy");
  const int slots = E + redundant;
  if (slots % ranks != 0) {
    const int up = (slots + ranks - 1) / ranks * ranks;
    throw std::invalid_argument(std::to_string(E) + " experts + " + std::to_string(redundant) +
                                " redundant = " + std::to_string(slots) + " slots do not divide over " +
                                std::to_string(ranks) + " EP ranks: use " + std::to_string(up - E) +
                                " redundant experts (" + std::to_string(up / ranks) + " slots per rank)");
  }
  for (double l : load)
    if (!(l >= 0))
      throw std::invalid_argument("expert loads must be non-negative");
  ExpertPlacement p;
  p.experts = E;
  p.ranks = ranks;
  p.replicas.assign(E, 1);
  // Replication: each further slot to the expert with the highest load per replica (lowest index on ties).
  for (int s = E; s < slots; s++) {
    int best = 0;
    for (int e = 1; e < E; e++)
      if (load[e] / p.replicas[e] > load[best] / p.replicas[best])
        best = e;
    p.replicas[best]++;
  }
  // Packing: replicas heaviest first (stable: lower expert first among equals), each onto the least
  // loaded rank that still has a free slot (lowest rank on ties).
  struct Item {
    int expert;
    double weight;
  };
  std::vector<Item> items;
  for (int e = 0; e < E; e++)
    for (int r = 0; r < p.replicas[e]; r++)
      items.push_back({e, load[e] / p.replicas[e]});
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.weight > b.weight; });
  const int per_rank = slots / ranks;
  p.rank_slots.assign(ranks, {});
  p.rank_load.assign(ranks, 0.0);
  for (const Item& it : items) {
    int best = -1;
    for (int r = 0; r < ranks; r++)
      if (static_cast<int>(p.rank_slots[r].size()) < per_rank && (best < 0 || p.rank_load[r] < p.rank_load[best]))
        best = r;
    p.rank_slots[best].push_back(it.expert);
    p.rank_load[best] += it.weight;
  }
  return p;
}

std::vector<double> rank_tokens(const ExpertPlacement& p, const std::vector<double>& expert_tokens)
{
  if (static_cast<int>(expert_tokens.size()) != p.experts)
    throw std::invalid_argument("rank_tokens: one token count per expert expected");
  std::vector<double> out(p.ranks, 0.0);
  for (int r = 0; r < p.ranks; r++)
    for (int e : p.rank_slots[r])
      out[r] += expert_tokens[e] / p.replicas[e];
  return out;
}

} // namespace moesim
