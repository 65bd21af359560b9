#include "core/engine_step.hpp"

#include "core/study.hpp"

#include <algorithm>

namespace moesim {

EngineStep engine_step(const EngineProfile& e, const Plan& plan, const PlatformTraits& t, const StepShape& st,
                       double hidden, const EngineParams& base)
{
  EngineStep s;
  s.plan = plan;
  s.plan.redundant_experts = e.redundant_experts;
  s.step = st;
  const bool decode = st.phase == Phase::decode;
  const bool speculative = decode && e.speculative != Speculative::none && e.draft_tokens > 0;
  s.step.tokens_per_seq = speculative ? 1 + e.draft_tokens : 1;
  s.tokens_per_step = speculative ? e.acceptance_length : 1;
  const int dp = std::max(1, plan.attn_dp);
  const int seqs = (st.batch + dp - 1) / dp;
  const double tokens = decode ? double(seqs) * s.step.tokens_per_seq : double(seqs) * st.prompt;
  s.paths = resolve_paths(e, plan, plan.comm_explicit, t, decode, seqs, tokens * hidden * 2.0);
  if (plan.ep > 1)
    s.plan.expert_comm = expert_comm_of(s.paths.dispatch);
  s.engine = engine_params_of(e, base);
  s.engine.cuda_graphs = s.paths.graphs;
  s.mech.dispatch = s.paths.dispatch;
  s.mech.moe_kernel = s.paths.moe_kernel;
  s.mech.draft_tokens = speculative ? e.draft_tokens : 0;
  s.mech.dp_pad_to_max = e.dp_pad_to_max;
  s.mech.dp_gather_post_quant = e.dp_gather_post_quant;
  s.mech.dp_gather_per_root = e.dp_gather_per_root;
  s.mech.profile = &e;
  s.mech.traits = t;
  return s;
}

double engine_step_seconds(const EngineProfile& e, const Plan& plan, double gpu_seconds, int seqs)
{
  const double work = e.step_s + e.step_seq_s * std::max(0, seqs);
  const double host = e.overlap_scheduler ? std::max(gpu_seconds, work) : gpu_seconds + work;
  return host + (plan.attn_dp > 1 ? e.dp_sync_s : 0.0);
}

Model kv_allocation_model(const Model& m, const EngineProfile& e)
{
  Model out = m;
  if (e.sliding_kv_full) {
    out.attn.sliding_window = 0;
    out.attn.sliding_every = 0;
  }
  return out;
}

} // namespace moesim
