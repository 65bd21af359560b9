#include "report/diff.hpp"

#include "core/error.hpp"
#include "report/render.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace moesim {
namespace {

// The part of an op each side is judged on: compute its run time, communication the transfer after
// every peer arrived (waiting for peers is imbalance, shown as idle), host ops their wait.
double busy(const TimelineEvent& e)
{
  switch (op_class(e.kind)) {
    case OpClass::compute: return e.end - e.start;
    case OpClass::collective:
    case OpClass::p2p: return e.end - e.sync;
    case OpClass::host: return e.end - e.ready;
  }
  return 0;
}

std::string class_of(OpKind k)
{
  switch (compute_family(k)) {
    case ComputeFamily::gemm: return "GEMM";
    case ComputeFamily::attention: return "attention";
    case ComputeFamily::other: break;
  }
  switch (op_class(k)) {
    case OpClass::compute: return "other compute";
    case OpClass::collective: return to_string(k);
    case OpClass::p2p: return "p2p";
    case OpClass::host: return "host";
  }
  return "?";
}

std::vector<DiffRow> rows_of(const std::map<std::string, std::pair<double, double>>& m, double ranks)
{
  std::vector<DiffRow> v;
  for (const auto& [k, pm] : m)
    v.push_back({k, pm.first / ranks, pm.second / ranks});
  return v;
}

std::string pct(double x)
{
  if (std::abs(x) < 5e-4)
    return "0.0%";
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f%%", 100 * x);
  return b;
}

} // namespace

TimelineDiff diff_timelines(const Timeline& p, const Timeline& m, const std::string& mfile, int top)
{
  if (p.world != m.world)
    throw InputError(mfile, "world", "has " + std::to_string(m.world) + " ranks, the other timeline " +
                                         std::to_string(p.world),
                     "compare timelines of the same schedule");
  std::map<std::pair<int, int>, const TimelineEvent*> meas;
  for (const TimelineEvent& e : m.events)
    meas[{e.rank, e.op}] = &e;
  TimelineDiff d;
  d.predicted_step = p.step_time;
  d.measured_step = m.step_time;
  std::map<std::string, std::pair<double, double>> cls, fam;
  std::map<int, std::pair<double, double>> layer;
  for (const TimelineEvent& e : p.events) {
    auto it = meas.find({e.rank, e.op});
    if (it == meas.end())
      throw InputError(mfile, "events", "has no op " + std::to_string(e.op) + " on rank " + std::to_string(e.rank) +
                                            " (" + e.name + ")",
                       "compare timelines of the same schedule");
    const TimelineEvent& o = *it->second;
    if (o.name != e.name)
      throw InputError(mfile, "events", "op " + std::to_string(e.op) + " on rank " + std::to_string(e.rank) +
                                            " is '" + o.name + "' here but '" + e.name + "' in the other timeline",
                       "compare timelines of the same schedule");
    // The op's family and role, from whichever timeline has them (a measured timeline written before
    // schedule format 2 has neither).
    const auto family = e.family ? e.family : o.family;
    const auto role = e.role ? e.role : o.role;
    if (!family || !role)
      throw InputError(mfile, "events", "op " + std::to_string(e.op) + " on rank " + std::to_string(e.rank) + " (" +
                                            e.name + ") has no family and role in either timeline",
                       "regenerate one of them (moesim run --timeline writes them)");
    d.matched_ops++;
    const double a = busy(e), b = busy(o);
    auto add = [&](std::pair<double, double>& acc) {
      acc.first += a;
      acc.second += b;
    };
    add(cls[class_of(e.kind)]);
    add(fam[op_label(*family, *role)]);
    add(layer[e.layer]);
    // The GPU's wait before an op (host launch waits and kernel boundaries) counts as host on both
    // sides; a host op's is inside its busy() already (end - ready), counted once.
    if (op_class(e.kind) != OpClass::host) {
      cls["host"].first += e.start - e.ready;
      cls["host"].second += o.start - o.ready;
    }
  }
  const double ranks = std::max(1, p.world);
  d.by_class = rows_of(cls, ranks);
  for (const auto& [l, pm] : layer)
    d.by_layer.push_back({l < 0 ? "embed/head" : "L" + std::to_string(l), pm.first / ranks, pm.second / ranks});
  d.top_contributors = rows_of(fam, ranks);
  std::stable_sort(d.top_contributors.begin(), d.top_contributors.end(), [](const DiffRow& x, const DiffRow& y) {
    return std::abs(x.predicted - x.measured) > std::abs(y.predicted - y.measured);
  });
  if (static_cast<int>(d.top_contributors.size()) > top)
    d.top_contributors.resize(top);
  return d;
}

std::string render_diff(const TimelineDiff& d, const Timeline& p, const Timeline& m)
{
  std::ostringstream o;
  o << "step: predicted " << fmt_time(d.predicted_step) << " (" << p.source << "), measured "
    << fmt_time(d.measured_step) << " (" << m.source << "): error " << pct(d.step_error()) << "; "
    << d.matched_ops << " ops matched\n";
  auto table = [&](const char* title, const std::vector<DiffRow>& rows) {
    o << "\n" << title << " (seconds per rank, summed over the step)\n";
    size_t w = 4;
    for (const auto& r : rows)
      w = std::max(w, r.name.size());
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-*s  %12s  %12s  %8s\n", int(w), "", "predicted", "measured", "error");
    o << buf;
    for (const auto& r : rows) {
      std::snprintf(buf, sizeof buf, "  %-*s  %12s  %12s  %8s\n", int(w), r.name.c_str(), fmt_time(r.predicted).c_str(),
                    fmt_time(r.measured).c_str(), r.measured > 0 ? pct(r.error()).c_str() : "-");
      o << buf;
    }
  };
  table("By op class", d.by_class);
  if (d.by_layer.size() <= 16) {
    table("By layer", d.by_layer);
  } else {
    // Many layers: show the five with the largest error and say how many there are.
    std::vector<DiffRow> worst = d.by_layer;
    std::stable_sort(worst.begin(), worst.end(), [](const DiffRow& a, const DiffRow& b) {
      return std::abs(a.predicted - a.measured) > std::abs(b.predicted - b.measured);
    });
    worst.resize(5);
    table(("By layer: the 5 of " + std::to_string(d.by_layer.size()) + " with the largest difference").c_str(), worst);
  }
  table("Largest contributors (op, all layers)", d.top_contributors);
  return o.str();
}

nlohmann::json diff_to_json(const TimelineDiff& d)
{
  auto rows = [](const std::vector<DiffRow>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& r : v)
      a.push_back({{"name", r.name}, {"predicted", r.predicted}, {"measured", r.measured}, {"error", r.error()}});
    return a;
  };
  return {{"predicted_step", d.predicted_step}, {"measured_step", d.measured_step}, {"step_error", d.step_error()},
          {"matched_ops", d.matched_ops},       {"by_class", rows(d.by_class)},     {"by_layer", rows(d.by_layer)},
          {"top_contributors", rows(d.top_contributors)}};
}

} // namespace moesim
