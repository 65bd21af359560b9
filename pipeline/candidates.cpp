#include "pipeline/candidates.hpp"

namespace moesim {

std::vector<CandidateRun> run_candidates(const Study& study, const std::vector<Scenario>& scenarios, int jobs)
{
  std::vector<CandidateRun> out;
  for (size_t i = 0; i < study.references.size(); i++) {
    const Reference& ref = study.references[i];
    const Scenario* base = nullptr;
    for (const Scenario& sc : scenarios)
      if (sc.plan.name == ref.plan && sc.platform_name == ref.platform && sc.batch == ref.batch)
        base = &sc;
    if (!base)
      continue;
    for (const Candidate& c : ref.candidates) {
      Study s = study;
      s.engine = c.engine.params;
      s.engine_profile = c.engine.profile;
      Scenario one = *base;
      if (!c.plan.empty())
        one.plan = Plan::parse(c.plan);
      s.plans = {one.plan};
      CandidateRun run{static_cast<int>(i), c.name, one.plan.name, run_scenarios(s, {one}, jobs, false).at(0).result};
      out.push_back(std::move(run));
    }
  }
  return out;
}

} // namespace moesim
