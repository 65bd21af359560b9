// Candidates: each reference's candidate explanations (another engine path, or plan, on the same
// platform and batch) simulated beside the study, so the output can say which reproduce the
// measured figure.
#pragma once
#include "core/study.hpp"
#include "pipeline/scenario_runner.hpp"
#include "report/render.hpp"

#include <string>
#include <vector>

namespace moesim {

// One run per candidate of every reference whose (plan, platform, batch) is among `scenarios`, in
// reference then candidate order.
std::vector<CandidateRun> run_candidates(const Study& study, const std::vector<Scenario>& scenarios, int jobs);

} // namespace moesim
