#include "pipeline/sweep.hpp"

#include "core/engine_options.hpp"
#include "core/error.hpp"
#include "core/limits.hpp"

#include <algorithm>
#include <cstdio>

namespace moesim {
namespace {

bool is_engine_key(const std::string& key)
{
  return key.rfind("engine.", 0) == 0;
}

} // namespace

SweepSpec parse_sweep(const std::string& arg)
{
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--sweep", arg, "expected key=v1,v2,...", "write e.g. --sweep link.pcie.bandwidth=32GBps,64GBps,128GBps");
  SweepSpec sw;
  sw.key = arg.substr(0, eq);
  std::string rest = arg.substr(eq + 1);
  // Counted before anything is checked or run.
  if (const auto n = std::count(rest.begin(), rest.end(), ',') + 1; n > limits::sweep_values)
    throw InputError("--sweep", sw.key,
                     std::to_string(n) + " values, more than the " + std::to_string(limits::sweep_values) +
                         " one sweep may have",
                     "sweep fewer values, or split the range over several runs");
  for (size_t start = 0; start <= rest.size();) {
    const size_t comma = std::min(rest.find(',', start), rest.size());
    const std::string v = rest.substr(start, comma - start);
    if (v.empty())
      throw InputError("--sweep", sw.key, "empty value in '" + rest + "'", "separate the values with single commas");
    WhatIf check; // the key and the value, as --set checks them
    add_what_if(check, Override{sw.key, v}, "--sweep");
    if (!is_engine_key(sw.key))
      check_override_value({sw.key, v}, "--sweep");
    if (std::find(sw.values.begin(), sw.values.end(), v) != sw.values.end())
      throw InputError("--sweep", sw.key, "value " + v + " is listed twice", "list each value once");
    sw.values.push_back(v);
    start = comma + 1;
  }
  if (sw.values.size() < 2)
    throw InputError("--sweep", sw.key, "a sweep needs at least two values", "write e.g. " + sw.key + "=a,b,c");
  return sw;
}

std::optional<double> sweep_number(const std::string& key, const std::string& value)
{
  if (is_engine_key(key))
    return engine_option_number(key.substr(7), value);
  return override_number({key, value}, "--sweep");
}

std::string format_sweep_number(const std::string& key, double v)
{
  if (!is_engine_key(key))
    return format_override_number(key, v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g us", v * 1e6); // the engine's numbers are host times
  return buf;
}

SweepRun run_sweep(const PreparedStudy& p, const SweepSpec& sw, int jobs, bool allow_refused)
{
  if (p.what_if.sets(sw.key))
    throw InputError("command line", sw.key, "both set (--set) and swept (--sweep)", "drop one of them");
  if (sw.key == "engine.cuda_graphs" && p.cuda_graphs_forced)
    throw InputError("command line", sw.key, "swept while --cuda-graphs or --eager fixes it", "drop one of them");
  check_scenario_count(p, sw.values.size());
  PlatformFiles files(p.root);
  Calibrations calibrations;
  std::vector<Scenario> all;
  size_t per = 0;
  for (const std::string& v : sw.values) {
    WhatIf w = p.what_if;
    add_what_if(w, Override{sw.key, v, "--sweep"}, "--sweep");
    std::vector<Scenario> sc = expand_study(p.study, files, calibrations, p.calibration, w);
    for (Scenario& s : sc)
      s.exact = p.exact;
    per = sc.size();
    all.insert(all.end(), sc.begin(), sc.end());
  }
  const std::vector<ScenarioOutcome> outcomes = run_scenarios(p.study, all, jobs, false);
  SweepRun run;
  run.by_value.resize(sw.values.size());
  const ScenarioResult* first_refused = nullptr;
  for (size_t k = 0; k < outcomes.size(); k++) {
    run.by_value[k / per].push_back(outcomes[k].result);
    if (outcomes[k].result.refused && !first_refused)
      first_refused = &outcomes[k].result;
  }
  if (first_refused && !allow_refused)
    throw InputError(p.study.file, "plans", first_refused->key() + " " + first_refused->refusal,
                     "pass --allow-refused to show such points as refused");
  return run;
}

} // namespace moesim
