// moesim command line. CLI11 lives here and nowhere else; SimGrid never sees argv (the engine is
// created in scenario processes with a fixed argv), so --help is ours. This file parses arguments,
// calls the pipeline (pipeline/) and prints or writes what it returns.
#include "cli/model_cmd.hpp"
#include "cli/platform_cmd.hpp"
#include "cli/search_cmd.hpp"
#include "cli/serve_cmd.hpp"
#include "cli/tools.hpp"
#include "cli/transfer_cmd.hpp"
#include "core/error.hpp"
#include "core/error_bands.hpp"
#include "core/heap_tuning.hpp"
#include "core/limits.hpp"
#include "core/output_files.hpp"
#include "core/schedule_json.hpp"
#include "core/temp_paths.hpp"
#include "core/version.hpp"
#include "pipeline/data_root.hpp"
#include "pipeline/seed_bands.hpp"
#include "pipeline/study_run.hpp"
#include "pipeline/sweep.hpp"
#include "pipeline/sweep_report.hpp"
#include "pipeline/what_if.hpp"
#include "report/html.hpp"
#include "report/render.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

namespace fs = std::filesystem;
using namespace moesim;

namespace {

// Prints an error as the one line the promise is: newlines (from a library's message) become spaces.
void print_error(const char* kind, const std::string& message)
{
  std::string m = message;
  for (char& c : m)
    if (c == '\n' || c == '\r')
      c = ' ';
  std::fprintf(stderr, "moesim: %s: %s\n", kind, m.c_str());
}

// The validated error bands (validate/results/error-bands.yaml under the root; none without it).
ErrorBands load_bands(const std::string& root)
{
  const fs::path p = fs::path(root) / "validate" / "results" / "error-bands.yaml";
  return fs::exists(p) ? load_error_bands(p.string()) : ErrorBands{};
}

} // namespace

