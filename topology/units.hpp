// Quantities as written in a topology YAML ("53GBps", "400Gbps", "2us", "81559MiB", "989.4Tf").
// The number and the unit are kept apart and computed the way SimGrid 3.32 reads them
// (strtod(number) x the unit's factor, src/xbt/xbt_parse_units.cpp), so a value written back into a
// platform file parses to the very same double the YAML meant: no rounding drift between the two.
#pragma once
#include <string>

namespace moesim {

enum class Dimension { bandwidth, size, time, flops };

struct Quantity {
  double number = 0;
  std::string unit; // SimGrid spelling for the dimension: "GBps", "Gbps", "MiB", "us", "Tf", ...

  double value() const; // SI: B/s, B, s, FLOP/s
  // number + unit, the number in its shortest round-trip form: "53GBps", "400Gbps", "989.4Tf".
  std::string text() const;
  // A plain number for stod(): decimal prefixes become an exponent ("3.35TBps" -> "3.35e12",
  // "2us" -> "2e-6"); binary prefixes and bits are multiplied out ("81559MiB" -> "85520809984").
  std::string plain() const;
  // The same quantity with its value multiplied by `f`, keeping the unit.
  Quantity scaled(double f) const;
};

// Parses "<number><unit>". A bare number is refused (only 0 may go without a unit: it then takes
// the dimension's base unit, Bps, B, s or f), and so is a negative value, one that overflows, or
// one above largest(d). Throws std::invalid_argument whose message names the accepted units.
Quantity parse_quantity(const std::string& text, Dimension d);
// The largest value (SI) a quantity of the dimension may have: 1e16 B/s, 1e16 B, 1 s, 1e20 FLOP/s.
double largest(Dimension d);
// The units accepted for a dimension, for error messages.
std::string accepted_units(Dimension d);

// Shortest decimal that reads back as exactly `v` ("53", "249.6", "1e+15").
std::string shortest(double v);
// For people: "53 GB/s", "400 Gb/s" is never used; bytes per second with 3 significant digits.
std::string human_rate(double bytes_per_s);
std::string human_bytes(double bytes);

} // namespace moesim
