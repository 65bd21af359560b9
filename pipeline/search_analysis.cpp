// The analysis of a search's rows: Pareto front, the best plan under the SLO, the runner-up and why.
#include "pipeline/search.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace moesim {

std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& pts)
{
  std::vector<size_t> front;
  for (size_t i = 0; i < pts.size(); i++) {
    bool beaten = false;
    for (size_t j = 0; j < pts.size() && !beaten; j++)
      beaten = pts[j].first >= pts[i].first && pts[j].second >= pts[i].second &&
               (pts[j].first > pts[i].first || pts[j].second > pts[i].second);
    if (!beaten)
      front.push_back(i);
  }
  std::stable_sort(front.begin(), front.end(), [&](size_t a, size_t b) { return pts[a].first > pts[b].first; });
  return front;
}

namespace {

std::string ms(double s)
{
  char b[32];
  std::snprintf(b, sizeof b, s < 1e-3 ? "%.1f us" : s < 1 ? "%.2f ms" : "%.3f s", s < 1e-3 ? s * 1e6 : s < 1 ? s * 1e3 : s);
  return b;
}

std::string pct(double less, double more)
{
  char b[32];
  std::snprintf(b, sizeof b, "%.0f%%", more > 0 ? 100 * (1 - less / more) : 0.0);
  return b;
}

// Where a step's time goes, per rank: compute, each exposed collective kind, host waits, idle.
std::vector<std::pair<std::string, double>> parts_of(const SearchRow& r)
{
  std::vector<std::pair<std::string, double>> v{{"compute", r.mean.compute}};
  double named = 0;
  for (const auto& [kind, t] : r.comm_by_kind) {
    v.push_back({kind, t});
    named += t;
  }
  v.push_back({"other communication", std::max(0.0, r.mean.comm - named)});
  v.push_back({"host (launch and sync)", r.mean.host});
  v.push_back({"waiting (imbalance, pipeline bubbles)", r.mean.idle});
  return v;
}

std::string why_better(const SearchRow& a, const SearchRow& b, const std::string& rank)
{
  char buf[256];
  std::string s = a.plan + (a.cuda_graphs ? " (graphs)" : " (eager)") + " beats " + b.plan +
                  (b.cuda_graphs ? " (graphs)" : " (eager)");
  s += a.batch == b.batch ? " at batch " + std::to_string(a.batch) : " (batch " + std::to_string(a.batch) + " vs " + std::to_string(b.batch) + ")";
  if (a.platform != b.platform)
    s += " (" + a.platform + " vs " + b.platform + ")";
  const double more = b.per_gpu(rank) > 0 ? 100 * (a.per_gpu(rank) / b.per_gpu(rank) - 1) : 0.0;
  std::snprintf(buf, sizeof buf, more < 10 ? ": %.1f vs %.1f tok/s/GPU (+%.1f%%)" : ": %.1f vs %.1f tok/s/GPU (+%.0f%%)",
                a.per_gpu(rank), b.per_gpu(rank), more);
  s += buf;
  // The part of the step that differs most, per step and per token of the step (batch differs).
  const auto pa = parts_of(a), pb = parts_of(b);
  size_t best = 0;
  double gain = -INFINITY;
  for (size_t i = 0; i < pa.size(); i++) {
    const double d = pb[i].second - pa[i].second;
    if (d > gain)
      gain = d, best = i;
  }
  if (gain > 0)
    s += ", " + pct(pa[best].second, pb[best].second) + " less " + pa[best].first + " time per step (" +
         ms(pa[best].second) + " vs " + ms(pb[best].second) + ")";
  else
    s += ", more tokens per step (" + std::to_string(a.batch) + " vs " + std::to_string(b.batch) + ") for its " +
         ms(a.step(rank)) + " vs " + ms(b.step(rank)) + " step";
  const double gib = 1073741824.0, ha = (a.capacity - a.memory) / gib, hb = (b.capacity - b.memory) / gib;
  std::snprintf(buf, sizeof buf, std::fabs(ha - hb) < 0.05 ? "; same memory headroom (%.1f GiB)" : "; memory headroom %.1f vs %.1f GiB",
                ha, hb);
  return s + buf;
}

} // namespace

SearchAnalysis analyse(const SearchSetup& su, const std::vector<SearchRow>& rows)
{
  SearchAnalysis a;
  std::vector<size_t> sim;
  for (size_t i = 0; i < rows.size(); i++) {
    if (rows[i].pruned.empty())
      sim.push_back(i);
    else
      a.pruned[rows[i].pruned]++;
  }
  a.simulated = static_cast<int>(sim.size());
  std::vector<std::pair<double, double>> pts;
  for (size_t i : sim)
    pts.push_back({rows[i].user(su.rank), rows[i].per_gpu(su.rank)});
  for (size_t k : pareto_front(pts))
    a.pareto.push_back(sim[k]);
  // Under the SLO, most tok/s/GPU first, then most tok/s/user, then the smaller key.
  std::vector<size_t> ok;
  for (size_t i : sim)
    if (su.slo.metric.empty() || rows[i].step(su.rank) <= su.slo.seconds)
      ok.push_back(i);
  a.meeting_slo = static_cast<int>(ok.size());
  std::stable_sort(ok.begin(), ok.end(), [&](size_t x, size_t y) {
    const SearchRow &p = rows[x], &q = rows[y];
    if (p.per_gpu(su.rank) != q.per_gpu(su.rank))
      return p.per_gpu(su.rank) > q.per_gpu(su.rank);
    if (p.user(su.rank) != q.user(su.rank))
      return p.user(su.rank) > q.user(su.rank);
    return p.key < q.key;
  });
  if (ok.empty())
    return a;
  a.best = ok[0];
  for (size_t i : ok)
    if (rows[i].plan != rows[ok[0]].plan || rows[i].platform != rows[ok[0]].platform) {
      a.runner_up = i;
      break;
    }
  if (a.runner_up)
    a.why = why_better(rows[*a.best], rows[*a.runner_up], su.rank);
  else
    a.why = "no other plan meets the SLO";
  return a;
}

} // namespace moesim
