#include "core/op_time.hpp"

#include "core/l2_reuse.hpp"

#include <algorithm>
#include <cmath>
#include <variant>

namespace moesim {

namespace {

// A sliding-window prefill as the unwindowed prefill the models were fitted on: query i sees the
// window's keys i - window + 1 .. i only (kernels/attention.cu skips the key blocks before that), so a
// prompt longer than the window runs as chunks = ceil(prompt / window) independent pieces of
// prompt / chunks queries, each behind window - 1 cached keys. A tile of window rows then spans
// window - 1 + window keys, as the windowed kernel's tile does. A prompt within the window, or no
// window, is the op's own shape.
struct Windowed {
  double chunks = 1, cached = 0, prompt = 0;
};
Windowed windowed_prefill(const AttentionShape& s)
{
  if (s.sliding_window <= 0 || s.prompt <= s.sliding_window)
    return {1, double(s.cached), double(s.prompt)};
  const double chunks = std::ceil(double(s.prompt) / s.sliding_window);
  return {chunks, double(s.sliding_window - 1), double(s.prompt) / chunks};
}

// The model query per shape struct: the same dims the op-performance models were fitted on (the
// harness's records), from the typed shape of the op's kind.
struct QueryOf {
  const Op& op;
  OpQuery q;

  std::optional<OpQuery> operator()(const std::monostate&) { return std::nullopt; }
  std::optional<OpQuery> operator()(const GemmShape& s)
  {
    // Block-scaled fp8 (128x128 weight blocks, DeepGEMM) is a kernel apart from per-tensor fp8: only
    // a model fitted on its own records answers it (op-bench `scales: block`).
    if (s.block_scales)
      q.key.variant = "block";
    else if (!gemm_aligned(double(s.n), double(s.k), op.dtype))
      q.key.variant = unaligned_variant; // another cuBLASLt kernel (op_models.hpp)
    q.dims = op_dims::gemm(double(s.batch), double(s.m), double(s.n), double(s.k));
    return q;
  }
  std::optional<OpQuery> operator()(const GroupedGemmShape& s)
  {
    q.key.variant = "fused";
    for (long r : round_group_rows(s.rows))
      q.rows.push_back(static_cast<double>(r));
    q.dims = op_dims::grouped(double(s.n), double(s.k), q.rows);
    return q;
  }
  std::optional<OpQuery> operator()(const AttentionShape& s)
  {
    q.key.variant = s.mla ? "mla" : "gqa";
    q.key.kv_dtype = s.kv_dtype; // an fp8 cache is its own kernel: only fp8-KV records answer it
    const double b = double(s.batch), h = double(s.q_heads);
    if (op.kind == OpKind::attention_decode) // absorbed MLA: one latent head of kv_lora_rank + rope_dim
      q.dims = s.mla ? op_dims::decode(double(s.kv_lora_rank + s.rope_dim), double(s.kv_lora_rank), 1, h, b,
                                       double(s.context()))
                     : op_dims::decode(double(s.head_dim_qk), double(s.head_dim_qk), double(s.kv_heads), h, b,
                                       double(s.context()));
    else { // MLA prefill: q_heads up-projected KV heads
      const Windowed w = windowed_prefill(s);
      q.dims = s.mla ? op_dims::prefill(double(s.head_dim_qk), double(s.head_dim_v), h, h, b * w.chunks, w.cached,
                                        w.prompt)
                     : op_dims::prefill(double(s.head_dim_qk), double(s.head_dim_qk), double(s.kv_heads), h,
                                        b * w.chunks, w.cached, w.prompt);
    }
    return q;
  }
  // The small kernels: the fields op_dims::small_fields names, in its order.
  std::optional<OpQuery> operator()(const RowsShape& s) { return small({s.elements()}); }
  std::optional<OpQuery> operator()(const ElementsShape& s) { return small({s.elements}); }
  std::optional<OpQuery> operator()(const TopkShape& s) { return small({double(s.tokens), double(s.experts), double(s.k)}); }
  std::optional<OpQuery> operator()(const PermuteShape& s) { return small({double(s.tokens), double(s.k), double(s.hidden)}); }
  std::optional<OpQuery> operator()(const EmbeddingShape& s) { return small({double(s.tokens), double(s.hidden)}); }
  std::optional<OpQuery> operator()(const SampleShape& s)
  {
    // Sampling reads fp32 logits whatever the model's dtype (the harness's argmax and bench-ops's
    // sample records do; serving engines upcast the LM head's output before sampling).
    q.key.dtype = q.key.kv_dtype = Dtype::fp32;
    return small({double(s.rows), double(s.vocab)});
  }

