#include "core/moe_layer.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <tuple>

namespace moesim {

namespace {
std::string fmt_tokens(double t)
{
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", t);
  return buf;
}

} // namespace

std::string describe(const MoeLayerKey& k)
{
  return "moe " + std::string(to_string(k.dtype)) + (k.block_scales ? " block" : "") + " hidden " +
         std::to_string(k.hidden) + " inter " + std::to_string(k.inter) + " top-" + std::to_string(k.topk) + " of " +
         std::to_string(k.experts) + " tp" + std::to_string(k.moe_tp) + " ep" + std::to_string(k.moe_ep) +
         (k.power_law_alpha > 0 ? " routing power_law_" + fmt_tokens(k.power_law_alpha) : "");
}

bool kernel_runs(const std::string& kernel, MoeBackend b)
{
  switch (b) {
    case MoeBackend::fastest: return true;
    case MoeBackend::cutlass: return kernel == "moe_torch_flow_cutlass";
    case MoeBackend::trtllm: return kernel == "moe_torch_flow_min_latency";
  }
  return false;
}

MoeLayerMatch MoeLayerModels::match(const MoeLayerKey& key, bool graph, MoeBackend backend) const
{
  MoeLayerMatch m = match_split(key, graph, backend);
  if (m.curve || key.moe_tp <= 1)
    return m;
  // No record of the expert-TP split: the expert-parallel split over the same GPUs stands in
  // (moe_layer.hpp says why; docs/engines.md "Expert-TP MoE layers from the EP records").
  MoeLayerKey ep = key;
  ep.moe_ep = key.moe_tp * key.moe_ep;
  ep.moe_tp = 1;
  MoeLayerMatch s = match_split(ep, graph, backend);
  s.split_stand_in = s.curve != nullptr;
  return s;
}

MoeLayerMatch MoeLayerModels::match_split(const MoeLayerKey& key, bool graph, MoeBackend backend) const
{
  if (key.power_law_alpha > 0) {
    MoeLayerMatch skewed = match_routing(key, graph, backend);
    if (skewed.curve)
      return skewed;
    MoeLayerKey even = key;
    even.power_law_alpha = 0;
    MoeLayerMatch m = match_routing(even, graph, backend);
    m.even_routing = m.curve != nullptr;
    return m;
  }
  return match_routing(key, graph, backend);
}

MoeLayerMatch MoeLayerModels::match_routing(const MoeLayerKey& key, bool graph, MoeBackend backend) const
{
  // Preference: the backend's own curve measured the same way, then measured the other way; then
  // the fastest kernels' curve, the same way before the other.
  const MoeLayerCurve* own[2] = {nullptr, nullptr};     // [same launch, other launch]
  const MoeLayerCurve* fastest[2] = {nullptr, nullptr};
  for (const MoeLayerCurve& c : curves) {
    if (c.key != key)
      continue;
    const int i = c.graph == graph ? 0 : 1;
    if (c.fastest && !fastest[i])
      fastest[i] = &c;
    if (backend != MoeBackend::fastest && !c.kernel.empty() && kernel_runs(c.kernel, backend) && !own[i])
      own[i] = &c;
  }
  if (backend == MoeBackend::fastest)
    return {fastest[0] ? fastest[0] : fastest[1], false};
  if (own[0] || own[1])
    return {own[0] ? own[0] : own[1], false};
  const MoeLayerCurve* f = fastest[0] ? fastest[0] : fastest[1];
  return {f, f != nullptr};
}

MoeLayerModels moe_layer_models(std::vector<MoeLayerRecord> records)
{
  // Sorted by curve, then tokens, then where (the file order), so any input order gives one result.
  std::stable_sort(records.begin(), records.end(), [](const MoeLayerRecord& a, const MoeLayerRecord& b) {
    return std::tie(a.key, a.graph, a.tokens) < std::tie(b.key, b.graph, b.tokens);
  });
  MoeLayerModels m;
  for (size_t begin = 0; begin < records.size();) {
    // One shape and split: [begin, end).
    size_t end = begin;
    while (end < records.size() && records[end].key == records[begin].key && records[end].graph == records[begin].graph)
      end++;
    std::map<std::string, MoeLayerCurve> by_kernel;
    MoeLayerCurve fastest{records[begin].key, records[begin].graph, records[begin].kernel, true, {}};
    for (size_t i = begin; i < end; i++) {
      const MoeLayerRecord& r = records[i];
      MoeLayerCurve& k =
          by_kernel.try_emplace(r.kernel, MoeLayerCurve{r.key, r.graph, r.kernel, false, {}}).first->second;
      if (!k.points.empty() && k.points.back().tokens == r.tokens)
        throw InputError(r.where, "tokens",
                         "a second record of " + describe(r.key) + (r.kernel.empty() ? "" : " kernel " + r.kernel) +
                             " at " + fmt_tokens(r.tokens) + " tokens (the first: " + k.points.back().where + ")",
                         "keep one record per shape and kernel");
      k.points.push_back({r.tokens, r.seconds, r.where});
      if (fastest.points.empty() || fastest.points.back().tokens != r.tokens)
        fastest.points.push_back({r.tokens, r.seconds, r.where});
      else if (r.seconds < fastest.points.back().seconds)
        fastest.points.back() = {r.tokens, r.seconds, r.where};
    }
    if (by_kernel.size() > 1)
      fastest.kernel.clear();
    m.curves.push_back(std::move(fastest));
    if (by_kernel.size() > 1)
      for (auto& [name, c] : by_kernel)
        m.curves.push_back(std::move(c));
    begin = end;
  }
  return m;
}

MoeLayerKey moe_layer_key(const ModelFacts& f, const Plan& p)
{
  MoeLayerKey key;
  key.dtype = f.dtypes.expert_weights;
  key.block_scales = key.dtype == Dtype::fp8 && f.dtypes.fp8_block_scales;
  key.hidden = f.hidden;
  key.inter = f.moe.expert_intermediate;
  key.topk = f.moe.top_k;
  key.experts = f.moe.experts;
  key.moe_tp = p.moe_tp;
  key.moe_ep = p.ep;
  key.power_law_alpha = f.moe.routing_power_law_alpha;
  return key;
}

perf::Estimate moe_layer_seconds(const MoeLayerCurve& c, double tokens)
{
  if (!(tokens > 0))
    throw std::invalid_argument("moe_layer_seconds: tokens must be positive");
  const std::vector<MoeLayerPoint>& p = c.points;
  if (p.empty())
    throw std::invalid_argument("moe_layer_seconds: a curve without points");
  if (tokens <= p.front().tokens)
    return {p.front().seconds, tokens == p.front().tokens ? perf::Provenance::measured : perf::Provenance::extrapolated};
  // The first record at or above `tokens`; past the last, the last segment continues.
  auto hi = std::lower_bound(p.begin(), p.end(), tokens,
                             [](const MoeLayerPoint& a, double t) { return a.tokens < t; });
  if (hi != p.end() && hi->tokens == tokens)
    return {hi->seconds, perf::Provenance::measured};
  const bool outside = hi == p.end();
  if (outside && p.size() == 1)
    return {p.front().seconds, perf::Provenance::extrapolated};
  if (outside)
    --hi;
  const auto lo = hi - 1;
  const double slope = (hi->seconds - lo->seconds) / (hi->tokens - lo->tokens);
  const double s = outside ? hi->seconds + slope * (tokens - hi->tokens) : lo->seconds + slope * (tokens - lo->tokens);
  return {std::max(s, 0.0), outside ? perf::Provenance::extrapolated : perf::Provenance::interpolated};
}

MoeLayerSplit split_moe_layer(double layer_s, double small_s, double up_s, double down_s)
{
  MoeLayerSplit s;
  if (small_s >= layer_s) {
    s.small_scale = small_s > 0 ? layer_s / small_s : 1.0;
    return s;
  }
  const double gemms = layer_s - small_s;
  const double both = up_s + down_s;
  // Without estimates of their own (both 0), the FLOPs' 2:1 (gate+up against down).
  const double up_share = both > 0 ? up_s / both : 2.0 / 3.0;
  s.up = gemms * up_share;
  s.down = gemms - s.up;
  return s;
}

std::map<int, MoeLayerTime> moe_layer_times(const MoeLayerModels& m, const Schedule& s, int rank, bool graph,
                                            const std::function<MoeLayerTime(const Op&)>& own)
{
  std::map<int, MoeLayerTime> out;
  if (m.empty() || rank < 0 || rank >= static_cast<int>(s.ranks.size()))
    return out;
  const Plan& p = s.layout.plan;
  const ModelFacts& f = s.facts;
  if (f.moe.experts <= 0 || f.moe.top_k <= 0 || p.redundant_experts > 0)
    return out;
  // The ops of each (layer, microbatch)'s MoE block that a fused layer record includes.
  struct Layer {
    const Op *topk = nullptr, *permute = nullptr, *up = nullptr, *act = nullptr, *down = nullptr,
             *unpermute = nullptr;
    bool unfused = false; // a dequantise pass, a per-expert loop: not the fused kernel measured
  };
  std::map<std::pair<int, int>, Layer> layers;
  for (const Op& op : s.ranks[rank].ops) {
    if (op.family != OpFamily::moe || op.layer < 0)
      continue;
    Layer& l = layers[{op.layer, op.microbatch}];
    switch (op.role) {
      case OpRole::topk: l.topk = &op; break;
      case OpRole::permute: l.permute = &op; break;
      case OpRole::experts_up: l.up = &op; break;
      case OpRole::experts_act: l.act = &op; break;
      case OpRole::experts_down: l.down = &op; break;
      case OpRole::unpermute: l.unpermute = &op; break;
      case OpRole::dequant:
      case OpRole::expert:
      case OpRole::expert_count_sync: l.unfused = true; break;
      default: break;
    }
  }
  MoeLayerKey key = moe_layer_key(f, p);
  for (const auto& [where, l] : layers) {
    if (l.unfused || !l.up || !l.down || l.up->kernels != 1 || l.down->kernels != 1)
      continue;
    key.dtype = l.up->dtype;
    key.block_scales = key.dtype == Dtype::fp8 && f.dtypes.fp8_block_scales;
    const MoeLayerMatch match = m.match(key, graph, s.engine.moe_backend);
    const MoeLayerCurve* c = match.curve;
    if (!c)
      continue;
    const double rows = l.up->grouped().total_rows();
    if (!(rows > 0))
      continue;
    // The tokens entering the layer on a GPU are the same under the stand-in split (every GPU of
    // the group sees them all), so the curve is read at the same count.
    perf::Estimate layer = moe_layer_seconds(*c, rows * p.ep / f.moe.top_k);
    if (match.split_stand_in && layer.provenance == perf::Provenance::measured)
      layer.provenance = perf::Provenance::interpolated; // another split's measurement, not this one's
    double small = 0;
    std::vector<std::pair<const Op*, MoeLayerTime>> smalls;
    for (const Op* o : {l.topk, l.permute, l.act, l.unpermute})
      if (o) {
        smalls.emplace_back(o, own(*o));
        small += smalls.back().second.seconds;
      }
    const MoeLayerTime up = own(*l.up), down = own(*l.down);
    const MoeLayerSplit sp = split_moe_layer(layer.seconds, small, up.seconds, down.seconds);
    out[l.up->id] = {sp.up, layer.provenance};
    out[l.down->id] = {sp.down, layer.provenance};
    // The six ops sum to the measurement, so all of them carry its provenance: the small kernels'
    // own estimates only decide how the measured time is shared out (scaled down to the layer when
    // they alone exceed it), not how long the layer takes.
    for (auto [o, t] : smalls)
      out[o->id] = {t.seconds * std::min(1.0, sp.small_scale), layer.provenance};
  }
  return out;
}

} // namespace moesim
