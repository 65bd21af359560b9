#include "core/transfer.hpp"

#include "core/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace moesim {

double TransferGpu::peak(Dtype d) const
{
  auto it = flops.find(d);
  if (it != flops.end())
    return it->second;
  return flops.at(Dtype::bf16);
}

double TransferGpu::l2_bw() const
{
  return l2_bytes_per_clock_per_sm * sms * clock_hz;
}

void TransferGpu::check() const
{
  auto need = [&](bool ok, const char* what) {
    if (!ok)
      throw std::invalid_argument("GPU " + name + " has no " + what);
  };
  need(sms > 0, "SM count (sms)");
  need(clock_hz > 0, "SM boost clock (boost_clock_mhz)");
  need(mem_bw > 0, "memory bandwidth");
  need(l2_bytes > 0, "L2 size (l2)");
  need(flops.count(Dtype::bf16) && flops.at(Dtype::bf16) > 0, "bf16 tensor rate");
}

namespace {

double tiles_along(double extent, int tile)
{
  return std::ceil(extent / tile);
}

// A GEMM-shaped phase: rows x cols outputs over depth k, in 128 x 128 CTA tiles.
TileGroup gemm_tiles(double rows, double cols, double depth, double copies = 1)
{
  return {copies * tiles_along(rows, tile_rows) * tiles_along(cols, tile_cols),
          2 * std::min(rows, double(tile_rows)) * std::min(cols, double(tile_cols)) * depth};
}

void positive(const BenchRecord& r, std::initializer_list<const char*> keys)
{
  for (const char* k : keys)
    if (!(r.dim(k) > 0))
      throw std::invalid_argument(std::string(to_string(r.op)) + " record: '" + k + "' must be positive");
}

OpDemand gemm_demand(const BenchRecord& r)
{
  positive(r, {"m", "n", "k"});
  const double m = r.dim("m"), n = r.dim("n"), k = r.dim("k");
  const double b = r.dims.count("batch") ? std::max(1.0, r.dim("batch")) : 1.0;
  const Dtype d = *r.dtype;
  const double e = bytes_per_element(d), out = d == Dtype::fp32 ? 4 : 2;
  OpDemand o;
  o.math = d;
  o.flops = 2 * b * m * n * k;
  o.bytes = b * ((m * k + n * k) * e + m * n * out);
  o.tiles = {gemm_tiles(m, n, k, b)};
  return o;
}

OpDemand grouped_gemm_demand(const BenchRecord& r)
{
  positive(r, {"n", "k"});
  const double n = r.dim("n"), k = r.dim("k");
  const Dtype d = *r.dtype;
  const double e = bytes_per_element(d);
  OpDemand o;
  o.math = d;
  for (double rows : r.rows) {
    if (rows <= 0)
      continue;
    o.flops += 2 * rows * n * k;
    o.bytes += n * k * e + rows * (k * e + n * 2);
    o.tiles.push_back(gemm_tiles(rows, n, k));
  }
  return o;
}

// Query-key pairs a causal prefill of `s` new tokens after `c` cached ones computes, each query
// seeing at most `w` keys when w > 0: sum over v = c+1 .. c+s of min(v, w).
double causal_pairs(double s, double c, double w)
{
  const double lo = c + 1, hi = c + s;
  if (w <= 0 || hi <= w)
    return (lo + hi) * s / 2;
  const double top = std::max(lo - 1, std::min(hi, w)); // values lo..top are below the window
  const double below = top >= lo ? (lo + top) * (top - lo + 1) / 2 : 0;
  return below + (hi - std::max(top, lo - 1)) * w;
}

OpDemand attention_demand(const BenchRecord& r, bool decode)
{
  positive(r, {"batch", "q_heads", "kv_heads", "head_dim_qk", "head_dim_v"});
  const double b = r.dim("batch"), hq = r.dim("q_heads"), hkv = r.dim("kv_heads");
  const double dqk = r.dim("head_dim_qk"), dv = r.dim("head_dim_v"), w = r.dim("window");
  const double e = bytes_per_element(*r.dtype);
  const double ekv = r.kv_dtype.empty() ? e : bytes_per_element(parse_dtype(r.kv_dtype)); // the cache's
  const bool mla = r.attn == "mla";
  OpDemand o;
  o.math = *r.dtype;
  if (decode) {
    positive(r, {"context"});
    const double ctx = w > 0 ? std::min(r.dim("context"), w) : r.dim("context");
    // MLA decode reads one latent per position that serves as both key and value.
    const double kv_width = mla ? dqk : hkv * (dqk + dv);
    o.flops = 2 * b * hq * ctx * (dqk + dv);
    o.bytes = b * (ekv * ctx * kv_width + e * hq * (dqk + dv));
    return o; // split over the context: no wave quantisation
  }
  positive(r, {"prompt"});
  const double s = r.dim("prompt"), c = r.dim("cached");
  o.flops = 2 * b * hq * causal_pairs(s, c, w) * (dqk + dv);
  o.bytes = b * (e * s * (hq * dqk + hkv * (dqk + dv) + hq * dv) + ekv * c * hkv * (dqk + dv));
  const double count = b * hq * tiles_along(s, tile_rows); // one CTA per 128 queries of a head
  o.tiles = {{count, o.flops / count}};
  return o;
}

// A fused gated MoE layer on one GPU: every token's top-k assignments whose expert is local
// (1 / ep of them) run the gate+up GEMM (hidden -> 2 inter/tp), the activation and the down GEMM.
OpDemand moe_demand(const BenchRecord& r)
{
  positive(r, {"tokens", "hidden", "inter", "topk", "experts", "moe_tp", "moe_ep"});
  const double t = r.dim("tokens"), h = r.dim("hidden"), k = r.dim("topk"), experts = r.dim("experts");
  const double inter = r.dim("inter") / r.dim("moe_tp"), local = experts / r.dim("moe_ep");
  const double assigned = t * k / r.dim("moe_ep");
  // Experts with at least one token: balanced routing spreads assignments evenly; otherwise
  // each token picks an expert with probability k / experts (uniform routing).
  const double active = r.distribution == "balanced"
                            ? std::min(local, std::ceil(assigned))
                            : local * (1 - std::pow(std::max(0.0, 1 - k / experts), t));
  const Dtype d = *r.dtype;
  OpDemand o;
  // MXFP4 and int4 MoE tables are weight-only (w4a16): the math runs on bf16 activations.
  o.math = d == Dtype::mxfp4 || d == Dtype::int4 ? Dtype::bf16 : d;
  o.flops = 6 * assigned * h * inter;
  // Weights of the active experts, plus bf16 activations: the tokens read and the combined output
  // written (2 t h), and per assignment its permuted row, gate+up output (2 inter), activation
  // output (inter) and down output (h), each written once and read once (4 h + 6 inter).
  o.bytes = active * 3 * h * inter * bytes_per_element(d) + 2 * (2 * t * h + assigned * (4 * h + 6 * inter));
  const double rows = active > 0 ? assigned / active : 0;
  o.tiles = {gemm_tiles(rows, 2 * inter, h, active), gemm_tiles(rows, h, inter, active)};
  return o;
}

} // namespace

