#include "cli/serve_cmd.hpp"

#include "core/error.hpp"
#include "core/limits.hpp"
#include "core/request_lengths.hpp"
#include "core/output_files.hpp"
#include "pipeline/serve_disagg.hpp"
#include "pipeline/study_run.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

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
  s.serve->add_option("--input", s.workload.input, "prompt tokens per request (or --input-dist, or --lengths)");
  s.serve->add_option("--output", s.workload.output, "output tokens per request (or --output-dist, or --lengths)");
  s.serve->add_option("--input-dist", s.input_dist,
                      "prompt tokens drawn per request: uniform:MIN:MAX, lognormal:MEAN:SIGMA:MIN:MAX or "
                      "lognormal:MEAN:median=MEDIAN:MIN:MAX (mean of the unclipped lognormal; clipped to MIN-MAX)");
  s.serve->add_option("--output-dist", s.output_dist, "output tokens drawn per request, as --input-dist");
  s.serve->add_option("--lengths", s.lengths_file,
                      "a CSV of input,output per request (request i takes line i, cycled), instead of the above");
  s.serve->add_option("--seed", s.seed, "seed of the length draws")->capture_default_str();
  s.serve->add_option("--concurrency", s.workload.concurrency, "requests in flight (default: all at once)");
  s.serve->add_option("--calibration", s.calibration, "'auto', 'none' or a calibration YAML (as for run)")
      ->capture_default_str();
  s.serve->add_option("--json", s.json_out, "also write the result and the simulated step table as JSON to FILE");
  s.serve->add_option("--prefill-plan", s.prefill_plan,
                      "disaggregated serving: the prefill instances' plan (with --decode-plan; in place of --plan)");
  s.serve->add_option("--decode-plan", s.decode_plan, "disaggregated serving: the decode instances' plan");
  s.serve->add_option("--prefill-instances", s.prefill_instances, "prefill instances (disaggregated)")
      ->capture_default_str();
  s.serve->add_option("--decode-instances", s.decode_instances, "decode instances (disaggregated)")
      ->capture_default_str();
  s.serve->add_option("--prefill-platform", s.prefill_platform,
                      "platform of one prefill instance (default: --platform or the study's only platform)");
  s.serve->add_option("--decode-platform", s.decode_platform, "platform of one decode instance (default: as above)");
  s.serve->add_option("--kv-link", s.kv_link_gbs,
                      "GB/s a GPU that KV moves at between instances (default: the decode platform's NICs)");
  s.serve->fallthrough();
}

