// Calibration YAML (load_calibration_file).
#include "core/calibration.hpp"
#include "fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  return moesim::fuzz::run_loader(data, size, ".yaml",
                                  [](const std::string& p) { (void)moesim::load_calibration_file(p); });
}
