// `moesim model show`: a model file for people: total and active parameters (in B, as vendors
// quote them), the vendor's figures beside them when the file has some, the weights as stored, and
// each part's size per layer and over the model.
#pragma once
#include "core/model_loader.hpp"

#include <string>

namespace moesim {

std::string render_model_summary(const ModelFile& mf);

} // namespace moesim