namespace {

// The study's scenarios for serve, which picks its own batches (one batch each).
std::vector<Scenario> serve_scenarios(PreparedStudy& p, PlatformFiles& files)
{
  p.study.batches = {1};
  Calibrations calibrations;
  return expand_study(p.study, files, calibrations, p.calibration, p.what_if);
}

void require_engine_profile(const Study& st)
{
  if (!st.engine_profile)
    throw InputError(st.file, "engine", "names no engine profile, so serve has no admission rule",
                     "set engine: vllm-0.11 (or {profile: NAME, ...}; profiles in workloads/engines)");
}

// The KV link between instances: --kv-link, else the decode platform's network.
KvLink kv_link(const ServeCommand& s, PlatformFiles& files, const PreparedStudy& p, const std::string& platform)
{
  KvLink link;
  if (s.serve->count("--kv-link")) {
    link.gbs = s.kv_link_gbs;
    link.source = "--kv-link";
    return link;
  }
  std::optional<Topology> t;
  try {
    t = files.topology(platform, p.what_if.platform);
  } catch (const InputError&) {
  }
  if (const std::optional<KvLink> net = network_kv_link(t ? &*t : nullptr, platform))
    return *net;
  throw InputError("command line", "--kv-link",
                   "not given, and the decode platform " + platform +
                       " has no network between nodes to say how fast KV moves between instances",
                   "pass --kv-link GBPS (GB/s a GPU: 50 for one 400 Gb/s NIC a GPU, ~400 over NVLink in one node)");
}

void run_disaggregated(const ServeCommand& s, const ServeWorkload& w, const std::function<std::string()>& root)
{
  auto given = [&](const char* flag) { return s.serve->count(flag) > 0; };
  if (given("--plan"))
    throw InputError("command line", "--plan", "given with disaggregated serving, whose pools have a plan each",
                     "name them with --prefill-plan P and --decode-plan D");
  for (const char* f : {"--prefill-plan", "--decode-plan"})
    if (!given(f))
      throw InputError("command line", f, "missing: disaggregated serving needs both pools' plans",
                       "pass --prefill-plan P and --decode-plan D (plans of the study or specs like tp8)");
  for (const auto& [v, f] : {std::pair{s.prefill_instances, "--prefill-instances"}, {s.decode_instances, "--decode-instances"}})
    if (v < 1 || v > 4096)
      throw InputError("command line", f, std::to_string(v) + " is outside 1-4096", "pass a whole number in that range");
  if (given("--kv-link") && !(std::isfinite(s.kv_link_gbs) && s.kv_link_gbs >= 1e-3 && s.kv_link_gbs <= 1e5))
    throw InputError("command line", "--kv-link", std::to_string(s.kv_link_gbs) + " is not a bandwidth in [0.001, 100000] GB/s",
                     "pass the GB/s a GPU sends KV at, e.g. 50");
  StudyRequest q;
  q.study = s.study;
  q.root = root();
  q.calibration = s.calibration;
  q.plans = {s.prefill_plan};
  if (s.decode_plan != s.prefill_plan)
    q.plans.push_back(s.decode_plan);
  const std::string pre_pf = !s.prefill_platform.empty() ? s.prefill_platform : s.platform;
  const std::string dec_pf = !s.decode_platform.empty() ? s.decode_platform : s.platform;
  if (pre_pf.empty() != dec_pf.empty())
    throw InputError("command line", pre_pf.empty() ? "--prefill-platform" : "--decode-platform",
                     "missing while the other pool's platform is given",
                     "name both with --prefill-platform and --decode-platform, or one for both with --platform");
  if (!pre_pf.empty()) {
    q.platforms = {pre_pf};
    if (dec_pf != pre_pf)
      q.platforms.push_back(dec_pf);
  }
  PreparedStudy p = prepare_study(q);
  const Study& st = p.study;
  require_engine_profile(st);
  if (st.platforms.size() != (q.platforms.empty() ? 1 : q.platforms.size()))
    throw InputError("command line", "--platform",
                     "not given, and the study has " + std::to_string(st.platforms.size()) + " platforms",
                     "name one with --platform (or the pools' with --prefill-platform and --decode-platform)");
  PlatformFiles files(p.root);
  const std::vector<Scenario> sc = serve_scenarios(p, files);
  // Scenarios are platforms x plans (one batch), in the order asked.
  const size_t plans = q.plans.size();
  const size_t pre_i = 0, dec_i = (dec_pf != pre_pf ? plans : 0) + (s.decode_plan != s.prefill_plan ? 1 : 0);
  const Scenario& pre = sc.at(pre_i);
  const Scenario& dec = sc.at(dec_i);
  const KvLink link = kv_link(s, files, p, dec.platform_name);
  const DisaggServeRun r = run_serve_disagg(p.study, p.study, pre, dec, w, s.prefill_instances, s.decode_instances, link);
  if (!r.why.empty())
    throw InputError("command line", r.why.rfind("the prefill", 0) == 0 ? "--prefill-plan" : "--decode-plan", r.why,
                     "pick a plan over more GPUs, a larger platform or shorter requests");
  std::vector<OutputFile> out;
  if (!s.json_out.empty())
    out.push_back({s.json_out, "--json", serve_disagg_to_json(p.study, pre, dec, w, r).dump(1) + "\n"});
  out.push_back({"-", "", render_serve_disagg(p.study, pre, dec, w, r)});
  write_outputs(out);
}

} // namespace

