// The SimGrid XML pre-check (check_platform_xml_text): what passes it is what SimGrid is given.
#include "fuzz/fuzz_input.hpp"
#include "sim/platform_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
  try {
    moesim::check_platform_xml_text(std::string(reinterpret_cast<const char*>(data), size), "input.xml");
  } catch (const moesim::InputError&) {
  }
  return 0;
}
