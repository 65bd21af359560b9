#include "core/pp_steady.hpp"

#include <algorithm>
#include <climits>
#include <map>
#include <stdexcept>
#include <string>

namespace moesim {

namespace {

// One token-feedback op of microbatch `mb`: a recv on stage 0 or a send on the last stage (the
// caller sets a send's stream and deps).
Op token_op(OpKind kind, int id, const std::string& prefix, int mb, int peer, int tag, double bytes)
{
  Op o;
  o.id = id;
  o.name = prefix + (kind == OpKind::send ? "pp.token_send@mb" : "pp.token_recv@mb") + std::to_string(mb);
  o.kind = kind;
  o.family = OpFamily::pipeline;
  o.role = kind == OpKind::send ? OpRole::send : OpRole::recv;
  o.microbatch = mb;
  o.peer = peer;
  o.tag = tag;
  o.comm_bytes = bytes;
  return o;
}

} // namespace

SteadySchedule steady_schedule(const Schedule& one, int steps)
{
  const Plan& p = one.layout.plan;
  if (p.pp < 2)
    throw std::invalid_argument("steady_schedule: the plan has no pipeline (PP " + std::to_string(p.pp) + ")");
  if (one.step.phase != Phase::decode)
    throw std::invalid_argument("steady_schedule: only decode steps feed their tokens back to stage 0");
  if (steps < 1)
    throw std::invalid_argument("steady_schedule: steps must be at least 1, not " + std::to_string(steps));
  const int S = p.stage_size(), M = std::max(1, p.microbatches);
  const int world = one.layout.world;
  if (static_cast<int>(one.ranks.size()) != world || static_cast<int>(one.layout.ranks.size()) != world)
    throw std::invalid_argument("steady_schedule: the schedule's ranks do not match its layout");
  // Tags of one step are [0, tags); the token feedback of step k takes [tags, tags + M x S) of its block.
  long long tags = 0;
  for (const RankSchedule& rs : one.ranks)
    for (const Op& o : rs.ops)
      tags = std::max<long long>(tags, o.tag + 1LL);
  const long long block = tags + static_cast<long long>(M) * S;
  if (block * steps > INT_MAX || static_cast<long long>(one.collectives) * steps > INT_MAX)
    throw std::invalid_argument("steady_schedule: " + std::to_string(steps) + " steps need more tags than an int holds");
  auto token_tag = [&](int k, int mb, int local) { return static_cast<int>(k * block + tags + mb * S + local); };

  SteadySchedule out;
  out.steps = steps;
  Schedule& s = out.schedule;
  s.model = one.model;
  s.facts = one.facts;
  s.routing = one.routing;
  s.step = one.step;
  s.engine = one.engine;
  s.layout = one.layout;
  s.collectives = one.collectives * steps;
  s.ranks.resize(world);
  out.first_op.assign(world, {});
  for (int r = 0; r < world; r++) {
    const RankSchedule& src = one.ranks[r];
    const int stage = r / S, local = r % S;
    const bool first = stage == 0, last = stage == p.pp - 1;
    // Per microbatch: its first and last op on this rank (-1 where the rank runs none of it).
    std::map<int, std::pair<int, int>> span;
    for (const Op& o : src.ops) {
      auto [it, fresh] = span.try_emplace(o.microbatch, o.id, o.id);
      if (!fresh)
        it->second.second = o.id;
    }
    // Token ids of this rank's attention-DP replica in microbatch mb, each sequence 1 + drafts.
    const int replica_seqs = split_even(one.step.batch, p.attn_dp)[one.layout.ranks[r].attn_dp];
    auto token_bytes = [&](int mb) {
      return split_even(replica_seqs, M)[mb] * std::max(1, one.step.tokens_per_seq) * token_id_bytes;
    };
    std::vector<Op>& ops = s.ranks[r].ops;
    s.ranks[r].rank = src.rank;
    ops.reserve(src.ops.size() * steps + 2 * span.size() * steps);
    std::vector<int> id_of(src.ops.size());
    for (int k = 0; k < steps; k++) {
      out.first_op[r].push_back(static_cast<int>(ops.size()));
      const std::string prefix = "s" + std::to_string(k) + ".";
      for (const Op& o : src.ops) {
        const int mb = o.microbatch;
        if (first && k > 0 && span.at(mb).first == o.id)
          ops.push_back(token_op(OpKind::recv, static_cast<int>(ops.size()), prefix, mb,
                                 one.layout.rank_of(p.pp - 1, local), token_tag(k - 1, mb, local), token_bytes(mb)));
        Op c = o;
        c.id = static_cast<int>(ops.size());
        c.name = prefix + o.name;
        for (int& d : c.deps)
          d = id_of[d];
        if (c.coll >= 0)
          c.coll += k * one.collectives;
        if (c.tag >= 0)
          c.tag = static_cast<int>(k * block + c.tag);
        id_of[o.id] = c.id;
        ops.push_back(std::move(c));
        if (last && k + 1 < steps && span.at(mb).second == o.id) {
          Op back = token_op(OpKind::send, static_cast<int>(ops.size()), prefix, mb, one.layout.rank_of(0, local),
                             token_tag(k, mb, local), token_bytes(mb));
          back.stream = 1;
          back.deps = {id_of[o.id]};
          ops.push_back(std::move(back));
        }
      }
    }
    out.first_op[r].push_back(static_cast<int>(ops.size()));
  }
  return out;
}

SteadyState steady_state(const SteadySchedule& s, const Timeline& t, int warmup)
{
  if (warmup < 1 || warmup >= s.steps)
    throw std::invalid_argument("steady_state: warm-up must be 1 to " + std::to_string(s.steps - 1) + " steps, not " +
                                std::to_string(warmup));
  const Plan& p = s.schedule.layout.plan;
  const int last_stage = p.pp - 1;
  SteadyState out;
  out.steps = s.steps;
  out.warmup = warmup;
  out.step_end.assign(s.steps, 0.0);
  for (const TimelineEvent& e : t.events) {
    if (e.rank / p.stage_size() != last_stage || e.kind == OpKind::send)
      continue; // the last stage's only sends are the token feedback
    const std::vector<int>& first = s.first_op.at(e.rank);
    const int k = static_cast<int>(std::upper_bound(first.begin(), first.end(), e.op) - first.begin()) - 1;
    out.step_end.at(k) = std::max(out.step_end[k], e.end);
  }
  out.interval = (out.step_end[s.steps - 1] - out.step_end[warmup - 1]) / (s.steps - warmup);
  return out;
}

} // namespace moesim
