#include "core/plan.hpp"

#include "core/limits.hpp"
#include "core/model.hpp"

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>

namespace moesim {

const char* to_string(ExpertComm c)
{
  switch (c) {
    case ExpertComm::all_to_all: return "all_to_all";
    case ExpertComm::all_reduce: return "all_reduce";
    case ExpertComm::allgather: return "allgather";
  }
  return "?";
}

const char* to_string(GroupKind k)
{
  switch (k) {
    case GroupKind::attn_tp: return "attn_tp";
    case GroupKind::moe_tp: return "moe_tp";
    case GroupKind::ep: return "ep";
    case GroupKind::stage: return "stage";
    case GroupKind::dp: return "dp";
  }
  return "?";
}

int Group::index_of(int rank) const
{
  auto it = std::lower_bound(ranks.begin(), ranks.end(), rank);
  return (it != ranks.end() && *it == rank) ? static_cast<int>(it - ranks.begin()) : -1;
}

std::vector<int> split_even(int n, int parts)
{
  std::vector<int> v(parts, n / parts);
  for (int i = 0; i < n % parts; i++)
    v[i]++;
  return v;
}

Plan Plan::parse(const std::string& spec)
{
  const std::string grammar = "write degrees joined by 'x', e.g. tp4, ep4, pp4, tp2xep2, tp2xpp2, dp4xep4, "
                              "optionally followed by :a2a, :allreduce, :allgather or :mbN";
  std::string body = spec, opts;
  if (auto c = spec.find(':'); c != std::string::npos) {
    body = spec.substr(0, c);
    opts = spec.substr(c);
  }
  std::map<std::string, int> deg;
  // getline drops an empty last field, so "tp2x" would read as "tp2" and "tp2:" as "tp2": a
  // separator must have something after it.
  if (!body.empty() && body.back() == 'x')
    throw std::invalid_argument("cannot read plan '" + spec + "' at its trailing 'x': " + grammar);
  if (!opts.empty() && opts.back() == ':')
    throw std::invalid_argument("plan '" + spec + "': an empty option after ':': " + grammar);
  std::stringstream ss(body);
  std::string tok;
  while (std::getline(ss, tok, 'x')) {
    size_t i = 0;
    while (i < tok.size() && std::isalpha(static_cast<unsigned char>(tok[i])))
      i++;
    std::string key = tok.substr(0, i), num = tok.substr(i);
    if ((key != "tp" && key != "ep" && key != "pp" && key != "dp") || num.empty() ||
        num.find_first_not_of("0123456789") != std::string::npos || deg.count(key))
      throw std::invalid_argument("cannot read plan '" + spec + "' at '" + tok + "': " + grammar);
    // Digits only, so the length bounds the value before it is converted.
    const int v = num.size() > 6 ? limits::gpus + 1 : std::stoi(num);
    if (v < 1)
      throw std::invalid_argument("plan '" + spec + "': degree " + tok + " must be at least 1");
    if (v > limits::gpus)
      throw std::invalid_argument("plan '" + spec + "': degree " + key + num + " is more than the " +
                                  std::to_string(limits::gpus) + " GPUs a platform may have");
    deg[key] = v;
  }
  if (deg.empty())
    throw std::invalid_argument("empty plan '" + spec + "': " + grammar);
  Plan p;
  p.name = spec;
  const int tp = deg.count("tp") ? deg["tp"] : 1, ep = deg.count("ep") ? deg["ep"] : 1;
  const int dp = deg.count("dp") ? deg["dp"] : 1;
  p.pp = deg.count("pp") ? deg["pp"] : 1;
  p.moe_tp = tp;
  p.ep = ep;
  // Each degree is at most limits::gpus (1,024), so these products fit an int (1024^3 = 2^30 < 2^31).
  const int stage = (deg.count("tp") || deg.count("ep")) ? tp * ep : dp;
  if (static_cast<long long>(stage) * p.pp > limits::gpus)
    throw std::invalid_argument("plan '" + spec + "' uses " + std::to_string(static_cast<long long>(stage) * p.pp) +
                                " GPUs, more than the " + std::to_string(limits::gpus) + " a platform may have");
  if (deg.count("dp") && !deg.count("tp") && !deg.count("ep"))
    p.moe_tp = dp; // "dp4": attention data parallel, MoE tensor parallel over the same GPUs
  if (stage % dp != 0)
    throw std::invalid_argument("plan '" + spec + "': dp" + std::to_string(dp) + " does not divide the " +
                                std::to_string(stage) + " GPUs per stage given by tp x ep");
  p.attn_dp = dp;
  p.attn_tp = stage / dp;
  p.expert_comm = p.ep > 1 ? ExpertComm::all_to_all : (dp > 1 ? ExpertComm::allgather : ExpertComm::all_reduce);
  p.microbatches = p.pp;
  std::stringstream os(opts);
  bool first = true;
  while (std::getline(os, tok, ':')) {
    if (first) { // opts starts with ':', so its first field is empty
      first = false;
      continue;
    }
    if (tok.empty())
      throw std::invalid_argument("plan '" + spec + "': an empty option between two ':': " + grammar);
    if (tok == "a2a")
      p.expert_comm = ExpertComm::all_to_all, p.comm_explicit = true;
    else if (tok == "allreduce")
      p.expert_comm = ExpertComm::all_reduce, p.comm_explicit = true;
    else if (tok == "allgather")
      p.expert_comm = ExpertComm::allgather, p.comm_explicit = true;
    else if (tok.rfind("mb", 0) == 0 && tok.size() > 2 && tok.find_first_not_of("0123456789", 2) == std::string::npos) {
      p.microbatches = tok.size() > 2 + 6 ? limits::batch + 1 : std::stoi(tok.substr(2));
      if (p.microbatches < 1 || p.microbatches > limits::batch)
        throw std::invalid_argument("plan '" + spec + "': :" + tok + " must be between 1 and " +
                                    std::to_string(limits::batch) + " microbatches");
    }
    else
      throw std::invalid_argument("plan '" + spec + "': unknown option ':" + tok + "': " + grammar);
  }
  return p;
}

std::string Plan::describe() const
{
  std::ostringstream s;
  s << "attn TP" << attn_tp << "xDP" << attn_dp << " | MoE TP" << moe_tp << "xEP" << ep << " | PP" << pp;
  if (pp > 1)
    s << " (" << microbatches << " microbatches)";
  s << " | experts via " << to_string(expert_comm);
  return s.str();
}

Layout make_layout(const Plan& plan, const Model& model, int gpus)
{
  auto fail = [&](const std::string& why, const std::string& fix) {
    throw std::invalid_argument("plan '" + plan.name + "' (" + plan.describe() + "): " + why + "; " + fix);
  };
  if (plan.attn_tp < 1 || plan.attn_dp < 1 || plan.moe_tp < 1 || plan.ep < 1 || plan.pp < 1 || plan.microbatches < 1)
    fail("every degree must be at least 1", "fix the plan");
  if (plan.attn_tp * plan.attn_dp != plan.moe_tp * plan.ep)
    fail("attention TP x DP = " + std::to_string(plan.attn_tp * plan.attn_dp) + " but MoE TP x EP = " +
             std::to_string(plan.moe_tp * plan.ep),
         "make both products equal to GPUs/PP");
  if (plan.world() != gpus)
    fail("it uses " + std::to_string(plan.world()) + " GPUs but the platform has " + std::to_string(gpus),
         "choose degrees whose product is " + std::to_string(gpus) + " or another platform");
  if (model.attn.q_heads % plan.attn_tp != 0)
    fail(std::to_string(model.attn.q_heads) + " attention heads do not divide by attention TP " +
             std::to_string(plan.attn_tp),
         "use an attention TP that divides " + std::to_string(model.attn.q_heads));
  if (model.attn.kind != AttentionKind::mla && model.attn.kv_heads % plan.attn_tp != 0 &&
      plan.attn_tp % model.attn.kv_heads != 0)
    fail(std::to_string(model.attn.kv_heads) + " KV heads neither divide nor are divided by attention TP " +
             std::to_string(plan.attn_tp),
         "use an attention TP that divides or is a multiple of " + std::to_string(model.attn.kv_heads));
  if (model.moe.experts > 0) {
    const int slots = model.moe.experts + plan.redundant_experts;
    if (slots % plan.ep != 0) {
      const int up = (slots + plan.ep - 1) / plan.ep * plan.ep;
      fail(std::to_string(model.moe.experts) + " experts" +
               (plan.redundant_experts ? " + " + std::to_string(plan.redundant_experts) + " redundant" : "") +
               " do not divide by EP " + std::to_string(plan.ep),
           "use an EP that divides " + std::to_string(slots) + ", or " + std::to_string(up - model.moe.experts) +
               " redundant experts (engine redundant_experts)");
    }
    if (model.moe.expert_intermediate % plan.moe_tp != 0)
      fail("expert width " + std::to_string(model.moe.expert_intermediate) + " does not divide by MoE TP " +
               std::to_string(plan.moe_tp),
           "use a MoE TP that divides it");
    // Replicated tokens split the shared experts' width over the stage (a GEMM width is whole).
    const long shared = 1L * model.moe.shared_intermediate * model.moe.shared_experts;
    if (plan.expert_comm != ExpertComm::all_to_all && shared % plan.stage_size() != 0)
      fail("shared expert width " + std::to_string(shared) + " does not divide by the " +
               std::to_string(plan.stage_size()) + " GPUs of a stage, which split it when tokens are replicated",
           "use :a2a or a stage size that divides it");
  } else if (plan.ep > 1) {
    fail("the model has no experts", "use ep1");
  }
  if (plan.expert_comm == ExpertComm::all_reduce && plan.attn_dp > 1)
    fail("experts via all_reduce needs tokens replicated over the stage, but attention DP " +
             std::to_string(plan.attn_dp) + " partitions them",
         "use :allgather or :a2a");
  if (model.layers < plan.pp)
    fail(std::to_string(model.layers) + " layers cannot fill " + std::to_string(plan.pp) + " pipeline stages",
         "use a PP of at most " + std::to_string(model.layers));

  Layout L;
  L.plan = plan;
  L.world = gpus;
  const int S = plan.stage_size();
  auto layers = split_even(model.layers, plan.pp);
  int first = 0;
  for (int n : layers) {
    L.stage_layers.push_back({first, first + n});
    first += n;
  }
  for (int r = 0; r < gpus; r++) {
    RankCoord c;
    c.rank = r;
    c.stage = r / S;
    c.local = r % S;
    c.attn_dp = c.local / plan.attn_tp;
    c.attn_tp = c.local % plan.attn_tp;
    c.ep = c.local / plan.moe_tp;
    c.moe_tp = c.local % plan.moe_tp;
    L.ranks.push_back(c);
  }
  // Groups, in a fixed order so ids are deterministic.
  std::map<std::pair<int, std::vector<int>>, int> seen;
  auto add = [&](GroupKind k, std::vector<int> members) {
    std::sort(members.begin(), members.end());
    auto key = std::make_pair(static_cast<int>(k), members);
    if (auto it = seen.find(key); it != seen.end())
      return it->second;
    Group g;
    g.id = static_cast<int>(L.groups.size());
    g.kind = k;
    g.ranks = members;
    L.groups.push_back(g);
    seen[key] = g.id;
    return g.id;
  };
  auto members = [&](int stage, auto pred) {
    std::vector<int> v;
    for (int l = 0; l < S; l++)
      if (pred(L.ranks[stage * S + l]))
        v.push_back(stage * S + l);
    return v;
  };
  L.attn_tp_group.resize(gpus);
  L.moe_tp_group.resize(gpus);
  L.ep_group.resize(gpus);
  L.stage_group.resize(gpus);
  L.dp_group.resize(gpus);
  for (int r = 0; r < gpus; r++) {
    const RankCoord& c = L.ranks[r];
    L.attn_tp_group[r] = add(GroupKind::attn_tp, members(c.stage, [&](const RankCoord& o) { return o.attn_dp == c.attn_dp; }));
    L.moe_tp_group[r] = add(GroupKind::moe_tp, members(c.stage, [&](const RankCoord& o) { return o.ep == c.ep; }));
    L.ep_group[r] = add(GroupKind::ep, members(c.stage, [&](const RankCoord& o) { return o.moe_tp == c.moe_tp; }));
    L.stage_group[r] = add(GroupKind::stage, members(c.stage, [](const RankCoord&) { return true; }));
    L.dp_group[r] = add(GroupKind::dp, members(c.stage, [&](const RankCoord& o) { return o.attn_tp == c.attn_tp; }));
  }
  return L;
}

} // namespace moesim
