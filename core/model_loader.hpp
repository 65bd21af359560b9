// Reads workloads/models/*.yaml into a Model. Rejects unknown keys and impossible values.
#pragma once
#include "core/model.hpp"

#include <string>

namespace moesim {

struct OfficialParams {
  double total = 0;
  double active = 0;
  bool active_counts_input_embedding = true; // some vendors quote "active" without the input table
  double tolerance = 0.01;                   // relative; wider only where the official figure is rounded
  std::string source;
};

struct ModelFile {
  Model model;
  OfficialParams official;
};

ModelFile load_model_file(const std::string& path);
// Resolves a model name (file stem under `models_dir`) or a path to a .yaml file.
std::string resolve_model_path(const std::string& name_or_path, const std::string& models_dir);

} // namespace moesim
