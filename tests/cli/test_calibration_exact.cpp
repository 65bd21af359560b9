// Calibration is exact where measured: on every shipped calibrated platform
// (platforms/calibration/*.yaml), `moesim nccl-tests` of an isolated collective reproduces every
// measured point of every curve, P2P on and off, at every group size, within 2%.
#include "cli_run.hpp"
#include "core/calibration.hpp"
#include "core/nccl_tests.hpp"

#include <map>

using namespace cli_test;
using moesim::Calibration;
using moesim::CollectiveCurve;
using moesim::OpKind;

TEST_CASE("every shipped calibration reproduces its own measurements", "[slow][cli]")
{
  // The expected times are the file's own points: each was measured (nccl-tests layout, time per
  // call); the simulation charges the curve's fixed cost at the size plus the bytes at the measured
  // bus bandwidth, which is the measured time (calibration.hpp), when the platform's links can carry
  // that bandwidth, and otherwise still, because the flows then carry proportionally fewer bytes.
  // Only the print (2 decimals of a microsecond) and whole-byte payloads stand between: 2% is loose.
  int files = 0, checked = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(MOESIM_SOURCE_DIR) / "platforms/calibration")) {
    if (entry.path().extension() != ".yaml")
      continue;
    files++;
    const std::string platform = entry.path().stem().string();
    const Calibration cal = moesim::load_calibration_file(entry.path().string());
    for (const CollectiveCurve& cv : cal.collectives) {
      const std::string op = cv.kind == OpKind::send ? "sendrecv" : cv.kind == OpKind::all_to_all ? "alltoall" : moesim::to_string(cv.kind);
      const double lo = cv.points.front().first, hi = cv.points.back().first;
      Run sim = cli_test::moesim("nccl-tests --platform " + platform + " --op " + op + " -b " + std::to_string(long(lo)) +
                       " -e " + std::to_string(long(hi)) + " -f 2 -g " + std::to_string(cv.ranks) + " --calibration auto");
      REQUIRE(sim.code == 0);
      std::map<double, double> simulated;
      for (const auto& [size, t] : nccl_rows(sim.out))
        simulated[size] = t * 1e-6;
      for (const auto& [bytes, seconds] : cv.points) {
        INFO(platform << " " << op << " on " << cv.ranks << " GPUs, " << bytes << " B: measured " << seconds << " s");
        REQUIRE(simulated.count(bytes));
        CHECK(simulated[bytes] == Approx(seconds).epsilon(0.02));
        checked++;
      }
    }
  }
  CHECK(files >= 4);
  CHECK(checked > 400);
}
