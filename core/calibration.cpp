#include "core/calibration.hpp"

#include "core/yaml_reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace moesim {

double busbw_factor(OpKind kind, int n)
{
  switch (kind) {
    case OpKind::all_reduce: return 2.0 * (n - 1) / n;
    case OpKind::all_gather:
    case OpKind::reduce_scatter:
    case OpKind::all_to_all: return double(n - 1) / n;
    default: return 1.0; // sendrecv
  }
}

double CollectiveCurve::time_at(double bytes) const
{
  if (points.empty())
    return 0;
  if (bytes <= points.front().first)
    return points.front().second;
  if (bytes >= points.back().first)
    return points.back().second + (bytes - points.back().first) * busbw_factor(kind, ranks) / bus_bandwidth();
  auto hi = std::upper_bound(points.begin(), points.end(), bytes,
                             [](double b, const std::pair<double, double>& p) { return b < p.first; });
  auto lo = hi - 1;
  const double f = (std::log(bytes) - std::log(lo->first)) / (std::log(hi->first) - std::log(lo->first));
  return std::exp(std::log(lo->second) + f * (std::log(hi->second) - std::log(lo->second)));
}

double CollectiveCurve::bus_bandwidth() const
{
  double best = 0;
  for (const auto& [b, t] : points)
    if (t > 0)
      best = std::max(best, b * busbw_factor(kind, ranks) / t);
  return best;
}

double CollectiveCurve::alpha_at(double bytes) const
{
  return std::max(0.0, time_at(bytes) - bytes * busbw_factor(kind, ranks) / bus_bandwidth());
}

const CollectiveCurve* Calibration::find(OpKind kind, int ranks) const
{
  for (const CollectiveCurve& c : collectives)
    if (c.kind == kind && c.ranks == ranks)
      return &c;
  return nullptr;
}

Calibration load_calibration_file(const std::string& path)
{
  YAML::Node root = load_yaml_file(path);
  Fields f(path, root, "");
  Calibration c;
  c.platform = f.str("platform");
  c.measured_on = f.str("measured_on");
  c.source = f.str("source");
  if (auto col = f.maybe("collectives")) {
    if (!col->IsSequence())
      f.fail("collectives", "expected a list", "write a list of {op, ranks, points}");
    for (const auto& n : *col) {
      Fields cf(path, n, "collectives[]");
      CollectiveCurve cv;
      const std::string op = cf.str("op");
      if (op == "all_reduce" || op == "all_gather" || op == "reduce_scatter" || op == "all_to_all")
        cv.kind = parse_op_kind(op);
      else if (op == "sendrecv")
        cv.kind = OpKind::send;
      else
        cf.fail("op", "unknown collective '" + op + "'", "use all_reduce, all_gather, reduce_scatter, all_to_all or sendrecv");
      cv.ranks = cf.integer("ranks");
      if (cv.ranks < 2)
        cf.fail("ranks", "must be at least 2", "give the group size the curve was measured on");
      YAML::Node pts = cf.node("points");
      if (!pts.IsSequence() || pts.size() == 0)
        cf.fail("points", "expected a non-empty list of [bytes, seconds]", "write e.g. [[1024, 1.2e-5], ...]");
      for (const auto& p : pts) {
        if (!p.IsSequence() || p.size() != 2)
          cf.fail("points", "each point is [bytes, seconds]", "write e.g. [1024, 1.2e-5]");
        const double b = p[0].as<double>(), t = p[1].as<double>();
        if (!(b > 0) || !(t > 0))
          cf.fail("points", "sizes and times must be positive", "drop zero-byte rows");
        cv.points.push_back({b, t});
      }
      std::sort(cv.points.begin(), cv.points.end());
      for (size_t i = 1; i < cv.points.size(); i++)
        if (cv.points[i].first == cv.points[i - 1].first)
          cf.fail("points", "size " + std::to_string(cv.points[i].first) + " appears twice", "keep one time per size");
      cf.finish();
      c.collectives.push_back(std::move(cv));
    }
  }
  if (auto comp = f.maybe("compute")) {
    Fields cf(path, *comp, "compute");
    auto opt = [&](const char* k, std::optional<double>& out) {
      if (cf.has(k)) {
        out = cf.num(k);
        if (!(*out > 0))
          cf.fail(k, "must be positive", "remove it to keep the platform's value");
      } else {
        cf.maybe(k);
      }
    };
    opt("mem_bw_eff", c.mem_bw_eff);
    opt("flops_eff", c.flops_eff);
    opt("kernel_overhead", c.kernel_overhead);
    opt("p2p_alpha", c.p2p_alpha);
    cf.finish();
  }
  f.finish();
  return c;
}

std::string calibration_to_yaml(const Calibration& c)
{
  std::ostringstream o;
  char buf[96];
  o << "# moesim calibration: measured collective times (nccl-tests size convention) per group size.\n"
    << "# The simulator takes each collective's fixed cost and sustained bandwidth from these curves.\n";
  o << "platform: " << c.platform << "\n";
  o << "measured_on: \"" << c.measured_on << "\"\n";
  o << "source: \"" << c.source << "\"\n";
  if (c.mem_bw_eff || c.flops_eff || c.kernel_overhead || c.p2p_alpha) {
    o << "compute:\n";
    if (c.mem_bw_eff)
      o << "  mem_bw_eff: " << *c.mem_bw_eff << "\n";
    if (c.flops_eff)
      o << "  flops_eff: " << *c.flops_eff << "\n";
    if (c.kernel_overhead)
      o << "  kernel_overhead: " << *c.kernel_overhead << "\n";
    if (c.p2p_alpha)
      o << "  p2p_alpha: " << *c.p2p_alpha << "\n";
  }
  o << "collectives:\n";
  for (const CollectiveCurve& cv : c.collectives) {
    o << "  - op: " << (cv.kind == OpKind::send ? "sendrecv" : to_string(cv.kind)) << "\n";
    o << "    ranks: " << cv.ranks << "\n";
    o << "    points:  # [bytes, seconds]\n";
    for (const auto& [b, t] : cv.points) {
      std::snprintf(buf, sizeof buf, "      - [%.0f, %.6g]\n", b, t);
      o << buf;
    }
  }
  return o.str();
}

} // namespace moesim
