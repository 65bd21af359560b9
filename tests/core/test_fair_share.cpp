// Max-min fair sharing and the fluid finish time (core/fair_share.hpp), derived by hand.
#include "core/fair_share.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

TEST_CASE("max-min fair rates with bounds and double crossings", "[quick][fair_share]")
{
  // One resource of 10: two unbounded flows get 5 each; a flow bounded at 2 leaves 8 to the other.
  CHECK(max_min_rates({10}, {{1, 0, {0}}, {1, 0, {0}}}) == std::vector<double>{5, 5});
  const auto r = max_min_rates({10}, {{1, 2, {0}}, {1, 0, {0}}});
  CHECK(r[0] == Approx(2));
  CHECK(r[1] == Approx(8));
  // A flow crossing a resource twice (host memory written, then read) gets half of it.
  CHECK(max_min_rates({10}, {{1, 0, {0, 0}}})[0] == Approx(5));
  // Flow 0 crosses both resources (10 and 4); flow 1 only the first: flow 0 is held to 4 by the
  // second, flow 1 takes the 6 left of the first.
  const auto m = max_min_rates({10, 4}, {{1, 0, {0, 1}}, {1, 0, {0}}});
  CHECK(m[0] == Approx(4));
  CHECK(m[1] == Approx(6));
}

TEST_CASE("the fluid finish time re-shares when a flow ends", "[quick][fair_share]")
{
  // Bytes 1 and 3 on one resource of 10: 5 each until the first ends at 0.2 s, then the second's
  // remaining 2 at 10: 0.2 more. 0.4 s = (1 + 3) / 10, the resource never idle.
  CHECK(fluid_finish_time({10}, {{1, 0, {0}}, {3, 0, {0}}}) == Approx(0.4));
  // Bounded at 2 each, 4 bytes each: 2 s, whatever the resource could give.
  CHECK(fluid_finish_time({10}, {{4, 2, {0}}, {4, 2, {0}}}) == Approx(2));
  // Nothing to move: no time.
  CHECK(fluid_finish_time({10}, {}) == 0);
}
