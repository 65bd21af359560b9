// Calibrations: the measured calibrations of one run, each file parsed once and shared read-only by
// every scenario that uses it (and by the scenario processes forked after loading). Owned by the
// run, not the process: two runs in one process parse their own.
#pragma once
#include "core/calibration.hpp"

#include <map>
#include <memory>
#include <string>

namespace moesim {

class Calibrations {
public:
  // The calibration in `file` (null for ""). Throws InputError, with file:line, for a malformed one.
  std::shared_ptr<const Calibration> get(const std::string& file);

private:
  std::map<std::string, std::shared_ptr<const Calibration>> loaded_;
};

} // namespace moesim
