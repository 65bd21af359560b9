#include "core/op_fit.hpp"

#include "core/error.hpp"
#include "core/family_shapes.hpp"
#include "core/model_loader.hpp"
#include "core/stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace moesim {

perf::FormKind default_decode_form(const std::vector<OpMeasurements>& benches)
{
  const bool harness = !benches.empty() && std::all_of(benches.begin(), benches.end(), [](const OpMeasurements& b) {
    return b.source == kHarnessOpBenchSource;
  });
  return harness ? perf::FormKind::decode_tiles : perf::FormKind::decode_splitk;
}

// A step reads its greedy sample's logits and its embedding rows cold (nothing of the step wrote them
// just before), as bench-ops's records with "inputs": "cold" do; older records timed their instances
// over one buffer, warm in L2 after the first when it fits (the argmax of 28 x 151,936 fp32 logits: 43-50
// us so, 82 us in a round-13 step on an H100). Where a model (kind, dtype, launch) has cold records, its
// other records are dropped from `train`; returns how many.
size_t superseded_by_cold(std::vector<OpRecord>& train)
{
  std::set<OpModelKey> cold;
  for (const OpRecord& r : train)
    if (r.cold_inputs)
      cold.insert(r.key);
  const auto warm = [&](const OpRecord& r) { return !r.cold_inputs && cold.count(r.key) > 0; };
  const size_t before = train.size();
  train.erase(std::remove_if(train.begin(), train.end(), warm), train.end());
  return before - train.size();
}

OpBenchFit fit_op_benches(const std::vector<OpMeasurements>& benches, const std::vector<std::string>& files,
                          const HoldOut& hold_out, const std::function<bool(const OpRecord&)>& exclude, double sms,
                          const std::function<double(const std::string&)>& catalogue_sms,
                          const std::function<double(const std::string&)>& catalogue_l2, std::optional<perf::FormKind> decode_form,
                          perf::FormKind prefill_form)
{
  OpBenchFit out;
  std::vector<OpRecord> train, held;
  std::vector<double> gaps;
  std::vector<MoeLayerRecord> moe;
  std::map<std::tuple<std::string, bool, int>, std::vector<double>> host;
  const OpBenchSystem* sys = nullptr;
  for (size_t b = 0; b < benches.size(); b++) {
    const OpMeasurements& bench = benches[b];
    if (sys && (bench.system.word("gpu") != sys->word("gpu") || bench.system.number("sms") != sys->number("sms")))
      throw InputError(files.at(b), "system", "measured on " + bench.system.describe() + ", not on " + sys->describe(),
                       "fit one GPU's records at a time");
    if (!sys)
      sys = &bench.system;
    if (bench.complete == false)
      out.incomplete.push_back(files.at(b));
    out.models.source += (out.models.source.empty() ? "" : "; ") + bench.source;
    for (const OpRecord& r : bench.ops) {
      const bool ex = exclude && exclude(r);
      if (ex || hold_out.holds(r)) {
        held.push_back(r);
        out.excluded += ex;
      } else {
        train.push_back(r);
      }
    }
    gaps.insert(gaps.end(), bench.graph_gaps.begin(), bench.graph_gaps.end());
    moe.insert(moe.end(), bench.moe.begin(), bench.moe.end());
    for (const auto& [op, n] : bench.unmodelled)
      out.unmodelled[op] += n;
    for (const HostApiCost& h : bench.host)
      host[{h.api, h.busy, h.threads}].push_back(h.seconds);
  }
  out.superseded = superseded_by_cold(train);
  out.held_out = held.size();
  if (sys)
    out.models.system = sys->describe();
  FitOptions opt;
  // The SM count: --sms, else the records' system, else the GPU catalogue's entry for their GPU.
  opt.sms = sms > 0 ? sms : sys ? sys->number("sms") : 0;
  if (!(opt.sms > 0) && sys && catalogue_sms && !sys->word("gpu").empty()) {
    opt.sms = catalogue_sms(sys->word("gpu"));
    if (opt.sms > 0)
      out.models.system += " (SM count " + std::to_string(static_cast<int>(opt.sms)) + " from the GPU catalogue)";
  }
  opt.l2_bytes = sys ? sys->number("l2_bytes") : 0;
  opt.sm = perf::sm_limits(sys ? sys->word("cc") : "");
  opt.decode_form = decode_form ? *decode_form : default_decode_form(benches);
  opt.prefill_form = prefill_form;
  if (!(opt.l2_bytes > 0) && sys && catalogue_l2 && !sys->word("gpu").empty())
    opt.l2_bytes = catalogue_l2(sys->word("gpu"));
  if (!train.empty() && !(opt.sms > 0))
    throw InputError(files.empty() ? "" : files.front(), "system.sms", "missing",
                     "give the GPU's SM count (the forms count tiles and waves over it): in the file, as sms in "
                     "platforms/gpus.yaml for its system.gpu, or calibrate --sms N");
  if (sms > 0)
    out.models.system += " (SM count " + std::to_string(static_cast<int>(sms)) + " given by --sms)";
  out.models = [&] {
    OpModels m = fit_op_models(train, gaps, opt);
    m.source = out.models.source;
    m.system = out.models.system;
    m.moe_layers = moe_layer_models(moe);
    const bool cold = std::any_of(m.models.begin(), m.models.end(), [](const KeyedOpModel& km) { return km.key.variant == "cold"; });
    if (cold && !(opt.l2_bytes > 0))
      throw InputError(files.empty() ? "" : files.front(), "system.l2_bytes", "missing, and the records hold small kernels timed with cold inputs",
                       "give the GPU's L2 (the cold models blend in by how much the ops between kernels move against it): "
                       "as l2_bytes in the file's system, or as l2 in platforms/gpus.yaml for its system.gpu");
    m.l2_bytes = cold ? opt.l2_bytes : 0;
    return m;
  }();
  for (const auto& [k, v] : host)
    out.host.push_back({std::get<0>(k), std::get<1>(k), std::get<2>(k), median(v)});

  // Quality per model: in-sample from the fit, held-out by provenance.
  std::map<std::string, FitQuality> q;
  std::map<std::string, std::set<std::string>> kernels;
  for (const OpRecord& r : train)
    if (!r.kernel.empty())
      kernels[describe(r.key)].insert(r.kernel);
  for (const KeyedOpModel& km : out.models.models) {
    FitQuality& f = q[describe(km.key)];
    f.model = describe(km.key);
    f.fitted = km.fit.count;
    f.in_sample = km.fit;
    for (const std::string& k : kernels[f.model])
      f.kernels += (f.kernels.empty() ? "" : ", ") + k;
  }
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> errs;
  for (const OpRecord& r : held) {
    const std::optional<perf::Estimate> e = estimate_record(out.models, r);
    if (!e)
      continue;
    std::string name = describe(r.key);
    if (r.key.kind == OpKind::grouped_gemm && r.key.variant == "loop")
      name += " (sum of gemm)";
    auto& [in, outside] = errs[name];
    const double err = std::fabs(e->seconds / r.seconds - 1);
    (e->provenance == perf::Provenance::extrapolated ? outside : in).push_back(err);
  }
  for (auto& [name, e] : errs) {
    FitQuality& f = q[name];
    f.model = name;
    f.held_interpolated = perf::error_stats(e.first);
    f.held_extrapolated = perf::error_stats(e.second);
  }
  for (auto& [name, f] : q)
    out.quality.push_back(f);
  return out;
}

