// Whether a small kernel reads its inputs from L2 or from device memory. bench-ops times a small
// kernel's instances back to back over one set of buffers, so every instance after the first finds
// its inputs in L2; in a step, the ops run since the kernel's inputs were last touched may have moved
// far more than the L2 holds (a decode's expert GEMMs stream gigabytes of weights), and then the
// kernel reads them from device memory, 0.2-1.5 us more on an H100 (bench-ops "inputs=cold", session
// 21's grid: validate/results/h100-2026-12-07-points-s21-cold-grid). The rule (docs/perf-models.md,
// "Small kernels after big ops"): a kernel's inputs were last touched by the previous kernel of its
// kind (norm weights, the residual, the routing indices: state a kernel of the kind reads each layer),
// so X = the bytes the rank's ops moved between the two, and the kernel is cold by
//   f = clamp(log2(X / (L2 / 2)) / 2, 0, 1):
// warm while X is at most half the L2, half cold at X = L2, cold from 2 x L2 (an L2 is not a perfect
// LRU: part of it survives a stream longer than itself, and part is lost to one shorter). The op's time
// is then warm + f x (cold - warm) (op_time.hpp).
#pragma once
#include "core/schedule.hpp"

#include <vector>

namespace moesim {

// The kinds the blend applies to: rmsnorm, silu_mul, residual_add, topk, permute, unpermute (the
// kernels bench-ops times with cold inputs; sample and embedding are timed cold always, the router is
// a GEMM whose weights are timed cold).
bool cold_blends(OpKind kind);

// The cold fraction f from X bytes moved since the last touch, against an L2 of `l2_bytes` (> 0).
double cold_fraction(double moved_bytes, double l2_bytes);

// f for every op of one rank's step, by op id (0 for every op of another kind): X counts each compute
// op's bytes and each communication op's size (comm_bytes), in the schedule's order, strictly between
// the op and the previous op of its kind; the first of a kind reaches back into the previous step
// (the same schedule run again), so X there is the bytes after the last of its kind plus those before
// the first. A kind that occurs once in the step counts the whole step less itself.
std::vector<double> cold_fractions(const RankSchedule& rank, double l2_bytes);

} // namespace moesim
