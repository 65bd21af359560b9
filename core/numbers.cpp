#include "core/numbers.hpp"

#include <charconv>
#include <cmath>

namespace moesim {

std::optional<double> parse_number(std::string_view s)
{
  if (!s.empty() && s.front() == '+')
    s.remove_prefix(1);
  if (s.empty() || s.front() == '+' || s.front() == ' ')
    return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
    return std::nullopt; // errc::result_out_of_range: "1e400"
  return v;
}

std::string number_text(double v)
{
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string Bounds::text() const
{
  if (lo_open)
    return "above " + number_text(lo) + " and at most " + number_text(hi);
  if (lo == 0)
    return "between 0 and " + number_text(hi);
  return "between " + number_text(lo) + " and " + number_text(hi);
}

std::optional<long long> whole_in(double v, const Bounds& b)
{
  // Range first: converting a non-finite or huge double to an integer is undefined behaviour.
  if (!b.contains(v) || !(std::abs(v) < 9.0e15) || v != std::floor(v))
    return std::nullopt;
  return static_cast<long long>(v);
}

} // namespace moesim