OpBenchFit fit_op_bench_files(const std::vector<std::string>& files, const std::vector<std::string>& hold_out,
                              const std::vector<std::string>& exclude_models, const std::string& models_dir,
                              double sms, const std::function<double(const std::string&)>& catalogue_sms,
                              const std::function<double(const std::string&)>& catalogue_l2, std::optional<perf::FormKind> decode_form,
                              perf::FormKind prefill_form)
{
  HoldOut h;
  for (const std::string& spec : hold_out) {
    try {
      add_hold_out(h, spec);
    } catch (const std::invalid_argument& e) {
      throw InputError("command line", "--hold-out", e.what(), "write DIM=V1,V2,... with a dim of the records (m, n, k, ...)");
    }
  }
  std::vector<Model> models;
  for (const std::string& name : exclude_models)
    models.push_back(load_model_file(resolve_model_path(name, models_dir)).model);
  const FamilyShapes shapes = family_shapes(models);
  std::vector<OpMeasurements> benches;
  for (const std::string& f : files)
    benches.push_back(load_op_measurements(f));
  std::function<bool(const OpRecord&)> exclude;
  if (!models.empty())
    exclude = [&shapes](const OpRecord& r) { return shapes.covers(r); };
  return fit_op_benches(benches, files, h, exclude, sms, catalogue_sms, catalogue_l2, decode_form, prefill_form);
}

std::string fit_quality_markdown(const OpBenchFit& fit)
{
  std::ostringstream o;
  char buf[256];
  auto cell = [&](const perf::ErrorStats& s) -> std::string {
    if (s.count == 0)
      return "-";
    std::snprintf(buf, sizeof buf, "%.1f%% / %.1f%% / %.1f%% (%zu)", s.median * 100, s.p90 * 100, s.worst * 100,
                  s.count);
    return buf;
  };
  o << "Records: " << fit.models.source << "\nGPU: " << fit.models.system << "\n";
  o << "Held out of the fit: " << fit.held_out << " records (" << fit.excluded << " by a model family's shapes).\n";
  if (fit.superseded > 0)
    o << "Superseded: " << fit.superseded << " sample/embedding records whose instances re-read one buffer (warm in L2), "
      << "left out for the same model's records with cold inputs.\n";
  if (!fit.models.moe_layers.empty()) {
    size_t points = 0;
    for (const MoeLayerCurve& c : fit.models.moe_layers.curves)
      points += c.points.size();
    o << "Whole MoE layers: " << points << " records in " << fit.models.moe_layers.curves.size()
      << " curves over tokens (interpolated linearly between records; not in a calibration file).\n";
  }
  for (const auto& [op, n] : fit.unmodelled)
    o << "Not modelled: " << n << " " << op << " records.\n";
  for (const std::string& f : fit.incomplete)
    o << "Incomplete run: " << f << ": its side file (.run.json) says complete: false (only the points run before the cut).\n";
  o << "\n| model | kernels | fitted records | in-sample: form alone, median / p90 / worst |error| (n) | held-out, "
       "inside the grid (interpolated) | held-out, outside the grid (extrapolated) |\n";
  o << "|---|---|---:|---:|---:|---:|\n";
  for (const FitQuality& f : fit.quality)
    o << "| " << f.model << " | " << f.kernels << " | " << f.fitted << " | " << cell(f.in_sample) << " | "
      << cell(f.held_interpolated) << " | " << cell(f.held_extrapolated) << " |\n";
  return o.str();
}

} // namespace moesim
