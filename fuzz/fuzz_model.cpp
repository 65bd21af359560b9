// Model YAML (load_model_file).
#include "core/model_loader.hpp"
#include "fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  return moesim::fuzz::run_loader(data, size, ".yaml", [](const std::string& p) { (void)moesim::load_model_file(p); });
}
