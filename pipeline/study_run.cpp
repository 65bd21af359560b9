#include "pipeline/study_run.hpp"

#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/schedule_builder.hpp"
#include "pipeline/memory_fit.hpp"
#include "sim/platform_check.hpp"

#include <filesystem>
#include <map>

namespace moesim {
namespace {

// Keeps only the plans / platforms / batches named on the command line.
void narrow(Study& s, const std::vector<std::string>& plans, const std::vector<std::string>& platforms,
            const std::vector<int>& batches, const std::string& root)
{
  for (const auto& [n, flag] : {std::pair{plans.size(), "--plan"}, {platforms.size(), "--platform"}, {batches.size(), "--batch"}})
    if (n > static_cast<size_t>(limits::list))
      throw InputError("command line", flag, std::to_string(n) + " values, more than the " + std::to_string(limits::list) +
                                                 " one run takes", "split the run");
  if (!plans.empty()) {
    std::vector<Plan> keep;
    for (const std::string& name : plans) {
      bool found = false;
      for (const Plan& p : s.plans)
        if (p.name == name)
          keep.push_back(p), found = true;
      if (!found) {
        try {
          keep.push_back(Plan::parse(name));
          keep.back().where = "--plan";
        } catch (const std::invalid_argument& e) {
          throw InputError("--plan", name, e.what(), "name a plan of the study or write one like tp4, ep4, tp2xep2");
        }
      }
    }
    s.plans = keep;
  }
  for (const std::string& p : platforms) {
    try {
      (void)resolve_platform_path(p, root);
    } catch (const InputError& e) {
      throw e.with_place("--platform", p);
    }
  }
  if (!platforms.empty())
    s.platforms = platforms;
  if (!batches.empty()) {
    for (int b : batches)
      if (b < 1 || b > limits::batch)
        throw InputError("--batch", std::to_string(b), "batch must be from 1 to " + std::to_string(limits::batch),
                         "pass a batch in that range");
    s.batches = batches;
    check_routing_work(s, "--batch");
  }
}

// What each what-if edits, for "changes nothing: <what>".
std::string what_it_needs(const std::string& key)
{
  if (key.rfind("link.", 0) == 0)
    return "no " + key.substr(5, key.rfind('.') - 5) + " links";
  if (key == "p2p_level")
    return "P2P off";
  return "no network"; // pxn, gpudirect, network.oversubscription
}

// The platform what-ifs that change nothing on some platforms of the run: key -> note. One that
// changes nothing on every platform is refused (it would be reported as applied).
std::map<std::string, std::string> what_if_effects(const Study& s, PlatformFiles& files,
                                                   const std::vector<Override>& overrides)
{
  std::map<std::string, std::vector<std::string>> none;
  for (const std::string& p : s.platforms) {
    const std::vector<std::string> keys = files.no_effect(p, overrides);
    if (keys.empty())
      continue;
    const std::string name = std::filesystem::path(resolve_platform_path(p, files.root(), true)).stem().string();
    for (const std::string& k : keys)
      none[k].push_back(name);
  }
  std::map<std::string, std::string> notes;
  for (const Override& o : overrides) {
    auto it = none.find(o.key);
    if (it == none.end())
      continue;
    std::string names;
    for (const std::string& n : it->second)
      names += (names.empty() ? "" : ", ") + n;
    const std::string flag = o.flag.empty() ? "--set" : o.flag;
    if (it->second.size() == s.platforms.size())
      throw InputError(flag, o.key, "changes nothing: " + what_it_needs(o.key) + " on " + names,
                       "drop " + flag + " " + o.key + ", or pick a platform that has them (--platform)");
    notes[o.key] = " (no effect on " + names + ": " + what_it_needs(o.key) + ")";
  }
  return notes;
}

} // namespace

PreparedStudy prepare_study(const StudyRequest& request)
{
  PreparedStudy p;
  p.root = request.root;
  p.exact = request.exact;
  if (request.sets.size() > static_cast<size_t>(limits::list))
    throw InputError("command line", "--set", std::to_string(request.sets.size()) + " what-ifs, more than the " +
                                                  std::to_string(limits::list) + " one run takes", "split the run");
  for (const std::string& a : request.sets)
    add_what_if(p.what_if, a, "--set");
  if (request.cuda_graphs && p.what_if.sets("engine.cuda_graphs"))
    throw InputError("command line", *request.cuda_graphs ? "--cuda-graphs" : "--eager",
                     "given with --set engine.cuda_graphs", "drop one of them");
  p.calibration = parse_calibration_choice(request.calibration, "--calibration");
  p.study = load_study_file(resolve_study_path(request.study, request.root), request.root);
  narrow(p.study, request.plans, request.platforms, request.batches, request.root);
  if (request.cuda_graphs)
    p.study.engine.cuda_graphs = *request.cuda_graphs;
  // The study as run: what reports print of its engine includes the what-ifs (expand_study applies
  // them again per scenario, which a sweep's value needs; setting a key twice gives the same value).
  p.study.engine = apply_engine_settings(p.study.engine, p.what_if.engine);
  p.cuda_graphs_forced = request.cuda_graphs.has_value();
  return p;
}

void check_scenario_count(const PreparedStudy& p, size_t sweep_values)
{
  const Study& s = p.study;
  const size_t per_run = s.platforms.size() * s.batches.size() * s.plans.size();
  const size_t runs = sweep_values ? sweep_values : 1;
  if (per_run * runs > static_cast<size_t>(limits::scenarios))
    throw InputError("command line", sweep_values ? "--sweep" : "--plan",
                     std::to_string(per_run * runs) + " scenarios (" + std::to_string(s.platforms.size()) +
                         " platforms x " + std::to_string(s.batches.size()) + " batch sizes x " +
                         std::to_string(s.plans.size()) + " plans" +
                         (sweep_values ? " x " + std::to_string(runs) + " values" : "") + "), more than the " +
                         std::to_string(limits::scenarios) + " one run takes",
                     "narrow it with --plan, --platform, --batch or fewer sweep values");
}

std::string what_if_summary(const PreparedStudy& p, const std::optional<Override>& swept)
{
  std::vector<Override> platform = p.what_if.platform;
  if (swept && !is_engine_what_if(swept->key))
    platform.push_back(*swept);
  PlatformFiles files(p.root);
  std::map<std::string, std::string> notes = what_if_effects(p.study, files, platform);
  std::string line;
  for (const Override& o : p.what_if.given)
    line += (line.empty() ? "what-if (--set): " : ", ") + o.key + "=" + o.value + notes[o.key];
  if (swept && notes.count(swept->key))
    line += (line.empty() ? "" : "; ") + std::string("--sweep ") + swept->key + notes[swept->key];
  return line;
}

std::vector<ScenarioResult> StudyRun::results() const
{
  std::vector<ScenarioResult> r;
  for (const ScenarioOutcome& o : outcomes)
    r.push_back(o.result);
  return r;
}

StudyRun run_study(const PreparedStudy& p, int jobs, bool keep_timelines)
{
  PlatformFiles files(p.root);
  Calibrations calibrations;
  std::vector<Scenario> scenarios = expand_study(p.study, files, calibrations, p.calibration, p.what_if);
  for (Scenario& sc : scenarios)
    sc.exact = p.exact;
  StudyRun run{run_scenarios(p.study, scenarios, jobs, keep_timelines), {}};
  run.candidates = run_candidates(p.study, scenarios, jobs);
  return run;
}

void check_refusals(const Study& study, const std::vector<ScenarioResult>& results, bool allow_refused)
{
  int refused = 0;
  const ScenarioResult* first = nullptr;
  for (const ScenarioResult& r : results)
    if (r.refused && !refused++)
      first = &r;
  if (!refused || allow_refused)
    return;
  throw InputError(study.file, "plans",
                   first->key() + " " + first->refusal +
                       (refused > 1 ? " (and " + std::to_string(refused - 1) + " more scenarios do not fit)" : ""),
                   "use more GPUs, a plan that splits the model further, a smaller batch or context, or pass "
                   "--allow-refused to list them as refused rows");
}

Schedule schedule_of(const PreparedStudy& p)
{
  Study s = p.study;
  if (s.plans.size() != 1)
    throw InputError("command line", "--plan", "a schedule is one plan's, and " + std::to_string(s.plans.size()) +
                                                   " are selected", "name one plan with --plan");
  s.platforms.resize(1);
  s.batches.resize(1);
  PlatformFiles files(p.root);
  const PlatformFile f = files.get(s.platforms[0], p.what_if.platform);
  const PlatformFacts facts = platform_facts(f);
  std::vector<double> gpu_mem;
  for (const XmlGpu& g : facts.gpus)
    gpu_mem.push_back(g.mem_bytes);
  Scenario sc;
  sc.plan = s.plans[0];
  sc.platform_name = f.name;
  sc.platform_path = f.xml;
  sc.routed = f.routed;
  sc.engine = apply_engine_settings(s.engine, p.what_if.engine);
  sc.batch = s.batches[0];
  const ScenarioStep ss = scenario_step(s, sc, facts.traits);
  Scenario run = sc;
  run.plan = ss.plan;
  const Layout L = check_layout(s, run, static_cast<int>(gpu_mem.size()));
  const StepShape& st = ss.step;
  const MemoryFit fit = check_memory_fit(s.model, L, st, gpu_mem, s.gpu_memory_utilization);
  if (!fit.fits)
    throw InputError(s.file, "plans", sc.plan.name + " on " + sc.platform_name + " at batch " +
                                          std::to_string(st.batch) + " " + fit.refusal,
                     "use more GPUs, a plan that splits the model further, or a smaller batch or context");
  BuildOptions opt;
  opt.routing = s.routing;
  opt.engine = ss.engine;
  opt.mech = ss.mech;
  return build_schedule(s.model, L, st, opt);
}

} // namespace moesim
