// memory_per_rank (core/schedule_builder.hpp): what one GPU holds for a step, from its shard.
#include "core/schedule_builder.hpp"
#include "core/shard.hpp"

#include <algorithm>
#include <cmath>

namespace moesim {

MemoryUse memory_per_rank(const Model& m, const Layout& L, const StepShape& st, int rank)
{
  const Plan& p = L.plan;
  const RankCoord& c = L.ranks[rank];
  const Shard sh = shard_of(m, L, rank);
  const Attention& at = m.attn;
  const double h = m.hidden;
  const double dw = bytes_per_element(m.dtypes.dense_weights), ew = bytes_per_element(m.dtypes.expert_weights);
  const double eb = bytes_per_element(m.dtypes.embeddings), a = bytes_per_element(m.dtypes.activations);
  const double kvb = bytes_per_element(m.dtypes.kv_cache);
  MemoryUse u;
  const auto [first, last] = L.stage_layers[c.stage];
  double attn_w;
  double kv_per_token_layer; // elements
  if (at.kind == AttentionKind::mla) {
    const double H = sh.q_heads, nope = at.qk_nope_head_dim, rope = at.qk_rope_head_dim, v = at.v_head_dim;
    double q = at.q_lora_rank > 0 ? h * at.q_lora_rank + at.q_lora_rank * H * (nope + rope) : h * H * (nope + rope);
    attn_w = q + h * (at.kv_lora_rank + rope) + at.kv_lora_rank * H * (nope + v) + H * v * h;
    kv_per_token_layer = at.kv_lora_rank + rope; // the latent cache is replicated on every TP rank
  } else {
    attn_w = h * (sh.q_heads + 2.0 * sh.kv_heads) * at.head_dim + sh.q_heads * at.head_dim * h;
    kv_per_token_layer = 2.0 * sh.kv_heads * at.head_dim;
  }
  int seq = split_even(st.batch, p.attn_dp)[c.attn_dp];
  const double ctx = st.phase == Phase::decode ? st.context + 1.0 : double(st.context) + st.prompt;
  for (int l = first; l < last; l++) {
    u.weights += attn_w * dw;
    double lctx = ctx;
    if (at.sliding_window > 0 && at.sliding_every > 0 && l % at.sliding_every == 0)
      lctx = std::min(lctx, double(at.sliding_window));
    u.kv_cache += seq * lctx * kv_per_token_layer * kvb;
    if (m.is_moe_layer(l)) {
      u.weights += sh.experts * 3.0 * h * sh.expert_inter * ew;
      const double shared = 3.0 * h * m.moe.shared_intermediate * m.moe.shared_experts;
      u.weights += (p.expert_comm == ExpertComm::all_to_all ? shared : shared / p.stage_size()) * ew;
      u.weights += h * m.moe.experts * bytes_per_element(m.dtypes.activations); // router: replicated, unquantized
    } else {
      u.weights += 3.0 * h * sh.dense_inter * dw;
    }
  }
  const double vocab_local = std::ceil(double(m.vocab) / p.attn_tp);
  const bool first_stage = c.stage == 0, last_stage = c.stage == p.pp - 1;
  if (first_stage)
    u.weights += vocab_local * h * eb;
  if (last_stage && !(m.tied_embeddings && first_stage))
    u.weights += vocab_local * h * eb;
  // Activations: the largest live set of one microbatch: residual stream, attention projections,
  // the permuted top-k copies of the tokens through the expert MLP, and the logits. A prefill step
  // holds logits of each prompt's last token only, the rows its LM head runs over (head_rows in
  // core/schedule_builder): TensorRT-LLM's PyTorch models keep the other context logits only when a
  // request asks for them (forward's return_context_logits, False by default).
  const double T = std::ceil(double(st.phase == Phase::decode ? seq : seq * st.prompt) / p.microbatches);
  const double logit_rows = st.phase == Phase::decode ? T : std::ceil(double(seq) / p.microbatches);
  const double T_stage = T * p.attn_dp;
  double widest = std::max({2.0 * (sh.q_heads + 2.0 * sh.kv_heads) * std::max(at.head_dim, at.v_head_dim),
                            2.0 * sh.dense_inter, 4.0 * h});
  double act = T * widest * a;
  if (m.moe.experts > 0) {
    // The expanded rows (token x chosen expert) the expert MLP holds. A fused MoE kernel handed every
    // token of the stage (an all-gather, or tokens replicated for an all-reduce) sizes its workspace for
    // all their top_k expansions before it knows which are local (TensorRT-LLM's moe_kernels workspace:
    // num_moe_inputs = k x num_rows). An all-to-all dispatch brings a GPU only its own experts' rows:
    // with balanced routing, the share sh.experts of the expert slots (replicas included).
    double rows = T_stage * m.moe.top_k;
    if (p.expert_comm == ExpertComm::all_to_all)
      rows *= std::min(1.0, sh.experts / double(m.moe.experts + p.redundant_experts));
    act = std::max(act, rows * (2.0 * h + 2.0 * sh.expert_inter) * a);
  }
  if (last_stage)
    act = std::max(act, logit_rows * vocab_local * 4.0);
  u.activations = act * std::max(1, p.microbatches > 1 ? 2 : 1) + T * h * a * 2;
  return u;
}

} // namespace moesim
