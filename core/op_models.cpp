#include "core/op_models.hpp"

#include "core/stats.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace moesim {

std::string describe(const OpModelKey& k)
{
  std::string s = to_string(k.kind);
  if (!k.variant.empty())
    s += " " + k.variant;
  s += std::string(" ") + to_string(k.dtype);
  if (k.kv_dtype != k.dtype)
    s += std::string(" kv ") + to_string(k.kv_dtype);
  if (k.window > 0)
    s += " window " + std::to_string(k.window);
  if (k.graph)
    s += " graph";
  return s;
}

bool gemm_aligned(double n, double k, Dtype dtype)
{
  // The stored element alone (bytes_per_element counts block scales in): fp4 half a byte, fp8 one.
  const double b = std::floor(bytes_per_element(dtype) * 2) / 2;
  const auto whole_units = [b](double d) { return std::fmod(d * b, 16.0) == 0; };
  return whole_units(n) && whole_units(k);
}

namespace op_dims {

std::vector<double> gemm(double batch, double m, double n, double k) { return {batch, m, n, k}; }

std::vector<double> grouped(double n, double k, const std::vector<double>& rows)
{
  double active = 0, total = 0;
  for (double r : rows)
    if (r > 0)
      active += 1, total += r;
  return {n, k, active, total};
}

std::vector<double> decode(double d_qk, double d_v, double kv_heads, double q_heads, double batch, double context)
{
  return {d_qk, d_v, kv_heads, q_heads, batch, context};
}

std::vector<double> prefill(double d_qk, double d_v, double kv_heads, double q_heads, double batch, double cached,
                            double prompt)
{
  return {d_qk, d_v, kv_heads, q_heads, batch, cached, prompt};
}

const std::vector<std::string>& small_fields(OpKind kind)
{
  static const std::vector<std::string> none, elements = {"elements"}, topk = {"tokens", "experts", "k"},
                                              perm = {"tokens", "k", "hidden"}, embed = {"tokens", "hidden"},
                                              sample = {"rows", "vocab"};
  switch (kind) {
    case OpKind::rmsnorm:
    case OpKind::silu_mul:
    case OpKind::residual_add:
    return elements;
    case OpKind::topk: return topk;
    case OpKind::permute:
    case OpKind::unpermute: return perm;
    case OpKind::embedding: return embed;
    case OpKind::sample: return sample;
    default: return none;
  }
}

int small_size_dims(OpKind kind) { return kind == OpKind::topk ? 2 : 0; }

std::vector<std::string> names(OpKind kind)
{
  switch (kind) {
    case OpKind::gemm: return {"batch", "m", "n", "k"};
    case OpKind::grouped_gemm: return {"n", "k", "active", "total_rows"};
    case OpKind::attention_decode: return {"d_qk", "d_v", "kv_heads", "q_heads", "batch", "context"};
    case OpKind::attention_prefill: return {"d_qk", "d_v", "kv_heads", "q_heads", "batch", "cached", "prompt"};
    default: return small_fields(kind);
  }
}

std::vector<std::string> grid_names(OpKind kind)
{
  if (kind == OpKind::grouped_gemm)
    return {"n", "k", "active", "rows_per_expert"};
  return names(kind);
}

} // namespace op_dims

const KeyedOpModel* OpModels::find(const OpModelKey& k) const
{
  auto it = std::lower_bound(models.begin(), models.end(), k,
                             [](const KeyedOpModel& m, const OpModelKey& key) { return m.key < key; });
  return it != models.end() && it->key == k ? &*it : nullptr;
}

perf::FormParams given_form(const OpModelKey& key, double sms, double bytes_per_item, double l2_bytes,
                            const perf::SmLimits& sm, perf::FormKind decode_form, perf::FormKind prefill_form)
{
  perf::FormParams p;
  p.sms = sms;
  p.l2_bytes = key.kind == OpKind::grouped_gemm ? l2_bytes : 0;
  const double b = bytes_per_element(key.dtype);
  switch (key.kind) {
    case OpKind::gemm:
    case OpKind::grouped_gemm:
      p.kind = key.kind == OpKind::gemm ? perf::FormKind::gemm_tiles : perf::FormKind::grouped_tiles;
      // Low-precision GEMMs quantise their activations too; outputs are bf16.
      p.bytes_a = std::min(b, 2.0);
      p.bytes_w = b;
      p.bytes_c = 2;
      break;
    case OpKind::attention_decode:
    case OpKind::attention_prefill:
      p.kind = key.kind == OpKind::attention_decode ? perf::FormKind::decode_splitk : prefill_form;
      if (key.kind == OpKind::attention_decode && perf::is_decode_tiles(decode_form) && sm.known()) {
        p.kind = decode_form;
        p.smem_per_sm = sm.smem_per_sm;
        p.smem_per_block = sm.smem_per_block;
        p.smem_reserved = sm.smem_reserved;
        p.threads_per_sm = sm.threads_per_sm;
      }
      p.bytes_a = b;
      p.bytes_w = bytes_per_element(key.kv_dtype);
      p.shared_kv = key.variant == "mla" && key.kind == OpKind::attention_decode;
      break;
    default:
      p.kind = perf::FormKind::floor_bandwidth;
      p.bytes_per_item = bytes_per_item;
      p.size_dims = op_dims::small_size_dims(key.kind);
      break;
  }
  return p;
}

