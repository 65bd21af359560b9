// The schedule's compute ops -> the op-performance models: which model answers an op and with what
// dims (the one place that reads an Op's shape for them), and the op's time with its provenance,
// choosing between the models, the older one-dimensional kernel tables and the roofline.
#pragma once
#include "core/calibration.hpp"
#include "core/costs.hpp"
#include "core/op_models.hpp"

#include <optional>
#include <vector>

namespace moesim {

struct OpQuery {
  OpModelKey key;
  std::vector<double> dims;
  std::vector<double> rows; // grouped GEMM: rows per expert, rounded as the harness runs them
};

// The model query for a compute op (a grouped GEMM as one fused kernel); nullopt for an op the
// models do not cover (collectives, host syncs, small kernels of a kind they do not name).
std::optional<OpQuery> query_of(const Op& op);
// A grouped GEMM run as one GEMM per expert with rows: one dense GEMM query per such expert.
std::vector<OpQuery> loop_queries(const Op& op);

struct OpTime {
  double seconds = 0;
  perf::Provenance provenance = perf::Provenance::specs;
};

// The op's GPU time and where it came from. Candidates: the calibration's op models (the model
// measured the way the step runs, else the other: a stream-measured one under a CUDA graph plus the
// measured per-kernel graph gap, a graph-measured one as it is in eager mode; a grouped GEMM with op.kernels > 1 as the sum of its experts' dense GEMMs, else fused), the
// one-dimensional kernel tables (measured at a point, else interpolated), and the roofline (specs).
// The most trusted provenance wins; between equals the op models. `cal` may be null.
// `cold_fraction` (l2_reuse.hpp, 0-1): how far a small kernel's inputs are cold; where the models hold
// the kernel's cold variant, its time is warm + cold_fraction x (cold - warm).
OpTime op_time(const Calibration* cal, const GpuSpec& gpu, const Op& op, bool graph, double cold_fraction = 0);

// The GPU's idle time at the kernel boundary before a compute op, out of the op's time `t`: the
// calibration's measured gap between event brackets for the launch mode (`graph`: a CUDA graph's,
// else an eager stream's; bracket_gaps.hpp), else its measured per-kernel gap inside a CUDA graph
// (bench-ops graph_gap), once per op, where `t` came from measurements (op models, kernel tables,
// whole-layer measurements: each timed with its instances back to back, so the boundary is inside the
// time per instance); 0 for a datasheet time or without a measured gap; at most t. The simulator
// starts the kernel this long after the op could start and ends it where `t` ends, so the step is
// unchanged and the boundary counts as the GPU's wait before the op (a timeline's start - ready), as
// in a measured timeline, whose event brackets leave it outside every op (docs/perf-models.md,
// "Kernel boundaries").
double boundary_gap(const Calibration* cal, const OpTime& t, bool graph);

} // namespace moesim
