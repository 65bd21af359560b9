// Confidence bands over routing seeds: the same scenario simulated with K routing seeds (base seed,
// base + 1, ...), summarised as p50 and p90. Percentiles are nearest-rank (the ceil(q K)-th
// smallest of K values, so every figure is one seed's result). The p90 step time is the slow tail;
// the p90 tok/s is the rate 90% of seeds reach: tokens per step over the p90 step time.
#pragma once
#include "core/routing.hpp"
#include "pipeline/study_run.hpp"
#include "report/result.hpp"

#include <vector>

namespace moesim {

// The ceil(q K)-th smallest of `v` (q in (0, 1]); v must not be empty.
double nearest_rank(std::vector<double> v, double q);

struct Band {
  double p50 = 0;
  double p90 = 0;
};

struct SeedBand {
  int seeds = 1;
  Band step_time;     // s; p90 >= p50
  Band tok_s_user;    // p90 <= p50
  Band tok_s_per_gpu; // p90 <= p50
  size_t median_seed = 0; // index of the seed whose step time is the p50
};

// The band of one scenario's results, one per seed (all simulated, none refused).
SeedBand band_of(const std::vector<ScenarioResult>& per_seed);

// The routings of K seeds: `base` with seeds base.seed, base.seed + 1, ... Throws InputError naming
// `flag` when K < 1, or K > 1 with uniform routing (expected counts: every seed gives the same step).
std::vector<RoutingSpec> seed_routings(const RoutingSpec& base, int seeds, const std::string& flag);

// `moesim run --seeds K`: the study simulated once per routing seed (seed_routings of the study's
// routing); by_seed[k] holds seed k's results in study order.
std::vector<std::vector<ScenarioResult>> run_study_seeds(const PreparedStudy& p, int seeds, int jobs);
// The bands as a table: one line per scenario that was simulated (refused ones left out).
std::string render_seed_bands(const std::vector<std::vector<ScenarioResult>>& by_seed, const RoutingSpec& routing);

} // namespace moesim
