#include "cli/published_cmd.hpp"

#include "cli/scenario.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/model_loader.hpp"
#include "core/published.hpp"
#include "core/serve_steps.hpp"
#include "core/serving.hpp"
#include "report/render.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace moesim {
namespace fs = std::filesystem;

namespace {

struct RowOutcome {
  bool simulated = false;
  double value = 0;
  std::string why;   // not simulated: the reason
  std::string paths; // the engine's software paths of the decode step
  std::string batch; // the batch simulated, for serve rows
};

void set_dtype(const PublishedRow& row, const std::string& file, ModelDtypes& d, const std::string& key,
               const std::string& value)
{
  Dtype* slot = key == "expert_weights" ? &d.expert_weights
                : key == "dense_weights" ? &d.dense_weights
                : key == "kv_cache"      ? &d.kv_cache
                : key == "embeddings"    ? &d.embeddings
                : key == "activations"   ? &d.activations
                                         : nullptr;
  const std::string where = file + ":" + std::to_string(row.line);
  if (!slot)
    throw InputError(where, "rows[].dtypes." + key, "unknown dtype key",
                     "use expert_weights, dense_weights, kv_cache, embeddings or activations");
  try {
    *slot = parse_dtype(value);
  } catch (const std::invalid_argument& e) {
    throw InputError(where, "rows[].dtypes." + key, e.what(), "use a dtype moesim knows (bf16, fp8, nvfp4, mxfp4...)");
  }
}

// The row as a one-plan, one-platform study on its engine profile.
Study study_of(const PublishedRow& row, const std::string& file, const std::string& root)
{
  Study s;
  s.file = file;
  s.name = row.id;
  s.model = load_model_file(resolve_model_path(row.model, root + "/workloads/models")).model;
  for (const auto& [k, v] : row.dtypes)
    set_dtype(row, file, s.model.dtypes, k, v);
  EngineProfile e = load_engine_profile_file(resolve_engine_path(row.engine, root));
  for (const auto& [k, v] : row.engine_set)
    set_engine_fact(e, k, v, file + ":" + std::to_string(row.line), "published row " + row.id);
  s.engine = engine_params_of(e);
  s.engine_profile = e;
  try {
    s.plans = {Plan::parse(row.plan)};
  } catch (const std::invalid_argument& ex) {
    throw InputError(file + ":" + std::to_string(row.line), "rows[].plan", ex.what(), "fix the plan name");
  }
  return s;
}

ScenarioResult simulate(const Study& study, const Scenario& sc, Phase phase, int batch, int context, int prompt)
{
  Study s = study;
  s.phase = phase;
  s.context = context;
  s.prompt = prompt;
  Scenario one = sc;
  one.batch = batch;
  return run_scenarios(s, {one}, 1, false).at(0).result;
}

struct ServeOutcome {
  std::string why;   // not simulated: the reason
  std::string paths; // software paths of the largest decode step
  std::string batch; // for the table: the sequence limit and the loop's mean decode batch
  int batch_limit = 1;
  int gpus = 1;
  double tok_s = 0;  // output tokens per second of the whole system
};

// Serve: the request mix through the continuous-batching loop (core/serving), each step's time
// read off a table of simulated decode steps (a few batches at two contexts) and one prefill step
// (core/serve_steps). Sequences are limited by the engine's max_num_seqs per attention-DP replica
// and by the KV cache, which admits input + kv_output_share x output tokens per request.
ServeOutcome serve_row(const Study& study, const Scenario& sc, const PublishedWorkload& w)
{
  ServeOutcome out;
  const EngineProfile& e = *study.engine_profile;
  const int dp = std::max(1, sc.plan.attn_dp);
  const double lo = w.input, hi = w.input + w.output / 2.0;
  // KV capacity from one sequence per replica at the longest context.
  const ScenarioResult one = simulate(study, sc, Phase::decode, dp, w.input + w.output, 0);
  if (one.refused)
    return out.why = "does not fit: " + one.refusal, out;
  const double kv_tokens = kv_capacity_tokens(one.memory_capacity, one.memory.weights, one.memory.activations,
                                              one.memory.kv_cache, double(dp) * (w.input + w.output));
  const double per_request = w.input + e.kv_output_share * w.output;
  int limit = w.concurrency > 0 ? std::min(w.concurrency, w.requests) : w.requests;
  limit = std::min({limit, e.max_num_seqs * dp, static_cast<int>(kv_tokens / per_request)});
  if (limit < 1)
    return out.why = "does not fit: one request's KV cache is larger than the memory left", out;
  // Decode samples; a batch whose activations tip the memory over shrinks the limit by a tenth.
  ServeStepTable t;
  t.context_lo = lo;
  t.context_hi = hi;
  for (;;) {
    t.batches = serve_sample_batches(limit);
    t.seconds_lo.clear();
    t.seconds_hi.clear();
    bool refused = false;
    for (int b : t.batches) {
      const ScenarioResult a = simulate(study, sc, Phase::decode, b, static_cast<int>(lo), 0);
      const ScenarioResult c = simulate(study, sc, Phase::decode, b, static_cast<int>(hi), 0);
      if (a.refused || c.refused) {
        refused = true;
        break;
      }
      // The loop applies the acceptance length itself: it takes the step's time, not its rate.
      t.seconds_lo.push_back(a.step_time);
      t.seconds_hi.push_back(c.step_time);
      out.paths = c.software_paths;
      out.gpus = c.gpus;
    }
    if (!refused)
      break;
    if (limit == 1)
      return out.why = "does not fit at batch 1 with the KV cache of one request", out;
    limit = std::max(1, limit - std::max(1, limit / 10));
  }
  const int budget = e.max_num_batched_tokens * dp;
  const int pseqs = std::max(1, std::min(limit, budget / std::max(1, w.input)));
  const ScenarioResult p = simulate(study, sc, Phase::prefill, pseqs, 0, w.input);
  if (p.refused)
    return out.why = "prefill does not fit: " + p.refusal, out;
  t.prefill_tokens = pseqs * w.input;
  t.prefill_seconds = p.step_time;

  RequestMix mix;
  mix.requests = w.requests;
  mix.input_tokens = w.input;
  mix.output_tokens = w.output;
  mix.concurrency = w.concurrency;
  ServingLimits lim;
  lim.max_num_seqs = limit;
  lim.max_num_batched_tokens = std::max(budget, w.input);
  lim.kv_capacity_tokens = kv_tokens;
  lim.kv_output_share = e.kv_output_share;
  const bool speculative = e.speculative != Speculative::none && e.draft_tokens > 0;
  lim.tokens_per_decode = speculative ? 1 + e.draft_tokens : 1;
  lim.acceptance_length = speculative ? e.acceptance_length : 1;
  const ServingResult r = simulate_serving(mix, lim, [&t](const StepLoad& l) { return serve_step_seconds(t, l); });
  out.tok_s = r.output_tok_s;
  out.batch_limit = limit;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%d; loop mean %.0f", limit, r.mean_decode_batch);
  out.batch = buf;
  return out;
}

RowOutcome simulate_row(const PublishedRow& row, const std::string& file, const std::string& root, PlatformFiles& files)
{
  RowOutcome o;
  const fs::path pdir = fs::path(root) / "platforms";
  if (!fs::exists(pdir / (row.platform + ".xml")) && !fs::exists(pdir / (row.platform + ".yaml"))) {
    o.why = "no platform " + row.platform + " in platforms/";
    return o;
  }
  const Study study = study_of(row, file, root);
  const PlatformFile pf = files.get(row.platform, {});
  const Scenario sc{study.plans[0], pf.name, pf.xml, pf.calibration, 1, false, pf.routed};
  const PublishedWorkload& w = row.workload;
  try {
    if (w.kind == WorkloadKind::decode) {
      const ScenarioResult r = simulate(study, sc, Phase::decode, w.batch, w.context, 0);
      if (r.refused)
        return o.why = "does not fit: " + r.refusal, o;
      o.paths = r.software_paths;
      o.value = rate_metric(row.metric, r.tok_s_user * w.batch, w.batch, r.gpus);
    } else if (w.kind == WorkloadKind::prefill) {
      const int gpus = sc.plan.world();
      const int seqs = std::max(1, w.tokens_per_gpu * gpus / w.prompt);
      const ScenarioResult r = simulate(study, sc, Phase::prefill, seqs, 0, w.prompt);
      if (r.refused)
        return o.why = "does not fit: " + r.refusal, o;
      o.paths = r.software_paths;
      o.value = rate_metric(row.metric, r.tok_s_total, seqs, r.gpus);
    } else {
      const ServeOutcome so = serve_row(study, sc, w);
      if (!so.why.empty())
        return o.why = so.why, o;
      o.paths = so.paths;
      o.batch = so.batch;
      o.value = rate_metric(row.metric, so.tok_s, so.batch_limit, so.gpus);
    }
  } catch (const InputError& e) {
    o.why = e.what();
    return o;
  }
  o.simulated = true;
  return o;
}

std::string number(double v)
{
  return fmt_value(v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
}

std::string cell(std::string s)
{
  std::replace(s.begin(), s.end(), '|', '/');
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

} // namespace

void run_published(const std::string& root, const std::string& file, const std::string& out)
{
  const std::vector<PublishedRow> rows = load_published_file(file);
  PlatformFiles files(root);
  std::vector<RowOutcome> outcomes;
  for (const PublishedRow& r : rows)
    outcomes.push_back(simulate_row(r, file, root, files));

  std::vector<double> errors, labelled;
  std::vector<int> index;
  std::map<std::string, std::vector<double>> by_category;
  for (size_t i = 0; i < rows.size(); i++) {
    if (!outcomes[i].simulated)
      continue;
    const double e = outcomes[i].value / rows[i].measured - 1;
    (rows[i].missing.empty() ? errors : labelled).push_back(e);
    if (rows[i].missing.empty()) {
      index.push_back(static_cast<int>(i));
      by_category[rows[i].category].push_back(e);
    }
  }
  const ErrorSummary all = summarise_errors(errors);
  std::ostringstream o;
  o << "# Published serving figures against moesim\n\n"
    << "Written by `moesim published` from validate/public/published.yaml (regenerate: `moesim published -o "
       "validate/public/published.md`). Each row: the published figure with its source, moesim's figure for the "
       "same engine profile (workloads/engines), model, quantization, platform, plan and workload, and the error "
       "(moesim / published - 1). Rows whose mechanism moesim lacks are labelled and kept out of the summary. "
       "Serve rows run the request mix through the continuous-batching loop (chunked prefill plus decode): each "
       "step's time comes from simulated decode steps at a few batches and two contexts and one prefill step of "
       "max_num_batched_tokens; sequences are limited (batch shown) by max_num_seqs per attention-DP replica and "
       "by the KV cache, which admits input + kv_output_share x output tokens per request (the engine's "
       "admission rule); 'loop mean' is the mean decode batch over the run. Nothing here is tuned per row; "
       "no row was used to calibrate anything (out of sample). Noise floor: published figures are single runs "
       "of their authors; where a source gives repeats they differ by a few percent.\n\n";
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "Summary: %d of %zu rows simulated without a labelled missing mechanism: median |error| %.0f%%, "
                "worst %.0f%% (%s).\n\n",
                all.rows, rows.size(), all.median * 100, all.worst * 100,
                all.worst_index >= 0 ? rows[index[all.worst_index]].id.c_str() : "-");
  o << buf;
  o << "| category | rows | median abs error | worst |\n|---|---|---|---|\n";
  for (const auto& [c, v] : by_category) {
    const ErrorSummary s = summarise_errors(v);
    std::snprintf(buf, sizeof buf, "| %s | %d | %.0f%% | %.0f%% |\n", c.c_str(), s.rows, s.median * 100, s.worst * 100);
    o << buf;
  }
  if (!labelled.empty()) {
    const ErrorSummary s = summarise_errors(labelled);
    std::snprintf(buf, sizeof buf, "| (labelled: mechanism missing) | %d | %.0f%% | %.0f%% |\n", s.rows, s.median * 100,
                  s.worst * 100);
    o << buf;
  }
  o << "\n| id | engine | platform | plan | model | workload | metric | published | moesim | error | software paths "
       "(decode step) | missing / not simulated | source |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < rows.size(); i++) {
    const PublishedRow& r = rows[i];
    const RowOutcome& x = outcomes[i];
    std::string miss;
    for (const auto& m : r.missing)
      miss += (miss.empty() ? "" : "; ") + m;
    if (!x.simulated)
      miss += (miss.empty() ? "" : "; ") + std::string("not simulated: ") + x.why;
    o << "| " << r.id << " | " << r.engine << " | " << r.platform << " | " << r.plan << " | " << r.model << " | "
      << r.workload.describe() << (x.batch.empty() ? "" : " (batch " + x.batch + ")") << " | " << to_string(r.metric)
      << " | " << number(r.measured) << " | " << (x.simulated ? number(x.value) : "-") << " | ";
    if (x.simulated) {
      std::snprintf(buf, sizeof buf, "%+.0f%%", (x.value / r.measured - 1) * 100);
      o << buf;
    } else {
      o << "-";
    }
    o << " | " << cell(x.paths) << " | " << cell(miss) << " | " << cell(r.source) << " |\n";
  }
  if (out == "-") {
    std::cout << o.str();
    return;
  }
  const std::string tmp = out + ".tmp";
  {
    std::ofstream f(tmp);
    f << o.str();
    if (!f)
      throw InputError(out, "-o", "cannot write", "check the folder exists and is writable");
  }
  fs::rename(tmp, out);
}

} // namespace moesim
