// Which measured calibration a platform is simulated with: the one rule behind `moesim run
// --calibration`, `moesim nccl-tests --calibration`, and the file a report names.
//   auto  <folder of the platform file>/calibration/<its stem>.yaml, when that file exists and the
//         platform is simulated as written: a what-if edit (--set) makes it a machine nobody measured
//   none  no calibration: the roofline and NCCL's latency table alone
//   FILE  that calibration YAML, for every platform
#pragma once
#include <string>

namespace moesim {

struct CalibrationChoice {
  enum class Mode { automatic, none, file };
  Mode mode = Mode::automatic;
  std::string file; // Mode::file
};

// "auto", "none" (or ""), or the path of a calibration YAML. A path that does not exist is an
// InputError naming `flag`; its content is not read here.
CalibrationChoice parse_calibration_choice(const std::string& text, const std::string& flag);

// The calibration file that applies ("" for none). `platform_file` is the platform as the user named
// it (a topology YAML or a SimGrid XML), `edited` says whether what-if overrides change it.
std::string resolve_calibration_file(const CalibrationChoice& choice, const std::string& platform_file, bool edited);

} // namespace moesim
