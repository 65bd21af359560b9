#include "cli/search_cmd.hpp"

#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/limits.hpp"
#include "core/output_files.hpp"
#include "pipeline/search_report.hpp"

#include <unistd.h>

#include <cstdio>
#include <utility>
#include <thread>

namespace moesim {

void add_search_command(CLI::App& app, SearchCommands& s)
{
  SearchRequest& q = s.request;
  s.jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  s.search = app.add_subcommand("search", "every valid plan of a model on a platform: pruned by memory, simulated, the "
                                          "Pareto front of tok/s/user against tok/s/GPU and the best plan under an SLO");
  CLI::App* c = s.search;
  c->add_option("--model", q.model, "model: a name (moesim list), a model YAML or a Hugging Face config.json");
  c->add_option("--platform", q.platforms, "platforms (names under platforms/ or paths), each searched on its own GPUs")
      ->delimiter(',')
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  c->add_option("--gpus", q.gpus, "GPU count every platform must have (default: each platform's)");
  c->add_option("--batch", q.batches, "batch sizes (default: 1,8,32,64,128,256 for decode; 1,4,16 for prefill)")
      ->delimiter(',')
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  c->add_option("--phase", q.phase, "decode or prefill")->capture_default_str();
  c->add_option("--context", q.context, "tokens already in each sequence's KV cache")->capture_default_str();
  c->add_option("--prompt", q.prompt, "prefill: prompt tokens per sequence (default 2048)");
  c->add_option("--routing", q.routing, "uniform, sampled or zipf:S (seed 1, 2, ... with --seeds)")->capture_default_str();
  c->add_option("--graphs", q.graphs, "CUDA graphs: both, on or off")->capture_default_str();
  c->add_option("--gpu-memory-utilization", q.gpu_memory_utilization, "usable fraction of each GPU's memory")
      ->capture_default_str();
  c->add_option("--calibration", q.calibration, "measured calibration: auto, none or a calibration YAML")->capture_default_str();
  c->add_option("--slo", q.slo, "latency bound for the best plan: tpot=50ms (decode step) or ttft=2s (prefill step)");
  c->add_option("--rank", q.rank, "rank plans by p50 or p90 over the routing seeds")->capture_default_str();
  c->add_option("--seeds", q.seeds, "routing seeds per plan: p50 and p90 of step time and tok/s")->capture_default_str();
  c->add_option("--shard", q.shard, "simulate only shard I of N (candidates whose key mod N is I-1); join with --merge")
      ->capture_default_str();
  c->add_option("--merge", s.merge, "join the JSON of a search's shards instead of searching")
      ->expected(1, 1 << 20)
      ->allow_extra_args(true);
  c->add_option("--json", s.json_out, "write every candidate and the analysis as JSON to FILE (what --merge reads)");
  c->add_option("--csv", s.csv_out, "write every candidate as CSV to FILE");
  c->add_option("--svg", s.svg_out, "write the Pareto plot as SVG to FILE");
  c->add_option("-j,--jobs", s.jobs, "simulations at once (default: CPU count)")->check(CLI::Range(1, limits::jobs));
  c->fallthrough();
}

bool run_search_command(const SearchCommands& s, const std::function<std::string()>& root)
{
  if (!s.search || !*s.search)
    return false;
  // 0 stands for "not given" in the request (each platform's GPUs, the default prompt): a 0 or a
  // negative value given on the command line is refused, not read as the default.
  for (const auto& [flag, v] : {std::pair{"--gpus", s.request.gpus}, {"--prompt", s.request.prompt}})
    if (s.search->count(flag) && v < 1)
      throw InputError("command line", flag, std::to_string(v) + " is not positive",
                       "pass a whole number of at least 1, or leave the flag out for the default");
  std::vector<std::string> inputs = s.merge;
  inputs.insert(inputs.end(), s.request.platforms.begin(), s.request.platforms.end());
  inputs.insert(inputs.end(), {s.request.model, s.request.calibration});
  check_output_paths({{s.json_out, "--json"}, {s.csv_out, "--csv"}, {s.svg_out, "--svg"}}, inputs);
  SearchResult r;
  if (!s.merge.empty()) {
    std::vector<std::pair<std::string, SearchResult>> shards;
    for (const std::string& f : s.merge) {
      // read_input_file refuses a folder, a FIFO or a device (/dev/zero) and a file past the limit.
      shards.push_back({f, search_from_json(read_input_file(f, limits::json_bytes, "--merge"), f)});
    }
    r = merge_search(shards);
  } else {
    SearchRequest q = s.request;
    q.root = root();
    const bool bar = isatty(STDERR_FILENO);
    r = run_search(q, s.jobs, [&](size_t done, size_t total) {
      if (bar)
        std::fprintf(stderr, "\rsearch: %zu/%zu simulations%s", done, total, done == total ? "\n" : "");
    });
  }
  std::vector<OutputFile> files{{"-", "", render_search_text(r)}};
  if (!s.json_out.empty())
    files.push_back({s.json_out, "--json", search_to_json(r)});
  if (!s.csv_out.empty())
    files.push_back({s.csv_out, "--csv", render_search_csv(r)});
  if (!s.svg_out.empty())
    files.push_back({s.svg_out, "--svg", render_search_svg(r)});
  write_outputs(files);
  return true;
}

} // namespace moesim