int main(int argc, char** argv)
{
  tune_heap(); // first: before anything large is allocated
  install_cleanup_handlers();
  CLI::App app{"moesim: discrete-event simulation of Mixture-of-Experts inference under TP, EP, PP, DP and hybrids.\n"
               "With no command, runs the default study (the seed's 480B MoE on a 4-GPU PCIe workstation vs NVLink)."};
  app.name("moesim");
  app.set_version_flag("--version", version_line("moesim"));
  std::string root_option;
  app.add_option("--root", root_option,
                 "folder holding workloads/ and platforms/ (default: $MOESIM_ROOT, else ../share/moesim beside "
                 "the executable)");

  StudyRequest request;
  std::string json_out, csv_out, trace_out, timeline_out, html_out;
  bool graphs = false, eager = false, allow_refused = false, exact = false;
  std::string sweep_arg, svg_out;
  int jobs = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, unsigned(limits::jobs)));

  CLI::App* run = app.add_subcommand("run", "simulate every plan x platform x batch of a study and report");
  run->add_option("study", request.study, "study name (workloads/studies/NAME.yaml) or path")->capture_default_str();
  CLI::App* sched = app.add_subcommand("schedule", "write the per-rank op DAG of one step as JSON (no simulation)");
  std::string sched_plan, sched_platform, sched_out;
  int sched_batch = 0;
  sched->add_option("study", request.study, "study name or path")->required();
  sched->add_option("--plan", sched_plan, "plan (name from the study or a spec like ep4)")->required();
  sched->add_option("--platform", sched_platform, "platform (default: the study's first)");
  sched->add_option("--batch", sched_batch, "batch (default: the study's first)")->check(CLI::Range(1, limits::batch));
  sched->add_option("-o,--output", sched_out, "output file (- for stdout)")->required();
  for (CLI::App* c : {run, sched}) {
    c->add_flag("--cuda-graphs", graphs, "launch each step as one CUDA graph (overrides the study)");
    c->add_flag("--eager", eager, "launch every kernel from the host (overrides the study)");
    c->add_option("--set", request.sets,
                  "what-if, key=value (repeatable): an engine option (engine.KEY) or an edit of every platform's "
                  "topology; the keys are listed below")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false);
    c->footer("What-if keys for --set and --sweep (platforms given as topology YAML, platforms/*.yaml; engine.KEY as "
              "in a study's engine block):\n" +
              what_if_keys_help());
  }
  run->add_option("--plan", request.plans, "only these plans (names from the study, or specs like tp4, ep4, tp2xep2)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->delimiter(',');
  run->add_option("--platform", request.platforms, "only these platforms (names under platforms/ or paths)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->delimiter(',');
  run->add_option("--batch", request.batches, "only these batch sizes")
      ->check(CLI::Range(1, limits::batch))
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->delimiter(',');
  run->add_option("--json", json_out, "write results as JSON to FILE (- for stdout)");
  run->add_option("--csv", csv_out, "write results as CSV to FILE (- for stdout)");
  run->add_option("--trace", trace_out, "write a Chrome-trace/Perfetto timeline of every scenario to FILE");
  run->add_option("--html", html_out, "write a self-contained HTML report (pictures of every plan; with --sweep, its chart) to FILE");
  run->add_option("--timeline", timeline_out, "write the moesim timeline JSON (for `moesim diff`) to FILE; needs one scenario");
  run->add_flag("--exact", exact,
                "replay every op on SimGrid's clock and every collective's flows through SimGrid (slower; the "
                "default gives the same times to about 1e-12)");
  run->add_flag("--allow-refused", allow_refused,
                "report plans that do not fit in memory as rows instead of failing with exit code 2");
  run->add_option("--calibration", request.calibration,
                  "measured calibration: 'auto' (platforms/calibration/<platform>.yaml when it exists and no --set "
                  "edits the platform), 'none', or a calibration YAML for every platform")
      ->capture_default_str();
  run->add_option("--sweep", sweep_arg, "what-if sweep key=v1,v2,...: tok/s per plan against the value (table; --csv, --svg)");
  run->add_option("--svg", svg_out, "with --sweep: write the tok/s chart as SVG to FILE");
  int seeds = 1;
  run->add_option("--seeds", seeds, "rerun routing with K seeds (the study's seed, +1, ...) and add p50/p90 step time and tok/s")
      ->check(CLI::PositiveNumber);
  run->add_option("-j,--jobs", jobs, "scenarios simulated at once (default: CPU count)")->check(CLI::Range(1, limits::jobs));

  CLI::App* list = app.add_subcommand("list", "list the models, platforms and studies available");
  ToolCommands tools;
  add_tool_commands(app, tools);
  PlatformCommands platform_cmds;
  add_platform_commands(app, platform_cmds);
  ModelCommands model_cmds;
  add_model_commands(app, model_cmds);
  TransferCommand transfer_cmd;
  add_transfer_command(app, transfer_cmd);
  ServeCommand serve_cmd;
  add_serve_command(app, serve_cmd);
  SearchCommands search_cmds;
  add_search_command(app, search_cmds);

  run->fallthrough();
  sched->fallthrough();
  list->fallthrough();
  // With no command, the arguments are run's: `moesim --json out.json` means `moesim run --json out.json`.
  std::vector<std::string> args(argv + 1, argv + argc);
  size_t first = 0; // first argument that is not a top-level option
  while (first < args.size() && (args[first] == "--root" || args[first].rfind("--root=", 0) == 0))
    first += args[first] == "--root" ? 2 : 1;
  const bool top_level = first < args.size() && (args[first] == "-h" || args[first] == "--help" || args[first] == "--version");
  if (!top_level && first <= args.size() &&
      (first == args.size() || app.get_subcommands([&](CLI::App* c) { return c->get_name() == args[first]; }).empty()))
    args.insert(args.begin() + static_cast<long>(std::min(first, args.size())), "run");
  std::reverse(args.begin(), args.end()); // CLI11 takes the vector form in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) // --help, --version
      return app.exit(e);
    print_error("error", std::string("command line: ") + e.what() + " (fix: see moesim --help, or moesim COMMAND --help)");
    return 2;
  }

  try {
    // An output flag given an empty path ("--json ''", often an unset shell variable) would be
    // read as no flag at all, and the run would write nothing without a word.
    std::function<void(const CLI::App*)> refuse_empty_outputs = [&](const CLI::App* a) {
      for (const CLI::Option* o : a->get_options())
        for (const char* name : {"json", "csv", "trace", "html", "timeline", "svg", "output", "md", "fit-report"})
          if (o->check_lname(name) && o->count() > 0)
            for (const std::string& v : o->results())
              if (v.empty())
                throw InputError("command line", "--" + std::string(name), "an empty path",
                                 "give a file name (- for standard output where the flag allows it) or leave the flag out");
      for (const CLI::App* sub : a->get_subcommands())
        refuse_empty_outputs(sub);
    };
    refuse_empty_outputs(&app);
    if (graphs && eager)
      throw InputError("command line", "--cuda-graphs/--eager", "both given", "pass one of them");
    if (graphs || eager)
      request.cuda_graphs = graphs;
    request.exact = exact;
    // The data root is looked for only by the commands that read it.
    auto root = [&] { return find_data_root(root_option); };
    if (run_tool_commands(tools, root))
      return 0;
    if (run_model_commands(model_cmds, root))
      return 0;
    if (run_search_command(search_cmds, root))
      return 0;
    if (*platform_cmds.platform) {
      run_platform_commands(platform_cmds, root());
      return 0;
    }
    if (run_transfer_command(transfer_cmd, root()))
      return 0;
    if (run_serve_command(serve_cmd, root))
      return 0;
    if (*list) {
      const DataListing l = list_data(root());
      for (const auto& [what, names] : {std::pair{"workloads/models", &l.models}, std::pair{"platforms", &l.platforms},
                                        std::pair{"workloads/studies", &l.studies}}) {
        std::cout << what << ":";
        for (const auto& n : *names)
          std::cout << " " << n;
        std::cout << "\n";
      }
      return 0;
    }
    request.root = root();
    if (*sched) {
      check_output_paths({{sched_out, "--output"}}, {request.study, sched_platform, request.calibration});
      request.plans = {sched_plan};
      if (!sched_platform.empty())
        request.platforms = {sched_platform};
      if (sched_batch)
        request.batches = {sched_batch};
      const Schedule schedule = schedule_of(prepare_study(request));
      write_outputs({{sched_out, "--output", schedule_to_json(schedule).dump(1) + "\n"}});
      return 0;
    }
    // run (also the default with no command)
    std::vector<std::string> run_inputs = request.platforms;
    run_inputs.insert(run_inputs.end(), {request.study, request.calibration});
    check_output_paths({{json_out, "--json"}, {csv_out, "--csv"}, {trace_out, "--trace"}, {timeline_out, "--timeline"},
                        {svg_out, "--svg"}, {html_out, "--html"}},
                       run_inputs);
    std::optional<SweepSpec> sweep;
    if (!sweep_arg.empty()) {
      sweep = parse_sweep(sweep_arg);
      for (const auto& [path, flag] : {std::pair{json_out, "--json"}, {trace_out, "--trace"}, {timeline_out, "--timeline"}})
        if (!path.empty())
          throw InputError("command line", flag, "not available with --sweep", "a sweep writes its table, --csv and --svg");
    } else if (!svg_out.empty()) {
      throw InputError("command line", "--svg", "draws a sweep's chart", "add --sweep key=v1,v2,...");
    }
    if (seeds > 1 && sweep)
      throw InputError("command line", "--seeds", "not available with --sweep", "run the sweep and the seeds apart");
    const PreparedStudy prepared = prepare_study(request);
    const Study& s = prepared.study;
    check_scenario_count(prepared, sweep ? sweep->values.size() : 0);
    const std::string summary = what_if_summary(
        prepared, sweep ? std::optional<Override>(Override{sweep->key, sweep->values.at(0), "--sweep"}) : std::nullopt);
    const std::string what_if = summary.empty() ? "" : summary + "\n";
    if (sweep) {
      const SweepRun r = run_sweep(prepared, *sweep, jobs, allow_refused);
      std::vector<OutputFile> files;
      files.push_back({"-", "", what_if + render_sweep(s, *sweep, r.by_value)});
      if (!csv_out.empty())
        files.push_back({csv_out, "--csv", render_sweep_csv(s, *sweep, r.by_value)});
      if (!svg_out.empty())
        files.push_back({svg_out, "--svg", render_sweep_svg(s, *sweep, r.by_value)});
      if (!html_out.empty())
        files.push_back({html_out, "--html", render_sweep_html(s, render_sweep(s, *sweep, r.by_value),
                                                     render_sweep_svg(s, *sweep, r.by_value))});
      write_outputs(files);
      return 0;
    }
    if (!timeline_out.empty()) {
      const size_t n = s.platforms.size() * s.batches.size() * s.plans.size();
      if (n != 1)
        throw InputError("command line", "--timeline",
                         "needs exactly one scenario but the selection has " + std::to_string(n),
                         "narrow it with --plan, --platform and --batch");
    }
    const bool keep = !trace_out.empty() || !timeline_out.empty() || !html_out.empty();
    if (seeds > 1)
      seed_routings(s.routing, seeds, "--seeds"); // refused before anything runs
    const StudyRun r = run_study(prepared, jobs, keep);
    std::vector<ScenarioResult> results = r.results();
    check_refusals(s, results, allow_refused);
    attach_error_bands(results, load_bands(request.root));
    std::string bands;
    if (seeds > 1) {
      // Seed 1 is the study's own run above; the others rerun without timelines.
      PreparedStudy rest = prepared;
      rest.study.routing.seed += 1;
      std::vector<std::vector<ScenarioResult>> by_seed{results};
      for (auto& more : run_study_seeds(rest, seeds - 1, jobs))
        by_seed.push_back(std::move(more));
      bands = "\n" + render_seed_bands(by_seed, s.routing);
    }
    std::vector<OutputFile> files;
    if (!json_out.empty())
      files.push_back({json_out, "--json", render_json(s, results).dump(1) + "\n"});
    if (!csv_out.empty())
      files.push_back({csv_out, "--csv", render_csv(results)});
    if (!trace_out.empty()) {
      std::vector<NamedTimeline> tl;
      for (const auto& o : r.outcomes)
        if (o.timeline)
          tl.push_back({o.result.key(), *o.timeline});
      files.push_back({trace_out, "--trace", chrome_trace(tl).dump() + "\n"});
    }
    if (!html_out.empty()) {
      std::vector<const Timeline*> tl;
      for (const auto& o : r.outcomes)
        tl.push_back(o.timeline ? &*o.timeline : nullptr);
      files.push_back({html_out, "--html", render_html(s, results, tl)});
    }
    if (!timeline_out.empty()) {
      if (!r.outcomes[0].timeline)
        throw InputError("command line", "--timeline", "the scenario was refused, so there is no timeline",
                         "pick a plan that fits");
      files.push_back({timeline_out, "--timeline", timeline_to_json(*r.outcomes[0].timeline).dump(1) + "\n"});
    }
    files.push_back({"-", "", (what_if.empty() ? "" : what_if + "\n") + render_table(s, results) + render_explanation(s, results) +
                               render_candidates(s, r.candidates) + bands});
    write_outputs(files);
    return 0;
  } catch (const InputError& e) {
    print_error("error", e.what());
    return 2;
  } catch (const std::exception& e) {
    print_error("internal error", e.what());
    return 1;
  }
}
