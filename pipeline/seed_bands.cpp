#include "pipeline/seed_bands.hpp"

#include "core/error.hpp"

#include <algorithm>
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

} // namespace moesim
