// `moesim search`: every valid plan of a model on a platform, pruned by memory, simulated, with the
// Pareto front and the best plan under an SLO (pipeline/search.hpp); `--merge` joins shards.
#pragma once
#include "pipeline/search.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace moesim {

struct SearchCommands {
  CLI::App* search = nullptr;
  SearchRequest request;
  std::vector<std::string> merge;
  std::string json_out, csv_out, svg_out;
  int jobs = 1;
};

void add_search_command(CLI::App& app, SearchCommands& s);
// Runs `search` if given (returns false otherwise). Every output path is checked before anything
// runs and all files are written together at the end (core/output_files.hpp). Throws InputError.
bool run_search_command(const SearchCommands& s, const std::function<std::string()>& root);

} // namespace moesim
