// The commands around the simulator that compare and calibrate: `moesim diff` (and, with the
// validation harness, the calibration tools). Kept out of main.cpp so each command is one small unit.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace moesim {

struct ToolCommands {
  CLI::App* diff = nullptr;
  std::string predicted, measured, json_out;
  int top = 10;
};

void add_tool_commands(CLI::App& app, ToolCommands& t);
// Runs the tool command that was given; returns false if none was. Throws InputError on bad input.
bool run_tool_commands(const ToolCommands& t);

} // namespace moesim
