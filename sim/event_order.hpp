// The order of a replay's timeline: events by (rank, op), as every consumer reads them.
#pragma once
#include "core/schedule.hpp"
#include "core/timeline.hpp"

#include <vector>

namespace moesim {

// Orders events by (rank, op). Every op runs once, so that key is unique, and each event's place is
// its rank's first slot plus its op id: a permutation applied in place, where a sort would hold a
// copy of every event. Events that are not one per op (a deadlocked run) are sorted instead.
void place_events(std::vector<TimelineEvent>& events, const Schedule& s);

} // namespace moesim