bool HoldOut::holds(const OpRecord& r) const
{
  const std::vector<std::string> n = op_dims::names(r.key.kind);
  for (size_t i = 0; i < n.size() && i < r.dims.size(); i++)
    if (auto it = values.find(n[i]); it != values.end() && it->second.count(r.dims[i]))
      return true;
  return false;
}

void add_hold_out(HoldOut& h, const std::string& spec)
{
  const size_t eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
    throw std::invalid_argument("'" + spec + "' is not DIM=V1,V2,... (e.g. n=4096,7168)");
  const std::string dim = spec.substr(0, eq);
  std::stringstream list(spec.substr(eq + 1));
  std::string item;
  while (std::getline(list, item, ',')) {
    size_t pos = 0;
    double v = 0;
    try {
      v = std::stod(item, &pos);
    } catch (const std::exception&) {
      pos = 0;
    }
    if (pos == 0 || pos != item.size())
      throw std::invalid_argument("'" + item + "' in '" + spec + "' is not a number");
    h.values[dim].insert(v);
  }
}

OpModels fit_op_models(const std::vector<OpRecord>& records, const std::vector<double>& graph_gaps,
                       const FitOptions& opt)
{
  OpModels out;
  out.sms = opt.sms;
  if (!graph_gaps.empty())
    out.graph_gap_s = median(graph_gaps);
  std::map<OpModelKey, std::vector<const OpRecord*>> by_key;
  for (const OpRecord& r : records) {
    if (r.key.kind == OpKind::grouped_gemm && r.key.variant == "loop")
      continue;
    if (opt.exclude && opt.exclude(r))
      continue;
    by_key[r.key].push_back(&r);
  }
  if (!by_key.empty() && !(opt.sms > 0))
    throw std::invalid_argument("the GPU's SM count is needed to fit the forms");
  for (const auto& [key, recs] : by_key) {
    std::vector<perf::FitPoint> pts;
    std::vector<double> per_item;
    for (const OpRecord* r : recs) {
      pts.push_back({r->dims, r->rows, r->seconds});
      if (r->bytes > 0) {
        double size = 1;
        const int n = op_dims::small_size_dims(key.kind);
        for (size_t i = 0; i < r->dims.size() && (n == 0 || static_cast<int>(i) < n); i++)
          size *= r->dims[i];
        if (size > 0)
          per_item.push_back(r->bytes / size);
      }
    }
    const perf::FormParams given = given_form(key, opt.sms, per_item.empty() ? 2.0 : median(per_item), opt.l2_bytes,
                                                 opt.sm, opt.decode_form, opt.prefill_form);
    KeyedOpModel km;
    km.key = key;
    km.model = perf::fit_op_model(given, pts);
    std::vector<double> err;
    for (const OpRecord* r : recs)
      err.push_back(std::fabs(perf::form_seconds(km.model.form, r->dims, r->rows) / r->seconds - 1));
    km.fit = perf::error_stats(std::move(err));
    out.models.push_back(std::move(km));
  }
  return out;
}

std::optional<perf::Estimate> estimate_record(const OpModels& m, const OpRecord& r)
{
  if (r.key.kind == OpKind::grouped_gemm && r.key.variant == "loop") {
    // The experts' dense GEMMs share n and k, so one alignment class (gemm_aligned); a class without
    // a model of its own takes the aligned one's time, extrapolated (as op_time.cpp's queries do).
    const bool aligned = gemm_aligned(r.dims[0], r.dims[1], r.key.dtype);
    OpModelKey g{OpKind::gemm, aligned ? "" : unaligned_variant, r.key.dtype, r.key.dtype, r.key.graph, 0};
    const KeyedOpModel* km = m.find(g);
    bool fallback = false;
    if (!km && !aligned) {
      g.variant.clear();
      km = m.find(g);
      fallback = true;
    }
    if (!km)
      return std::nullopt;
    perf::Estimate sum{0, perf::Provenance::measured};
    for (double rows : r.rows) {
      if (rows <= 0)
        continue;
      const perf::Estimate e = km->model.estimate(op_dims::gemm(1, rows, r.dims[0], r.dims[1]));
      sum.seconds += e.seconds;
      sum.provenance = perf::weakest(sum.provenance, e.provenance);
    }
    if (fallback)
      sum.provenance = perf::weakest(sum.provenance, perf::Provenance::extrapolated);
    return sum;
  }
  const KeyedOpModel* km = m.find(r.key);
  if (!km && r.key.kind == OpKind::gemm && r.key.variant == unaligned_variant) {
    // As op_time.cpp's queries: an unaligned GEMM without a model of its class takes the aligned
    // model's time, extrapolated at best.
    OpModelKey aligned = r.key;
    aligned.variant.clear();
    if (const KeyedOpModel* a = m.find(aligned)) {
      perf::Estimate e = a->model.estimate(r.dims, r.rows);
      e.provenance = perf::weakest(e.provenance, perf::Provenance::extrapolated);
      return e;
    }
  }
  if (!km)
    return std::nullopt;
  return km->model.estimate(r.dims, r.rows);
}

} // namespace moesim
