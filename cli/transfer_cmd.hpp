// `moesim transfer`: measured op times of one GPU moved to another GPU's specs (docs/transfer.md),
// written as op-bench records, and, given the target's own measurements, the error per op class.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace moesim {

struct TransferCommand {
  CLI::App* cmd = nullptr;
  std::string source, from, to, output, measured, md, l2 = "auto", rate = "scaled";
  std::vector<std::string> noise; // two measurement files of the target GPU
  bool exact_only = false;
};

void add_transfer_command(CLI::App& app, TransferCommand& t);
// Runs it when it was given; returns false otherwise. Throws InputError on bad input.
bool run_transfer_command(const TransferCommand& t, const std::string& root);

} // namespace moesim
