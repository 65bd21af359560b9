// `moesim platform build x.yaml -o x.xml` and `moesim platform show x.yaml [--svg FILE]`: topology
// YAML to SimGrid platform, and the report that lets a person trust it. Both take --set overrides.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace moesim {

struct PlatformCommands {
  CLI::App* platform = nullptr;
  CLI::App* build = nullptr;
  CLI::App* show = nullptr;
  std::string topology, output, svg;
  std::vector<std::string> sets;
  bool zones = false; // build: nested zones (topology/zoned_xml.hpp) instead of a route per GPU pair
};

void add_platform_commands(CLI::App& app, PlatformCommands& p);
// Runs `platform build` / `platform show` if given; returns false if neither was. Output files are
// written only after everything succeeded. Throws InputError on bad input.
bool run_platform_commands(const PlatformCommands& p, const std::string& root);

} // namespace moesim
