#include "pipeline/scenario.hpp"

#include "core/error.hpp"

#include <algorithm>

namespace moesim {

std::vector<Scenario> expand_study(const Study& study, PlatformFiles& files, Calibrations& calibrations,
                                   const CalibrationChoice& choice, const WhatIf& what_if)
{
  const EngineParams engine = apply_engine_settings(study.engine, what_if.engine);
  std::vector<Scenario> out;
  for (const std::string& p : study.platforms) {
    const PlatformFile f = files.get(p, what_if.platform);
    const std::string cal = resolve_calibration_file(choice, f.source, f.edited);
    const std::shared_ptr<const Calibration> loaded = calibrations.get(cal);
    for (int b : study.batches)
      for (const Plan& plan : study.plans)
        out.push_back({plan, f.name, f.xml, f.routed, cal, loaded, engine, b});
  }
  return out;
}

Layout check_layout(const Study& study, const Scenario& sc, int gpus)
{
  // Blame where the plan was written (the study's line, or --plan).
  const std::string where = sc.plan.where.empty() ? study.file : sc.plan.where;
  // More microbatches than sequences leaves some empty. The default (one per stage) may (pp4 at
  // batch 1 runs one microbatch); a count asked for beyond both is a mistake.
  if (sc.plan.microbatches > std::max(sc.batch, sc.plan.pp))
    throw InputError(where, "plans",
                     "plan '" + sc.plan.name + "' splits batch " + std::to_string(sc.batch) + " into " +
                         std::to_string(sc.plan.microbatches) + " microbatches, more than it has sequences",
                     "use at most :mb" + std::to_string(std::max(sc.batch, sc.plan.pp)) + ", or a larger batch");
  try {
    return make_layout(sc.plan, study.model, gpus);
  } catch (const std::invalid_argument& e) {
    throw InputError(where, "plans", std::string(e.what()) + " (platform " + sc.platform_name + ")",
                     "change the plan or the platform");
  }
}

StepShape step_of(const Study& study, int batch)
{
  StepShape st;
  st.phase = study.phase;
  st.batch = batch;
  st.context = study.context;
  st.prompt = study.prompt;
  return st;
}

ScenarioStep scenario_step(const Study& study, const Scenario& sc, const PlatformTraits& traits)
{
  ScenarioStep out{sc.plan, step_of(study, sc.batch), sc.engine, {}, std::nullopt};
  if (!study.engine_profile)
    return out;
  out.engine_step = engine_step(*study.engine_profile, sc.plan, traits, out.step, study.model.hidden, sc.engine);
  out.plan = out.engine_step->plan;
  out.step = out.engine_step->step;
  out.engine = out.engine_step->engine;
  out.mech = out.engine_step->mech;
  return out;
}

} // namespace moesim
