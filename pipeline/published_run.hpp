// `moesim published`: every row of validate/public/published.yaml simulated with its engine
// profile (each row a one-plan, one-platform study, run through the scenario runner) and set
// against the published figure; rendered as a Markdown table with the error per row.
#pragma once
#include "core/published.hpp"

#include <string>
#include <vector>

namespace moesim {

// One row's simulation: moesim's figure in the row's metric, or why it was not simulated.
struct PublishedOutcome {
  bool simulated = false;
  double value = 0;
  std::string why;   // not simulated: the reason
  std::string paths; // the engine's software paths of the decode step
  std::string batch; // the batch simulated, for serve rows
};

struct PublishedRun {
  std::vector<PublishedRow> rows;
  std::vector<PublishedOutcome> outcomes; // one per row, in order
};

// Simulates the rows of `file` (each scenario in a child process) with the models, platforms,
// engine profiles and calibrations under `root`. Throws InputError on a bad file.
PublishedRun run_published(const std::string& root, const std::string& file);

// The comparison as Markdown: summary, per category, one line per row.
std::string render_published(const PublishedRun& run);

} // namespace moesim
