#include "core/op_time.hpp"

namespace moesim {

std::optional<OpQuery> query_of(const Op& op)
{
  const std::vector<double>& s = op.shape;
  OpQuery q;
  q.key.kind = op.kind;
  q.key.dtype = op.dtype;
  q.key.kv_dtype = op.dtype; // the schedule does not carry the KV cache's dtype apart
  switch (op.kind) {
    case OpKind::gemm:
      if (s.size() != 3 && s.size() != 4)
        return std::nullopt;
      q.dims = op_dims::gemm(s.size() == 4 ? s[3] : 1, s[0], s[1], s[2]);
      return q;
    case OpKind::grouped_gemm: {
      if (s.size() != 4)
        return std::nullopt;
      q.key.variant = "fused";
      if (!op.group_rows.empty()) {
        for (long r : round_group_rows(op.group_rows))
          q.rows.push_back(static_cast<double>(r));
      } else if (s[0] > 0) {
        q.rows.assign(static_cast<size_t>(s[0]), s[1] / s[0]);
      }
      q.dims = op_dims::grouped(s[2], s[3], q.rows);
      return q;
    }
    case OpKind::attention_decode:
      q.key.variant = op.mla ? "mla" : "gqa";
      if (s.size() != 5)
        return std::nullopt;
      q.dims = op.mla ? op_dims::decode(s[3] + s[4], s[3], 1, s[1], s[0], s[2])
                      : op_dims::decode(s[4], s[4], s[2], s[1], s[0], s[3]);
      return q;
    case OpKind::attention_prefill:
      q.key.variant = op.mla ? "mla" : "gqa";
      if (s.size() != 6)
        return std::nullopt;
      q.dims = op.mla ? op_dims::prefill(s[4], s[5], s[1], s[1], s[0], s[3], s[2])
                      : op_dims::prefill(s[5], s[5], s[2], s[1], s[0], s[4], s[3]);
      return q;
    case OpKind::sample:
      // Sampling reads fp32 logits whatever the model's dtype (the harness's argmax and bench-ops's
      // sample records do; serving engines upcast the LM head's output before sampling).
      q.key.dtype = q.key.kv_dtype = Dtype::fp32;
      [[fallthrough]];
    default:
      if (op_dims::small_fields(op.kind).empty() || s.size() != op_dims::small_fields(op.kind).size())
        return std::nullopt;
      q.dims = s;
      return q;
  }
}

std::vector<OpQuery> loop_queries(const Op& op)
{
  std::vector<OpQuery> out;
  if (op.kind != OpKind::grouped_gemm || op.shape.size() != 4)
    return out;
  for (long r : round_group_rows(op.group_rows))
    if (r > 0) {
      OpQuery q;
      q.key.kind = OpKind::gemm;
      q.key.dtype = q.key.kv_dtype = op.dtype;
      q.dims = op_dims::gemm(1, static_cast<double>(r), op.shape[2], op.shape[3]);
      out.push_back(std::move(q));
    }
  return out;
}

namespace {

// One query through the models: the model measured the way the step runs (graph or stream) when
// there is one, else the other. A stream-measured time under a graph adds the graph gap per kernel;
// a graph-measured time in eager mode is used as it is (the GPU time of the kernel).
std::optional<perf::Estimate> model_estimate(const OpModels& m, OpQuery q, bool graph, int kernels)
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

std::optional<OpTime> from_models(const OpModels& m, const Op& op, bool graph)
{
  if (m.models.empty())
    return std::nullopt;
  if (op.kind == OpKind::grouped_gemm && op.kernels > 1 && !op.group_rows.empty()) {
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
  return OpTime{e->seconds, e->provenance};
}

} // namespace

OpTime op_time(const Calibration* cal, const GpuSpec& gpu, const Op& op, bool graph)
{
  std::optional<OpTime> best;
  auto offer = [&](const std::optional<OpTime>& t) {
    if (t && (!best || t->provenance < best->provenance))
      best = t;
  };
  if (cal) {
    offer(from_models(cal->op_models, op, graph));
    bool exact = false;
    if (std::optional<double> t = cal->kernel_time(op, graph, &exact))
      offer(OpTime{*t, exact ? perf::Provenance::measured : perf::Provenance::interpolated});
  }
  offer(OpTime{roofline_seconds(gpu, op), perf::Provenance::specs});
  return *best;
}

} // namespace moesim
