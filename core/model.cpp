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

ParamCounts Model::param_counts() const
{
  ParamCounts c;
  const double h = hidden;
  c.input_embedding = h * vocab;
  const double head = tied_embeddings ? 0.0 : h * vocab;
  const int n_moe = moe_layer_count();
  const int n_dense = layers - n_moe;
  const double attention = static_cast<double>(attn.params(hidden)) * layers;
  const double dense_ffn = 3.0 * h * dense_intermediate * n_dense;
  const double per_moe_fixed = static_cast<double>(moe.shared_params(hidden) + moe.router_params(hidden));
  const double routed_all = static_cast<double>(moe.expert_params(hidden)) * moe.experts;
  const double routed_active = static_cast<double>(moe.expert_params(hidden)) * moe.top_k;
  const double common = c.input_embedding + head + attention + dense_ffn + per_moe_fixed * n_moe;
  c.total = common + routed_all * n_moe;
  c.active = common + routed_active * n_moe;
  return c;
}

double Model::weight_bytes() const
{
  const ParamCounts c = param_counts();
  const double emb = c.input_embedding * (tied_embeddings ? 1 : 2);
  const double experts = (static_cast<double>(moe.expert_params(hidden)) * moe.experts +
                          static_cast<double>(moe.shared_params(hidden))) * moe_layer_count();
  const double dense = c.total - emb - experts;
  return emb * bytes_per_element(dtypes.embeddings) + experts * bytes_per_element(dtypes.expert_weights) +
         dense * bytes_per_element(dtypes.dense_weights);
}

} // namespace moesim
