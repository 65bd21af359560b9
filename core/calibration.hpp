// Calibration: what was measured on a real machine, in the form the simulator uses. Collective
// curves (time against size, per collective and group size) and, optionally, compute efficiencies.
// Written by `moesim calibrate` (from nccl-tests logs or moesim-validate bench-collectives) to
// platforms/calibration/<platform>.yaml; read by sim/ when that file exists. Pure: no SimGrid.
#pragma once
#include "core/schedule.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace moesim {

// nccl-tests' bus bandwidth factor: busbw = algbw * factor (notes §7).
double busbw_factor(OpKind kind, int ranks);

struct CollectiveCurve {
  OpKind kind = OpKind::all_reduce; // all_reduce, all_gather, reduce_scatter, all_to_all, send (sendrecv)
  int ranks = 0;
  std::vector<std::pair<double, double>> points; // (bytes in nccl-tests' size convention, seconds), by size

  // Measured time at `bytes`: piecewise linear in log-log between points; below the smallest size
  // the smallest time (a latency floor); above the largest, the last point plus bytes at its bus bandwidth.
  double time_at(double bytes) const;
  // Sustained bus bandwidth: the best busbw among the points (B/s).
  double bus_bandwidth() const;
  // The fixed part at `bytes`: time_at(bytes) minus the transfer at the sustained bus bandwidth
  // (never negative). With it, alpha + transfer reproduces the curve exactly.
  double alpha_at(double bytes) const;
};

// Measured times of one compute-op kind over a grid in one shape dimension, the others fixed:
// e.g. gemm {m, 4096, 4096} over m, or attention_decode {64, 16, 2, ctx, 128} over the context.
struct KernelCurve {
  OpKind kind = OpKind::gemm;
  Dtype dtype = Dtype::bf16;
  int vary = 0;                                  // index of the varying shape dimension
  std::vector<double> shape;                     // the op's shape; shape[vary] is ignored
  std::vector<std::pair<double, double>> points; // (value of shape[vary], seconds), ascending

  // The op's time if it matches (kind, dtype, shape except shape[vary]) and shape[vary] lies inside
  // the grid (linear interpolation); nullopt otherwise, so the caller falls back to the roofline.
  std::optional<double> time_of(const Op& op) const;
};

struct Calibration {
  std::string platform;
  std::string measured_on; // card, driver, CUDA, NCCL, date, environment: one line
  std::string source;      // how the numbers were obtained
  std::vector<CollectiveCurve> collectives;
  std::vector<KernelCurve> kernels;
  std::optional<double> mem_bw_eff, flops_eff, kernel_overhead, p2p_alpha;

  const CollectiveCurve* find(OpKind kind, int ranks) const;
  // The first kernel curve covering `op`, or nullopt (then the roofline applies).
  std::optional<double> kernel_time(const Op& op) const;
};

// Strict YAML (unknown keys refused, file:line in errors).
Calibration load_calibration_file(const std::string& path);
std::string calibration_to_yaml(const Calibration& c);

} // namespace moesim
