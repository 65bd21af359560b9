// Software paths: which of an engine's code paths one step takes on one platform (CUDA graph or eager
// and at what padded batch, custom all-reduce or NCCL, how tokens reach the experts, which MoE
// kernel), with the reason for each choice, from the engine profile's rules. Pure: numbers and
// facts in, choices out.
#pragma once
#include "core/engine_profile.hpp"
#include "core/plan.hpp"
#include "core/schedule.hpp"

#include <string>

namespace moesim {

// What the paths depend on in the hardware.
struct PlatformTraits {
  int gpus = 1;
  int gpus_per_node = 1;
  bool nvlink = false; // every GPU pair inside a node is connected by NVLink (directly or via NVSwitch)
  bool p2p = true;     // GPU peer-to-peer access inside a node
};

struct AllReduceChoice {
  AllReduceImpl impl = AllReduceImpl::nccl;
  double fixed_s = 0;     // the custom kernel's fixed cost (0 for NCCL: its own model applies)
  std::string why;
};

// The all-reduce of `bytes` over `ranks` GPUs of one node.
AllReduceChoice choose_all_reduce(const EngineProfile& e, int ranks, double bytes, const PlatformTraits& t);

struct StepPaths {
  // CUDA graphs
  bool graphs = false;
  int graph_batch = 0;     // sequences the replayed graph was captured for (>= the step's), 0 when eager
  std::string graphs_why;
  // MoE dispatch
  Dispatch dispatch = Dispatch::all_reduce;
  std::string dispatch_why;
  // custom all-reduce, as the step's TP all-reduce (the attention TP group) would take it
  AllReduceChoice all_reduce;
  MoeKernel moe_kernel = MoeKernel::fused;
  // One line for the report: "CUDA graph (batch 1); all-reduce NCCL: ...; experts via ...".
  std::string line() const;
};

// The paths of a decode (tokens_per_seq = 1 + draft tokens) or prefill step of `sequences` per
// attention-DP replica. `comm_explicit`: the plan names how tokens reach the experts (":a2a" ...),
// which then overrides the engine's rule. `all_reduce_bytes`: a typical TP all-reduce of the step
// (tokens x hidden x activation bytes), for the report line. Throws InputError (file = the
// profile, key = the fact) when the plan needs a path the platform cannot run (DeepEP without
// NVLink or P2P).
StepPaths resolve_paths(const EngineProfile& e, const Plan& plan, bool comm_explicit, const PlatformTraits& t,
                        bool decode, int sequences, double all_reduce_bytes);

// The plan's expert communication for a dispatch path.
ExpertComm expert_comm_of(Dispatch d);

// Bytes one token puts on the MoE all-gather under attention DP. Without post-quant gathering: its
// hidden state in the activation dtype. With it (TensorRT-LLM's CutlassFusedMoE.forward_chunk,
// run_post_quant_allgather): the token is routed and quantized to the fused kernel's input first,
// then gathered with its top-k expert ids (int32) and weights (fp32): NVFP4 experts 0.5 B an
// element plus one fp8 scale per 16; per-tensor fp8 experts 1 B; block-scaled fp8 and the rest
// keep the activation dtype (the kernel quantizes inside).
double dp_gather_token_bytes(const ModelDtypes& d, double hidden, int top_k, bool post_quant);

} // namespace moesim
