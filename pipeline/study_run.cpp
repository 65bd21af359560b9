#include "pipeline/study_run.hpp"

#include "core/error.hpp"
#include "core/schedule_builder.hpp"
#include "pipeline/memory_fit.hpp"
#include "sim/platform_check.hpp"

namespace moesim {
namespace {

// Keeps only the plans / platforms / batches named on the command line.
void narrow(Study& s, const std::vector<std::string>& plans, const std::vector<std::string>& platforms,
            const std::vector<int>& batches)
{
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
        } catch (const std::invalid_argument& e) {
          throw InputError("--plan", name, e.what(), "name a plan of the study or write one like tp4, ep4, tp2xep2");
        }
      }
    }
    s.plans = keep;
  }
  if (!platforms.empty())
    s.platforms = platforms;
  if (!batches.empty()) {
    for (int b : batches)
      if (b < 1)
        throw InputError("--batch", std::to_string(b), "batch must be at least 1", "pass a positive batch");
    s.batches = batches;
  }
}

} // namespace

PreparedStudy prepare_study(const StudyRequest& request)
{
  PreparedStudy p;
  p.root = request.root;
  for (const std::string& a : request.sets)
    add_what_if(p.what_if, a, "--set");
  if (request.cuda_graphs && p.what_if.sets("engine.cuda_graphs"))
    throw InputError("command line", *request.cuda_graphs ? "--cuda-graphs" : "--eager",
                     "given with --set engine.cuda_graphs", "drop one of them");
  p.calibration = parse_calibration_choice(request.calibration, "--calibration");
  p.study = load_study_file(resolve_study_path(request.study, request.root), request.root);
  narrow(p.study, request.plans, request.platforms, request.batches);
  if (request.cuda_graphs)
    p.study.engine.cuda_graphs = *request.cuda_graphs;
  // The study as run: what reports print of its engine includes the what-ifs (expand_study applies
  // them again per scenario, which a sweep's value needs; setting a key twice gives the same value).
  p.study.engine = apply_engine_settings(p.study.engine, p.what_if.engine);
  p.cuda_graphs_forced = request.cuda_graphs.has_value();
  return p;
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
  const std::vector<Scenario> scenarios = expand_study(p.study, files, calibrations, p.calibration, p.what_if);
  return {run_scenarios(p.study, scenarios, jobs, keep_timelines)};
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
  std::vector<double> gpu_mem;
  for (const XmlGpu& g : platform_gpus_from_xml(f.xml))
    gpu_mem.push_back(g.mem_bytes);
  Scenario sc;
  sc.plan = s.plans[0];
  sc.platform_name = f.name;
  sc.platform_path = f.xml;
  sc.engine = apply_engine_settings(s.engine, p.what_if.engine);
  sc.batch = s.batches[0];
  const Layout L = check_layout(s, sc, static_cast<int>(gpu_mem.size()));
  const StepShape st = step_of(s, sc.batch);
  const MemoryFit fit = check_memory_fit(s.model, L, st, gpu_mem, s.gpu_memory_utilization);
  if (!fit.fits)
    throw InputError(s.file, "plans", sc.plan.name + " on " + sc.platform_name + " at batch " +
                                          std::to_string(st.batch) + " " + fit.refusal,
                     "use more GPUs, a plan that splits the model further, or a smaller batch or context");
  return build_schedule(s.model, L, st, BuildOptions{s.routing, sc.engine});
}

} // namespace moesim
