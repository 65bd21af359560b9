#include "core/request_lengths.hpp"

#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/limits.hpp"
#include "core/routing.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace moesim {

namespace {

std::string num_text(double v)
{
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A whole number written as digits only (no sign, no point, no exponent), or nothing.
bool whole(std::string_view s, long long& out)
{
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  if (s.empty() || s.size() > 12 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  return std::from_chars(s.data(), s.data() + s.size(), out).ec == std::errc{};
}

bool number(const std::string& s, double& out)
{
  if (s.empty())
    return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

std::vector<std::string> split(const std::string& s, char sep)
{
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep)
      out.push_back(cur), cur.clear();
    else
      cur += c;
  }
  out.push_back(cur);
  return out;
}

} // namespace

std::string LengthDist::describe() const
{
  switch (kind) {
  case LengthKind::fixed: return std::to_string(value);
  case LengthKind::uniform: return "uniform " + std::to_string(min) + "-" + std::to_string(max);
  case LengthKind::lognormal:
    return "lognormal mean " + num_text(mean) + " sigma " + num_text(sigma) + " in " + std::to_string(min) + "-" +
           std::to_string(max);
  }
  return "?";
}

double lognormal_sigma_from_median(double mean, double median)
{
  if (!(median > 0) || !(median <= mean))
    throw std::invalid_argument("a lognormal's median must be positive and at most its mean");
  return std::sqrt(2 * std::log(mean / median));
}

void check_length_dist(const LengthDist& d, const std::string& file, const std::string& key, int max_tokens)
{
  const std::string range = "[1, " + std::to_string(max_tokens) + "]";
  auto in_range = [&](int v, const char* what) {
    if (v < 1 || v > max_tokens)
      throw InputError(file, key, std::string(what) + " " + std::to_string(v) + " is outside " + range,
                       "give whole token counts between 1 and " + std::to_string(max_tokens));
  };
  if (d.kind == LengthKind::fixed) {
    in_range(d.value, "length");
    return;
  }
  in_range(d.min, "min");
  in_range(d.max, "max");
  if (d.min > d.max)
    throw InputError(file, key, "min " + std::to_string(d.min) + " is above max " + std::to_string(d.max),
                     "give min <= max");
  if (d.kind == LengthKind::lognormal) {
    if (!(d.mean > 0) || !std::isfinite(d.mean))
      throw InputError(file, key, "mean " + num_text(d.mean) + " is not positive", "give the mean length in tokens");
    if (!(d.sigma >= 0) || !std::isfinite(d.sigma))
      throw InputError(file, key, "sigma " + num_text(d.sigma) + " is negative",
                       "give sigma >= 0 (the standard deviation of ln(length)), or the median instead");
  }
}

LengthDist parse_length_spec(const std::string& text, const std::string& flag, int max_tokens)
{
  const std::string fix =
      "write N, uniform:MIN:MAX, lognormal:MEAN:SIGMA:MIN:MAX or lognormal:MEAN:median=MEDIAN:MIN:MAX";
  const std::vector<std::string> p = split(text, ':');
  LengthDist d;
  long long a = 0, b = 0;
  if (p.size() == 1) {
    if (!whole(p[0], a) || a > max_tokens || a < 1)
      throw InputError("command line", flag, "'" + text + "' is not a whole number of tokens in [1, " +
                                                 std::to_string(max_tokens) + "]", fix);
    d.value = static_cast<int>(a);
  } else if (p[0] == "uniform" && p.size() == 3) {
    if (!whole(p[1], a) || !whole(p[2], b) || a > max_tokens || b > max_tokens)
      throw InputError("command line", flag, "'" + text + "': MIN and MAX must be whole numbers of tokens", fix);
    d.kind = LengthKind::uniform;
    d.min = static_cast<int>(a), d.max = static_cast<int>(b);
  } else if (p[0] == "lognormal" && p.size() == 5) {
    d.kind = LengthKind::lognormal;
    if (!number(p[1], d.mean))
      throw InputError("command line", flag, "'" + text + "': MEAN '" + p[1] + "' is not a number", fix);
    const std::string s = p[2];
    if (s.rfind("median=", 0) == 0) {
      double median = 0;
      if (!number(s.substr(7), median))
        throw InputError("command line", flag, "'" + text + "': the median is not a number", fix);
      if (!(median > 0) || !(median <= d.mean))
        throw InputError("command line", flag, "'" + text + "': the median must be positive and at most the mean",
                         "a lognormal's median is below its mean; give mean >= median > 0");
      d.sigma = lognormal_sigma_from_median(d.mean, median);
    } else if (!number(s, d.sigma)) {
      throw InputError("command line", flag, "'" + text + "': SIGMA '" + s + "' is not a number", fix);
    }
    if (!whole(p[3], a) || !whole(p[4], b) || a > max_tokens || b > max_tokens)
      throw InputError("command line", flag, "'" + text + "': MIN and MAX must be whole numbers of tokens", fix);
    d.min = static_cast<int>(a), d.max = static_cast<int>(b);
  } else {
    throw InputError("command line", flag, "'" + text + "' is not a length or a distribution", fix);
  }
  check_length_dist(d, "command line", flag, max_tokens);
  return d;
}

std::vector<std::pair<int, int>> read_lengths_file(const std::string& path, int max_tokens)
{
  const std::string text = read_input_file(path, limits::text_bytes, "lengths");
  std::vector<std::pair<int, int>> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  const std::string fix = "write one request a line as input,output in whole tokens (1 to " +
                          std::to_string(max_tokens) + ")";
  while (std::getline(in, line)) {
    n++;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#')
      continue;
    if (out.empty() && line.substr(first).rfind("input", 0) == 0)
      continue; // the header
    const std::vector<std::string> f = split(line, ',');
    long long a = 0, b = 0;
    if (f.size() != 2 || !whole(f[0], a) || !whole(f[1], b))
      throw InputError(path + ":" + std::to_string(n), "lengths", "'" + line + "' is not two whole numbers", fix);
    if (a < 1 || b < 1 || a > max_tokens || b > max_tokens)
      throw InputError(path + ":" + std::to_string(n), "lengths",
                       "'" + line + "' has a length outside [1, " + std::to_string(max_tokens) + "]", fix);
    out.emplace_back(static_cast<int>(a), static_cast<int>(b));
  }
  if (out.empty())
    throw InputError(path, "lengths", "holds no request", fix);
  return out;
}

bool ServeLengths::varied() const
{
  return !pairs.empty() || input.kind != LengthKind::fixed || output.kind != LengthKind::fixed;
}

std::string ServeLengths::describe() const
{
  if (!pairs.empty())
    return "lengths " + (pairs_file.empty() ? std::string("list") : pairs_file) + " (" + std::to_string(pairs.size()) +
           " requests)";
  return "input " + input.describe() + ", output " + output.describe();
}

namespace {

std::vector<int> draw(const LengthDist& d, int n, Rng rng)
{
  std::vector<int> v(static_cast<size_t>(n), d.value);
  if (d.kind == LengthKind::fixed)
    return v;
  constexpr double two_pi = 6.283185307179586476925286766559;
  const double mu = d.kind == LengthKind::lognormal ? std::log(d.mean) - d.sigma * d.sigma / 2 : 0.0;
  for (int& x : v) {
    if (d.kind == LengthKind::uniform) {
      const double span = double(d.max) - d.min + 1;
      x = d.min + std::min(static_cast<int>(std::floor(rng.uniform() * span)), d.max - d.min);
    } else {
      const double u1 = rng.uniform(), u2 = rng.uniform();
      const double z = std::sqrt(-2 * std::log(1 - u1)) * std::cos(two_pi * u2);
      const double len = std::exp(mu + d.sigma * z);
      x = len <= d.min ? d.min : len >= d.max ? d.max : std::clamp(static_cast<int>(std::lround(len)), d.min, d.max);
    }
  }
  return v;
}

} // namespace

RequestLengths draw_request_lengths(const ServeLengths& l, int requests)
{
  RequestLengths r;
  if (requests < 1)
    return r;
  if (!l.pairs.empty()) {
    for (int i = 0; i < requests; i++) {
      const auto& p = l.pairs[static_cast<size_t>(i) % l.pairs.size()];
      r.input.push_back(p.first), r.output.push_back(p.second);
    }
  } else {
    r.input = draw(l.input, requests, Rng(l.seed));
    r.output = draw(l.output, requests, Rng(l.seed ^ output_stream));
  }
  double si = 0, so = 0;
  r.min_input = r.max_input = r.input[0];
  r.min_output = r.max_output = r.output[0];
  for (int i = 0; i < requests; i++) {
    si += r.input[i], so += r.output[i];
    r.min_input = std::min(r.min_input, r.input[i]), r.max_input = std::max(r.max_input, r.input[i]);
    r.min_output = std::min(r.min_output, r.output[i]), r.max_output = std::max(r.max_output, r.output[i]);
    r.max_total = std::max(r.max_total, r.input[i] + r.output[i]);
  }
  r.mean_input = si / requests;
  r.mean_output = so / requests;
  return r;
}

} // namespace moesim
