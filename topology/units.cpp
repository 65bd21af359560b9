#include "topology/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace moesim {
namespace {

struct Unit {
  std::string name;
  double factor;   // as SimGrid computes it: base x 1000 (or 1024) per prefix step
  int exp10;       // decimal exponent of the factor when it is an exact power of ten, else INT_MIN
  bool decimal;
};

constexpr int no_exp = -1000;

// SimGrid's unit_scale: start from the base value, multiply by 1000 or 1024 per prefix.
void add_scale(std::vector<Unit>& out, const std::string& base, double value, int base_exp, bool binary)
{
  static const std::array<const char*, 5> dec = {"k", "M", "G", "T", "P"};
  static const std::array<const char*, 5> bin = {"Ki", "Mi", "Gi", "Ti", "Pi"};
  bool have_base = false;
  for (const Unit& u : out)
    have_base = have_base || u.name == base;
  if (!have_base)
    out.push_back({base, value, base_exp, base_exp != no_exp});
  double v = value;
  for (size_t i = 0; i < dec.size(); i++) {
    v *= binary ? 1024.0 : 1000.0;
    const bool exact = !binary && base_exp != no_exp;
    out.push_back({std::string(binary ? bin[i] : dec[i]) + base, v, exact ? base_exp + 3 * int(i + 1) : no_exp, exact});
  }
}

const std::vector<Unit>& units(Dimension d)
{
  static const std::vector<Unit> bandwidth = [] {
    std::vector<Unit> u;
    add_scale(u, "Bps", 1.0, 0, false);
    add_scale(u, "Bps", 1.0, no_exp, true);
    add_scale(u, "bps", 0.125, no_exp, false);
    return u;
  }();
  static const std::vector<Unit> size = [] {
    std::vector<Unit> u;
    add_scale(u, "B", 1.0, 0, false);
    add_scale(u, "B", 1.0, no_exp, true);
    return u;
  }();
  static const std::vector<Unit> time = {
      {"s", 1.0, 0, true}, {"ms", 1e-3, -3, true}, {"us", 1e-6, -6, true}, {"ns", 1e-9, -9, true}};
  static const std::vector<Unit> flops = [] {
    std::vector<Unit> u;
    add_scale(u, "f", 1.0, 0, false);
    return u;
  }();
  switch (d) {
    case Dimension::bandwidth: return bandwidth;
    case Dimension::size: return size;
    case Dimension::time: return time;
    case Dimension::flops: return flops;
  }
  return bandwidth;
}

const Unit* find_unit(Dimension d, const std::string& name)
{
  for (const Unit& u : units(d))
    if (u.name == name)
      return &u;
  return nullptr;
}

Dimension dimension_of(const std::string& unit)
{
  for (Dimension d : {Dimension::bandwidth, Dimension::size, Dimension::time, Dimension::flops})
    if (find_unit(d, unit))
      return d;
  throw std::logic_error("Quantity with unknown unit '" + unit + "'");
}

} // namespace

std::string shortest(double v)
{
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

double Quantity::value() const
{
  return number * find_unit(dimension_of(unit), unit)->factor;
}

std::string Quantity::text() const
{
  return shortest(number) + unit;
}

std::string Quantity::plain() const
{
  const Unit* u = find_unit(dimension_of(unit), unit);
  if (!u->decimal)
    return shortest(value());
  if (u->exp10 == 0)
    return shortest(number);
  // "3.35" + "e12"; a number already in exponent form is multiplied out instead.
  const std::string n = shortest(number);
  if (n.find('e') != std::string::npos)
    return shortest(value());
  return n + "e" + std::to_string(u->exp10);
}

Quantity Quantity::scaled(double f) const
{
  return {number * f, unit};
}

double largest(Dimension d)
{
  switch (d) {
    case Dimension::bandwidth: return 1e16; // 10 PB/s: 10x an NVL72 rack's aggregate NVLink
    case Dimension::size: return 1e16;      // 10 PB of GPU memory
    case Dimension::time: return 1;         // 1 s per latency, launch or kernel overhead
    case Dimension::flops: return 1e20;     // 100 EFLOP/s per GPU
  }
  return 0;
}

std::string accepted_units(Dimension d)
{
  std::string s;
  for (const Unit& u : units(d))
    s += (s.empty() ? "" : ", ") + u.name;
  return s;
}

Quantity parse_quantity(const std::string& text, Dimension d)
{
  const char* what = d == Dimension::bandwidth ? "a bandwidth"
                     : d == Dimension::size    ? "a size"
                     : d == Dimension::time    ? "a time"
                                               : "a FLOP rate";
  const char* example = d == Dimension::bandwidth ? "53GBps or 400Gbps"
                        : d == Dimension::size    ? "81559MiB"
                        : d == Dimension::time    ? "2us"
                                                  : "989.4Tf";
  const char* begin = text.c_str();
  char* end = nullptr;
  const double number = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(number))
    throw std::invalid_argument("'" + text + "' is not " + what + " (write e.g. " + example + ")");
  std::string unit(end);
  while (!unit.empty() && unit.front() == ' ')
    unit.erase(unit.begin());
  if (unit.empty() && number != 0) // only zero is the same in every unit
    throw std::invalid_argument("'" + text + "' has no unit (write e.g. " + example + "; units: " + accepted_units(d) + ")");
  if (unit.empty())
    unit = units(d).front().name;
  const Unit* u = find_unit(d, unit);
  if (!u)
    throw std::invalid_argument("'" + text + "': unknown unit '" + unit + "' for " + what + " (use one of " +
                                accepted_units(d) + ")");
  const double value = number * u->factor;
  if (!(value >= 0))
    throw std::invalid_argument("'" + text + "' is negative: " + what + " is never below 0");
  if (!(value <= largest(d)))
    throw std::invalid_argument("'" + text + "' is more than " + shortest(largest(d)) + " " + units(d).front().name +
                                ", the largest " + std::string(what + 2) + " moesim takes");
  return {number, unit};
}

static std::string three_digits(double v, const char* unit)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g %s", v, unit);
  return buf;
}

std::string human_rate(double b)
{
  if (b >= 1e12)
    return three_digits(b / 1e12, "TB/s");
  if (b >= 1e9)
    return three_digits(b / 1e9, "GB/s");
  if (b >= 1e6)
    return three_digits(b / 1e6, "MB/s");
  return three_digits(b, "B/s");
}

std::string human_bytes(double b)
{
  if (b >= 1e12)
    return three_digits(b / 1e12, "TB");
  if (b >= 1e9)
    return three_digits(b / 1e9, "GB");
  if (b >= 1e6)
    return three_digits(b / 1e6, "MB");
  return three_digits(b, "B");
}

} // namespace moesim
