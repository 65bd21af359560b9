#include "core/routing.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace moesim {

std::string RoutingSpec::describe() const
{
  std::ostringstream s;
  switch (kind) {
    case RoutingKind::uniform: s << "uniform (expected counts)"; break;
    case RoutingKind::sampled: s << "sampled uniform, seed " << seed; break;
    case RoutingKind::zipf: s << "zipf s=" << zipf_s << ", seed " << seed; break;
  }
  return s.str();
}

static std::uint64_t splitmix(std::uint64_t& x)
{
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Rng::Rng(std::uint64_t seed)
{
  for (auto& s : s_)
    s = splitmix(seed);
}

std::uint64_t Rng::next()
{
  auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform()
{
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

// log of the binomial coefficient C(n, k)
static double log_choose(int n, int k)
{
  if (k < 0 || k > n)
    return -INFINITY;
  return std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0);
}

RoutingResult route_tokens(const RoutingSpec& spec, const std::vector<int>& tokens_per_src, int experts, int top_k,
                           int ep, int moe_tp, std::uint64_t stream, int dst_per_group)
{
  const int n_src = static_cast<int>(tokens_per_src.size());
  const int n_dst = ep * moe_tp;
  const int per_shard = experts / ep;
  // Destination groups (nodes): whole groups only; a last partial group counts as a group.
  const int groups = dst_per_group > 0 ? (n_dst + dst_per_group - 1) / dst_per_group : 0;
  RoutingResult r;
  r.expert_tokens.assign(experts, 0.0);
  r.expert_active.assign(experts, 0.0);
  r.rank_tokens.assign(n_src, std::vector<double>(n_dst, 0.0));
  if (groups > 0)
    r.group_tokens.assign(n_src, std::vector<double>(groups, 0.0));
  const int total = std::accumulate(tokens_per_src.begin(), tokens_per_src.end(), 0);

  if (spec.kind == RoutingKind::uniform) {
    // Each token picks k distinct experts uniformly: every expert gets total*k/E tokens on average,
    // and is untouched with probability (1 - k/E)^total.
    const double p = static_cast<double>(top_k) / experts;
    for (int e = 0; e < experts; e++) {
      r.expert_tokens[e] = total * p;
      r.expert_active[e] = 1.0 - std::pow(1.0 - p, total);
    }
    // A token reaches shard s unless all k picks fall outside it: 1 - C(E - E_s, k) / C(E, k).
    const double reach = 1.0 - std::exp(log_choose(experts - per_shard, top_k) - log_choose(experts, top_k));
    for (int i = 0; i < n_src; i++)
      for (int d = 0; d < n_dst; d++)
        r.rank_tokens[i][d] = tokens_per_src[i] * reach;
    // A group holds the experts of the shards of its destinations (TP slices of a shard share them):
    // a token reaches it unless all k picks fall outside them.
    for (int g = 0; g < groups; g++) {
      const int first = g * dst_per_group / moe_tp, last = (std::min(n_dst, (g + 1) * dst_per_group) - 1) / moe_tp;
      const int held = (last - first + 1) * per_shard;
      const double reach_g = 1.0 - std::exp(log_choose(experts - held, top_k) - log_choose(experts, top_k));
      for (int i = 0; i < n_src; i++)
        r.group_tokens[i][g] = tokens_per_src[i] * reach_g;
    }
    return r;
  }

  Rng rng(spec.seed * 0x100000001b3ULL ^ (stream + 0x51ed270b27d1c3a5ULL));
  // Popularity weights: uniform, or Zipf over a random permutation of the experts.
  std::vector<double> weight(experts, 1.0);
  if (spec.kind == RoutingKind::zipf) {
    std::vector<int> perm(experts);
    std::iota(perm.begin(), perm.end(), 0);
    for (int i = experts - 1; i > 0; i--) // Fisher-Yates with our generator (std::shuffle is not portable)
      std::swap(perm[i], perm[static_cast<int>(rng.uniform() * (i + 1))]);
    for (int rank = 0; rank < experts; rank++)
      weight[perm[rank]] = 1.0 / std::pow(rank + 1.0, spec.zipf_s);
  }
  std::vector<double> w(experts);
  std::vector<char> hit(n_dst), picked(experts);
  for (int i = 0; i < n_src; i++) {
    for (int t = 0; t < tokens_per_src[i]; t++) {
      w = weight;
      std::fill(hit.begin(), hit.end(), 0);
      std::fill(picked.begin(), picked.end(), 0);
      for (int j = 0; j < top_k; j++) {
        double sum = 0;
        for (double x : w)
          sum += x;
        double u = rng.uniform() * sum;
        // The expert where the running sum passes u; rounding at the end of the range, or weights
        // that underflowed to 0 under a steep Zipf, fall back to the last expert not picked yet.
        int e = -1, last = -1;
        for (int x = 0; x < experts; x++) {
          if (!(w[x] > 0))
            continue;
          last = x;
          if (u < w[x]) {
            e = x;
            break;
          }
          u -= w[x];
        }
        if (e < 0)
          e = last;
        if (e < 0) // every weight left is 0: the first expert not picked yet
          for (int x = 0; x < experts && e < 0; x++)
            if (!picked[x])
              e = x;
        picked[e] = 1;
        w[e] = 0;
        r.expert_tokens[e] += 1;
        r.expert_active[e] = 1;
        const int shard = e / per_shard;
        for (int u2 = 0; u2 < moe_tp; u2++)
          hit[shard * moe_tp + u2] = 1;
      }
      for (int d = 0; d < n_dst; d++)
        r.rank_tokens[i][d] += hit[d];
      for (int g = 0; g < groups; g++) {
        bool any = false;
        for (int d = g * dst_per_group; d < std::min(n_dst, (g + 1) * dst_per_group) && !any; d++)
          any = hit[d];
        r.group_tokens[i][g] += any;
      }
    }
  }
  return r;
}

} // namespace moesim
