// Schedule JSON (load_schedule_file, what validate/ replays).
#include "core/schedule_json.hpp"
#include "fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  return moesim::fuzz::run_loader(data, size, ".json", [](const std::string& p) { (void)moesim::load_schedule_file(p); });
}
