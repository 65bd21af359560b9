#include "pipeline/search.hpp"

#include "core/calibration_choice.hpp"
#include "core/error.hpp"
#include "core/hf_config.hpp"
#include "core/limits.hpp"
#include "core/numbers.hpp"
#include "core/model_loader.hpp"
#include "pipeline/calibrations.hpp"
#include "pipeline/memory_fit.hpp"
#include "pipeline/platform_files.hpp"
#include "pipeline/scenario.hpp"
#include "pipeline/scenario_runner.hpp"
#include "pipeline/search_space.hpp"
#include "sim/platform_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

namespace moesim {
namespace fs = std::filesystem;

std::string SearchRow::label() const
{
  return plan + " @ " + platform + " b=" + std::to_string(batch) + (cuda_graphs ? " graphs" : " eager");
}

std::vector<int> default_batches(Phase phase)
{
  if (phase == Phase::prefill)
    return {1, 4, 16};
  return {1, 8, 32, 64, 128, 256};
}

Slo parse_slo(const std::string& text, Phase phase)
{
  if (text.empty())
    return {};
  const std::string fix = phase == Phase::decode ? "write e.g. --slo tpot=50ms" : "write e.g. --slo ttft=2s";
  const auto eq = text.find('=');
  if (eq == std::string::npos)
    throw InputError("--slo", text, "expected metric=time", fix);
  Slo s;
  s.metric = text.substr(0, eq);
  if (s.metric != "tpot" && s.metric != "ttft")
    throw InputError("--slo", text, "unknown metric '" + s.metric + "'", "use tpot (decode) or ttft (prefill)");
  if (s.metric == "tpot" && phase != Phase::decode)
    throw InputError("--slo", text, "tpot bounds a decode step, but the search is prefill", "use ttft=... or --phase decode");
  if (s.metric == "ttft" && phase != Phase::prefill)
    throw InputError("--slo", text, "ttft bounds a prefill step, but the search is decode", "use tpot=... or --phase prefill");
  const std::string v = text.substr(eq + 1);
  size_t n = 0;
  double x = 0;
  try {
    x = std::stod(v, &n);
  } catch (const std::exception&) {
    n = 0;
  }
  const std::string unit = n ? v.substr(n) : "";
  const double scale = unit == "s" ? 1 : unit == "ms" ? 1e-3 : unit == "us" ? 1e-6 : 0;
  if (!n || scale == 0 || !(x > 0) || !std::isfinite(x))
    throw InputError("--slo", text, "'" + v + "' is not a positive time with a unit (s, ms or us)", fix);
  s.seconds = x * scale;
  return s;
}

Shard parse_shard(const std::string& text)
{
  const auto slash = text.find('/');
  auto whole = [](const std::string& s) {
    return !s.empty() && s.size() < 7 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (slash == std::string::npos || !whole(text.substr(0, slash)) || !whole(text.substr(slash + 1)))
    throw InputError("--shard", text, "expected I/N (shard I of N)", "write e.g. --shard 2/8");
  Shard s{std::stoi(text.substr(0, slash)), std::stoi(text.substr(slash + 1))};
  if (s.count < 1 || s.index < 1 || s.index > s.count)
    throw InputError("--shard", text, "needs 1 <= I <= N", "write e.g. --shard 1/" + std::to_string(std::max(1, s.count)));
  return s;
}

namespace {

Model load_search_model(const std::string& name, const std::string& root)
{
  if (name.empty())
    throw InputError("command line", "--model", "no model given", "pass --model NAME (moesim list), a model YAML or a config.json");
  if (name.ends_with(".json")) {
    if (!fs::is_regular_file(name))
      throw InputError(name, "--model", "no such file", "give the path of a Hugging Face config.json");
    return import_hf_config(name, fs::absolute(name).parent_path().filename().string()).model; // named by its folder, as model import does
  }
  return load_model_file(resolve_model_path(name, root + "/workloads/models")).model;
}

RoutingSpec parse_routing(const std::string& text)
{
  RoutingSpec r;
  if (text == "uniform")
    return r;
  if (text == "sampled") {
    r.kind = RoutingKind::sampled;
    return r;
  }
  if (text.rfind("zipf:", 0) == 0) {
    r.kind = RoutingKind::zipf;
    // The same range as a study's routing.s (core/study.cpp): past it the weights underflow.
    const Bounds b = non_negative(limits::zipf_s);
    const std::optional<double> v = parse_number(text.substr(5));
    if (v && b.contains(*v)) {
      r.zipf_s = *v;
      return r;
    }
    throw InputError("command line", "--routing", "'" + text + "': the Zipf exponent is not a number " + b.text(),
                     "write zipf:S with S " + b.text() + " (e.g. zipf:1.2)");
  }
  throw InputError("--routing", text, "unknown routing", "use uniform, sampled or zipf:S (e.g. zipf:1.2)");
}

struct SearchCandidate {
  size_t key = 0;
  size_t platform = 0;
  Plan plan;
  int batch = 0;
  bool graphs = false;
};

} // namespace

SearchResult run_search(const SearchRequest& q, int jobs, const std::function<void(size_t, size_t)>& on_progress)
{
  // Setup: every bad input refused before anything is simulated.
  SearchResult out;
  SearchSetup& su = out.setup;
  Study study;
  study.name = "search";
  study.file = "--model";
  if (q.phase == "decode")
    study.phase = Phase::decode;
  else if (q.phase == "prefill")
    study.phase = Phase::prefill;
  else
    throw InputError("--phase", q.phase, "unknown phase", "use decode or prefill");
  su.slo = parse_slo(q.slo, study.phase);
  su.shard = parse_shard(q.shard);
  if (q.rank != "p50" && q.rank != "p90")
    throw InputError("--rank", q.rank, "unknown rank", "use p50 or p90");
  if (q.graphs != "both" && q.graphs != "on" && q.graphs != "off")
    throw InputError("--graphs", q.graphs, "unknown choice", "use both, on or off");
  if (q.context < 0)
    throw InputError("--context", std::to_string(q.context), "must not be negative", "pass the tokens already cached, e.g. 4096");
  if (q.gpus < 0)
    throw InputError("--gpus", std::to_string(q.gpus), "must be positive", "pass the GPU count of the platform");
  if (!(q.gpu_memory_utilization > 0 && q.gpu_memory_utilization <= 1))
    throw InputError("--gpu-memory-utilization", std::to_string(q.gpu_memory_utilization), "must be in (0, 1]", "use e.g. 0.9");
  study.batches = q.batches.empty() ? default_batches(study.phase) : q.batches;
  for (size_t i = 0; i < study.batches.size(); i++) {
    const int b = study.batches[i];
    if (b < 1 || b > limits::batch)
      throw InputError("command line", "--batch", std::to_string(b) + " is not a batch size between 1 and " + std::to_string(limits::batch),
                       "pass batch sizes in that range");
    // A size given twice would be searched twice, every candidate of it listed twice.
    if (std::find(study.batches.begin(), study.batches.begin() + static_cast<long>(i), b) != study.batches.begin() + static_cast<long>(i))
      throw InputError("command line", "--batch", std::to_string(b) + " is given twice", "give each batch size once");
  }
  study.context = q.context;
  study.prompt = study.phase == Phase::prefill ? (q.prompt > 0 ? q.prompt : 2048) : 0;
  if (study.phase == Phase::decode && q.prompt > 0)
    throw InputError("--prompt", std::to_string(q.prompt), "a decode search has no prompt", "drop it, or pass --phase prefill");
  study.routing = parse_routing(q.routing);
  const std::vector<RoutingSpec> routings = seed_routings(study.routing, q.seeds, "--seeds");
  study.gpu_memory_utilization = q.gpu_memory_utilization;
  const CalibrationChoice choice = parse_calibration_choice(q.calibration, "--calibration");
  study.model = load_search_model(q.model, q.root);
  if (q.platforms.empty())
    throw InputError("command line", "--platform", "no platform given", "pass --platform NAME[,NAME...] (moesim list)");

  PlatformFiles files(q.root);
  Calibrations calibrations;
  std::vector<PlatformFile> platform_files;
  std::vector<std::vector<double>> gpu_mem;
  std::vector<std::string> calibration_files;
  for (const std::string& p : q.platforms) {
    const PlatformFile f = files.get(p, {}, "--platform");
    std::vector<double> mem;
    for (const XmlGpu& g : platform_facts(f).gpus)
      mem.push_back(g.mem_bytes);
    if (q.gpus && static_cast<int>(mem.size()) != q.gpus)
      throw InputError(f.source, "--gpus", "platform " + f.name + " has " + std::to_string(mem.size()) + " GPUs, not " + std::to_string(q.gpus),
                       "drop --gpus or pass a platform of " + std::to_string(q.gpus) + " GPUs");
    calibration_files.push_back(resolve_calibration_file(choice, f.source, f.edited));
    platform_files.push_back(f);
    gpu_mem.push_back(mem);
    su.platforms.push_back(f.name);
    su.gpus.push_back(static_cast<int>(mem.size()));
  }
  su.model = study.model.name;
  su.batches = study.batches;
  su.phase = study.phase;
  su.context = study.context;
  su.prompt = study.prompt;
  su.routing = study.routing.describe();
  su.graphs = q.graphs;
  su.rank = q.rank;
  su.seeds = q.seeds;

  // Candidates: platforms x batches x plans x graphs (off before on); the position is the key.
  const std::vector<bool> graph_choices =
      q.graphs == "both" ? std::vector<bool>{false, true} : std::vector<bool>{q.graphs == "on"};
  std::vector<SearchCandidate> mine;
  size_t key = 0;
  for (size_t p = 0; p < platform_files.size(); p++) {
    const std::vector<Plan> plans = enumerate_plans(study.model, su.gpus[p]);
    for (int b : study.batches)
      for (const Plan& plan : plans)
        for (bool g : graph_choices) {
          if (key % static_cast<size_t>(su.shard.count) == static_cast<size_t>(su.shard.index - 1))
            mine.push_back({key, p, plan, b, g});
          key++;
        }
  }
  su.candidates = key;

  // Prune before simulating: batch too small to feed every replica and microbatch, or no memory fit.
  std::vector<Scenario> scenarios;
  std::vector<size_t> scenario_row;
  for (const SearchCandidate& c : mine) {
    SearchRow r;
    r.key = c.key;
    r.platform = su.platforms[c.platform];
    r.plan = c.plan.name;
    r.layout = c.plan.describe();
    r.gpus = su.gpus[c.platform];
    r.pp = c.plan.pp;
    r.batch = c.batch;
    r.cuda_graphs = c.graphs;
    const Layout L = make_layout(c.plan, study.model, r.gpus);
    const StepShape st = step_of(study, c.batch);
    const MemoryFit fit = check_memory_fit(study.model, L, st, gpu_mem[c.platform], study.gpu_memory_utilization);
    r.memory = fit.busiest.total();
    r.capacity = fit.capacity;
    const int slots = c.plan.attn_dp * c.plan.microbatches;
    if (c.batch < slots) {
      r.pruned = "batch";
      r.why_pruned = "batch " + std::to_string(c.batch) + " leaves some of the " + std::to_string(c.plan.attn_dp) +
                     " attention DP replicas x " + std::to_string(c.plan.microbatches) + " microbatches empty";
    } else if (!fit.fits) {
      r.pruned = "memory";
      r.why_pruned = fit.refusal;
    } else {
      Scenario sc;
      sc.plan = c.plan;
      sc.platform_name = platform_files[c.platform].name;
      sc.platform_path = platform_files[c.platform].xml;
      sc.routed = platform_files[c.platform].routed;
      sc.calibration_file = calibration_files[c.platform];
      sc.calibration = calibrations.get(sc.calibration_file);
      sc.engine = study.engine;
      sc.engine.cuda_graphs = c.graphs;
      sc.batch = c.batch;
      scenarios.push_back(sc);
      scenario_row.push_back(out.rows.size());
    }
    out.rows.push_back(r);
  }

  // Simulate every kept candidate once per seed, `jobs` processes at a time.
  std::vector<std::vector<ScenarioResult>> per_row(scenarios.size());
  const size_t total = scenarios.size() * routings.size();
  size_t done = 0;
  for (const RoutingSpec& routing : routings) {
    Study s = study;
    s.routing = routing;
    const std::vector<ScenarioOutcome> o = run_scenarios(s, scenarios, jobs, false, [&](size_t) {
      if (on_progress)
        on_progress(++done, total);
    });
    for (size_t i = 0; i < o.size(); i++)
      per_row[i].push_back(o[i].result);
  }
  for (size_t i = 0; i < scenarios.size(); i++) {
    SearchRow& r = out.rows[scenario_row[i]];
    if (per_row[i][0].refused) { // the memory fit ran before: a refusal here is the same rule
      r.pruned = "memory";
      r.why_pruned = per_row[i][0].refusal;
      continue;
    }
    r.band = band_of(per_row[i]);
    const ScenarioResult& mid = per_row[i][r.band.median_seed];
    r.mean = mid.mean;
    r.comm_by_kind = mid.comm_time_by_kind;
  }
  out.analysis = analyse(su, out.rows);
  return out;
}

} // namespace moesim
