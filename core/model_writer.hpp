// Writes a Model as a model YAML in the schema core/model_loader.hpp reads (no `official:` block:
// it is for models someone published), so that load_model_file(model_to_yaml(m)) gives m back.
#pragma once
#include "core/model.hpp"

#include <string>
#include <vector>

namespace moesim {

// `source`: where the figures come from; `notes`: comment lines written under the header (what
// was not carried over, what was assumed).
std::string model_to_yaml(const Model& m, const std::string& source, const std::vector<std::string>& notes);

} // namespace moesim
