// `moesim model show FILE|NAME` (parameters and per-layer sizes of a model file) and
// `moesim model import config.json -o model.yaml` (a Hugging Face config as a model file).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace moesim {

struct ModelCommands {
  CLI::App* model = nullptr;
  CLI::App* show = nullptr;
  CLI::App* import = nullptr;
  std::string file, config, output, name;
};

void add_model_commands(CLI::App& app, ModelCommands& m);
// Runs `model show` / `model import` if given; returns false if neither was. `root` gives the data
// root (for a model name). The YAML is written only after the import succeeded. Throws InputError.
bool run_model_commands(const ModelCommands& m, const std::function<std::string()>& root);

} // namespace moesim
