// Engine step: how one serving engine (a profile) runs one step of a plan on a platform. It turns
// the engine's path rules (core/software_paths) into what the schedule builder and the step's clock
// need: the plan with the engine's expert communication and redundant experts, the step with its
// speculative tokens, the build mechanisms, the CUDA-graph choice, and the host time per step.
#pragma once
#include "core/engine_profile.hpp"
#include "core/plan.hpp"
#include "core/schedule.hpp"
#include "core/schedule_builder.hpp"
#include "core/software_paths.hpp"

namespace moesim {

struct EngineStep {
  Plan plan;            // expert_comm follows the engine's dispatch; redundant_experts its EPLB slots
  StepShape step;       // tokens_per_seq = 1 + draft tokens on a speculative decode step
  EngineParams engine;  // cuda_graphs as the step takes them
  BuildMechanisms mech; // points at the profile: keep the profile alive while building
  StepPaths paths;
  double tokens_per_step = 1; // output tokens a sequence gains per decode step (acceptance length)
};

// The engine's step. `base` carries the generic engine's fields the profile does not set.
EngineStep engine_step(const EngineProfile& e, const Plan& plan, const PlatformTraits& t, const StepShape& st,
                       double hidden, const EngineParams& base);

// The step's wall time from the GPU time of the simulated step: the engine's per-step host work
// (scheduler, input preparation, output processing) is added, or hidden behind the GPU work when
// the engine overlaps it with the previous step; attention-DP replicas then agree on the next batch.
// The host work is step_us plus step_us_per_seq for each of the `seqs` sequences of one replica.
double engine_step_seconds(const EngineProfile& e, const Plan& plan, double gpu_seconds, int seqs);

// The model as the engine's KV allocator sees it: with sliding_kv_full, sliding-window layers hold
// the whole sequence (no window), so the KV cache per token counts every layer in full. Attention
// itself still reads only the window: use this model for KV capacity, the real one for step time.
Model kv_allocation_model(const Model& m, const EngineProfile& e);

} // namespace moesim