std::optional<OpDemand> op_demand(const BenchRecord& r)
{
  if (r.cold_study()) // a cold model (l2_reuse.hpp) is a measured GPU's: neither a source nor a shape to predict
    return std::nullopt;
  switch (r.op) {
    case BenchOp::gemm: return gemm_demand(r);
    case BenchOp::grouped_gemm: return grouped_gemm_demand(r);
    case BenchOp::attention_decode: return attention_demand(r, true);
    case BenchOp::attention_prefill: return attention_demand(r, false);
    case BenchOp::moe: return moe_demand(r);
    case BenchOp::graph_gap:
    case BenchOp::host: return std::nullopt;
    default: break;
  }
  // Small kernels: memory-bound by their bytes moved.
  if (!r.dims.count("bytes") || !(r.dim("bytes") > 0))
    return std::nullopt;
  OpDemand o;
  o.bytes = r.dim("bytes");
  o.math = r.dtype.value_or(Dtype::bf16);
  return o;
}

double compute_seconds(const OpDemand& d, const TransferGpu& g)
{
  const double peak = g.peak(d.math);
  if (d.tiles.empty())
    return d.flops / peak;
  const double per_sm = peak / g.sms;
  double s = 0;
  for (const TileGroup& t : d.tiles)
    if (t.count > 0)
      s += std::ceil(t.count / g.sms) * t.flops_each / per_sm;
  return s;
}