  std::optional<OpQuery> small(std::vector<double> dims)
  {
    if (dims.size() != op_dims::small_fields(op.kind).size())
      return std::nullopt;
    q.dims = std::move(dims);
    return q;
  }
};

} // namespace

std::optional<OpQuery> query_of(const Op& op)
{
  QueryOf v{op, {}};
  v.q.key.kind = op.kind;
  v.q.key.dtype = op.dtype;
  v.q.key.kv_dtype = op.dtype; // attention: its shape's KV cache (QueryOf)
  return std::visit(v, op.shape);
}

std::vector<OpQuery> loop_queries(const Op& op)
{
  std::vector<OpQuery> out;
  const auto* g = std::get_if<GroupedGemmShape>(&op.shape);
  if (op.kind != OpKind::grouped_gemm || !g)
    return out;
  for (long r : round_group_rows(g->rows))
    if (r > 0) {
      OpQuery q;
      q.key.kind = OpKind::gemm;
      q.key.dtype = q.key.kv_dtype = op.dtype;
      if (!gemm_aligned(double(g->n), double(g->k), op.dtype))
        q.key.variant = unaligned_variant;
      q.dims = op_dims::gemm(1, static_cast<double>(r), double(g->n), double(g->k));
      out.push_back(std::move(q));
    }
  return out;
}

namespace {

// One query through the models: the model measured the way the step runs (graph or stream) when
// there is one, else the other. A stream-measured time under a graph adds the graph gap per kernel;
// a graph-measured time in eager mode is used as it is (the GPU time of the kernel).
std::optional<perf::Estimate> keyed_estimate(const OpModels& m, OpQuery q, bool graph, int kernels)
{
  q.key.graph = graph;
  if (const KeyedOpModel* km = m.find(q.key))
    return km->model.estimate(q.dims, q.rows);
  q.key.graph = !graph;
  const KeyedOpModel* km = m.find(q.key);
  if (!km)
    return std::nullopt;
  perf::Estimate e = km->model.estimate(q.dims, q.rows);
  if (graph && m.graph_gap_s)
    e.seconds += kernels * *m.graph_gap_s;
  return e;
}

// As keyed_estimate; an unaligned dense GEMM (op_models.hpp's gemm_aligned) whose class has no model
// in either launch mode takes the aligned model's time, extrapolated at best: on an H100 the
// unaligned router ran 1.1-1.2x (k 4,096) to 3.8x (k 1,792) the aligned time, which no record of
// the aligned class can say (docs/perf-models.md, "GEMM alignment classes").
std::optional<perf::Estimate> model_estimate(const OpModels& m, OpQuery q, bool graph, int kernels)
{
  std::optional<perf::Estimate> e = keyed_estimate(m, q, graph, kernels);
  if (e || q.key.kind != OpKind::gemm || q.key.variant != unaligned_variant)
    return e;
  q.key.variant.clear();
  e = keyed_estimate(m, q, graph, kernels);
  if (e)
    e->provenance = perf::weakest(e->provenance, perf::Provenance::extrapolated);
  return e;
}

std::optional<OpTime> from_models(const OpModels& m, const Op& op, bool graph, double cold_fraction)
{
  if (m.models.empty())
    return std::nullopt;
  if (op.kind == OpKind::grouped_gemm && op.kernels > 1 && !op.grouped().rows.empty()) {
    OpTime sum{0, perf::Provenance::measured};
    for (const OpQuery& q : loop_queries(op)) {
      const std::optional<perf::Estimate> e = model_estimate(m, q, graph, 1);
      if (!e)
        return std::nullopt;
      sum.seconds += e->seconds;
      sum.provenance = perf::weakest(sum.provenance, e->provenance);
    }
    return sum;
  }
  std::optional<OpQuery> q = query_of(op);
  if (!q)
    return std::nullopt;
  std::optional<perf::Estimate> e = model_estimate(m, *q, graph, op.kernels);
  // MLA prefill runs un-absorbed: multi-head attention with the model's own head dims and one KV
  // head per query head, the kernel a GQA model times. Without an MLA prefill model, the GQA one
  // answers at those dims (no record of it: the datasheet answered, 8x short on an H200).
  if (!e && op.kind == OpKind::attention_prefill && q->key.variant == "mla") {
    q->key.variant = "gqa";
    e = model_estimate(m, *q, graph, op.kernels);
  }
  if (!e)
    return std::nullopt;
  // A small kernel whose inputs the ops before it evicted from L2 (l2_reuse.hpp): the warm time plus
  // the fraction of what its cold model adds (none where cold measured faster: noise, not a mechanism).
  if (cold_fraction > 0 && cold_blends(op.kind) && q->key.variant.empty()) {
    OpQuery cq = *q;
    cq.key.variant = "cold";
    if (const std::optional<perf::Estimate> c = model_estimate(m, cq, graph, op.kernels))
      return OpTime{e->seconds + cold_fraction * std::max(0.0, c->seconds - e->seconds),
                    perf::weakest(e->provenance, c->provenance)};
  }
  return OpTime{e->seconds, e->provenance};
}

} // namespace

OpTime op_time(const Calibration* cal, const GpuSpec& gpu, const Op& op, bool graph, double cold_fraction)
{
  std::optional<OpTime> best;
  auto offer = [&](const std::optional<OpTime>& t) {
    if (t && (!best || t->provenance < best->provenance))
      best = t;
  };
  if (cal) {
    offer(from_models(cal->op_models, op, graph, cold_fraction));
    bool exact = false;
    if (std::optional<double> t = cal->kernel_time(op, graph, &exact))
      offer(OpTime{*t, exact ? perf::Provenance::measured : perf::Provenance::interpolated});
  }
  offer(OpTime{roofline_seconds(gpu, op), perf::Provenance::specs});
  return *best;
}

double boundary_gap(const Calibration* cal, const OpTime& t, bool graph)
{
  if (!cal || t.provenance == perf::Provenance::specs)
    return 0;
  const OpModels& m = cal->op_models;
  std::optional<double> g = graph ? m.bracket_gap_graph_s : m.bracket_gap_eager_s;
  if (!g)
    g = m.graph_gap_s;
  if (!g)
    return 0;
  return std::max(0.0, std::min(*g, t.seconds));
}

} // namespace moesim
