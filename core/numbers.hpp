// Numbers from users, one rule for every loader and flag: a number is read whole (no trailing
// text), must be finite (inf and nan are refused, and so is a value that overflows), and is then
// checked against the range its key allows. The messages say the range, so "1e12" for a context
// reads "at most 16777216", not "expected an integer".
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace moesim {

// The whole of `s` as a finite double ("4096", "1e-6", "-0.5", "+2"); nullopt for anything else:
// empty, trailing text, hex, inf, nan, or a value out of double's range.
std::optional<double> parse_number(std::string_view s);

// A closed range [lo, hi], or (lo, hi] with lo_open. NaN is in no range.
struct Bounds {
  double lo = 0;
  double hi = 0;
  bool lo_open = false;
  bool contains(double v) const { return (lo_open ? v > lo : v >= lo) && v <= hi; }
  // "between 1 and 64", "above 0 and at most 1", "at most 1e+06"
  std::string text() const;
};
constexpr Bounds positive(double hi) { return {0, hi, true}; }
constexpr Bounds non_negative(double hi) { return {0, hi, false}; }
constexpr Bounds fraction() { return {0, 1, true}; }

// `v` when it is a whole number inside `b` (so it fits a long long); nullopt otherwise.
std::optional<long long> whole_in(double v, const Bounds& b);

// Shortest decimal that reads back as `v` ("16777216", "1e+06", "0.5").
std::string number_text(double v);

} // namespace moesim
