// Transfer of measured op times from one GPU to another that nobody here can run (docs/transfer.md).
// Each measured time is split into a fixed part, which does not scale with the GPU's throughput
// (launch, synchronisation, pipeline fill), and the rest, which scales with the op's roofline bound:
//
//   t_to = f * clock_from / clock_to + (t_from - f) * bound_to(shape) / bound_from(shape)
//   bound(shape) = max(compute, memory)
//   compute = sum over the op's tile groups of ceil(tiles / SMs) * tile FLOPs / (tensor peak(dtype) / SMs)
//   memory  = DRAM bytes / memory bandwidth   (optionally L2 bandwidth when the operands fit in L2)
//
// f is the op class's fixed time on the source GPU: the intercept of a line fitted through the
// class's memory-bound measured times against their bound (relative least squares), capped at the
// class's median time, and never more than the time itself. The measured efficiency of each shape,
// (t - f) / bound, is carried over unchanged: that is the efficiency surface. Pure functions:
// numbers in, seconds out; records in, predicted records out.
#pragma once
#include "core/dtype.hpp"
#include "core/op_bench.hpp"

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace moesim {

// The numbers of a GPU the transfer scales by (platforms/gpus.yaml).
struct TransferGpu {
  std::string name;               // as nvidia-smi prints it
  int sms = 0;
  double clock_hz = 0;            // max SM boost clock
  double mem_bw = 0;              // peak DRAM bandwidth, B/s
  double l2_bytes = 0;
  std::map<Dtype, double> flops;  // dense tensor FLOP/s per native dtype (bf16 required)

  // The math rate for `d`: its own when native, else bf16 (dequantised), as core/costs.hpp does.
  double peak(Dtype d) const;
  // L2 bandwidth estimate: the A100 whitepaper's 5120 B/clk over its 108 SMs, per SM and clock.
  double l2_bw() const;
  // Throws std::invalid_argument naming the missing number.
  void check() const;
};

inline constexpr double l2_bytes_per_clock_per_sm = 5120.0 / 108;
inline constexpr int tile_rows = 128, tile_cols = 128; // CTA tile for wave quantisation

// A group of equal CTA tiles run as one kernel phase; the phases run one after another.
struct TileGroup {
  double count = 0;
  double flops_each = 0;
};

// What one op asks of a GPU, from its shape alone.
struct OpDemand {
  double flops = 0;           // tensor-core FLOPs
  double bytes = 0;           // DRAM bytes: every operand read once, every result written once
  Dtype math = Dtype::bf16;   // the dtype whose tensor rate the math runs at
  std::vector<TileGroup> tiles; // empty: the op spreads over every SM (split-K decode attention, elementwise)
};

// nullopt for ops whose time is not set by the GPU's throughput (graph_gap, host), that carry
// no size (a small kernel without `bytes`) or that are cold-inputs studies (BenchRecord::cold_study). Throws std::invalid_argument for impossible shapes.
std::optional<OpDemand> op_demand(const BenchRecord& r);

struct TransferOptions {
  bool l2 = false; // memory time at L2 bandwidth when the operands fit in half the L2
  // The achieved-rate rule (`moesim transfer --rate achieved`, docs/transfer.md): an op keeps the
  // rate it reached on the source unless the target's memory cannot give it. Its variable time v is
  // split as v^4 = own^4 + mem^4, mem its bytes over the source's bandwidth x r, r the class's roof
  // (the 90th percentile of the fraction of bandwidth its records reached) or the op's own fraction
  // where higher; own moves by the SM count x clock ratio (by the compute ratio where the source's
  // bound is compute), mem by the bandwidth ratio. Off: v moves by the bound ratio (each op keeps
  // its fraction of peak), which slows a kernel that never neared the source's bandwidth by the
  // bandwidth ratio.
  bool achieved_rate = false;
};

double compute_seconds(const OpDemand& d, const TransferGpu& g);
double memory_seconds(const OpDemand& d, const TransferGpu& g, const TransferOptions& o);
double bound_seconds(const OpDemand& d, const TransferGpu& g, const TransferOptions& o);

// The class an op's fixed time and errors are kept per: "gemm bf16", "gemm fp8 block",
// "attention_decode mla bf16", "attention_decode mla bf16 kv fp8".
std::string op_class(const BenchRecord& r);

// Intercept a of t = a + b * bound, minimising sum ((a + b * bound - t) / t)^2, capped to
// [0, median t]. Points are (bound, t); fewer than two distinct bounds give the smallest t.
double fit_fixed_seconds(const std::vector<std::pair<double, double>>& points);

// One measured time moved to the target GPU (the formula at the top).
double transfer_seconds(double t_from, double fixed_from, double bound_from, double bound_to, double clock_from,
                        double clock_to);

struct Prediction {
  double seconds = 0;
  bool exact = false;          // from a source record of the very same shape (else the nearest of its class)
  const BenchRecord* from = nullptr;
};

// Source records bound to a source and a target GPU. Predicts any shape: from the source record of
// the same shape when there is one, else from the nearest record of its class (the sum of
// |log2((1 + a) / (1 + b))| over the shape fields).
class Transfer {
public:
  Transfer(const OpBench& source, TransferGpu from, TransferGpu to, TransferOptions opt = {});

  // nearest = false: only from a source record of the same shape.
  std::optional<Prediction> predict(const BenchRecord& shape, bool nearest = true) const;
  // Whether the source has records of this op's class (and the op kind transfers at all).
  bool predicts(const BenchRecord& shape) const;
  // Every transferable source record, timed on the target (kernel and launch kept).
  OpBench predict_all() const;
  double fixed_seconds(const std::string& op_class) const;
  const std::map<std::string, double>& fixed_by_class() const { return fixed_; }

private:
  struct Entry {
    const BenchRecord* record;
    OpDemand demand;
  };
  double predict_from(const Entry& e, const OpDemand& d) const; // e's time moved to shape d on the target

  const OpBench& source_;
  TransferGpu from_, to_;
  TransferOptions opt_;
  std::map<std::string, std::vector<Entry>> by_class_;
  std::unordered_map<std::string, std::size_t> by_shape_; // shape_key -> index in its class
  std::map<std::string, double> fixed_;
  std::map<std::string, double> roof_; // achieved_rate: the class's 90th-percentile bandwidth fraction
};

} // namespace moesim