bool run_serve_command(const ServeCommand& s, const std::function<std::string()>& root)
{
  if (!s.serve || !*s.serve)
    return false;
  ServeWorkload w = s.workload;
  auto given = [&](const char* flag) { return s.serve->count(flag) > 0; };
  if (given("--lengths")) {
    for (const char* f : {"--input", "--output", "--input-dist", "--output-dist"})
      if (given(f))
        throw InputError("command line", f, "given with --lengths, which sets every request's lengths",
                         "drop " + std::string(f) + " or --lengths");
  } else {
    for (const auto& [a, b] : {std::pair{"--input", "--input-dist"}, {"--output", "--output-dist"}}) {
      if (given(a) == given(b))
        throw InputError("command line", a, given(a) ? std::string("given with ") + b : std::string("missing"),
                         std::string("pass one of ") + a + " N and " + b + " SPEC (or --lengths FILE)");
    }
  }
  if (s.seed < 0 || s.seed > INT_MAX)
    throw InputError("command line", "--seed", std::to_string(s.seed) + " is outside [0, " + std::to_string(INT_MAX) + "]",
                     "pass a whole number");
  w.lengths.seed = static_cast<std::uint64_t>(s.seed);
  if (given("--input-dist"))
    w.lengths.input = parse_length_spec(s.input_dist, "--input-dist", limits::context);
  if (given("--output-dist"))
    w.lengths.output = parse_length_spec(s.output_dist, "--output-dist", limits::context);
  // A "distribution" that is one number is --input's.
  if (w.lengths.input.kind == LengthKind::fixed && given("--input-dist"))
    w.input = w.lengths.input.value;
  if (w.lengths.output.kind == LengthKind::fixed && given("--output-dist"))
    w.output = w.lengths.output.value;
  if (given("--lengths")) {
    w.lengths.pairs_file = s.lengths_file;
    w.lengths.pairs = read_lengths_file(s.lengths_file, limits::context);
  }
  check_serve_workload(w, "command line");
  if (s.serve->count("--concurrency") && w.concurrency < 1)
    throw InputError("command line", "--concurrency", std::to_string(w.concurrency) + " is not positive",
                     "pass at least 1, or leave it out for every request at once");
  check_output_paths({{s.json_out, "--json"}}, {s.study, s.platform, s.calibration, s.lengths_file});
  for (const char* f : {"--prefill-plan", "--decode-plan", "--prefill-instances", "--decode-instances",
                        "--prefill-platform", "--decode-platform", "--kv-link"})
    if (given(f))
      return run_disaggregated(s, w, root), true;
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
  require_engine_profile(st);
  const size_t n = st.plans.size() * st.platforms.size();
  if (n != 1)
    throw InputError("command line", st.plans.size() != 1 ? "--plan" : "--platform",
                     "selects " + std::to_string(n) + " scenarios (plans x platforms: " + std::to_string(st.plans.size()) +
                         " x " + std::to_string(st.platforms.size()) + "); serve simulates one",
                     "name one plan with --plan and one platform with --platform");
  PlatformFiles files(p.root);
  const std::vector<Scenario> sc = serve_scenarios(p, files);
  const ServeRun r = run_serve(p.study, sc.at(0), w);
  // A plan that does not fit is an error, as in `moesim run`.
  if (!r.why.empty())
    throw InputError("command line", "--plan", sc[0].plan.name + " on " + sc[0].platform_name + " " + r.why,
                     "pick a plan over more GPUs, a larger platform or shorter requests");
  std::vector<OutputFile> out;
  if (!s.json_out.empty())
    out.push_back({s.json_out, "--json", serve_to_json(p.study, sc[0], w, r).dump(1) + "\n"});
  out.push_back({"-", "", render_serve(p.study, sc[0], w, r)});
  write_outputs(out);
  return true;
}

} // namespace moesim
