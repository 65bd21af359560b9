// `moesim serve STUDY --plan P --platform X --requests N --input I --output O [--concurrency C]
// [--json FILE]`: one plan on one platform serving a request mix with the study's engine profile
// (pipeline/serve_run): the sequence limit and what set it, the mean decode batch, output tok/s,
// tok/s per GPU, TTFT and TPOT, and what bounds throughput.
#pragma once
#include "pipeline/serve_run.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace moesim {

struct ServeCommand {
  CLI::App* serve = nullptr;
  std::string study, plan, platform, json_out, calibration = "auto";
  ServeWorkload workload;
};

void add_serve_command(CLI::App& app, ServeCommand& s);
// Runs `moesim serve` if it was given; returns false if not. Throws InputError on bad input,
// before anything is simulated or written.
bool run_serve_command(const ServeCommand& s, const std::function<std::string()>& root);

} // namespace moesim
