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

// One file the command writes: its path ("-" for stdout), the flag that named it, its content.
struct SearchOutput {
  std::string path;
  std::string flag;
  std::string content;
};

void add_search_command(CLI::App& app, SearchCommands& s);
// Runs `search` if given (returns false otherwise). `check(path, flag)` is called for every output
// before anything runs, `write(files)` once at the end with stdout's text among them. Throws InputError.
bool run_search_command(const SearchCommands& s, const std::function<std::string()>& root,
                        const std::function<void(const std::string&, const std::string&)>& check,
                        const std::function<void(const std::vector<SearchOutput>&)>& write);

} // namespace moesim
