// Builds the per-rank op DAG of one decode or prefill step from model x layout x step x routing.
#pragma once
#include "core/engine_profile.hpp"
#include "core/model.hpp"
#include "core/routing.hpp"
#include "core/schedule.hpp"
#include "core/software_paths.hpp"

namespace moesim {

// The engine's code paths a step is built with (resolved from an engine profile by
// resolve_paths; the defaults are moesim's generic engine).
struct BuildMechanisms {
  Dispatch dispatch = Dispatch::nccl_a2a;  // the all-to-all flavour, when the plan dispatches all-to-all
  MoeKernel moe_kernel = MoeKernel::fused; // per_expert also follows engine.grouped_gemm_per_expert
  int draft_tokens = 0;                    // speculative decoding: draft passes after the verify step
  int draft_layers = 1;                    // layers of the draft (MTP) module run per draft token
  bool dp_pad_to_max = false;              // every attention-DP replica runs the largest replica's tokens
  bool dp_gather_post_quant = false;       // the MoE all-gather carries quantized tokens (dp_gather_token_bytes)
  bool dp_gather_per_root = false;         // ... and it and the reduce-scatter run per root rank (Op::per_root)
  const EngineProfile* profile = nullptr;  // its custom all-reduce rules (nullptr: NCCL everywhere)
  PlatformTraits traits;
};

struct BuildOptions {
  RoutingSpec routing;
  EngineParams engine;
  BuildMechanisms mech;
};

Schedule build_schedule(const Model& model, const Layout& layout, const StepShape& step, const BuildOptions& opt);

// Device memory one rank needs (bytes), by part.
struct MemoryUse {
  double weights = 0;
  double kv_cache = 0;
  double activations = 0;
  double total() const { return weights + kv_cache + activations; }
};
MemoryUse memory_per_rank(const Model& model, const Layout& layout, const StepShape& step, int rank);

} // namespace moesim
