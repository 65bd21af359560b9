// Op-bench records (op_bench.hpp, read there and only there) as the op-performance models take
// them: each timed op's model key and dims (op_models.hpp), the graph gaps, the host API costs, and
// a count of the records that are read but not modelled. The checks that only the models need (a
// launch mode on every timed op, positive sizes, a known host API) are InputErrors naming the file
// and the record.
#pragma once
#include "core/moe_layer.hpp"
#include "core/op_bench.hpp"
#include "core/op_models.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace moesim {

// A graph_gap record of bench-ops other than a plain chain of identical kernels in a graph: a chain
// cycling through `distinct` kernel functions (seconds per boundary), a chain with an event pair
// around each kernel (events = kernels; seconds a bracket adds per op), or `events` event pairs
// with nothing between (kernels 0; seconds per pair); in a graph or from a stream. Read and checked;
// the simulator does not use them yet.
struct LaunchGap {
  int kernels = 0, distinct = 1, events = 0;
  bool graph = true;
  double seconds = 0;
  bool operator==(const LaunchGap&) const = default;
};

struct OpMeasurements {
  std::string source;
  OpBenchSystem system;
  // Timed compute ops. Small kernels other than sample and embedding timed with inputs of their own
  // per instance (BenchRecord::cold_study) are here under variant "cold". Cold router records that
  // give rows, width and experts are here as the GEMM they time (alignment class and all,
  // gemm_aligned); the others (elements only, or warm) count under unmodelled.
  std::vector<OpRecord> ops;
  // Seconds per kernel inside a CUDA graph: the plain chains of identical kernels only (no distinct
  // kernels, no events, not launched from a stream), which the fit's graph_gap_s is the median of.
  std::vector<double> graph_gaps;
  std::vector<LaunchGap> launch_gaps; // every other graph_gap record
  std::vector<HostApiCost> host;
  // Whole fused MoE layers (`moe` records) measured with balanced routing, the routing moesim's
  // uniform expected-value routing stands for (moe_layer.hpp).
  std::vector<MoeLayerRecord> moe;
  // Records read and checked but not modelled, by op: "moe (distribution NAME)" for MoE layers
  // measured with another routing than balanced.
  std::map<std::string, size_t> unmodelled;
  // From bench-ops's side file `<file>.run.json`, when there is one: false when the run was cut
  // (its deadline or a failure) and the file holds only the points run before that.
  std::optional<bool> complete;
};

// `file` names the input in errors.
OpMeasurements op_measurements(const OpBench& bench, const std::string& file);
OpMeasurements parse_op_measurements(const std::string& json_text, const std::string& file);
// Reads a file (plain or gzip-compressed, read_op_bench_file) and, beside it, bench-ops's side
// file `<path>.run.json` or `<stem>.run.json`, gzipped or not, if there is one (its `complete`; the rest is for people).
OpMeasurements load_op_measurements(const std::string& path);

} // namespace moesim
