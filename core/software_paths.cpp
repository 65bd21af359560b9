#include "core/software_paths.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cstdio>

namespace moesim {

namespace {

std::string bytes_text(double b)
{
  char s[32];
  if (b >= 1048576)
    std::snprintf(s, sizeof s, "%.3g MiB", b / 1048576);
  else if (b >= 1024)
    std::snprintf(s, sizeof s, "%.3g KiB", b / 1024);
  else
    std::snprintf(s, sizeof s, "%.0f B", b);
  return s;
}

bool contains(const std::vector<Dispatch>& v, Dispatch d)
{
  return std::find(v.begin(), v.end(), d) != v.end();
}

// The entry for the smallest listed rank count >= ranks, else the largest listed one.
const double* per_ranks(const std::map<int, double>& m, int ranks)
{
  if (m.empty())
    return nullptr;
  auto it = m.lower_bound(ranks);
  return it != m.end() ? &it->second : &std::prev(m.end())->second;
}

} // namespace

AllReduceChoice choose_all_reduce(const EngineProfile& e, int ranks, double bytes, const PlatformTraits& t)
{
  AllReduceChoice c;
  const std::string n = std::to_string(ranks);
  if (ranks < 2) {
    c.why = "one GPU, nothing to reduce";
    return c;
  }
  if (!e.custom_all_reduce) {
    c.why = e.engine + " has no custom all-reduce here";
    return c;
  }
  if (ranks > t.gpus_per_node) {
    c.why = "the group spans nodes";
    return c;
  }
  if (!t.nvlink && ranks > e.custom_ar_max_pcie_ranks) {
    c.why = "custom all-reduce is off on more than " + std::to_string(e.custom_ar_max_pcie_ranks) +
            " GPUs without NVLink (" + n + " here)";
    return c;
  }
  if (e.custom_ar_needs_p2p && !t.p2p) {
    c.why = "custom all-reduce needs P2P, which is off";
    return c;
  }
  if (bytes >= e.custom_ar_max_bytes) {
    c.why = bytes_text(bytes) + " is above the custom all-reduce's " + bytes_text(e.custom_ar_max_bytes);
    return c;
  }
  const double* one_shot = per_ranks(e.one_shot_max_bytes, ranks);
  if (ranks == 2 || !one_shot || bytes < *one_shot) {
    c.impl = AllReduceImpl::one_shot;
    c.why = ranks == 2 ? "2 GPUs" : bytes_text(bytes) + " on " + n + " GPUs";
  } else {
    c.impl = AllReduceImpl::two_shot;
    c.why = bytes_text(bytes) + " on " + n + " GPUs, at or above " + bytes_text(*one_shot);
  }
  const double* fixed = per_ranks(e.custom_ar_s, ranks);
  c.fixed_s = fixed ? *fixed : 0.0;
  return c;
}

double dp_gather_token_bytes(const ModelDtypes& d, double hidden, int top_k, bool post_quant)
{
  const double act = hidden * bytes_per_element(d.activations);
  if (!post_quant)
    return act;
  const double routing = top_k * (4.0 + 4.0); // int32 expert id + fp32 weight per choice
  if (d.expert_weights == Dtype::nvfp4)
    return hidden * 0.5 + hidden / 16.0 + routing;
  if (d.expert_weights == Dtype::fp8 && !d.fp8_block_scales)
    return hidden * 1.0 + routing;
  return act + routing;
}

ExpertComm expert_comm_of(Dispatch d)
{
  switch (d) {
    case Dispatch::all_reduce: return ExpertComm::all_reduce;
    case Dispatch::allgather: return ExpertComm::allgather;
    case Dispatch::nccl_a2a:
    case Dispatch::deepep_normal:
    case Dispatch::deepep_ll: return ExpertComm::all_to_all;
  }
  return ExpertComm::all_reduce;
}

StepPaths resolve_paths(const EngineProfile& e, const Plan& plan, bool comm_explicit, const PlatformTraits& t,
                        bool decode, int sequences, double all_reduce_bytes)
{
  StepPaths p;
  // How tokens reach the experts.
  if (plan.ep == 1) {
    p.dispatch = plan.expert_comm == ExpertComm::allgather ? Dispatch::allgather : Dispatch::all_reduce;
    p.dispatch_why = "experts are tensor-parallel";
  } else if (comm_explicit) {
    switch (plan.expert_comm) {
      case ExpertComm::all_reduce: p.dispatch = Dispatch::all_reduce; break;
      case ExpertComm::allgather: p.dispatch = Dispatch::allgather; break;
      case ExpertComm::all_to_all: {
        const Dispatch own = plan.attn_dp > 1 ? e.ep_dp_attention : e.ep_tp_attention;
        p.dispatch = expert_comm_of(own) == ExpertComm::all_to_all ? own : Dispatch::nccl_a2a;
        break;
      }
    }
    p.dispatch_why = "the plan asks for it";
  } else if (plan.attn_dp > 1) {
    p.dispatch = e.ep_dp_attention;
    p.dispatch_why = e.engine + "'s EP under attention DP";
  } else {
    p.dispatch = e.ep_tp_attention;
    p.dispatch_why = e.engine + "'s EP under attention TP";
  }
  if (contains(e.nvlink_only, p.dispatch) && !t.nvlink)
    throw InputError(e.file.empty() ? e.name : e.file, "nvlink_only_dispatch",
                     std::string(to_string(p.dispatch)) + " needs NVLink between the GPUs of a node; the platform "
                     "has none",
                     "dispatch with allgather or nccl_a2a (engine ep_dispatch_*), or pick an NVLink platform");
  // CUDA graphs.
  if (!e.cuda_graphs) {
    p.graphs_why = "eager (graphs off)";
  } else if (!decode) {
    p.graphs_why = "eager (prefill steps are not captured)";
  } else if (contains(e.graph_breaks, p.dispatch)) {
    p.graphs_why = std::string("eager (") + to_string(p.dispatch) + " cannot be captured)";
  } else {
    auto it = std::lower_bound(e.capture_sizes.begin(), e.capture_sizes.end(), sequences);
    if (it == e.capture_sizes.end()) {
      p.graphs_why = "eager (batch " + std::to_string(sequences) + " above the largest graph, " +
                     std::to_string(e.capture_sizes.empty() ? 0 : e.capture_sizes.back()) + ")";
    } else if (*it != sequences && !e.graph_padding) {
      p.graphs_why = "eager (batch " + std::to_string(sequences) + " not captured, no padding)";
    } else {
      p.graphs = true;
      p.graph_batch = *it;
      p.graphs_why = "CUDA graph of batch " + std::to_string(*it) +
                     (*it != sequences ? " (" + std::to_string(sequences) + " padded)" : "");
    }
  }
  p.all_reduce = choose_all_reduce(e, plan.attn_tp, all_reduce_bytes, t);
  p.moe_kernel = e.moe_kernel;
  return p;
}

std::string StepPaths::line() const
{
  std::string s = graphs_why;
  s += "; all-reduce " + std::string(to_string(all_reduce.impl)) + " (" + all_reduce.why + ")";
  s += "; experts via " + std::string(to_string(dispatch)) + " (" + dispatch_why + ")";
  s += "; MoE kernel " + std::string(to_string(moe_kernel));
  return s;
}

} // namespace moesim
