// Timeline JSON, read the way `moesim diff` reads one: the file, its JSON, then timeline_from_json.
#include "core/input_file.hpp"
#include "core/limits.hpp"
#include "core/timeline.hpp"
#include "fuzz/fuzz_input.hpp"

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  return moesim::fuzz::run_loader(data, size, ".json", [](const std::string& p) {
    const nlohmann::json j = nlohmann::json::parse(moesim::read_input_file(p, moesim::limits::json_bytes), nullptr, false);
    if (!j.is_discarded())
      (void)moesim::timeline_from_json(j, p);
  });
}
