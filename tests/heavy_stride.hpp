// How much of the [heavy] test cases' work to do. Each of them walks a list (the zoo's schedules, the
// published rows, the transfer tables); with MOESIM_HEAVY_STRIDE=N in the environment it checks
// items 0, N, 2N, ... of each list only, every item in full. scripts/sanitize.sh --quick (CI) sets 4, so
// that the [heavy] cases run under ASan+UBSan in CI's time; the main build checks every item.
#pragma once
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

// In the global namespace: the command-line tests call an unqualified moesim(...).
inline int heavy_stride()
{
  const char* s = std::getenv("MOESIM_HEAVY_STRIDE");
  if (s == nullptr || *s == '\0')
    return 1;
  char* end = nullptr;
  const long n = std::strtol(s, &end, 10);
  INFO("MOESIM_HEAVY_STRIDE=" << s << ": expected an integer from 1 to 100");
  REQUIRE((*end == '\0' && n >= 1 && n <= 100));
  return static_cast<int>(n);
}
