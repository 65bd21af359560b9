// place_events: a replay's events, finished in any order, end up by (rank, op), each carried whole.
#include "sim/event_order.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

namespace {

Schedule ops_per_rank(const std::vector<int>& counts)
{
  Schedule s;
  s.ranks.resize(counts.size());
  for (size_t r = 0; r < counts.size(); r++)
    s.ranks[r].ops.resize(counts[r]);
  return s;
}

TimelineEvent event(int rank, int op)
{
  TimelineEvent e;
  e.rank = rank;
  e.op = op;
  e.name = "r" + std::to_string(rank) + "o" + std::to_string(op);
  e.end = rank * 10 + op; // identifies the event after the move
  return e;
}

} // namespace

TEST_CASE("events are placed by rank, then op", "[quick][sim]")
{
  // Ranks with 2, 0 and 3 ops: slots 0-1 hold rank 0, slots 2-4 rank 2, in op order.
  const Schedule s = ops_per_rank({2, 0, 3});
  std::vector<TimelineEvent> ev{event(2, 2), event(0, 1), event(2, 0), event(0, 0), event(2, 1)};
  place_events(ev, s);
  const std::vector<std::pair<int, int>> want{{0, 0}, {0, 1}, {2, 0}, {2, 1}, {2, 2}};
  REQUIRE(ev.size() == want.size());
  for (size_t i = 0; i < want.size(); i++) {
    CHECK(ev[i].rank == want[i].first);
    CHECK(ev[i].op == want[i].second);
    CHECK(ev[i].end == want[i].first * 10 + want[i].second);
    CHECK(ev[i].name == "r" + std::to_string(want[i].first) + "o" + std::to_string(want[i].second));
  }
}

TEST_CASE("events that are not one per op are sorted stably instead", "[quick][sim]")
{
  // Rank 0 has 2 ops but op 1 appears twice and op 0 never (a run that went wrong): no permutation,
  // so a stable sort keeps the two (0, 1) events in their finishing order.
  const Schedule s = ops_per_rank({2});
  TimelineEvent a = event(0, 1), b = event(0, 1);
  a.end = 1;
  b.end = 2;
  std::vector<TimelineEvent> ev{a, b};
  place_events(ev, s);
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].end == 1);
  CHECK(ev[1].end == 2);
  // One event short of one per op: sorted by (rank, op) too.
  std::vector<TimelineEvent> few{event(0, 1)};
  place_events(few, ops_per_rank({2}));
  CHECK(few[0].op == 1);
}
