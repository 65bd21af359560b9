// nccl-tests logs (parse_nccl_tests_log): text output, or JSON when the input starts like JSON.
#include "core/nccl_tests.hpp"
#include "fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  const bool json = size > 0 && (data[0] == '{' || data[0] == '[');
  return moesim::fuzz::run_loader(data, size, json ? ".json" : ".txt",
                                  [](const std::string& p) { (void)moesim::parse_nccl_tests_log(p); });
}
