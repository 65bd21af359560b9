#include "pipeline/calibrate.hpp"

#include "core/error.hpp"
#include "core/nccl_tests.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace moesim {

Calibration fit_calibration(const CalibrateRequest& q)
{
  Calibration c;
  c.platform = q.platform;
  if (q.nccl_tests.empty() && q.kernel_benches.empty())
    throw InputError("command line", "calibrate", "nothing to fit", "pass --nccl-tests LOG... and/or --bench-kernels JSON...");
  c.source = "moesim calibrate";
  if (!q.nccl_tests.empty())
    c.source += " --nccl-tests";
  for (const std::string& path : q.nccl_tests) {
    NcclTestsLog log = parse_nccl_tests_log(path, q.op_hint);
    if (c.find(log.kind, log.ranks))
      throw InputError(path, "", "a second log of " + nccl_tests_binary(log.kind) + " on " + std::to_string(log.ranks) +
                                     " ranks",
                       "pass one log per collective and GPU count");
    CollectiveCurve cv;
    cv.kind = log.kind;
    cv.ranks = log.ranks;
    for (const NcclTestsRow& r : log.rows)
      if (r.bytes > 0 && r.seconds > 0)
        cv.points.push_back({r.bytes, r.seconds});
    std::sort(cv.points.begin(), cv.points.end());
    c.collectives.push_back(cv);
    c.source += " " + std::filesystem::path(path).filename().string();
    if (c.measured_on.empty())
      c.measured_on = log.devices + (log.nccl_version.empty() ? "" : ", NCCL " + log.nccl_version);
  }
  if (!q.kernel_benches.empty())
    c.source += " --bench-kernels";
  for (const std::string& path : q.kernel_benches) {
    std::ifstream in(path);
    if (!in)
      throw InputError(path, "--bench-kernels", "file not found or unreadable", "check the path");
    std::stringstream text;
    text << in.rdbuf();
    add_kernel_bench(c, text.str(), path);
    c.source += " " + std::filesystem::path(path).filename().string();
  }
  if (!q.measured_on.empty())
    c.measured_on = q.measured_on;
  return c;
}

} // namespace moesim
