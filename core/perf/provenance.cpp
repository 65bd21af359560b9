#include "core/perf/provenance.hpp"

namespace moesim::perf {

const char* to_string(Provenance p)
{
  switch (p) {
    case Provenance::measured: return "measured";
    case Provenance::interpolated: return "interpolated";
    case Provenance::extrapolated: return "extrapolated";
    case Provenance::specs: return "specs";
  }
  return "?";
}

} // namespace moesim::perf
