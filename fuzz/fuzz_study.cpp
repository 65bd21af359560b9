// Study YAML (load_study_file): models and platforms named in it resolve inside the source tree.
#include "core/study.hpp"
#include "fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  return moesim::fuzz::run_loader(data, size, ".yaml",
                                  [](const std::string& p) { (void)moesim::load_study_file(p, MOESIM_SOURCE_DIR); });
}
