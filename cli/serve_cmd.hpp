// `moesim serve STUDY --plan P --platform X --requests N (--input I | --input-dist SPEC)
// (--output O | --output-dist SPEC) [--lengths FILE instead of both] [--seed S] [--concurrency C]
// [--json FILE]`: one plan on one platform serving a request mix with the study's engine profile
// (pipeline/serve_run): the sequence limit and what set it, the mean decode batch, output tok/s,
// tok/s per GPU, TTFT and TPOT, and what bounds throughput. With --prefill-plan and --decode-plan
// (and optionally --prefill-instances, --decode-instances, --prefill-platform, --decode-platform,
// --kv-link) prefill and decode run on separate instances (pipeline/serve_disagg).
#pragma once
#include "pipeline/serve_run.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace moesim {

struct ServeCommand {
  CLI::App* serve = nullptr;
  std::string study, plan, platform, json_out, calibration = "auto";
  std::string input_dist, output_dist, lengths_file; // per-request lengths (core/request_lengths)
  long long seed = 1;
  ServeWorkload workload;
  // Disaggregated serving.
  std::string prefill_plan, decode_plan, prefill_platform, decode_platform;
  int prefill_instances = 1, decode_instances = 1;
  double kv_link_gbs = 0; // GB/s a GPU; 0: the decode platform's network
};

void add_serve_command(CLI::App& app, ServeCommand& s);
// Runs `moesim serve` if it was given; returns false if not. Throws InputError on bad input,
// before anything is simulated or written.
bool run_serve_command(const ServeCommand& s, const std::function<std::string()>& root);

} // namespace moesim
