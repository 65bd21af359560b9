// The transfer's error as a Markdown table (validate/public/transfer-*.md): per op class, the
// method's error, the source GPU's own time as a baseline, the method with its L2 term switched
// the other way, and the noise floor of the target's measurements beside each.
#pragma once
#include "core/transfer_check.hpp"

#include <optional>
#include <string>

namespace moesim {

struct TransferTable {
  std::string title;
  std::string from_gpu, to_gpu;   // nvidia-smi names
  std::string source, measured;   // the files' own "source" strings
  std::string source_file, measured_file;
  std::string command;            // how to regenerate the table
  TransferCheck check;            // the method
  bool l2 = false;                // whether `check` used the L2 term
  TransferCheck check_variant;    // the method with the L2 term switched the other way
  std::map<std::string, double> fixed; // fixed time per op class, fitted on the source
  std::optional<TransferCheck> noise;  // two measurements of the target GPU against each other
  std::string noise_a, noise_b;   // their source strings
};

std::string render_transfer_markdown(const TransferTable& t);

} // namespace moesim
