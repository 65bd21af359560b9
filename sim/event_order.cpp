#include "sim/event_order.hpp"

#include <algorithm>
#include <utility>

namespace moesim {

void place_events(std::vector<TimelineEvent>& events, const Schedule& s)
{
  std::vector<size_t> first(s.ranks.size() + 1, 0);
  for (size_t r = 0; r < s.ranks.size(); r++)
    first[r + 1] = first[r] + s.ranks[r].ops.size();
  std::vector<size_t> dest(events.size());
  std::vector<bool> taken(events.size(), false);
  bool permutation = events.size() == first.back();
  for (size_t i = 0; i < events.size() && permutation; i++) {
    const TimelineEvent& e = events[i];
    permutation = e.rank >= 0 && static_cast<size_t>(e.rank) < s.ranks.size() && e.op >= 0 &&
                  static_cast<size_t>(e.op) < s.ranks[e.rank].ops.size() && !taken[first[e.rank] + e.op];
    if (permutation)
      taken[dest[i] = first[e.rank] + e.op] = true;
  }
  if (!permutation) {
    std::stable_sort(events.begin(), events.end(), [](const TimelineEvent& a, const TimelineEvent& b) {
      return a.rank != b.rank ? a.rank < b.rank : a.op < b.op;
    });
    return;
  }
  for (size_t i = 0; i < events.size(); i++)
    while (dest[i] != i) {
      std::swap(events[i], events[dest[i]]);
      std::swap(dest[i], dest[dest[i]]);
    }
}

} // namespace moesim
