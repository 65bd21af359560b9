#include "cli/serve_cmd.hpp"

#include "core/error.hpp"
#include "core/output_files.hpp"
#include "pipeline/study_run.hpp"

namespace moesim {

void add_serve_command(CLI::App& app, ServeCommand& s)
{
  s.serve = app.add_subcommand("serve", "serve a request mix on one plan and platform with the study's engine profile "
                                        "(continuous batching: chunked prefill plus decode): tok/s, TTFT, TPOT");
  s.serve->add_option("study", s.study, "study name (workloads/studies/NAME.yaml) or path; it must name an engine "
                                        "profile (engine: vllm-0.11)")
      ->required();
  s.serve->add_option("--plan", s.plan, "plan (name from the study or a spec like tp4; default: the study's only plan)");
  s.serve->add_option("--platform", s.platform, "platform (default: the study's only platform)");
  s.serve->add_option("--requests", s.workload.requests, "requests in the run")->required();
  s.serve->add_option("--input", s.workload.input, "prompt tokens per request")->required();
  s.serve->add_option("--output", s.workload.output, "output tokens per request")->required();
  s.serve->add_option("--concurrency", s.workload.concurrency, "requests in flight (default: all at once)");
  s.serve->add_option("--calibration", s.calibration, "'auto', 'none' or a calibration YAML (as for run)")
      ->capture_default_str();
  s.serve->add_option("--json", s.json_out, "also write the result and the simulated step table as JSON to FILE");
  s.serve->fallthrough();
}

bool run_serve_command(const ServeCommand& s, const std::function<std::string()>& root)
{
  if (!s.serve || !*s.serve)
    return false;
  check_serve_workload(s.workload, "command line");
  if (s.serve->count("--concurrency") && s.workload.concurrency < 1)
    throw InputError("command line", "--concurrency", std::to_string(s.workload.concurrency) + " is not positive",
                     "pass at least 1, or leave it out for every request at once");
  check_output_paths({{s.json_out, "--json"}}, {s.study, s.platform, s.calibration});
  StudyRequest q;
  q.study = s.study;
  q.root = root();
  q.calibration = s.calibration;
  if (!s.plan.empty())
    q.plans = {s.plan};
  if (!s.platform.empty())
    q.platforms = {s.platform};
  PreparedStudy p = prepare_study(q);
  const Study& st = p.study;
  if (!st.engine_profile)
    throw InputError(st.file, "engine", "names no engine profile, so serve has no admission rule",
                     "set engine: vllm-0.11 (or {profile: NAME, ...}; profiles in workloads/engines)");
  const size_t n = st.plans.size() * st.platforms.size();
  if (n != 1)
    throw InputError("command line", st.plans.size() != 1 ? "--plan" : "--platform",
                     "selects " + std::to_string(n) + " scenarios (plans x platforms: " + std::to_string(st.plans.size()) +
                         " x " + std::to_string(st.platforms.size()) + "); serve simulates one",
                     "name one plan with --plan and one platform with --platform");
  p.study.batches = {1}; // serve picks its own batches
  PlatformFiles files(p.root);
  Calibrations calibrations;
  const std::vector<Scenario> sc = expand_study(p.study, files, calibrations, p.calibration, p.what_if);
  const ServeRun r = run_serve(p.study, sc.at(0), s.workload);
  // A plan that does not fit is an error, as in `moesim run`.
  if (!r.why.empty())
    throw InputError("command line", "--plan", sc[0].plan.name + " on " + sc[0].platform_name + " " + r.why,
                     "pick a plan over more GPUs, a larger platform or shorter requests");
  std::vector<OutputFile> out;
  if (!s.json_out.empty())
    out.push_back({s.json_out, "--json", serve_to_json(p.study, sc[0], s.workload, r).dump(1) + "\n"});
  out.push_back({"-", "", render_serve(p.study, sc[0], s.workload, r)});
  write_outputs(out);
  return true;
}

} // namespace moesim
