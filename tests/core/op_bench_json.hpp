// An op-bench file (moesim-op-bench-1) around test records, on a 132-SM test GPU.
#pragma once
#include <nlohmann/json.hpp>

#include <utility>

namespace moesim::test {

inline nlohmann::json op_bench(nlohmann::json records)
{
  return {{"format", "moesim-op-bench-1"},
          {"source", "unit test"},
          {"system", {{"gpu", "Test GPU"}, {"sms", 132}}},
          {"records", std::move(records)}};
}

} // namespace moesim::test
