// The HTML report (moesim run --html): one self-contained page, inline SVG, CSS and a little
// JavaScript, nothing fetched, readable from file:// and offline. Per platform and batch: every
// plan's representative layer as a Gantt chart on one time axis beside its explanation, link load
// under each chart, the whole steps, bytes per link class, memory per GPU, and what the platform's
// numbers rest on. Then prose from the numbers on the study's TP-versus-EP contrast. Deterministic:
// the same results give the same bytes.
#pragma once
#include "core/study.hpp"
#include "core/timeline.hpp"
#include "report/result.hpp"

#include <string>
#include <vector>

namespace moesim {

// `timelines[i]` is results[i]'s timeline, nullptr for a refused scenario.
std::string render_html(const Study& study, const std::vector<ScenarioResult>& results,
                        const std::vector<const Timeline*>& timelines);

// A sweep's page: the tok/s chart (cli/sweep's SVG, given as it is) and its table with the
// crossovers (the sweep's text output).
std::string render_sweep_html(const Study& study, const std::string& sweep_text, const std::string& sweep_svg);

// What a platform's numbers rest on, as the report shows it.
struct Fidelity {
  std::string calibration; // provenance of the measured calibration; "" when the roofline and NCCL's model alone
  std::string error_band;  // the validated error of the predictions; "" while results carry none
};
// The calibration's provenance and the validated error band of the scenario's dominant compute
// provenance (attach_error_bands), as the text report prints them.
Fidelity fidelity_of(const ScenarioResult& r);

} // namespace moesim
