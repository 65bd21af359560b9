#include "pipeline/search_space.hpp"

#include <stdexcept>

namespace moesim {

std::vector<int> divisors(int n)
{
  std::vector<int> d;
  for (int i = 1; i <= n; i++)
    if (n % i == 0)
      d.push_back(i);
  return d;
}

std::string plan_spec(const Plan& p)
{
  // Plan::parse: tp and ep are the MoE degrees, dp the attention DP, and attention TP = tp x ep / dp.
  std::string s;
  auto add = [&](const char* key, int v) {
    if (v > 1)
      s += (s.empty() ? "" : "x") + std::string(key) + std::to_string(v);
  };
  add("tp", p.moe_tp);
  add("ep", p.ep);
  add("dp", p.attn_dp);
  if (p.moe_tp == 1 && p.ep == 1)
    s = "tp1" + (s.empty() ? std::string() : "x" + s); // "dp4" alone would mean MoE TP4
  add("pp", p.pp);
  static const char* suffix[] = {":a2a", ":allreduce", ":allgather"};
  s += suffix[static_cast<int>(p.expert_comm)];
  if (p.pp > 1)
    s += ":mb" + std::to_string(p.microbatches);
  return s;
}

std::vector<Plan> enumerate_plans(const Model& model, int gpus)
{
  std::vector<Plan> out;
  const ExpertComm comms[] = {ExpertComm::all_to_all, ExpertComm::allgather, ExpertComm::all_reduce};
  for (int pp : divisors(gpus)) {
    const int S = gpus / pp;
    for (int attn_tp : divisors(S))
      for (int ep : divisors(S))
        for (ExpertComm comm : comms) {
          if (S == 1 && comm != ExpertComm::all_reduce)
            continue; // one GPU per stage: nothing moves between GPUs, the three are one plan
          for (int mb : pp > 1 ? std::vector<int>{pp, 2 * pp} : std::vector<int>{1}) {
            Plan p;
            p.attn_tp = attn_tp;
            p.attn_dp = S / attn_tp;
            p.ep = ep;
            p.moe_tp = S / ep;
            p.pp = pp;
            p.microbatches = mb;
            p.expert_comm = comm;
            p.name = plan_spec(p);
            try {
              make_layout(p, model, gpus);
            } catch (const std::invalid_argument&) {
              continue;
            }
            out.push_back(p);
          }
        }
  }
  return out;
}

} // namespace moesim
