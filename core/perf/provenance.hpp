// Provenance: where an op's time came from, from most to least trusted. A time is `measured` when
// the op's shape is a measured point, `interpolated` when it lies inside a measured grid,
// `extrapolated` when a fitted form carries it outside the grid, and `specs` when no measurement
// of the op exists and the datasheet roofline alone gives it.
#pragma once

namespace moesim::perf {

enum class Provenance { measured, interpolated, extrapolated, specs };
constexpr int provenance_count = 4;

const char* to_string(Provenance p);

// The less trusted of two provenances (an op made of parts is as trusted as its weakest part).
inline Provenance weakest(Provenance a, Provenance b) { return a > b ? a : b; }

} // namespace moesim::perf
