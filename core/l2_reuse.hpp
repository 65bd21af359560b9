// Whether a small kernel reads its inputs from L2 or from device memory. bench-ops times a small
// kernel's instances back to back over one set of buffers, so every instance after the first finds
// its inputs in L2 (the warm records); its "inputs=cold" points give every instance inputs of its own
// after an L2 flush, so that *every* input is cold (the cold records, 0.2-1.5 us more on an H100;
// session 21's grid, validate/results/h100-2026-12-07-points-s21-cold-grid). In a step neither holds
// for the whole kernel: the activation it reads was just written or read by the op before it, and is
// warm even after a decode's expert GEMMs streamed gigabytes of weights; the state it reads besides
// (norm weights, the residual, the routing) was last touched longer ago. The rule (docs/perf-models.md,
// "Small kernels after big ops"), per input:
//   X_i = the bytes the rank's ops moved since input i was last touched (by the op before: 0);
//   f_i = clamp(log2(X_i / (L2 / 2)) / 2, 0, 1): warm up to half the L2, half cold at the L2, cold
//         from twice it (an L2 is not a perfect LRU);
//   f   = sum over the kernel's cold-prone inputs of share_i x f_i (kernel_inputs says each share;
//         inputs read together in one dependent load count as one, cold when either is: the max);
// and the op's time is warm + f x (cold - warm) (op_time.hpp).
#pragma once
#include "core/schedule.hpp"

#include <vector>

namespace moesim {

// The kinds the blend applies to: rmsnorm, silu_mul, residual_add, topk, permute and unpermute (the
// kernels bench-ops times with cold inputs; sample and embedding are timed cold always, the router is
// a GEMM whose weights are timed cold).
bool cold_blends(OpKind kind);

// The cold fraction from X bytes moved since the last touch, against an L2 of `l2_bytes` (> 0).
double cold_fraction(double moved_bytes, double l2_bytes);

// Who touched an input last, counting back from the kernel that reads it.
enum class LastTouch {
  same_kind, // state a kernel of the kind reads each time: the previous kernel of the same kind
  producer,  // written by the latest op of kind `producer` (this layer's permute for unpermute's rows)
};

// One input of a blended kernel that may be cold: the part of the cold-minus-warm penalty it carries
// (`share`, 0-1) and who touched it last. Two touches: one load of both (unpermute's slot routing),
// cold when either part is. The kernel's activation (what the op before it wrote or read) is never
// listed: it is warm, and carries the rest of the penalty.
struct ColdInput {
  const char* what = "";
  double share = 0;
  LastTouch touch = LastTouch::same_kind;
  OpKind producer = OpKind::permute;
  bool also_same_kind = false; // a second part, last touched by the previous kernel of the kind
};

// The inputs of `op` that may be cold (none for a kind that does not blend). `before`: the op just
// before it on the rank, or null: silu_mul's input is warm for the part of it that op read.
std::vector<ColdInput> kernel_inputs(const Op& op, const Op* before);

// f for every op of one rank's step, by op id (0 for every op of another kind): X counts each compute
// op's bytes and each communication op's size (comm_bytes), in the schedule's order, strictly between
// the input's last touch and the op; a touch not found earlier in the step reaches back into the
// previous step (the same schedule run again); a kind that occurs once in the step counts the whole
// step less itself, and an input whose producer never runs is taken warm.
std::vector<double> cold_fractions(const RankSchedule& rank, double l2_bytes);

} // namespace moesim
