#include "cli/model_cmd.hpp"

#include "core/error.hpp"
#include "core/hf_config.hpp"
#include "core/model_loader.hpp"
#include "core/model_writer.hpp"
#include "core/output_files.hpp"
#include "report/model_summary.hpp"

#include <filesystem>
#include <iostream>

namespace moesim {
namespace fs = std::filesystem;

void add_model_commands(CLI::App& app, ModelCommands& m)
{
  m.model = app.add_subcommand("model", "model files: show one, or import a Hugging Face config.json");
  m.model->require_subcommand(1);
  m.show = m.model->add_subcommand("show", "total and active parameters and each part's size per layer");
  m.show->add_option("model", m.file, "model name (workloads/models/NAME.yaml) or a path to a model YAML")->required();
  m.import = m.model->add_subcommand(
      "import", "write a model YAML from a Hugging Face config.json (" + std::to_string(hf_architectures().size()) +
                    " architectures: DeepSeek-V2/V3, Kimi-K2, Qwen3-MoE, Mixtral, GLM-4.5, gpt-oss, Llama-4)");
  m.import->add_option("config", m.config, "the model's config.json")->required();
  m.import->add_option("-o,--output", m.output, "model YAML to write (- for stdout)")->required();
  m.import->add_option("--name", m.name, "the model's name (default: the output file's stem, or the config's folder)");
  for (CLI::App* c : {m.model, m.show, m.import})
    c->fallthrough();
}

bool run_model_commands(const ModelCommands& m, const std::function<std::string()>& root)
{
  if (!m.model || !*m.model)
    return false;
  if (*m.show) {
    const bool path = m.file.find('/') != std::string::npos || m.file.ends_with(".yaml");
    const std::string file = path ? m.file : resolve_model_path(m.file, root() + "/workloads/models");
    std::cout << render_model_summary(load_model_file(file));
    return true;
  }
  // import: the output is checked before the config is read and written as every other output
  // (core/output_files: a device or FIFO in place, a symlink followed, a folder refused).
  check_output_paths({{m.output, "-o"}}, {m.config});
  std::string name = m.name;
  if (name.empty())
    name = m.output != "-" ? fs::path(m.output).stem().string()
                           : fs::absolute(m.config).parent_path().filename().string();
  const HfImport h = import_hf_config(m.config, name);
  std::vector<std::string> notes = {"Imported by `moesim model import` from " + fs::path(m.config).filename().string() +
                                    " (" + h.architecture + ")."};
  notes.insert(notes.end(), h.notes.begin(), h.notes.end());
  const std::string yaml = model_to_yaml(h.model, "Hugging Face config.json (" + h.architecture + "), imported", notes);
  write_outputs({{m.output, "-o", yaml}});
  if (m.output == "-")
    return true;
  const ParamCounts c = h.model.param_counts();
  char buf[160];
  std::snprintf(buf, sizeof buf, "wrote %s: %s, %.2f B total, %.2f B active\n", m.output.c_str(), h.model.name.c_str(),
                c.total / 1e9, c.active / 1e9);
  std::cout << buf;
  return true;
}

} // namespace moesim