double memory_seconds(const OpDemand& d, const TransferGpu& g, const TransferOptions& o)
{
  const bool in_l2 = o.l2 && d.bytes <= 0.5 * g.l2_bytes;
  return d.bytes / (in_l2 ? g.l2_bw() : g.mem_bw);
}

double bound_seconds(const OpDemand& d, const TransferGpu& g, const TransferOptions& o)
{
  return std::max(compute_seconds(d, g), memory_seconds(d, g, o));
}

std::string op_class(const BenchRecord& r)
{
  std::string c = to_string(r.op);
  if (!r.attn.empty())
    c += " " + r.attn;
  if (!r.impl.empty())
    c += " " + r.impl;
  if (r.dtype)
    c += " " + std::string(to_string(*r.dtype));
  if (!r.scales.empty()) // block-scaled fp8: a kernel apart from per-tensor fp8
    c += " " + r.scales;
  if (!r.kv_dtype.empty()) // an fp8 KV cache: a kernel apart from the same-dtype cache
    c += " kv " + r.kv_dtype;
  return c;
}

double fit_fixed_seconds(const std::vector<std::pair<double, double>>& points)
{
  if (points.empty())
    return 0;
  std::vector<double> times;
  double s = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [x, y] : points) {
    times.push_back(y);
    const double w = 1 / (y * y);
    s += w, sx += w * x, sy += w * y, sxx += w * x * x, sxy += w * x * y;
  }
  const double t_median = median(times);
  const double det = s * sxx - sx * sx;
  if (!(det > 1e-12 * s * sxx))
    return *std::min_element(times.begin(), times.end());
  const double slope = (s * sxy - sx * sy) / det;
  const double a = (sy - slope * sx) / s;
  return std::clamp(a, 0.0, t_median);
}

double transfer_seconds(double t_from, double fixed_from, double bound_from, double bound_to, double clock_from,
                        double clock_to)
{
  const double f = std::min(t_from, fixed_from);
  const double scaled = bound_from > 0 ? (t_from - f) * bound_to / bound_from : t_from - f;
  return f * clock_from / clock_to + scaled;
}

Transfer::Transfer(const OpBench& source, TransferGpu from, TransferGpu to, TransferOptions opt)
    : source_(source), from_(std::move(from)), to_(std::move(to)), opt_(opt)
{
  from_.check();
  to_.check();
  // Fixed time per class: fitted through the memory-bound records, whose bound is known best (a
  // byte count over a bandwidth), or through all records of a class that has fewer than two.
  std::map<std::string, std::vector<std::pair<double, double>>> all, memory_bound;
  for (const BenchRecord& r : source_.records) {
    std::optional<OpDemand> d = op_demand(r);
    if (!d)
      continue;
    const std::string c = op_class(r);
    auto& entries = by_class_[c];
    by_shape_.emplace(shape_key(r), entries.size());
    entries.push_back({&r, *d});
    const double m = memory_seconds(*d, from_, opt_), b = bound_seconds(*d, from_, opt_);
    all[c].push_back({b, r.seconds});
    if (m >= b)
      memory_bound[c].push_back({b, r.seconds});
  }
  for (const auto& [c, p] : all) {
    auto mb = memory_bound.find(c);
    fixed_[c] = fit_fixed_seconds(mb != memory_bound.end() && mb->second.size() >= 2 ? mb->second : p);
  }
  if (!opt_.achieved_rate)
    return;
  // The roof of each class: the fraction of the source's bandwidth its records reached (bytes over
  // bandwidth, over the time less the fixed part), at the 90th percentile (nearest rank), at most 1.
  for (const auto& [c, entries] : by_class_) {
    std::vector<double> u;
    for (const Entry& e : entries) {
      const double v = e.record->seconds - std::min(e.record->seconds, fixed_seconds(c));
      if (v > 0)
        u.push_back(memory_seconds(e.demand, from_, opt_) / v);
    }
    if (u.empty())
      continue;
    std::sort(u.begin(), u.end());
    roof_[c] = std::min(1.0, nearest_rank(u, 0.9));
  }
}

