// `moesim calibrate`: a platform's calibration fitted from measurements. Collective curves from
// nccl-tests logs (plain text or -J JSON; moesim-validate bench-collectives writes both), one per
// collective and rank count; kernel tables and host costs from moesim-validate bench-kernels JSON;
// op-performance models over every shape dimension from moesim-op-bench-1 records (bench-ops).
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
  std::vector<std::string> op_benches;     // moesim-op-bench-1 JSON files
  std::vector<std::string> hold_out;       // with op_benches: DIM=V1,V2,... left out of the fit, checked
  std::vector<std::string> exclude_models; // with op_benches: records sharing these models' shapes left out
  double sms = 0;                          // with op_benches: the SM count for records that do not give it
  std::string decode_form;                 // with op_benches: decode attention's form (empty: the default)
  std::string prefill_form;                // with op_benches: prefill attention's form (empty: prefill_tiles)
  std::vector<std::string> bracket_runs;   // with op_benches: measured runs (moesim-validate run JSON) whose
                                           // gaps between event brackets set the kernel boundary
  bool fit_report = false;                 // with op_benches: write the fit quality
  std::string root;                        // the data root (models, the GPU catalogue)
};

struct CalibrateResult {
  Calibration calibration;
  std::string fit_report;              // Markdown, when asked for
  std::vector<std::string> incomplete; // op-bench runs that say they were cut
};

// Throws InputError naming the file for anything unreadable, for two logs of the same collective
// and rank count, and when there is nothing to fit.
CalibrateResult fit_calibration(const CalibrateRequest& request);

} // namespace moesim
