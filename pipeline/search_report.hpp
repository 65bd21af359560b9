// What `moesim search` prints and writes: the summary (counts, Pareto front, best plan and why),
// the CSV of every candidate, and the Pareto plot as SVG (tok/s/user across, tok/s/GPU up).
#pragma once
#include "pipeline/search.hpp"

#include <string>

namespace moesim {

std::string render_search_text(const SearchResult& r);
// One line per candidate in key order, pruned ones included (with why); p50 and p90 columns.
std::string render_search_csv(const SearchResult& r);
// Every simulated candidate as a grey dot, the Pareto front joined and labelled, the best ringed.
std::string render_search_svg(const SearchResult& r);

} // namespace moesim
