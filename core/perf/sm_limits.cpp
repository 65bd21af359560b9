#include "core/perf/sm_limits.hpp"

#include <cstdlib>

namespace moesim::perf {

SmLimits sm_limits(const std::string& cc)
{
  // "9.0" or "90" -> 90, "10.0" or "100" -> 100.
  int code = 0;
  const size_t dot = cc.find('.');
  const auto digits = [](const std::string& t) {
    return !t.empty() && t.size() <= 3 && t.find_first_not_of("0123456789") == std::string::npos;
  };
  if (dot == std::string::npos) {
    if (digits(cc))
      code = std::atoi(cc.c_str());
  } else if (digits(cc.substr(0, dot)) && cc.size() == dot + 2 && digits(cc.substr(dot + 1))) {
    code = std::atoi(cc.substr(0, dot).c_str()) * 10 + (cc[dot + 1] - '0');
  }
  // CUDA C++ Programming Guide, "Technical Specifications per Compute Capability": maximum shared
  // memory per SM and per block (opt-in), maximum resident threads per SM; 1 KB of shared memory is
  // reserved for each resident block from 8.0 on.
  constexpr double KiB = 1024;
  struct Row {
    int code;
    double smem_sm_kib, smem_block_kib, threads;
  };
  constexpr Row rows[] = {{80, 164, 163, 2048}, {86, 100, 99, 1536}, {87, 164, 163, 2048}, {89, 100, 99, 1536},
                          {90, 228, 227, 2048}, {100, 228, 227, 2048}, {120, 100, 99, 1536}};
  for (const Row& r : rows)
    if (r.code == code)
      return {r.smem_sm_kib * KiB, r.smem_block_kib * KiB, 1 * KiB, r.threads};
  return {};
}

} // namespace moesim::perf
