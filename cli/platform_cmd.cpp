#include "cli/platform_cmd.hpp"

#include "pipeline/platform_files.hpp"
#include "core/error.hpp"
#include "topology/drawing.hpp"
#include "topology/show.hpp"
#include "topology/xml_writer.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>

namespace moesim {
namespace fs = std::filesystem;

void add_platform_commands(CLI::App& app, PlatformCommands& p)
{
  p.platform = app.add_subcommand("platform", "topology YAMLs: generate SimGrid platforms, show what they model");
  p.platform->require_subcommand(1);
  p.build = p.platform->add_subcommand("build", "generate the SimGrid platform XML of a topology YAML");
  p.build->add_option("topology", p.topology, "topology YAML (path, or a name under platforms/)")->required();
  p.build->add_option("-o,--output", p.output, "output XML file (- for stdout)")->required();
  p.show = p.platform->add_subcommand("show", "GPUs, links, routes, injection and bisection bandwidth, drawing");
  p.show->add_option("topology", p.topology, "topology YAML (path, or a name under platforms/)")->required();
  p.show->add_option("--svg", p.svg, "also draw the topology as SVG into FILE");
  for (CLI::App* c : {p.build, p.show})
    c->add_option("--set", p.sets, "what-if override key=value (repeatable; see moesim run --help)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false);
}

static void write_file(const std::string& path, const std::string& content, const std::string& flag)
{
  if (path == "-") {
    std::cout << content;
    return;
  }
  const fs::path dir = fs::path(path).parent_path();
  if (!dir.empty() && !fs::is_directory(dir))
    throw InputError(path, flag, "folder " + dir.string() + " does not exist", "create it or write elsewhere");
  const std::string tmp = path + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary);
    o << content;
    if (!o)
      throw InputError(path, flag, "cannot write", "check the folder is writable");
  }
  fs::rename(tmp, path);
}

bool run_platform_commands(const PlatformCommands& p, const std::string& root)
{
  if (!p.platform || !*p.platform)
    return false;
  std::vector<Override> overrides;
  for (const std::string& s : p.sets)
    overrides.push_back(parse_override(s, "--set"));
  for (const auto& [path, flag] : {std::pair{p.output, "--output"}, {p.svg, "--svg"}})
    if (!path.empty() && path != "-") {
      const fs::path dir = fs::path(path).parent_path();
      if (!dir.empty() && !fs::is_directory(dir))
        throw InputError(path, flag, "folder " + dir.string() + " does not exist", "create it or write elsewhere");
    }
  PlatformFiles files(root);
  const RoutedTopology rt = files.routed(p.topology, overrides);
  if (*p.build) {
    write_file(p.output, platform_xml(rt), "--output");
    return true;
  }
  const std::string text = show_topology(rt);
  const std::string svg = p.svg.empty() ? "" : draw_svg(rt);
  if (!p.svg.empty())
    write_file(p.svg, svg, "--svg");
  std::cout << text;
  return true;
}

} // namespace moesim
