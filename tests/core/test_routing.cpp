// Routing: expected counts derived by hand, and the properties of the sampled draws.
#include "core/routing.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

using namespace moesim;

TEST_CASE("uniform routing gives the expected counts", "[quick][routing]")
{
  // E = 8 experts, k = 2, 4 tokens on one source, EP 2 (experts 0-3 on rank 0, 4-7 on rank 1).
  // Tokens per expert: 4 * 2 / 8 = 1. An expert is untouched by one token with probability
  // 1 - 2/8 = 0.75, by all four 0.75^4 = 0.31640625, so active = 0.68359375.
  // A token reaches a shard of 4 unless both picks miss it: 1 - C(4,2)/C(8,2) = 1 - 6/28 = 22/28.
  RoutingSpec spec;
  RoutingResult r = route_tokens(spec, {4}, 8, 2, 2, 1, 0);
  for (int e = 0; e < 8; e++) {
    CHECK(r.expert_tokens[e] == Approx(1.0).epsilon(1e-12));
    CHECK(r.expert_active[e] == Approx(0.68359375).epsilon(1e-12));
  }
  CHECK(r.rank_tokens[0][0] == Approx(4 * 22.0 / 28).epsilon(1e-12));
  CHECK(r.rank_tokens[0][1] == Approx(4 * 22.0 / 28).epsilon(1e-12));
}

TEST_CASE("with MoE TP a token goes to every slice of its expert's shard", "[quick][routing]")
{
  // EP 2 x MoE TP 2: shard 0 on ranks 0,1 and shard 1 on ranks 2,3; both slices of a shard receive
  // the same tokens. Sampled, so each token hits between 1 and 2 shards = 2 or 4 ranks.
  RoutingSpec spec{RoutingKind::sampled, 5, 1.0};
  RoutingResult r = route_tokens(spec, {10, 10, 10, 10}, 8, 2, 2, 2, 3);
  for (int i = 0; i < 4; i++) {
    CHECK(r.rank_tokens[i][0] == r.rank_tokens[i][1]);
    CHECK(r.rank_tokens[i][2] == r.rank_tokens[i][3]);
    const double sent = std::accumulate(r.rank_tokens[i].begin(), r.rank_tokens[i].end(), 0.0);
    CHECK(sent >= 2 * 10);
    CHECK(sent <= 4 * 10);
  }
}

TEST_CASE("sampled routing: k distinct experts per token, deterministic per seed", "[quick][routing]")
{
  RoutingSpec spec{RoutingKind::sampled, 42, 1.0};
  RoutingResult a = route_tokens(spec, {16, 16}, 64, 6, 4, 1, 9);
  RoutingResult b = route_tokens(spec, {16, 16}, 64, 6, 4, 1, 9);
  RoutingResult c = route_tokens(RoutingSpec{RoutingKind::sampled, 43, 1.0}, {16, 16}, 64, 6, 4, 1, 9);
  // 32 tokens x 6 experts each
  CHECK(std::accumulate(a.expert_tokens.begin(), a.expert_tokens.end(), 0.0) == 32 * 6);
  CHECK(a.expert_tokens == b.expert_tokens);
  CHECK(a.rank_tokens == b.rank_tokens);
  CHECK(a.expert_tokens != c.expert_tokens);
  for (int e = 0; e < 64; e++)
    CHECK(a.expert_active[e] == (a.expert_tokens[e] > 0 ? 1.0 : 0.0));
  // A token goes to a rank at most once: row sums lie in [tokens, tokens * min(k, ranks)].
  for (int i = 0; i < 2; i++) {
    const double sent = std::accumulate(a.rank_tokens[i].begin(), a.rank_tokens[i].end(), 0.0);
    CHECK(sent >= 16);
    CHECK(sent <= 16 * 4);
  }
}

TEST_CASE("zipf routing concentrates load on few experts", "[quick][routing]")
{
  // 128 experts, k = 8, 512 tokens. Uniform: every expert expects 512*8/128 = 32 tokens.
  // Zipf s = 1.5: weights 1/r^1.5; the hottest expert's weight over the sum (zeta partial sum over
  // 128 terms ~ 2.38) is ~0.42 before the no-replacement correction, so it is picked by nearly every
  // token: far above 32. We assert it gets over 4x the uniform share and that the sharded loads
  // (EP 8) are unequal by more than 1.5x, which a uniform draw of this size essentially never does.
  RoutingSpec spec{RoutingKind::zipf, 7, 1.5};
  RoutingResult r = route_tokens(spec, {512}, 128, 8, 8, 1, 0);
  const double hottest = *std::max_element(r.expert_tokens.begin(), r.expert_tokens.end());
  CHECK(hottest > 4 * 32);
  std::vector<double> shard(8, 0.0);
  for (int e = 0; e < 128; e++)
    shard[e / 16] += r.expert_tokens[e];
  const double mx = *std::max_element(shard.begin(), shard.end());
  const double mean = 512.0 * 8 / 8;
  CHECK(mx / mean > 1.5);
}

TEST_CASE("the generator draws uniformly from the unit interval", "[quick][routing]")
{
  // Mean of n = 100000 draws: 0.5 with standard deviation 1/sqrt(12 n) = 9.1e-4; allow 5 sigma.
  Rng rng(123);
  double sum = 0;
  for (int i = 0; i < 100000; i++) {
    double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
  }
  CHECK(std::abs(sum / 100000 - 0.5) < 5 * 9.1e-4);
}

TEST_CASE("routing: tokens that reach a group of destinations (a node) at least once", "[quick][routing]")
{
  // 8 experts top-2 over 4 shards of 2; groups of 2 ranks hold 4 experts. Uniform: a token reaches a
  // group unless both picks miss its 4: 1 - C(4,2)/C(8,2) = 1 - 6/28 = 22/28; 10 tokens: 7.857.
  RoutingResult u = route_tokens(RoutingSpec{}, {10, 10, 10, 10}, 8, 2, 4, 1, 0, 2);
  REQUIRE(u.group_tokens.size() == 4);
  REQUIRE(u.group_tokens[0].size() == 2);
  CHECK(u.group_tokens[3][1] == Approx(10.0 * 22 / 28));
  // Sampled: each token counts once per group it reaches, so a group's count lies between the most
  // any of its ranks got and their sum, and never above the tokens sent.
  RoutingResult s = route_tokens(RoutingSpec{RoutingKind::sampled, 5, 1.0}, {10, 10, 10, 10}, 8, 2, 4, 1, 7, 2);
  for (int i = 0; i < 4; i++)
    for (int g = 0; g < 2; g++) {
      const double a = s.rank_tokens[i][2 * g], b = s.rank_tokens[i][2 * g + 1];
      CHECK(s.group_tokens[i][g] >= std::max(a, b));
      CHECK(s.group_tokens[i][g] <= std::min(a + b, 10.0));
    }
  // Without groups asked for, none.
  CHECK(route_tokens(RoutingSpec{}, {10}, 8, 2, 4, 1, 0).group_tokens.empty());
}
