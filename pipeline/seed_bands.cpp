#include "pipeline/seed_bands.hpp"

#include "core/error.hpp"
#include "core/limits.hpp"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <stdexcept>

namespace moesim {

double nearest_rank(std::vector<double> v, double q)
{
  if (v.empty())
    throw std::invalid_argument("nearest_rank of no values");
  std::sort(v.begin(), v.end());
  const size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()) - 1e-9));
  return v[std::clamp<size_t>(k, 1, v.size()) - 1];
}

SeedBand band_of(const std::vector<ScenarioResult>& per_seed)
{
  SeedBand b;
  b.seeds = static_cast<int>(per_seed.size());
  std::vector<double> steps;
  for (const ScenarioResult& r : per_seed)
    steps.push_back(r.step_time);
  b.step_time = {nearest_rank(steps, 0.5), nearest_rank(steps, 0.9)};
  // The seed that gave each step time (the first of equals) carries its own rates.
  auto seed_of = [&](double step) {
    return static_cast<size_t>(std::find(steps.begin(), steps.end(), step) - steps.begin());
  };
  const ScenarioResult& mid = per_seed[seed_of(b.step_time.p50)];
  const ScenarioResult& slow = per_seed[seed_of(b.step_time.p90)];
  b.tok_s_user = {mid.tok_s_user, slow.tok_s_user};
  b.tok_s_per_gpu = {mid.tok_s_per_gpu, slow.tok_s_per_gpu};
  b.median_seed = seed_of(b.step_time.p50);
  return b;
}

std::vector<RoutingSpec> seed_routings(const RoutingSpec& base, int seeds, const std::string& flag)
{
  if (seeds < 1)
    throw InputError("command line", flag, "must be at least 1", "pass e.g. " + flag + " 8");
  if (seeds > limits::seeds)
    throw InputError("command line", flag, std::to_string(seeds) + " seeds is over the limit of " + std::to_string(limits::seeds),
                     "pass at most " + std::to_string(limits::seeds));
  if (seeds > 1 && base.kind == RoutingKind::uniform)
    throw InputError("command line", flag,
                     "routing is uniform (expected token counts), so every seed gives the same step",
                     "use sampled or zipf routing (search: --routing zipf:1.2; a study: routing: {kind: zipf, s: 1.2, seed: 1})");
  std::vector<RoutingSpec> out;
  for (int k = 0; k < seeds; k++) {
    RoutingSpec r = base;
    r.seed = base.seed + static_cast<std::uint64_t>(k);
    out.push_back(r);
  }
  return out;
}

std::vector<std::vector<ScenarioResult>> run_study_seeds(const PreparedStudy& p, int seeds, int jobs)
{
  std::vector<std::vector<ScenarioResult>> out;
  for (const RoutingSpec& r : seed_routings(p.study.routing, seeds, "--seeds")) {
    PreparedStudy q = p;
    q.study.routing = r;
    out.push_back(run_study(q, jobs, false).results());
  }
  return out;
}

std::string render_seed_bands(const std::vector<std::vector<ScenarioResult>>& by_seed, const RoutingSpec& routing)
{
  const size_t K = by_seed.size();
  std::string o = "Over " + std::to_string(K) + " routing seeds (" + routing.describe() + ", seeds " +
                  std::to_string(routing.seed) + ".." + std::to_string(routing.seed + K - 1) +
                  "), nearest-rank p50 / p90:\n";
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-44s %19s %21s %21s\n", "scenario", "step ms p50 / p90", "tok/s/user p50 / p90",
                "tok/s/GPU p50 / p90");
  o += buf;
  for (size_t i = 0; K > 0 && i < by_seed[0].size(); i++) {
    std::vector<ScenarioResult> per;
    for (const auto& seed : by_seed)
      per.push_back(seed[i]);
    if (per[0].refused)
      continue;
    const SeedBand b = band_of(per);
    std::snprintf(buf, sizeof buf, "%-44s %9.3f / %-7.3f %10.1f / %-8.1f %10.1f / %.1f\n", per[0].key().c_str(),
                  b.step_time.p50 * 1e3, b.step_time.p90 * 1e3, b.tok_s_user.p50, b.tok_s_user.p90, b.tok_s_per_gpu.p50,
                  b.tok_s_per_gpu.p90);
    o += buf;
  }
  return o;
}

} // namespace moesim
