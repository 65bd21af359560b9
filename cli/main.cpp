// moesim command line. CLI11 lives here and nowhere else; SimGrid never sees argv (the engine is
// created in scenario processes with a fixed argv), so --help is ours.
#include "cli/platform_cmd.hpp"
#include "cli/platform_files.hpp"
#include "cli/scenario.hpp"
#include "cli/sweep.hpp"
#include "cli/tools.hpp"
#include "cli/transfer_cmd.hpp"
#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/output_files.hpp"
#include "core/temp_paths.hpp"
#include "core/schedule_builder.hpp"
#include "core/schedule_json.hpp"
#include "report/html.hpp"
#include "report/render.hpp"
#include "cli/candidates.hpp"
#include "sim/simulation.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#ifndef MOESIM_SOURCE_DIR
#define MOESIM_SOURCE_DIR "."
#endif

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

// What each what-if edits, for "changes nothing: <what>".
std::string what_it_needs(const std::string& key)
{
  if (key.rfind("link.", 0) == 0)
    return "no " + key.substr(5, key.rfind('.') - 5) + " links";
  if (key == "p2p_level")
    return "P2P off";
  return "no network"; // pxn, gpudirect, network.oversubscription
}

// The what-ifs that change nothing on some platforms of the run: key -> note. A what-if that
// changes nothing on every platform is refused (it would be reported as applied).
std::map<std::string, std::string> what_if_effects(const Study& s, PlatformFiles& files,
                                                   const std::vector<Override>& overrides)
{
  std::map<std::string, std::vector<std::string>> none;
  for (const std::string& p : s.platforms)
    for (const std::string& k : files.get(p, overrides).no_effect)
      none[k].push_back(files.get(p, overrides).name);
  std::map<std::string, std::string> notes;
  for (const Override& o : overrides) {
    auto it = none.find(o.key);
    if (it == none.end())
      continue;
    std::string names;
    for (const std::string& n : it->second)
      names += (names.empty() ? "" : ", ") + n;
    const std::string flag = o.flag.empty() ? "--set" : o.flag;
    if (it->second.size() == s.platforms.size())
      throw InputError(flag, o.key, "changes nothing: " + what_it_needs(o.key) + " on " + names,
                       "drop " + flag + " " + o.key + ", or pick a platform that has them (--platform)");
    notes[o.key] = " (no effect on " + names + ": " + what_it_needs(o.key) + ")";
  }
  return notes;
}

std::string default_root()
{
  if (const char* r = std::getenv("MOESIM_ROOT"))
    return r;
  return MOESIM_SOURCE_DIR;
}

// The validated error bands (validate/results/error-bands.yaml under the root; none without it).
ErrorBands load_bands(const std::string& root)
{
  const fs::path p = fs::path(root) / "validate" / "results" / "error-bands.yaml";
  return fs::exists(p) ? load_error_bands(p.string()) : ErrorBands{};
}

Study load_study(const std::string& name, const std::string& root)
{
  return load_study_file(resolve_study_path(name, root), root);
}

// Keeps only the plans / platforms / batches named on the command line.
void filter_study(Study& s, const std::vector<std::string>& plans, const std::vector<std::string>& platforms,
                  const std::vector<int>& batches, const std::string& root)
{
  for (const auto& [n, flag] : {std::pair{plans.size(), "--plan"}, {platforms.size(), "--platform"}, {batches.size(), "--batch"}})
    if (n > static_cast<size_t>(limits::list))
      throw InputError("command line", flag, std::to_string(n) + " values, more than the " + std::to_string(limits::list) +
                                                 " one run takes", "split the run");
  if (!plans.empty()) {
    std::vector<Plan> keep;
    for (const std::string& name : plans) {
      bool found = false;
      for (const Plan& p : s.plans)
        if (p.name == name)
          keep.push_back(p), found = true;
      if (!found) {
        try {
          keep.push_back(Plan::parse(name));
          keep.back().where = "--plan";
        } catch (const std::invalid_argument& e) {
          throw InputError("--plan", name, e.what(), "name a plan of the study or write one like tp4, ep4, tp2xep2");
        }
      }
    }
    s.plans = keep;
  }
  for (const std::string& p : platforms) {
    try {
      (void)resolve_platform_path(p, root);
    } catch (const InputError& e) {
      throw e.with_place("--platform", p);
    }
  }
  if (!platforms.empty())
    s.platforms = platforms;
  if (!batches.empty()) {
    for (int b : batches)
      if (b < 1)
        throw InputError("--batch", std::to_string(b), "batch must be at least 1", "pass a positive batch");
    s.batches = batches;
    check_routing_work(s, "--batch");
  }
}

