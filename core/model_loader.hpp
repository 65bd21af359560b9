// Reads workloads/models/*.yaml into a Model. Rejects unknown keys and impossible values.
// `official:` (the vendor's parameter counts) is optional.
#pragma once
#include "core/model.hpp"

#include <optional>
#include <string>

namespace moesim {

// The vendor's own parameter counts, and what their "active" figure includes.
struct OfficialParams {
  double total = 0;
  double active = 0;
  bool active_counts_input_embedding = true; // some vendors quote "active" without the input table
  bool active_counts_lm_head = true;         // ... or without the LM head too (Zhipu's GLM figures)
  double tolerance_total = 0.01;             // relative; wider only where the official figure is rounded
  double tolerance_active = 0.01;
  std::string source;

  // The model's active count under the vendor's convention.
  double comparable_active(const Model& m) const;
};

struct ModelFile {
  Model model;
  std::string source;                    // where the figures come from (the file's `source:`)
  // The vendor's counts, for a model someone published (`official:`); a what-if model nobody
  // published, or one imported from a config.json, has none.
  std::optional<OfficialParams> official;
};

ModelFile load_model_file(const std::string& path);
// Resolves a model name (file stem under `models_dir`) or a path to a .yaml file.
std::string resolve_model_path(const std::string& name_or_path, const std::string& models_dir);

} // namespace moesim