double Transfer::fixed_seconds(const std::string& c) const
{
  auto it = fixed_.find(c);
  return it == fixed_.end() ? 0 : it->second;
}

double Transfer::predict_from(const Entry& e, const OpDemand& d) const
{
  if (opt_.achieved_rate) {
    const std::string c = op_class(*e.record);
    const double t = e.record->seconds, f = std::min(t, fixed_seconds(c));
    // The source's variable time at the asked shape (the nearest record's, scaled by the source's bound)
    const double b_e = bound_seconds(e.demand, from_, opt_), b_d = bound_seconds(d, from_, opt_);
    const double v = (t - f) * (b_e > 0 ? b_d / b_e : 1);
    if (!(v > 0))
      return f * from_.clock_hz / to_.clock_hz;
    const double c_from = compute_seconds(d, from_), m_from = memory_seconds(d, from_, opt_);
    const double scale = c_from > 0 && c_from >= m_from
                             ? compute_seconds(d, to_) / c_from
                             : (from_.sms * from_.clock_hz) / (to_.sms * to_.clock_hz);
    // The memory term at the class's roof, or at the fraction this op reached where that is higher
    // (so that the same GPU gives the same time); the rest of v is the op's own limit.
    auto roof = roof_.find(c);
    const double r = std::max(roof != roof_.end() ? roof->second : 1.0, m_from / v);
    const double m_src = m_from / r, m_dst = memory_seconds(d, to_, opt_) / r;
    constexpr double p = 4; // v^p = own^p + memory^p: a soft maximum of the two limits
    const double own = std::pow(std::max(0.0, std::pow(v, p) - std::pow(m_src, p)), 1 / p);
    return f * from_.clock_hz / to_.clock_hz + std::pow(std::pow(own * scale, p) + std::pow(m_dst, p), 1 / p);
  }
  return transfer_seconds(e.record->seconds, fixed_seconds(op_class(*e.record)), bound_seconds(e.demand, from_, opt_),
                          bound_seconds(d, to_, opt_), from_.clock_hz, to_.clock_hz);
}

namespace {

double shape_distance(const BenchRecord& a, const BenchRecord& b)
{
  double s = 0;
  for (const auto& [k, v] : a.dims) {
    auto it = b.dims.find(k);
    if (it != b.dims.end())
      s += std::fabs(std::log2((1 + v) / (1 + it->second)));
  }
  return s;
}

} // namespace

std::optional<Prediction> Transfer::predict(const BenchRecord& shape, bool nearest) const
{
  std::optional<OpDemand> d = op_demand(shape);
  if (!d)
    return std::nullopt;
  auto cls = by_class_.find(op_class(shape));
  if (cls == by_class_.end())
    return std::nullopt;
  const std::vector<Entry>& entries = cls->second;
  if (auto it = by_shape_.find(shape_key(shape)); it != by_shape_.end()) {
    const Entry& e = entries[it->second]; // the key holds the class, so the index is into this class
    return Prediction{predict_from(e, *d), true, e.record};
  }
  if (!nearest)
    return std::nullopt;
  const Entry* best = nullptr;
  double best_d = std::numeric_limits<double>::infinity();
  for (const Entry& e : entries) { // first of equal distances: the source file's order
    const double dist = shape_distance(shape, *e.record);
    if (dist < best_d)
      best_d = dist, best = &e;
  }
  return Prediction{predict_from(*best, *d), false, best->record};
}

bool Transfer::predicts(const BenchRecord& shape) const
{
  return by_class_.count(op_class(shape)) && op_demand(shape).has_value();
}

OpBench Transfer::predict_all() const
{
  OpBench out;
  out.source = "transfer from " + from_.name + " to " + to_.name + " (moesim docs/transfer.md" +
               std::string(opt_.l2 ? ", L2 term" : "") + ") of " + source_.source;
  out.system.text["gpu"] = to_.name;
  for (const BenchRecord& r : source_.records) {
    std::optional<OpDemand> d = op_demand(r);
    if (!d)
      continue;
    BenchRecord p = r;
    p.seconds = predict_from({&r, *d}, *d);
    p.reps.reset();
    p.spread.reset();
    p.source_row.clear();
    out.records.push_back(std::move(p));
  }
  return out;
}

} // namespace moesim
