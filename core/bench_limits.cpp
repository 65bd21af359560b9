#include "core/bench_limits.hpp"

#include "core/dtype.hpp"

#include <algorithm>
#include <cmath>

namespace moesim {

namespace {

constexpr double gib = 1024.0 * 1024.0 * 1024.0;

// Stored checkpoint elements per weight: one each, except 4-bit values, packed two to a byte with one
// 8-bit scale per block, whose count is their byte width (core/dtype).
double elements_per_weight(Dtype d)
{
  return d == Dtype::nvfp4 || d == Dtype::mxfp4 || d == Dtype::int4 ? bytes_per_element(d) : 1.0;
}

// The byte width the heuristic gives a quantisation (weights or KV); 2 for anything it does not
// list, as for unquantised checkpoints.
double heuristic_bytes(Dtype d)
{
  switch (d) {
  case Dtype::fp8: return 1.0;
  case Dtype::nvfp4:
  case Dtype::int4: return 0.5;
  default: return 2.0;
  }
}

int round_up(double v, int step)
{
  return step * static_cast<int>(std::ceil(v / step));
}

} // namespace

double checkpoint_elements(const Model& m)
{
  const ParamCounts c = m.param_counts();
  const double emb = c.input_embedding * (m.tied_embeddings ? 1 : 2);
  const double experts = (static_cast<double>(m.moe.expert_params(m.hidden)) * m.moe.experts +
                          static_cast<double>(m.moe.shared_params(m.hidden))) * m.moe_layer_count();
  const double routers = static_cast<double>(m.moe.router_params(m.hidden)) * m.moe_layer_count(); // unquantized
  const double dense = c.total - emb - experts - routers;
  return emb * elements_per_weight(m.dtypes.embeddings) + experts * elements_per_weight(m.dtypes.expert_weights) +
         dense * elements_per_weight(m.dtypes.dense_weights) + routers * elements_per_weight(m.dtypes.activations);
}

BenchLimits trtllm_bench_limits(const BenchLimitsInput& in)
{
  const Model& m = in.model;
  BenchLimits out;
  const Dtype quant = m.dtypes.expert_weights;
  out.tuned = quant != Dtype::mxfp4;
  if (!out.tuned) {
    out.max_batch_size = 2048;
    out.max_num_tokens = 8192;
  } else {
    // The config as the heuristic reads it: MLA configs name every attention head a KV head and
    // carry no head_dim, so the head size falls back to hidden / heads.
    const bool mla = m.attn.kind == AttentionKind::mla;
    const int kv_heads = std::max(in.tp, mla ? m.attn.q_heads : m.attn.kv_heads);
    const int head_size = mla ? m.hidden / m.attn.q_heads : m.attn.head_dim;
    const double gib_per_token = 2.0 * m.layers * kv_heads * head_size * heuristic_bytes(m.dtypes.kv_cache) / gib;
    const double engine_gib = checkpoint_elements(m) * heuristic_bytes(quant) / gib;
    const double available = in.gpu_mem_gib * in.tp * in.pp - engine_gib;
    out.kv_max_requests = available * in.kv_fraction / (gib_per_token * (in.input_len + in.output_len));
    if (out.kv_max_requests < 1)
      return out; // trtllm-bench stops: not enough KV cache for one request
    const double raw_bs = std::min(out.kv_max_requests, 4096.0) / in.pp;
    const double raw_tokens = std::min(raw_bs * (1 + in.input_len / in.output_len), 32768.0);
    out.max_batch_size = raw_bs < 256    ? std::max(64, round_up(raw_bs, 32))
                         : raw_bs < 1024 ? round_up(raw_bs, 128)
                                         : round_up(raw_bs, 256);
    out.max_num_tokens = raw_tokens < 4096   ? std::max(2048, round_up(raw_tokens, 256))
                         : raw_tokens < 8192 ? round_up(raw_tokens, 512)
                                             : round_up(raw_tokens, 1024);
  }
  // Chunked prefill is off unless asked for: one whole prompt must fit beside a full decode batch.
  out.max_num_tokens = std::max(out.max_num_tokens, static_cast<int>(std::ceil(in.input_len)) + out.max_batch_size);
  return out;
}

} // namespace moesim
