// `moesim calibrate`: a platform's calibration fitted from measurements. Collective curves from
// nccl-tests logs (plain text or -J JSON; moesim-validate bench-collectives writes both), one per
// collective and rank count; kernel tables and host costs from moesim-validate bench-kernels JSON.
#pragma once
#include "core/calibration.hpp"

#include <string>
#include <vector>

namespace moesim {

struct CalibrateRequest {
  std::string platform;                   // the platform the measurements were made on
  std::vector<std::string> nccl_tests;    // log files
  std::vector<std::string> kernel_benches; // bench-kernels --json files
  std::string op_hint;                    // the collective, for logs that do not say (old nccl-tests)
  std::string measured_on;                // overrides what the logs say about the machine
};

// Throws InputError naming the file for anything unreadable, for two logs of the same collective
// and rank count, and when there is nothing to fit.
Calibration fit_calibration(const CalibrateRequest& request);

} // namespace moesim