// --exact sets every scenario's replay mode. --calibration: 'auto' keeps what PlatformFiles found, 'none' drops
// it, a path replaces it (checked
// here so that a missing file is a usage error before anything runs).
void apply_calibration_choice(std::vector<Scenario>& scenarios, const std::string& choice, bool exact)
{
  for (Scenario& sc : scenarios)
    sc.exact = exact;
  if (choice == "auto")
    return;
  if (choice != "none") {
    if (!fs::exists(choice))
      throw InputError(choice, "--calibration", "no such file", "pass a calibration YAML, 'auto' or 'none'");
    (void)load_calibration_file(choice); // malformed: InputError with file:line, before any scenario runs
  }
  for (Scenario& sc : scenarios)
    sc.calibration = choice == "none" ? "" : choice;
}

} // namespace

int main(int argc, char** argv)
{
  install_cleanup_handlers();
  CLI::App app{"moesim: discrete-event simulation of Mixture-of-Experts inference under TP, EP, PP, DP and hybrids.\n"
               "With no command, runs the default study (the seed's 480B MoE on a 4-GPU PCIe workstation vs NVLink)."};
  app.name("moesim");
  app.set_version_flag("--version", "moesim 0.1");
  std::string root = default_root();
  app.add_option("--root", root, "folder holding workloads/ and platforms/ (default: $MOESIM_ROOT or the source tree)");

  std::string study_name = "default";
  std::vector<std::string> plans, platforms;
  std::vector<int> batches;
  std::string json_out, csv_out, trace_out, timeline_out, html_out;
  bool graphs = false, eager = false, allow_refused = false;
  std::vector<std::string> sets;
  std::string sweep_arg, svg_out;
  std::string calibration = "auto";
  bool exact = false;
  int jobs = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, unsigned(limits::jobs)));

  CLI::App* run = app.add_subcommand("run", "simulate every plan x platform x batch of a study and report");
  run->add_option("study", study_name, "study name (workloads/studies/NAME.yaml) or path")->capture_default_str();
  for (CLI::App* c : {run}) {
    c->add_option("--plan", plans, "only these plans (names from the study, or specs like tp4, ep4, tp2xep2)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false)
        ->delimiter(',');
    c->add_option("--platform", platforms, "only these platforms (names under platforms/ or paths)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false)
        ->delimiter(',');
    c->add_option("--batch", batches, "only these batch sizes")
        ->check(CLI::Range(1, limits::batch))
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false)
        ->delimiter(',');
    c->add_option("--json", json_out, "write results as JSON to FILE (- for stdout)");
    c->add_option("--csv", csv_out, "write results as CSV to FILE (- for stdout)");
    c->add_option("--trace", trace_out, "write a Chrome-trace/Perfetto timeline of every scenario to FILE");
    c->add_option("--html", html_out, "write a self-contained HTML report (pictures of every plan; with --sweep, its chart) to FILE");
    c->add_option("--timeline", timeline_out, "write the moesim timeline JSON (for `moesim diff`) to FILE; needs one scenario");
    c->add_flag("--cuda-graphs", graphs, "launch each step as one CUDA graph (overrides the study)");
    c->add_flag("--eager", eager, "launch every kernel from the host (overrides the study)");
    c->add_flag("--exact", exact,
                "replay every op on SimGrid's clock and every collective's flows through SimGrid (slower; the "
                "default gives the same times to about 1e-12)");
    c->add_flag("--allow-refused", allow_refused,
                "report plans that do not fit in memory as rows instead of failing with exit code 2");
    c->add_option("--set", sets, "what-if: edit every platform's topology before simulating, key=value (repeatable; "
                                 "the keys are listed below)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false);
    c->add_option("--calibration", calibration,
                  "measured calibration: 'auto' (platforms/calibration/<platform>.yaml when it exists and no --set "
                  "edits the platform), 'none', or a calibration YAML for every platform")
        ->capture_default_str();
    c->add_option("--sweep", sweep_arg, "what-if sweep key=v1,v2,...: tok/s per plan against the value (table; --csv, --svg)");
    c->add_option("--svg", svg_out, "with --sweep: write the tok/s chart as SVG to FILE");
    c->footer("What-if keys for --set and --sweep (platforms given as topology YAML, platforms/*.yaml):\n" +
              override_keys_help());
    c->add_option("-j,--jobs", jobs, "scenarios simulated at once (default: CPU count)")->check(CLI::Range(1, limits::jobs));
  }

  CLI::App* sched = app.add_subcommand("schedule", "write the per-rank op DAG of one step as JSON");
  std::string sched_study, sched_plan, sched_platform, sched_out;
  int sched_batch = 0; // 0: the study's first
  sched->add_option("study", sched_study, "study name or path")->required();
  sched->add_option("--plan", sched_plan, "plan (name from the study or a spec like ep4)")->required();
  sched->add_option("--platform", sched_platform, "platform (default: the study's first)");
  sched->add_option("--batch", sched_batch, "batch (default: the study's first)")->check(CLI::Range(1, limits::batch));
  sched->add_option("-o,--output", sched_out, "output file (- for stdout)")->required();
  sched->add_flag("--cuda-graphs", graphs, "schedule for CUDA-graph launch");
  sched->add_flag("--eager", eager, "schedule for eager launch");

  CLI::App* list = app.add_subcommand("list", "list the models, platforms and studies available");
  ToolCommands tools;
  add_tool_commands(app, tools);
  PlatformCommands platform_cmds;
  add_platform_commands(app, platform_cmds);
  TransferCommand transfer_cmd;
  add_transfer_command(app, transfer_cmd);

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
    if (graphs && eager)
      throw InputError("command line", "--cuda-graphs/--eager", "both given", "pass one of them");
    tools.root = root;
    if (run_tool_commands(tools))
      return 0;
    if (run_platform_commands(platform_cmds, root))
      return 0;
    if (run_transfer_command(transfer_cmd, root))
      return 0;
    if (*list) {
      for (const char* what : {"workloads/models", "platforms", "workloads/studies"}) {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(fs::path(root) / what))
          if ((e.path().extension() == ".yaml" || e.path().extension() == ".xml") &&
              !(std::string(what) == "platforms" && e.path().stem() == "gpus")) // the GPU catalogue
            names.push_back(e.path().stem().string());
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end()); // x.yaml + its generated x.xml
        std::cout << what << ":";
        for (const auto& n : names)
          std::cout << " " << n;
        std::cout << "\n";
      }
      return 0;
    }
    if (*sched) {
      check_output_paths({{sched_out, "--output"}});
      Study s = load_study(sched_study, root);
      filter_study(s, {sched_plan}, sched_platform.empty() ? std::vector<std::string>{} : std::vector{sched_platform},
                   sched_batch ? std::vector{sched_batch} : std::vector<int>{}, root);
      if (graphs || eager)
        s.engine.cuda_graphs = graphs;
      s.platforms.resize(1);
      s.batches.resize(1);
      PlatformFiles pfiles(root);
      std::vector<Scenario> sc = expand_study(s, pfiles);
      const std::unique_ptr<Simulation> sim_ptr = open_simulation(sc[0].platform_path, sc[0].routed.get(), sc[0].calibration);
      Simulation& sim = *sim_ptr;
      Layout L = check_layout(s, sc[0], sim.platform().gpus());
      BuildOptions opt{s.routing, s.engine};
      StepShape st = step_of(s, sc[0].batch);
      ScenarioResult fit;
      check_memory(s, L, st, sim.platform(), fit);
      if (fit.refused)
        throw InputError(s.file, "plans", sched_plan + " on " + sc[0].platform_name + " at batch " +
                                              std::to_string(st.batch) + " " + fit.refusal,
                         "use more GPUs, a plan that splits the model further, or a smaller batch or context");
      Schedule schedule = build_schedule(s.model, L, st, opt);
      write_outputs({{sched_out, "--output", schedule_to_json(schedule).dump(1) + "\n"}});
      return 0;
    }
    // run (also the default with no command)
    check_output_paths({{json_out, "--json"}, {csv_out, "--csv"}, {trace_out, "--trace"}, {timeline_out, "--timeline"},
                        {svg_out, "--svg"}, {html_out, "--html"}});
    if (sets.size() > static_cast<size_t>(limits::list))
      throw InputError("command line", "--set", std::to_string(sets.size()) + " what-ifs, more than the " +
                                                    std::to_string(limits::list) + " one run takes", "split the run");
    std::vector<Override> overrides;
    for (const std::string& a : sets)
      overrides.push_back(parse_override(a, "--set"));
    std::optional<SweepSpec> sweep;
    if (!sweep_arg.empty()) {
      sweep = parse_sweep(sweep_arg);
      for (const auto& [path, flag] : {std::pair{json_out, "--json"}, {trace_out, "--trace"}, {timeline_out, "--timeline"}})
        if (!path.empty())
          throw InputError("command line", flag, "not available with --sweep", "a sweep writes its table, --csv and --svg");
      for (const Override& o : overrides)
        if (o.key == sweep->key)
          throw InputError("command line", o.key, "both set (--set) and swept (--sweep)", "drop one of them");
    } else if (!svg_out.empty()) {
      throw InputError("command line", "--svg", "draws a sweep's chart", "add --sweep key=v1,v2,...");
    }
    Study s = load_study(study_name, root);
    filter_study(s, plans, platforms, batches, root);
    if (graphs || eager)
      s.engine.cuda_graphs = graphs;
    PlatformFiles pfiles(root);
    const size_t per_run = s.platforms.size() * s.batches.size() * s.plans.size();
    const size_t runs = sweep ? sweep->values.size() : 1;
    if (per_run * runs > static_cast<size_t>(limits::scenarios))
      throw InputError("command line", sweep ? "--sweep" : "--plan",
                       std::to_string(per_run * runs) + " scenarios (" + std::to_string(s.platforms.size()) +
                           " platforms x " + std::to_string(s.batches.size()) + " batch sizes x " +
                           std::to_string(s.plans.size()) + " plans" +
                           (sweep ? " x " + std::to_string(runs) + " values" : "") + "), more than the " +
                           std::to_string(limits::scenarios) + " one run takes",
                       "narrow it with --plan, --platform, --batch or fewer sweep values");
    std::map<std::string, std::string> notes;
    if (!sweep)
      notes = what_if_effects(s, pfiles, overrides);
    if (sweep) {
      std::vector<Override> first = overrides;
      first.push_back(sweep->at(0)[0]);
      notes = what_if_effects(s, pfiles, first);
      // Every value's scenarios in one batch of processes; the same scenario order for every value.
      std::vector<Scenario> all;
      size_t per = 0;
      for (size_t i = 0; i < sweep->values.size(); i++) {
        std::vector<Override> o = overrides;
        o.push_back(sweep->at(i)[0]);
        std::vector<Scenario> sc = expand_study(s, pfiles, o);
        apply_calibration_choice(sc, calibration, exact);
        per = sc.size();
        all.insert(all.end(), sc.begin(), sc.end());
      }
      std::vector<ScenarioOutcome> outcomes = run_scenarios(s, all, jobs, false);
      std::vector<std::vector<ScenarioResult>> by(sweep->values.size());
      const ScenarioResult* first_refused = nullptr;
      for (size_t k = 0; k < outcomes.size(); k++) {
        by[k / per].push_back(outcomes[k].result);
        if (outcomes[k].result.refused && !first_refused)
          first_refused = &outcomes[k].result;
      }
      if (first_refused && !allow_refused)
        throw InputError(s.file, "plans", first_refused->key() + " " + first_refused->refusal,
                         "pass --allow-refused to show such points as refused");
      std::string fixed;
      for (const Override& o : overrides)
        fixed += (fixed.empty() ? "what-if (--set): " : ", ") + o.key + "=" + o.value + notes[o.key];
      if (notes.count(sweep->key))
        fixed += (fixed.empty() ? "" : "; ") + std::string("--sweep ") + sweep->key + notes[sweep->key];
      std::vector<OutputFile> files;
      if (!csv_out.empty())
        files.push_back({csv_out, "--csv", render_sweep_csv(s, *sweep, by)});
      if (!svg_out.empty())
        files.push_back({svg_out, "--svg", render_sweep_svg(s, *sweep, by)});
      if (!html_out.empty())
        files.push_back({html_out, "--html", render_sweep_html(s, render_sweep(s, *sweep, by), render_sweep_svg(s, *sweep, by))});
      files.push_back({"-", "", (fixed.empty() ? "" : fixed + "\n") + render_sweep(s, *sweep, by)});
      write_outputs(files);
      return 0;
    }
    std::vector<Scenario> scenarios = expand_study(s, pfiles, overrides);
    apply_calibration_choice(scenarios, calibration, exact);
    if (!timeline_out.empty() && scenarios.size() != 1)
      throw InputError("command line", "--timeline",
                       "needs exactly one scenario but the selection has " + std::to_string(scenarios.size()),
                       "narrow it with --plan, --platform and --batch");
    const bool keep = !trace_out.empty() || !timeline_out.empty() || !html_out.empty();
    std::vector<ScenarioOutcome> outcomes = run_scenarios(s, scenarios, jobs, keep);
    std::vector<ScenarioResult> results;
    int refused = 0;
    const ScenarioResult* first_refused = nullptr;
    for (const auto& o : outcomes) {
      results.push_back(o.result);
      if (o.result.refused && !refused++)
        first_refused = &o.result;
    }
    if (refused && !allow_refused)
      throw InputError(s.file, "plans",
                       first_refused->key() + " " + first_refused->refusal +
                           (refused > 1 ? " (and " + std::to_string(refused - 1) + " more scenarios do not fit)" : ""),
                       "use more GPUs, a plan that splits the model further, a smaller batch or context, or pass "
                       "--allow-refused to list them as refused rows");
    attach_error_bands(results, load_bands(root));
    std::vector<OutputFile> files;
    std::string what_if;
    for (const Override& o : overrides)
      what_if += (what_if.empty() ? "what-if (--set): " : ", ") + o.key + "=" + o.value + notes[o.key];
    if (!what_if.empty())
      what_if += "\n\n";
    if (!json_out.empty())
      files.push_back({json_out, "--json", render_json(s, results).dump(1) + "\n"});
    if (!csv_out.empty())
      files.push_back({csv_out, "--csv", render_csv(results)});
    if (!trace_out.empty()) {
      std::vector<NamedTimeline> tl;
      for (const auto& o : outcomes)
        if (o.timeline)
          tl.push_back({o.result.key(), *o.timeline});
      files.push_back({trace_out, "--trace", chrome_trace(tl).dump() + "\n"});
    }
    if (!html_out.empty()) {
      std::vector<const Timeline*> tl;
      for (const auto& o : outcomes)
        tl.push_back(o.timeline ? &*o.timeline : nullptr);
      files.push_back({html_out, "--html", render_html(s, results, tl)});
    }
    if (!timeline_out.empty()) {
      if (!outcomes[0].timeline)
        throw InputError("command line", "--timeline", "the scenario was refused, so there is no timeline",
                         "pick a plan that fits");
      files.push_back({timeline_out, "--timeline", timeline_to_json(*outcomes[0].timeline).dump(1) + "\n"});
    }
    const std::string candidates = render_candidates(s, run_candidates(s, scenarios, jobs));
    files.push_back({"-", "", what_if + render_table(s, results) + render_explanation(s, results) + candidates});
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
