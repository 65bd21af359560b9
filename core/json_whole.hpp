// Whole numbers read from JSON files, for every JSON reader. nlohmann's get<int>() of a number stored
// as a float (1e20, 2.5) casts it: a value outside int's range makes that cast undefined behaviour
// (UBSan's float-cast-overflow; fuzz_nccl_tests found it with {"nccl_version": 1e20}) and a fraction
// is cut silently. json_whole<T> reads a whole number that fits T, written as an integer or as a float
// with nothing after the point (2, 2.0, 2e3), and throws nlohmann's type_error otherwise, the exception
// every JSON reader already turns into an InputError naming the file and the key.
#pragma once
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace moesim {

template <class T>
T json_whole(const nlohmann::json& v)
{
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  using limits = std::numeric_limits<T>;
  const auto refuse = [&] {
    return nlohmann::json::type_error::create(302, "expected a whole number from " + std::to_string(limits::min()) +
                                                       " to " + std::to_string(limits::max()) + ", got " + v.dump(), &v);
  };
  const auto fits = [](unsigned long long u) { return u <= static_cast<unsigned long long>(limits::max()); };
  if (v.is_number_unsigned()) {
    const auto u = v.get<unsigned long long>();
    if (!fits(u))
      throw refuse();
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    const auto x = v.get<long long>();
    if (x >= 0 ? !fits(static_cast<unsigned long long>(x)) : !limits::is_signed || x < static_cast<long long>(limits::min()))
      throw refuse();
    return static_cast<T>(x);
  }
  if (v.is_number_float()) {
    // Compared as doubles before any cast: min() (0 or -2^digits) and 2^digits (max() + 1, the first
    // value out of range) are powers of two, exact in a double.
    const double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(limits::min()) ||
        d >= std::ldexp(1.0, limits::digits))
      throw refuse();
    return static_cast<T>(d);
  }
  throw refuse();
}

// json_whole of j[key], or `otherwise` when j has no such key.
template <class T>
T json_whole_or(const nlohmann::json& j, const char* key, T otherwise)
{
  const auto it = j.find(key);
  return it == j.end() ? otherwise : json_whole<T>(*it);
}

// An array of json_whole<T>.
template <class T>
std::vector<T> json_whole_list(const nlohmann::json& v)
{
  if (!v.is_array())
    throw nlohmann::json::type_error::create(302, "expected an array of whole numbers, got " + v.dump(), &v);
  std::vector<T> out;
  out.reserve(v.size());
  for (const auto& x : v)
    out.push_back(json_whole<T>(x));
  return out;
}

} // namespace moesim
