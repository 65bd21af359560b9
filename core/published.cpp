#include "core/published.hpp"

#include "core/limits.hpp"
#include "core/plan.hpp"
#include "core/yaml_reader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <filesystem>

namespace moesim {

const char* to_string(Metric m)
{
  switch (m) {
    case Metric::tok_s_user: return "tok/s/user";
    case Metric::tok_s_gpu: return "tok/s/GPU";
    case Metric::tok_s_node: return "tok/s/node";
    case Metric::tok_s_rank: return "tok/s/rank";
    case Metric::tok_s: return "tok/s";
    case Metric::tpot_ms: return "TPOT ms";
    case Metric::ttft_ms: return "TTFT ms";
  }
  return "?";
}

bool is_time(Metric m)
{
  return m == Metric::tpot_ms || m == Metric::ttft_ms;
}

double time_metric_ms(Metric m, double mean_ttft_s, double mean_tpot_s)
{
  return 1000 * (m == Metric::ttft_ms ? mean_ttft_s : mean_tpot_s);
}

double metric_error(Metric m, double simulated, double measured)
{
  return is_time(m) ? measured / simulated - 1 : simulated / measured - 1;
}

std::string PublishedWorkload::describe() const
{
  switch (kind) {
    case WorkloadKind::decode: return "decode b" + std::to_string(batch) + " ctx " + std::to_string(context);
    case WorkloadKind::serve:
      return "serve " +
             (!lengths.pairs.empty() ? std::filesystem::path(lengths.pairs_file).filename().string()
              : lengths.varied()     ? lengths.input.describe() + " / " + lengths.output.describe()
                                     : std::to_string(input) + "/" + std::to_string(output)) +
             " x" + std::to_string(requests) + (concurrency > 0 ? " c" + std::to_string(concurrency) : "") +
             (disagg ? " apart: " + std::to_string(disagg->prefill_instances) + "P " + disagg->prefill_plan + " + " +
                           std::to_string(disagg->decode_instances) + "D"
                     : "");
    case WorkloadKind::prefill:
      return "prefill " + std::to_string(prompt) + " (" + std::to_string(tokens_per_gpu) + "/GPU)";
  }
  return "?";
}

namespace {

const std::map<std::string, Metric> metrics = {{"tok_s_user", Metric::tok_s_user},
                                               {"tok_s_gpu", Metric::tok_s_gpu},
                                               {"tok_s_node", Metric::tok_s_node},
                                               {"tok_s_rank", Metric::tok_s_rank},
                                               {"tok_s", Metric::tok_s},
                                               {"tpot_ms", Metric::tpot_ms},
                                               {"ttft_ms", Metric::ttft_ms}};

// A serve length: a whole number, or a map {dist: uniform, min, max} or {dist: lognormal, mean,
// sigma (or median), min, max}: a lognormal is clipped to [min, max], its mean the unclipped one's.
LengthDist read_length(Fields& f, const std::string& key, int& fixed)
{
  LengthDist d;
  YAML::Node n = f.node(key);
  if (!n.IsMap()) {
    fixed = f.integer_in(key, 1, limits::context);
    d.value = fixed;
    return d;
  }
  Fields g(f.file(), n, f.path(key));
  const std::string dist = g.str("dist");
  if (dist == "uniform")
    d.kind = LengthKind::uniform;
  else if (dist == "lognormal")
    d.kind = LengthKind::lognormal;
  else
    g.fail("dist", "unknown distribution '" + dist + "'", "use uniform {min, max} or lognormal {mean, sigma or median, min, max}");
  d.min = g.integer_in("min", 1, limits::context);
  d.max = g.integer_in("max", 1, limits::context);
  if (d.min > d.max)
    g.fail("max", "max " + std::to_string(d.max) + " is below min " + std::to_string(d.min), "give min <= max");
  if (d.kind == LengthKind::lognormal) {
    d.mean = g.num("mean", positive(limits::context));
    if (g.has("sigma") == g.has("median"))
      g.fail("sigma", "give exactly one of sigma and median", "sigma: the standard deviation of ln(length); or median: "
                                                            "the median length (mean >= median > 0)");
    if (g.has("sigma")) {
      d.sigma = g.num("sigma", non_negative(10));
    } else {
      const double median = g.num("median", positive(limits::context));
      if (median > d.mean)
        g.fail("median", "the median is above the mean", "a lognormal's median is at most its mean");
      d.sigma = lognormal_sigma_from_median(d.mean, median);
    }
  }
  g.finish();
  return d;
}

PublishedWorkload read_workload(Fields& f)
{
  PublishedWorkload w;
  const std::string kind = f.str("kind");
  // Counts in the ranges a study and `moesim serve` take (core/limits.hpp; serve's 10^6 requests,
  // pipeline/serve_run.cpp): a negative context or a billion-token prompt is a typo, not a workload.
  auto count = [&](const char* key, int lo, int hi) { return f.integer_in(key, lo, hi); };
  if (kind == "decode") {
    w.kind = WorkloadKind::decode;
    w.batch = count("batch", 1, limits::batch);
    w.context = count("context", 0, limits::context);
  } else if (kind == "serve") {
    w.kind = WorkloadKind::serve;
    if (f.has("lengths")) {
      // A CSV of (input, output) pairs, relative to this file; request i takes pair i mod their count.
      for (const char* k : {"input", "output"})
        if (f.has(k))
          f.fail(k, "given with lengths, which already sets every request's lengths", "drop input and output");
      const std::string rel = f.str("lengths");
      const std::filesystem::path base = std::filesystem::path(f.file()).parent_path();
      w.lengths.pairs_file = std::filesystem::path(rel).is_absolute() ? rel : (base / rel).string();
      w.lengths.pairs = read_lengths_file(w.lengths.pairs_file, limits::context);
    } else {
      w.lengths.input = read_length(f, "input", w.input);
      w.lengths.output = read_length(f, "output", w.output);
    }
    w.requests = count("requests", 1, 1'000'000);
    w.concurrency = count("concurrency", 0, 1'000'000);
    w.lengths.seed = static_cast<std::uint64_t>(f.integer_in("seed", 1, 0, INT_MAX));
    if (auto d = f.maybe("disaggregated")) {
      if (!d->IsMap())
        f.fail("disaggregated", "expected a map", "write {prefill_platform, prefill_plan, prefill_instances, "
                                                  "decode_instances[, kv_link, prefill_engine_set, decode_engine_set]}");
      Fields g(f.file(), *d, f.path("disaggregated"));
      DisaggSpec spec;
      spec.prefill_platform = g.str("prefill_platform");
      spec.prefill_plan = g.str("prefill_plan");
      try {
        (void)Plan::parse(spec.prefill_plan);
      } catch (const std::invalid_argument& e) {
        g.fail("prefill_plan", e.what(), "write a plan like tp8, ep8 or dp8xep8");
      }
      spec.prefill_instances = g.integer_in("prefill_instances", 1, 4096);
      spec.decode_instances = g.integer_in("decode_instances", 1, 4096);
      spec.kv_link_gbs = g.has("kv_link") ? g.num("kv_link", Bounds{1e-3, 1e5}) : 0.0;
      for (const auto& [key, set] : {std::pair{"prefill_engine_set", &spec.prefill_engine_set},
                                     {"decode_engine_set", &spec.decode_engine_set}})
        if (auto e = g.maybe(key)) {
          if (!e->IsMap())
            g.fail(key, "expected a map of engine facts", "write {fact: value}");
          for (const auto& kv : *e)
            set->emplace_back(kv.first.Scalar(), YAML::Dump(kv.second));
        }
      g.finish();
      w.disagg = spec;
    }
  } else if (kind == "prefill") {
    w.kind = WorkloadKind::prefill;
    w.prompt = count("prompt", 1, limits::context);
    w.tokens_per_gpu = count("tokens_per_gpu", 1, static_cast<int>(limits::step_tokens));
  } else {
    f.fail("kind", "unknown workload '" + kind + "'", "use decode, serve or prefill");
  }
  f.finish();
  return w;
}

} // namespace

std::vector<PublishedRow> load_published_file(const std::string& path)
{
  YAML::Node doc = load_yaml_file(path);
  Fields top(path, doc, "");
  YAML::Node rows = top.node("rows");
  if (!rows.IsSequence() || rows.size() == 0)
    top.fail("rows", "expected a non-empty list", "write rows: [- id: ...]");
  top.finish();
  std::vector<PublishedRow> out;
  for (const auto& n : rows) {
    Fields f(path, n, "rows[]");
    PublishedRow r;
    r.line = n.Mark().line + 1;
    r.id = f.str("id");
    r.category = f.str("category");
    r.source = f.str("source");
    (void)f.str("date");
    r.engine = f.str("engine");
    (void)f.str("engine_version");
    r.model = f.str("model");
    r.platform = f.str("platform");
    (void)f.str("interconnect");
    r.plan = f.str("plan");
    r.note = f.str("note", "");
    r.op_records = f.str("op_records", "");
    r.moe_records = f.str("moe_records", "");
    if (!r.op_records.empty() && !r.moe_records.empty())
      f.fail("moe_records", "given with op_records, which already bring the records' MoE layers",
             "keep op_records (every op from the records) or moe_records (only the MoE layers)");
    r.gemm_records = f.str("gemm_records", "");
    if (!r.op_records.empty() && !r.gemm_records.empty())
      f.fail("gemm_records", "given with op_records, which already bring the records' GEMMs",
             "keep op_records (every op from the records) or gemm_records (only the dense GEMMs)");
    r.attention_records = f.str("attention_records", "");
    if (!r.op_records.empty() && !r.attention_records.empty())
      f.fail("attention_records", "given with op_records, which already bring the records' attention",
             "keep op_records (every op from the records) or attention_records (only the GQA decode attention)");
    if (auto d = f.maybe("dtypes")) {
      Fields df(path, *d, "rows[].dtypes");
      for (const auto& kv : *d)
        r.dtypes[kv.first.Scalar()] = df.str(kv.first.Scalar());
      df.finish();
    }
    if (auto e = f.maybe("engine_set")) {
      if (!e->IsMap())
        f.fail("engine_set", "expected a map of engine facts", "write {fact: value}");
      for (const auto& kv : *e)
        r.engine_set.emplace_back(kv.first.Scalar(), YAML::Dump(kv.second));
    }
    Fields wf(path, f.node("workload"), "rows[].workload");
    r.workload = read_workload(wf);
    const std::string metric = f.str("metric");
    auto it = metrics.find(metric);
    if (it == metrics.end())
      f.fail("metric", "unknown metric '" + metric + "'",
             "use tok_s_user, tok_s_gpu, tok_s_node, tok_s_rank, tok_s, tpot_ms or ttft_ms");
    r.metric = it->second;
    if (is_time(r.metric) && r.workload.kind != WorkloadKind::serve)
      f.fail("metric", metric + " is a time per request of the serving loop, and this row's workload is not a serve",
             "give the row workload: {kind: serve, ...}, or a rate metric (tok_s_user ...)");
    r.measured = f.num("measured");
    if (r.measured <= 0)
      f.fail("measured", "must be positive", "write the published figure");
    if (auto m = f.maybe("missing")) {
      // A flow-list entry "a: b" reads as a one-pair map: keep it as the text it was.
      if (!m->IsSequence())
        f.fail("missing", "expected a list", "write `missing: [what moesim lacks]`");
      for (const auto& x : *m)
        r.missing.push_back(x.IsMap() && x.size() == 1 ? x.begin()->first.Scalar() + ": " + x.begin()->second.Scalar()
                                                       : x.Scalar());
    }
    f.finish();
    out.push_back(std::move(r));
  }
  return out;
}

double rate_metric(Metric m, double total_tok_s, int seqs, int gpus)
{
  switch (m) {
    case Metric::tok_s_user: return total_tok_s / seqs;
    case Metric::tok_s: return total_tok_s;
    case Metric::tok_s_gpu:
    case Metric::tok_s_rank: return total_tok_s / gpus;
    case Metric::tok_s_node: return total_tok_s / gpus * std::min(8, gpus);
    case Metric::tpot_ms:
    case Metric::ttft_ms: break; // times, not rates: time_metric_ms
  }
  return 0;
}

double serve_tok_s(int batch, int output, double tokens_per_step, double decode_step_s, double prefill_s_per_request)
{
  const double steps = std::ceil(output / tokens_per_step);
  return double(batch) * output / (batch * prefill_s_per_request + steps * decode_step_s);
}

ErrorSummary summarise_errors(const std::vector<double>& signed_errors)
{
  ErrorSummary s;
  std::vector<double> a;
  for (size_t i = 0; i < signed_errors.size(); i++) {
    const double e = std::fabs(signed_errors[i]);
    a.push_back(e);
    if (e > s.worst || s.worst_index < 0)
      s.worst = e, s.worst_index = static_cast<int>(i);
  }
  s.rows = static_cast<int>(a.size());
  if (a.empty())
    return s;
  std::sort(a.begin(), a.end());
  const size_t n = a.size();
  s.median = n % 2 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
  return s;
}

} // namespace moesim
