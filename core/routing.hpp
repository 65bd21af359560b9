// Routing: which experts each token of a MoE layer goes to, as the numbers a schedule needs: tokens
// per expert, whether an expert is touched at all (its weights are read only then), and the
// all-to-all-v token matrix between the ranks of a stage.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace moesim {

enum class RoutingKind {
  uniform,  // expected values under uniform routing (fractional counts, no randomness)
  sampled,  // each token draws top-k distinct experts uniformly, seeded
  zipf,     // expert popularity ~ 1/rank^s over a seeded per-layer permutation, top-k drawn without replacement
};

struct RoutingSpec {
  RoutingKind kind = RoutingKind::uniform;
  std::uint64_t seed = 1;
  double zipf_s = 1.0;
  std::string describe() const;
};

struct RoutingResult {
  std::vector<double> expert_tokens;              // [E] tokens routed to each expert
  std::vector<double> expert_active;              // [E] 1 if the expert got any token (uniform: probability)
  std::vector<std::vector<double>> rank_tokens;   // [src][dst] tokens src sends to dst (one copy per token
                                                  // per destination rank, however many of its experts are there)
  std::vector<std::vector<double>> group_tokens;  // [src][group] tokens src sends to a group of destinations
                                                  // (a node) at least once; empty unless asked for
};

// tokens_per_src[i]: tokens held by stage rank i. Experts are sharded contiguously over `ep` shards;
// shard s lives on stage ranks s*moe_tp .. s*moe_tp+moe_tp-1 (a token is sent to every TP slice).
// `stream` separates independent draws (layer, microbatch) for sampled routing. dst_per_group > 0 also
// fills group_tokens, destinations taken dst_per_group at a time (consecutive ranks: one node's GPUs).
RoutingResult route_tokens(const RoutingSpec& spec, const std::vector<int>& tokens_per_src, int experts, int top_k,
                           int ep, int moe_tp, std::uint64_t stream, int dst_per_group = 0);

// Deterministic generator (splitmix64 seeding + xoshiro256**), identical on every platform.
class Rng {
public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  double uniform(); // [0, 1) with 53 random bits
private:
  std::uint64_t s_[4];
};

} // namespace moesim
