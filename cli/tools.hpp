// The commands around the simulator that compare and calibrate: `moesim diff`, `moesim nccl-tests`,
// `moesim calibrate` and `moesim published`: their arguments, and what they print. The work is in
// report/ (diff) and pipeline/ (nccl_tests_run, calibrate, published_run).
#pragma once
#include "pipeline/calibrate.hpp"
#include "pipeline/nccl_tests_run.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace moesim {

struct ToolCommands {
  CLI::App* diff = nullptr;
  std::string predicted, measured, json_out;
  int top = 10;
  CLI::App* nccl = nullptr;
  NcclTestsRequest nccl_request;
  CLI::App* calibrate = nullptr;
  CalibrateRequest cal_request;
  std::string cal_out, fit_report;
  // moesim published [FILE] [-o FILE]: validate/public/published.yaml against the simulator
  CLI::App* published = nullptr;
  std::string published_file, published_out = "-";
};

void add_tool_commands(CLI::App& app, ToolCommands& t);
// Runs the tool command that was given; returns false if none was. `root` gives the data root
// when a command needs it. Throws InputError on bad input.
bool run_tool_commands(ToolCommands& t, const std::function<std::string()>& root);

} // namespace moesim
