#include "cli/platform_cmd.hpp"

#include "pipeline/platform_files.hpp"
#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/output_files.hpp"
#include "topology/drawing.hpp"
#include "topology/route_table.hpp"
#include "topology/show.hpp"
#include "topology/xml_writer.hpp"
#include "topology/zoned_xml.hpp"

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
  p.build->add_flag("--zones", p.zones,
                    "nested zones (rail, node group, GPU cell) instead of a route per GPU pair: ~N^1.5 routes, for "
                    "clusters too large for the flat file; SimGrid loads it, moesim run does not (yet)");
  p.show = p.platform->add_subcommand("show", "GPUs, links, routes, injection and bisection bandwidth, drawing");
  p.show->add_option("topology", p.topology, "topology YAML (path, or a name under platforms/)")->required();
  p.show->add_option("--svg", p.svg, "also draw the topology as SVG into FILE");
  for (CLI::App* c : {p.build, p.show})
    c->add_option("--set", p.sets, "what-if override key=value (repeatable; see moesim run --help)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false);
}

bool run_platform_commands(const PlatformCommands& p, const std::string& root)
{
  if (!p.platform || !*p.platform)
    return false;
  if (p.sets.size() > static_cast<size_t>(limits::list))
    throw InputError("command line", "--set", "more than " + std::to_string(limits::list) + " what-ifs", "give fewer");
  std::vector<Override> overrides;
  for (const std::string& s : p.sets)
    overrides.push_back(parse_override(s, "--set"));
  check_output_paths({{p.output, "--output"}, {p.svg, "--svg"}}, {p.topology});
  PlatformFiles files(root);
  std::vector<std::string> no_effect;
  const auto refuse_no_effect = [&](const std::string& file) {
    if (!no_effect.empty())
      throw InputError("--set", no_effect.front(), "changes nothing: " + file + " has nothing it edits",
                       "drop --set " + no_effect.front());
  };
  if (*p.build && p.zones) {
    // Routes are split into the zones' pieces as they are made, never all held: up to 4,096 GPUs.
    const Topology t = files.topology(p.topology, overrides, "--set", &no_effect, zoned_limit);
    refuse_no_effect(t.file);
    write_outputs({{p.output, "--output", zoned_platform_xml(t)}});
    return true;
  }
  if (*p.build) {
    const RoutedTopology rt = files.routed(p.topology, overrides, "--set", &no_effect);
    refuse_no_effect(rt.topo.file);
    write_outputs({{p.output, "--output", platform_xml(rt)}});
    return true;
  }
  // Routes held per rail, not per GPU pair: up to 4,096 GPUs.
  RouteTable table;
  const RoutedTopology rt = route_table(files.topology(p.topology, overrides, "--set", &no_effect, show_limit), table);
  refuse_no_effect(rt.topo.file);
  std::vector<OutputFile> out;
  if (!p.svg.empty())
    out.push_back({p.svg, "--svg", draw_svg(rt)});
  out.push_back({"-", "", show_topology(rt, table)});
  write_outputs(out);
  return true;
}

} // namespace moesim
