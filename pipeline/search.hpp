// Plan search (`moesim search`): every valid plan of a model on a platform's GPUs (search_space.hpp)
// at every batch, with CUDA graphs on and off, pruned by memory before anything is simulated,
// simulated in scenario processes (scenario_runner.hpp, `jobs` at a time), then analysed: the
// Pareto front of tok/s/user against tok/s/GPU, and the best plan under a latency SLO with the
// reason it beats the runner-up.
//   request -> setup (model, platforms, GPUs, batches, SLO, shard: every bad input refused here)
//           -> candidates (platforms x batches x plans x graphs; the position is the stable key)
//           -> this shard's candidates (key mod N) -> pruned (batch, memory) or simulated per seed
//           -> rows in key order -> analysis.
// Rows depend only on their candidate, never on `jobs` or the shard, so shards merged
// (merge_search) equal the unsharded search.
#pragma once
#include "core/study.hpp"
#include "pipeline/seed_bands.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

struct SearchRequest {
  std::string model;                   // zoo name, model YAML or Hugging Face config.json
  std::vector<std::string> platforms;  // names under platforms/ or paths; each a search of its own GPUs
  int gpus = 0;                        // 0: the platform's; otherwise every platform must have this many
  std::vector<int> batches;            // empty: default_batches(phase)
  std::string phase = "decode";
  int context = 4096;
  int prompt = 0;                      // prefill: 0 means 2048
  std::string routing = "uniform";     // uniform, sampled or zipf:S
  std::string graphs = "both";         // both, on, off
  std::string slo;                     // "", tpot=50ms, ttft=2s
  std::string rank = "p50";            // p50 or p90
  int seeds = 1;
  std::string shard = "1/1";
  double gpu_memory_utilization = 0.9;
  std::string calibration = "auto";
  std::string root;
};

struct Slo {
  std::string metric; // "" (none), "tpot" (decode step) or "ttft" (prefill step)
  double seconds = 0;
};
// "tpot=50ms", "ttft=2s", "tpot=800us". tpot needs decode, ttft prefill. Throws InputError naming --slo.
Slo parse_slo(const std::string& text, Phase phase);

struct Shard {
  int index = 1; // 1-based
  int count = 1;
};
// "I/N" with 1 <= I <= N. Throws InputError naming --shard.
Shard parse_shard(const std::string& text);

std::vector<int> default_batches(Phase phase);

// What a search was asked, as its JSON carries it (shards to be merged must agree on all of it).
struct SearchSetup {
  std::string model;
  std::vector<std::string> platforms;
  std::vector<int> gpus;  // per platform
  std::vector<int> batches;
  Phase phase = Phase::decode;
  int context = 0;
  int prompt = 0;
  std::string routing;    // RoutingSpec::describe()
  std::string graphs;
  Slo slo;
  std::string rank;
  int seeds = 1;
  size_t candidates = 0;  // over all shards
  Shard shard;
};

struct SearchRow {
  size_t key = 0;          // position among all candidates
  std::string platform;
  std::string plan;        // spec (plan_spec)
  std::string layout;      // Plan::describe()
  int gpus = 0;
  int pp = 1;
  int batch = 0;
  bool cuda_graphs = false;
  std::string pruned;      // "" (simulated), "batch" or "memory"
  std::string why_pruned;
  double memory = 0;       // bytes on the busiest GPU
  double capacity = 0;     // usable bytes per GPU
  SeedBand band;           // simulated rows
  Breakdown mean;          // the median seed's, averaged over ranks
  std::map<std::string, double> comm_by_kind; // the median seed's exposed comm per rank by kind

  double step(const std::string& rank) const { return rank == "p90" ? band.step_time.p90 : band.step_time.p50; }
  double user(const std::string& rank) const { return rank == "p90" ? band.tok_s_user.p90 : band.tok_s_user.p50; }
  double per_gpu(const std::string& rank) const { return rank == "p90" ? band.tok_s_per_gpu.p90 : band.tok_s_per_gpu.p50; }
  std::string label() const; // "tp2xep4:a2a @ hgx-8x-h100 b=64 graphs"
};

struct SearchAnalysis {
  std::map<std::string, int> pruned;  // reason -> count
  int simulated = 0;
  std::vector<size_t> pareto;         // row indices, tok/s/user descending
  int meeting_slo = 0;
  std::optional<size_t> best;         // the most tok/s/GPU under the SLO
  std::optional<size_t> runner_up;    // the best row of another plan
  std::string why;                    // the best against the runner-up, in words
};

struct SearchResult {
  SearchSetup setup;
  std::vector<SearchRow> rows; // key order
  SearchAnalysis analysis;
};

// Runs a search. `on_progress(done, total)` is called as scenarios finish (simulations x seeds).
SearchResult run_search(const SearchRequest& request, int jobs,
                        const std::function<void(size_t, size_t)>& on_progress = {});

// Pareto front (maximise both): indices of `points` that no other point beats in one coordinate
// while matching it in the other; ties both kept. Sorted by x descending, then index.
std::vector<size_t> pareto_front(const std::vector<std::pair<double, double>>& points);

// The analysis of rows (any order of keys): Pareto front, best under the SLO, runner-up, why.
SearchAnalysis analyse(const SearchSetup& setup, const std::vector<SearchRow>& rows);

// The JSON of a result and back (merge reads shards' JSON). Throws InputError naming `file`.
std::string search_to_json(const SearchResult& r);
SearchResult search_from_json(const std::string& text, const std::string& file);
// Shards' results into one: same setup, every key once, all candidates covered; then analysed.
// Throws InputError naming the file that disagrees, overlaps or is missing.
SearchResult merge_search(const std::vector<std::pair<std::string, SearchResult>>& shards);

} // namespace moesim
