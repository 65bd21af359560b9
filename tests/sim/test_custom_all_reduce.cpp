// The custom all-reduce kernels of serving engines, as flows.
#include "sim/collectives/algorithm.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

TEST_CASE("custom one-shot and two-shot all-reduce: flows and bytes", "[quick][collectives]")
{
  CollectiveCall c;
  c.ranks = {4, 5, 6, 7};
  c.bytes = 1 << 20;
  // One shot: every member reads every other member's whole buffer: one phase of 4 x 3 = 12 flows
  // of 1 MiB, 12 MiB in all.
  const Phases one = find_algorithm(OpKind::all_reduce, CollAlgo::one_shot)(c);
  REQUIRE(one.size() == 1);
  REQUIRE(one[0].size() == 12);
  double total = 0;
  for (const Flow& f : one[0]) {
    CHECK(f.src != f.dst);
    CHECK(f.src >= 4);
    CHECK(f.dst <= 7);
    total += f.bytes;
  }
  CHECK(total == Approx(12.0 * (1 << 20)));
  // Two shot: reduce-scatter then all-gather, each 12 flows of a quarter: 2 x 12 x 256 KiB = 6 MiB,
  // half of one shot's traffic for 4 ranks (2 (n-1)/n against n-1 buffers per member).
  const Phases two = find_algorithm(OpKind::all_reduce, CollAlgo::two_shot)(c);
  REQUIRE(two.size() == 2);
  for (const auto& phase : two) {
    REQUIRE(phase.size() == 12);
    for (const Flow& f : phase)
      CHECK(f.bytes == Approx(262144.0));
  }
  // The protocol factor scales every flow (1.5 x 256 KiB).
  c.wire_factor = 1.5;
  CHECK(find_algorithm(OpKind::all_reduce, CollAlgo::two_shot)(c)[1][0].bytes == Approx(393216.0));
}
