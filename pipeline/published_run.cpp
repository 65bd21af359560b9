#include "pipeline/published_run.hpp"

#include "core/calibration_choice.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/model_loader.hpp"
#include "core/moe_layer.hpp"
#include "core/op_fit.hpp"
#include "core/numbers.hpp"
#include "core/op_measurements.hpp"
#include "topology/gpu_catalog.hpp"
#include "core/published.hpp"
#include "pipeline/calibrate.hpp"
#include "pipeline/calibrations.hpp"
#include "pipeline/platform_files.hpp"
#include "pipeline/scenario_runner.hpp"
#include "pipeline/serve_disagg.hpp"
#include "pipeline/serve_run.hpp"
#include "report/render.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

namespace moesim {
namespace fs = std::filesystem;

namespace {

void set_dtype(const PublishedRow& row, const std::string& file, ModelDtypes& d, const std::string& key,
               const std::string& value)
{
  const std::string where = file + ":" + std::to_string(row.line);
  if (key == "fp8_scales") { // the checkpoint's fp8 scaling, as a model file's dtypes give it
    if (value != "block" && value != "tensor")
      throw InputError(where, "rows[].dtypes.fp8_scales", "unknown scaling '" + value + "'",
                       "write block (one scale per 128x128 weight block) or tensor (one per tensor)");
    d.fp8_block_scales = value == "block";
    return;
  }
  Dtype* slot = key == "expert_weights" ? &d.expert_weights
                : key == "dense_weights" ? &d.dense_weights
                : key == "kv_cache"      ? &d.kv_cache
                : key == "embeddings"    ? &d.embeddings
                : key == "activations"   ? &d.activations
                                         : nullptr;
  if (!slot)
    throw InputError(where, "rows[].dtypes." + key, "unknown dtype key",
                     "use expert_weights, dense_weights, kv_cache, embeddings, activations or fp8_scales");
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

// Calibrations fitted from public op records, one per records file, shared by the rows naming it.
using RecordCalibrations = std::map<std::string, std::shared_ptr<const Calibration>>;

// The row's scenario of `plan` on `platform` (the row's, or a disaggregated row's prefill pool's):
// the platform's own calibration, or the row's public records in its place or beside it.
Scenario row_scenario(const PublishedRow& row, const Study& study, const Plan& plan, const std::string& platform,
                      const std::string& file, const std::string& root, PlatformFiles& files,
                      Calibrations& calibrations, RecordCalibrations& from_records, std::string& cal_out)
{
  const PlatformFile pf = files.get(platform, {});
  // The platform's own calibration, as `moesim run --calibration auto` takes it.
  const std::string cal = resolve_calibration_file(parse_calibration_choice("auto", "--calibration"), pf.source, pf.edited);
  Scenario sc;
  sc.plan = plan;
  sc.platform_name = pf.name;
  sc.platform_path = pf.xml;
  sc.routed = pf.routed;
  sc.calibration_file = cal;
  if (row.op_records.empty()) {
    sc.calibration = calibrations.get(cal);
  } else if (!row.op_records.empty()) {
    // Public per-op records stand in for a calibration only where nobody measured the platform.
    if (!cal.empty())
      throw InputError(file + ":" + std::to_string(row.line), "rows[].op_records",
                       "platform " + platform + " has a measured calibration (" + cal + ")",
                       "drop op_records (the measured calibration applies), or name the records as moe_records "
                       "for their whole MoE layers only");
    std::shared_ptr<const Calibration>& c = from_records[row.op_records];
    if (!c)
      c = std::make_shared<const Calibration>(calibration_from_op_records(root, row.op_records));
    sc.calibration_file = row.op_records;
    sc.calibration = c;
  }
  if (!row.moe_records.empty() || !row.gemm_records.empty() || !row.attention_records.empty()) {
    // Parts of public records beside the platform's own calibration (measured, or none: the
    // datasheet): the whole MoE layers of `moe_records` (core/moe_layer), the dense GEMM models of
    // `gemm_records` and the GQA decode attention models of `attention_records` where the platform's
    // calibration has no model of that key.
    const std::string where = file + ":" + std::to_string(row.line);
    auto records = [&](const std::string& path) -> const Calibration& {
      std::shared_ptr<const Calibration>& c = from_records[path];
      if (!c)
        c = std::make_shared<const Calibration>(calibration_from_op_records(root, path));
      return *c;
    };
    std::shared_ptr<const Calibration>& both =
        from_records[row.moe_records + "\n" + row.gemm_records + "\n" + row.attention_records + "\n" + cal];
    if (!both) {
      Calibration merged = cal.empty() ? Calibration{} : *calibrations.get(cal);
      if (!row.moe_records.empty()) {
        const Calibration& c = records(row.moe_records);
        if (c.op_models.moe_layers.empty())
          throw InputError(where, "rows[].moe_records",
                           row.moe_records + " holds no whole MoE layer (balanced-routing moe records)",
                           "name a table with moe records, or drop moe_records");
        merged.op_models.moe_layers = c.op_models.moe_layers;
      }
      if (!row.gemm_records.empty()) {
        const OpModels& g = records(row.gemm_records).op_models;
        if (std::none_of(g.models.begin(), g.models.end(),
                         [](const KeyedOpModel& m) { return m.key.kind == OpKind::gemm; }))
          throw InputError(where, "rows[].gemm_records", row.gemm_records + " holds no dense GEMM records",
                           "name a table with gemm records, or drop gemm_records");
        add_gemm_models(merged.op_models, g);
      }
      if (!row.attention_records.empty()) {
        const OpModels a = gqa_decode_models(root, row.attention_records);
        if (a.models.empty())
          throw InputError(where, "rows[].attention_records",
                           row.attention_records + " holds no GQA decode attention read from memory "
                           "(attention_decode gqa records no faster than their KV at HBM peak)",
                           "name a table with GQA decode records, or drop attention_records");
        add_models(merged.op_models, a, OpKind::attention_decode);
      }
      both = std::make_shared<const Calibration>(std::move(merged));
    }
    sc.calibration = both;
  }
  sc.engine = study.engine;
  cal_out = cal;
  return sc;
}

PublishedOutcome simulate_row(const PublishedRow& row, const std::string& file, const std::string& root, PlatformFiles& files,
                              Calibrations& calibrations, RecordCalibrations& from_records)
{
  PublishedOutcome o;
  const fs::path pdir = fs::path(root) / "platforms";
  if (!fs::exists(pdir / (row.platform + ".xml")) && !fs::exists(pdir / (row.platform + ".yaml"))) {
    o.why = "no platform " + row.platform + " in platforms/";
    return o;
  }
  const Study study = study_of(row, file, root);
  std::string cal;
  Scenario sc = row_scenario(row, study, study.plans[0], row.platform, file, root, files, calibrations, from_records, cal);
  const PublishedWorkload& w = row.workload;
  std::map<std::string, double> shares;
  try {
    if (w.kind == WorkloadKind::decode) {
      const ScenarioResult r = simulate_step(study, sc, Phase::decode, w.batch, w.context, 0);
      if (r.refused)
        return o.why = "does not fit: " + r.refusal, o;
      o.paths = r.software_paths;
      shares = r.compute_provenance;
      o.value = rate_metric(row.metric, r.tok_s_user * w.batch, w.batch, r.gpus);
    } else if (w.kind == WorkloadKind::prefill) {
      const int gpus = sc.plan.world();
      const int seqs = std::max(1, w.tokens_per_gpu * gpus / w.prompt);
      const ScenarioResult r = simulate_step(study, sc, Phase::prefill, seqs, 0, w.prompt);
      if (r.refused)
        return o.why = "does not fit: " + r.refusal, o;
      o.paths = r.software_paths;
      shares = r.compute_provenance;
      o.value = rate_metric(row.metric, r.tok_s_total, seqs, r.gpus);
    } else if (w.disagg) {
      // Prefill and decode apart: the row's platform and plan are the decode pool's.
      const DisaggSpec& d = *w.disagg;
      const std::string where = file + ":" + std::to_string(row.line);
      if (!fs::exists(pdir / (d.prefill_platform + ".xml")) && !fs::exists(pdir / (d.prefill_platform + ".yaml")))
        return o.why = "no platform " + d.prefill_platform + " in platforms/", o;
      Plan pplan;
      try {
        pplan = Plan::parse(d.prefill_plan);
      } catch (const std::invalid_argument& ex) {
        throw InputError(where, "rows[].workload.disaggregated.prefill_plan", ex.what(), "fix the plan name");
      }
      auto pool_study = [&](const std::vector<std::pair<std::string, std::string>>& set, const char* pool) {
        Study s = study;
        for (const auto& [k, v] : set)
          set_engine_fact(*s.engine_profile, k, v, where, std::string("published row ") + row.id + "'s " + pool + " pool");
        s.engine = engine_params_of(*s.engine_profile);
        return s;
      };
      const Study pre_study = pool_study(d.prefill_engine_set, "prefill");
      const Study dec_study = pool_study(d.decode_engine_set, "decode");
      std::string pcal;
      const Scenario psc =
          row_scenario(row, pre_study, pplan, d.prefill_platform, file, root, files, calibrations, from_records, pcal);
      sc.engine = dec_study.engine;
      std::optional<KvLink> link;
      if (d.kv_link_gbs > 0) {
        link = KvLink{d.kv_link_gbs, 0.0, "the row's kv_link"};
      } else {
        std::optional<Topology> t;
        try {
          t = files.topology(row.platform, {});
        } catch (const InputError&) {
        }
        link = network_kv_link(t ? &*t : nullptr, row.platform);
      }
      if (!link)
        return o.why = "the decode platform " + row.platform + " has no network, and the row gives no kv_link", o;
      const DisaggServeRun r = run_serve_disagg(pre_study, dec_study, psc, sc,
                                                {w.requests, w.input, w.output, w.concurrency, w.lengths},
                                                d.prefill_instances, d.decode_instances, *link);
      if (!r.why.empty())
        return o.why = r.why, o;
      o.paths = r.decode.paths;
      shares = r.decode.compute_provenance;
      char buf[160];
      std::snprintf(buf, sizeof buf, "%dP x %d + %dD x %d; decode loop mean %.0f; prefill busy %.0f%%, decode %.0f%%",
                    d.prefill_instances, r.prefill.gpus, d.decode_instances, r.decode.gpus,
                    r.result.serving.mean_decode_batch, 100 * r.result.prefill_busy, 100 * r.result.decode_busy);
      o.batch = buf;
      const ServingResult& res = r.result.serving;
      o.value = is_time(row.metric) ? time_metric_ms(row.metric, res.ttft.mean, res.tpot.mean)
                                    : rate_metric(row.metric, res.output_tok_s,
                                                  r.decode.seq_limit * d.decode_instances, r.gpus());
      if (is_time(row.metric) && !(o.value > 0))
        return o.why = std::string("the serving loop gave no ") + to_string(row.metric) +
                       " (no request has a second output token)", o;
    } else {
      const ServeRun so = run_serve(study, sc, {w.requests, w.input, w.output, w.concurrency, w.lengths});
      if (!so.why.empty())
        return o.why = so.why, o;
      o.paths = so.paths;
      shares = so.compute_provenance;
      char buf[128];
      std::snprintf(buf, sizeof buf, "%d; loop mean %.0f; %d tokens a step per replica", so.seq_limit,
                    so.result.mean_decode_batch, so.step_tokens);
      o.batch = buf;
      o.value = is_time(row.metric) ? time_metric_ms(row.metric, so.result.ttft.mean, so.result.tpot.mean)
                                    : rate_metric(row.metric, so.result.output_tok_s, so.seq_limit, so.gpus);
      if (is_time(row.metric) && !(o.value > 0)) // a TPOT needs two output tokens: no error against 0 ms
        return o.why = std::string("the serving loop gave no ") + to_string(row.metric) +
                       " (no request has a second output token)", o;
    }
  } catch (const InputError& e) {
    o.why = e.what();
    return o;
  }
  o.simulated = true;
  if (!row.op_records.empty())
    o.compute = describe_compute_sources(row.op_records, shares);
  if (!row.moe_records.empty() || !row.gemm_records.empty() || !row.attention_records.empty()) {
    // "compute (whole MoE layers, dense GEMMs and GQA decode attention from X, the rest from the
    // platform's ...): ..."; each part names its table where they differ.
    const auto name = [](const std::string& p) { return fs::path(p).filename().string(); };
    std::vector<std::pair<std::string, std::string>> named;
    if (!row.moe_records.empty())
      named.emplace_back("whole MoE layers", row.moe_records);
    if (!row.gemm_records.empty())
      named.emplace_back("dense GEMMs", row.gemm_records);
    if (!row.attention_records.empty())
      named.emplace_back("GQA decode attention", row.attention_records);
    const std::string& first = named.front().second;
    const bool same = std::all_of(named.begin(), named.end(), [&](const auto& p) { return p.second == first; });
    std::string parts;
    for (size_t i = 0; i < named.size(); i++) {
      parts += i == 0 ? "" : same ? (i + 1 == named.size() ? " and " : ", ") : ", ";
      parts += named[i].first + (same ? "" : " from " + name(named[i].second));
    }
    if (same)
      parts += " from " + name(first);
    o.compute = describe_compute_sources(first, shares);
    o.compute.replace(0, std::string("compute from " + name(first)).size(),
                      "compute (" + parts + ", the rest from the platform's " +
                          (cal.empty() ? "datasheet" : "measured calibration") + ")");
  }
  // The MoE backend the engine names, and whether the records hold its kernel at the row's shape
  // (else the fastest kernel measured there is read: core/moe_layer.hpp).
  if (!o.compute.empty() && sc.calibration && !sc.calibration->op_models.moe_layers.empty() &&
      sc.engine.moe_backend != MoeBackend::fastest) {
    const MoeLayerKey key = moe_layer_key(model_facts(study.model), sc.plan);
    const MoeLayerMatch m =
        sc.calibration->op_models.moe_layers.match(key, sc.engine.cuda_graphs, sc.engine.moe_backend);
    if (m.curve)
      o.compute += std::string("; MoE backend ") + to_string(sc.engine.moe_backend) +
                   (m.fallback ? " (no record of its kernel at this shape: the fastest kernel's)" : "") +
                   (key.power_law_alpha <= 0 ? ""
                    : m.even_routing
                        ? "; no power-law routed record at this shape: balanced routing's"
                        : "; routing power_law_" + number_text(key.power_law_alpha)) +
                   (m.split_stand_in ? "; no record of the MoE split tp" + std::to_string(key.moe_tp) + " ep" +
                                           std::to_string(key.moe_ep) + ": the records of ep" +
                                           std::to_string(key.moe_tp * key.moe_ep) + " on the same GPUs"
                                     : "");
  }
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

Calibration calibration_from_op_records(const std::string& root, const std::string& records)
{
  CalibrateRequest q;
  q.platform = fs::path(records).filename().string();
  q.op_benches = {root + "/" + records};
  q.root = root;
  return fit_calibration(q).calibration;
}

OpModels decode_attention_models(const std::string& root, const std::string& records)
{
  OpMeasurements m = load_op_measurements(root + "/" + records);
  const GpuCatalog cat = load_gpu_catalog(root + "/platforms/gpus.yaml");
  const GpuModel* g = find_gpu(cat, m.system.word("gpu"));
  const double bw = g->mem_bw.value();
  std::vector<OpRecord> keep;
  int dropped = 0;
  for (const OpRecord& r : m.ops) {
    if (r.key.kind != OpKind::attention_decode || r.key.variant != "gqa")
      continue;
    const std::vector<double>& d = r.dims; // d_qk, d_v, kv_heads, q_heads, batch, context
    const double kv = (d[0] + d[1]) * d[2] * d[4] * d[5] * bytes_per_element(r.key.kv_dtype);
    if (r.seconds < kv / bw) { dropped++; continue; }
    keep.push_back(r);
  }
  std::fprintf(stderr, "ATT %s: kept %zu dropped %d bw %g\n", records.c_str(), keep.size(), dropped, bw);
  m.ops = keep;
  m.moe.clear();
  m.host.clear();
  const auto sms = [&](const std::string& gpu) { const GpuModel* x = find_gpu(cat, gpu); return x ? double(x->sms) : 0.0; };
  const auto l2 = [&](const std::string& gpu) { const GpuModel* x = find_gpu(cat, gpu); return x ? x->l2.value() : 0.0; };
  return fit_op_benches({m}, {records}, HoldOut{}, nullptr, 0, sms, l2, std::nullopt).models;
}

bool below_hbm_read(const OpRecord& r, double hbm_bytes_per_s)
{
  if (r.key.kind != OpKind::attention_decode || r.dims.size() != 6)
    return false;
  // dims {d_qk, d_v, kv_heads, q_heads, batch, context}: K and V of every KV head at every position.
  const std::vector<double>& d = r.dims;
  const double kv = (d[0] + d[1]) * d[2] * d[4] * d[5] * bytes_per_element(r.key.kv_dtype);
  return r.seconds < kv / hbm_bytes_per_s;
}

OpModels gqa_decode_models(const std::string& root, const std::string& records)
{
  const std::string path = root + "/" + records;
  OpMeasurements m = load_op_measurements(path);
  const GpuCatalog cat = load_gpu_catalog(root + "/platforms/gpus.yaml");
  const GpuModel* g = find_gpu(cat, m.system.word("gpu"));
  if (!g || !(g->mem_bw.value() > 0))
    throw InputError(records, "system.gpu", "\"" + m.system.word("gpu") + "\" is not in platforms/gpus.yaml with a mem_bw",
                     "add the GPU to platforms/gpus.yaml, or drop attention_records");
  std::vector<OpRecord> keep;
  for (const OpRecord& r : m.ops)
    if (r.key.kind == OpKind::attention_decode && r.key.variant == "gqa" && !below_hbm_read(r, g->mem_bw.value()))
      keep.push_back(r);
  m.ops = std::move(keep);
  m.moe.clear();
  m.host.clear();
  m.graph_gaps.clear();
  const auto sms = [&cat](const std::string& gpu) {
    const GpuModel* x = find_gpu(cat, gpu);
    return x ? static_cast<double>(x->sms) : 0.0;
  };
  const auto l2 = [&cat](const std::string& gpu) {
    const GpuModel* x = find_gpu(cat, gpu);
    return x ? x->l2.value() : 0.0;
  };
  if (m.ops.empty())
    return {};
  return fit_op_benches({m}, {path}, HoldOut{}, nullptr, 0, sms, l2).models;
}

int add_gemm_models(OpModels& to, const OpModels& from)
{
  return add_models(to, from, OpKind::gemm);
}

int add_models(OpModels& to, const OpModels& from, OpKind kind)
{
  int added = 0;
  for (const KeyedOpModel& m : from.models)
    if (m.key.kind == kind && !to.find(m.key)) {
      to.models.push_back(m);
      added++;
    }
  std::sort(to.models.begin(), to.models.end(),
            [](const KeyedOpModel& a, const KeyedOpModel& b) { return a.key < b.key; });
  return added;
}

std::string describe_compute_sources(const std::string& records, const std::map<std::string, double>& shares)
{
  std::string from, specs = "specs 0%";
  for (const char* p : {"measured", "interpolated", "extrapolated", "specs"}) {
    const auto it = shares.find(p);
    const std::string pct = fmt_value("%.0f%%", it == shares.end() ? 0.0 : it->second * 100);
    if (std::string(p) == "specs")
      specs = "specs " + pct;
    else
      from += (from.empty() ? "" : ", ") + std::string(p) + " " + pct;
  }
  return "compute from " + fs::path(records).filename().string() + ": " + from + "; " + specs + " of the step";
}

PublishedRun run_published(const std::string& root, const std::string& file)
{
  PublishedRun run;
  run.rows = load_published_file(file);
  PlatformFiles files(root);
  Calibrations calibrations;
  RecordCalibrations from_records;
  for (const PublishedRow& r : run.rows)
    run.outcomes.push_back(simulate_row(r, file, root, files, calibrations, from_records));
  return run;
}

std::string render_published(const PublishedRun& run, const std::string& rows_name)
{
  const std::vector<PublishedRow>& rows = run.rows;
  const std::vector<PublishedOutcome>& outcomes = run.outcomes;
  std::vector<double> errors, labelled;
  std::vector<int> index;
  std::map<std::string, std::vector<double>> by_category;
  for (size_t i = 0; i < rows.size(); i++) {
    if (!outcomes[i].simulated)
      continue;
    const double e = metric_error(rows[i].metric, outcomes[i].value, rows[i].measured);
    (rows[i].missing.empty() ? errors : labelled).push_back(e);
    if (rows[i].missing.empty()) {
      index.push_back(static_cast<int>(i));
      by_category[rows[i].category].push_back(e);
    }
  }
  const ErrorSummary all = summarise_errors(errors);
  std::ostringstream o;
  o << "# Published serving figures against moesim\n\n"
    << "Written by `moesim published` from " << rows_name << " (regenerate: `moesim published "
    << (rows_name == "validate/public/published.yaml" ? std::string() : rows_name + " ") << "-o "
    << (rows_name.size() > 5 && rows_name.ends_with(".yaml") ? rows_name.substr(0, rows_name.size() - 5) : rows_name)
    << ".md`). Each row: the published figure with its source, moesim's figure for the "
       "same engine profile (workloads/engines), model, quantization, platform, plan and workload, and the error "
       "(moesim / published - 1 for a rate; published / moesim - 1 for a time per request, tpot_ms and ttft_ms, "
       "the serving loop's mean TPOT and TTFT: + is moesim too fast for every metric). Rows whose mechanism "
       "moesim lacks are labelled and kept out of the summary. "
       "Serve rows run the request mix through the continuous-batching loop (chunked prefill plus decode): each "
       "step's time comes from simulated decode steps at a few batches and two contexts and one prefill step of "
       "max_num_batched_tokens; sequences are limited (batch shown) by max_num_seqs per attention-DP replica and "
       "by the KV cache, which admits input + kv_output_share x output tokens per request (the engine's "
       "admission rule) and holds the usable memory less weights and activations (TensorRT-LLM: the usable "
       "fraction of what its profiling step of max_num_tokens leaves, kv_cache_memory: of_free); 'loop mean' is the mean decode batch over the run. Nothing here is tuned per row; "
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
    const PublishedOutcome& x = outcomes[i];
    std::string miss;
    for (const auto& m : r.missing)
      miss += (miss.empty() ? "" : "; ") + m;
    if (!x.simulated)
      miss += (miss.empty() ? "" : "; ") + std::string("not simulated: ") + x.why;
    o << "| " << r.id << " | " << r.engine << " | " << r.platform << " | " << r.plan << " | " << r.model << " | "
      << r.workload.describe() << (x.batch.empty() ? "" : " (batch " + x.batch + ")") << " | " << to_string(r.metric)
      << " | " << number(r.measured) << " | " << (x.simulated ? number(x.value) : "-") << " | ";
    if (x.simulated) {
      std::snprintf(buf, sizeof buf, "%+.0f%%", metric_error(r.metric, x.value, r.measured) * 100);
      o << buf;
    } else {
      o << "-";
    }
    o << " | " << cell(x.paths + (x.compute.empty() ? "" : "; " + x.compute)) << " | " << cell(miss) << " | " << cell(r.source) << " |\n";
  }
  return o.str();
}

} // namespace moesim
