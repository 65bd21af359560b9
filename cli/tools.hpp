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
  // moesim nccl-tests: the simulated table in nccl-tests' layout
  CLI::App* nccl = nullptr;
  std::string platform, op = "all_reduce", min_bytes = "8", max_bytes = "256M", calibration = "auto";
  double factor = 2;
  int gpus = 0;
  // moesim calibrate [--nccl-tests logs...] [--bench-kernels json...] [--op-bench json...]
  CLI::App* calibrate = nullptr;
  std::vector<std::string> logs, kernel_benches, op_benches, hold_out, exclude_models;
  std::string fit_report;
  double cal_sms = 0;
  std::string cal_platform, cal_out, cal_op, cal_measured_on;
  std::string root;
};

void add_tool_commands(CLI::App& app, ToolCommands& t);
// "256M" -> 268435456 (K, M, G are powers of 1024, as nccl-tests reads them).
double parse_size(const std::string& s, const std::string& flag);
// Runs the tool command that was given; returns false if none was. Throws InputError on bad input.
bool run_tool_commands(const ToolCommands& t);

} // namespace moesim
