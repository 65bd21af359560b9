#include "core/model.hpp"

namespace moesim {

long long Attention::params(int hidden) const
{
  const long long h = hidden;
  if (kind == AttentionKind::mla) {
    const long long qk = qk_nope_head_dim + qk_rope_head_dim;
    long long q = q_lora_rank > 0 ? h * q_lora_rank + 1LL * q_lora_rank * q_heads * qk : h * q_heads * qk;
    long long kv_a = h * (kv_lora_rank + qk_rope_head_dim);
    long long kv_b = 1LL * kv_lora_rank * q_heads * (qk_nope_head_dim + v_head_dim);
    long long o = 1LL * q_heads * v_head_dim * h;
    return q + kv_a + kv_b + o;
  }
  return h * (1LL * (q_heads + 2LL * kv_heads) * head_dim) + 1LL * q_heads * head_dim * h;
}

int Attention::q_dim() const
{
  if (kind == AttentionKind::mla)
    return q_heads * v_head_dim;
  return q_heads * head_dim;
}

double Attention::kv_elems_per_token() const
{
  if (kind == AttentionKind::mla)
    return kv_lora_rank + qk_rope_head_dim; // latent cache, shared by all heads
  return 2.0 * kv_heads * head_dim;         // K and V
}

bool Model::is_moe_layer(int layer) const
{
  if (moe.experts == 0 || layer < dense_layers)
    return false;
  return (layer + 1) % moe_layer_step == 0;
}

int Model::moe_layer_count() const
{
  int n = 0;
  for (int l = 0; l < layers; l++)
    n += is_moe_layer(l);
  return n;
}

ParamParts Model::param_parts() const
{
  ParamParts p;
  const double h = hidden;
  p.embedding = h * vocab;
  p.lm_head = tied_embeddings ? 0.0 : h * vocab;
  p.attention = static_cast<double>(attn.params(hidden));
  p.dense_ffn = 3.0 * h * dense_intermediate;
  p.expert = static_cast<double>(moe.expert_params(hidden));
  p.shared_experts = static_cast<double>(moe.shared_params(hidden));
  p.router = static_cast<double>(moe.router_params(hidden));
  p.layers = layers;
  p.moe_layers = moe_layer_count();
  p.dense_layers = layers - p.moe_layers;
  return p;
}

ParamCounts Model::param_counts() const
{
  const ParamParts p = param_parts();
  ParamCounts c;
  c.input_embedding = p.embedding;
  const double common = p.embedding + p.lm_head + p.attention * p.layers + p.dense_ffn * p.dense_layers +
                        (p.shared_experts + p.router) * p.moe_layers;
  c.total = common + p.expert * moe.experts * p.moe_layers;
  c.active = common + p.expert * moe.top_k * p.moe_layers;
  return c;
}

double Model::weight_bytes() const
{
  const ParamCounts c = param_counts();
  const double emb = c.input_embedding * (tied_embeddings ? 1 : 2);
  const double experts = (static_cast<double>(moe.expert_params(hidden)) * moe.experts +
                          static_cast<double>(moe.shared_params(hidden))) * moe_layer_count();
  // The routers stay unquantized, in the activations' dtype (core/schedule_builder's router GEMM).
  const double routers = static_cast<double>(moe.router_params(hidden)) * moe_layer_count();
  const double dense = c.total - emb - experts - routers;
  return emb * bytes_per_element(dtypes.embeddings) + experts * bytes_per_element(dtypes.expert_weights) +
         dense * bytes_per_element(dtypes.dense_weights) + routers * bytes_per_element(dtypes.activations);
}

} // namespace moesim
