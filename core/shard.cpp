#include "core/shard.hpp"

#include <algorithm>

namespace moesim {

Shard shard_of(const Model& m, const Layout& L, int rank)
{
  const Plan& p = L.plan;
  const RankCoord& c = L.ranks[rank];
  Shard s;
  s.q_heads = m.attn.q_heads / p.attn_tp;
  s.kv_heads = m.attn.kind == AttentionKind::mla ? s.q_heads : std::max(1, m.attn.kv_heads / p.attn_tp);
  s.dense_inter = m.dense_intermediate / p.attn_tp;
  if (m.moe.experts > 0) {
    s.expert_inter = m.moe.expert_intermediate / p.moe_tp;
    s.experts = (m.moe.experts + p.redundant_experts) / p.ep; // slots, replicas included
    s.first_expert = c.ep * s.experts;                         // meaningful without replicas only
  }
  return s;
}

} // namespace moesim
