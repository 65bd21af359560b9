// Redundant experts: DeepSeek's EPLB placement (replicate the heaviest per replica, pack heaviest
// first onto the least loaded rank), derived by hand.
#include "core/eplb.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

using namespace moesim;

TEST_CASE("EP72 with 256 experts needs 32 redundant slots, under uniform load ranks carry 4 or 3.5", "[quick][eplb]")
{
  // 256 + 0 does not divide by 72; the next multiple is 288 = 256 + 32 (4 slots per rank).
  CHECK_THROWS_WITH(place_experts(std::vector<double>(256, 1.0), 72, 0), Catch::Contains("use 32 redundant"));
  const ExpertPlacement p = place_experts(std::vector<double>(256, 1.0), 72, 32);
  // Replication: all loads per replica equal 1, so the lowest index wins each time: experts 0..31
  // get a second replica (each replica carries 0.5).
  for (int e = 0; e < 256; e++)
    CHECK(p.replicas[e] == (e < 32 ? 2 : 1));
  // Packing, heaviest first: experts 32..255 (weight 1) in order, then the 64 halves 0,0,1,1,...
  // Three rounds of 72 fill ranks 0..71 with experts 32..103, 104..175, 176..247; experts 248..255
  // go to ranks 0..7 (load 4, full). The halves then go to the least loaded ranks, 8..71 (load 3),
  // in order: half j to rank 8 + j, i.e. expert j/2.
  CHECK(p.rank_slots[0] == std::vector<int>{32, 104, 176, 248});
  CHECK(p.rank_slots[8] == std::vector<int>{40, 112, 184, 0});
  CHECK(p.rank_slots[9] == std::vector<int>{41, 113, 185, 0});
  CHECK(p.rank_slots[71] == std::vector<int>{103, 175, 247, 31});
  for (int r = 0; r < 72; r++)
    CHECK(p.rank_load[r] == Approx(r < 8 ? 4.0 : 3.5));
  // Mean 256 / 72 = 3.5556, max 4: imbalance 4 / 3.5556 = 1.125.
  CHECK(p.imbalance() == Approx(1.125));
  // Tokens follow the loads: uniform expected tokens per expert give the same shares.
  const std::vector<double> t = rank_tokens(p, std::vector<double>(256, 2.0));
  CHECK(t[0] == Approx(8.0));
  CHECK(t[8] == Approx(7.0));
  CHECK(std::accumulate(t.begin(), t.end(), 0.0) == Approx(512.0));
}

TEST_CASE("A hot expert gets the replicas and the packing evens the ranks", "[quick][eplb]")
{
  // Loads [8, 4, 2, 2] on 2 ranks with 2 redundant (6 slots, 3 per rank).
  // Replication: e0 8/1 is highest -> 2 replicas (4 each); then e0 and e1 tie at 4 and the lower
  // index wins -> e0 gets 3 replicas (8/3 = 2.667 each).
  // Packing, heaviest first: e1 (4) -> rank 0; e0 (2.667) -> rank 1; e0 -> rank 1 (2.667 < 4);
  // e0 -> rank 0 (4 < 5.333); e2 (2) -> rank 1 (5.333 < 6.667, now full); e3 (2) -> rank 0.
  // Rank 0: e1, e0, e3 = 4 + 2.667 + 2 = 8.667; rank 1: e0, e0, e2 = 7.333. Mean 8: 1.0833.
  const ExpertPlacement p = place_experts({8, 4, 2, 2}, 2, 2);
  CHECK(p.replicas == std::vector<int>{3, 1, 1, 1});
  CHECK(p.rank_slots[0] == std::vector<int>{1, 0, 3});
  CHECK(p.rank_slots[1] == std::vector<int>{0, 0, 2});
  CHECK(p.rank_load[0] == Approx(26.0 / 3));
  CHECK(p.rank_load[1] == Approx(22.0 / 3));
  CHECK(p.imbalance() == Approx(26.0 / 3 / 8));
  // Without redundancy (2 per rank): e0 -> r0 (8), e1 -> r1 (4), e2 -> r1 (6), e3 -> r0? r0 has a
  // slot and load 8 > r1's 6, but r1 is full (2 slots): r0 -> 10. Imbalance 10 / 8 = 1.25.
  const ExpertPlacement q = place_experts({8, 4, 2, 2}, 2, 0);
  CHECK(q.rank_load[0] == Approx(10.0));
  CHECK(q.imbalance() == Approx(1.25));
}
