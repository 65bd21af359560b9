// The prose under the report's pictures: what the contrast between tensor parallelism and expert
// parallelism shows on each platform, and why, written from the simulated numbers (step times, the
// collectives and host syncs in the layer drawn, link load, the components that differ) and set
// against the study's measured references.
#pragma once
#include "core/study.hpp"
#include "core/timeline.hpp"
#include "report/result.hpp"

#include <utility>
#include <string>
#include <vector>

namespace moesim {

// The study's first plan that is pure TP (attention and MoE tensor parallel over every GPU of one
// stage) and its first pure EP plan over the same GPU count; empty names when it has none.
struct TpEpPair {
  std::string tp;
  std::string ep;
};
TpEpPair find_tp_ep_pair(const Study& study);

// The lowest rank with an op in the layer at that microbatch (a pipeline stage's first GPU); 0 if none.
int active_rank(const Timeline& t, int layer, int microbatch);
// Communication and host-sync ops one rank runs in a layer (at one microbatch), counted by kind
// in order of first appearance: {{"all_gather", 1}, {"all_to_all", 3}, ...}.
std::vector<std::pair<std::string, int>> comm_inventory(const Timeline& t, int rank, int layer, int microbatch);
// "1 all-gather, 3 all-to-alls and 1 host sync"
std::string inventory_text(const std::vector<std::pair<std::string, int>>& inv);

// HTML paragraphs (<p>...</p>); empty when the study has no TP/EP pair. `timelines[i]` belongs to
// `results[i]` (nullptr when refused).
std::string lesson_html(const Study& study, const std::vector<ScenarioResult>& results,
                        const std::vector<const Timeline*>& timelines);

} // namespace moesim
