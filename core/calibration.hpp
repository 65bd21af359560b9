// Calibration: what was measured on a real machine, in the form the simulator uses. Collective
// curves (time against size, per collective and group size), kernel timing tables (time against one
// shape dimension, per op kind, dtype and the other dimensions), host costs (per launch, per
// synchronisation, per graph launch) and, optionally, compute efficiencies. Written by
// `moesim calibrate` (from nccl-tests logs, moesim-validate bench-collectives and bench-kernels) to
// platforms/calibration/<platform>.yaml; read by sim/ when that file exists. Pure: no SimGrid.
#pragma once
#include "core/op_models.hpp"
#include "core/schedule.hpp"

#include <map>
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
  // Measured with the kernels captured in a CUDA graph (small kernels follow each other faster
  // there) rather than launched one by one from a stream.
  bool graph = false;

  // The op's time if it matches (kind, dtype, shape except shape[vary]) and shape[vary] lies inside
  // the grid (linear interpolation); nullopt otherwise, so the caller falls back to the roofline.
  // `exact` (when given) is set when the op's value is one of the points.
  std::optional<double> time_of(const Op& op, bool* exact = nullptr) const;
};

// What the host pays, measured (moesim-validate bench-kernels). When present these replace the
// schedule's EngineParams (launch_s, sync_s, graph_launch_s): they are properties of the machine.
struct HostCosts {
  std::optional<double> launch_s;               // one kernel launch (median over the measured kernels)
  std::map<OpKind, double> launch_s_by_kind;    // one launch of a kernel of this kind (cuBLAS calls cost more)
  std::optional<double> sync_s;                 // device-to-host copy of a few bytes + stream synchronise, GPU idle
  std::optional<double> graph_launch_s;         // graph launch call to its first node starting on the GPU
  std::optional<double> event_record_s;         // one cudaEventRecord (the harness's per-op timing, eager)
  // Per API call, by GPU state and host threads (op-bench host records), sorted. When present they
  // take precedence over the fields above (host_api_seconds).
  std::vector<HostApiCost> api;
  bool empty() const
  {
    return !launch_s && launch_s_by_kind.empty() && !sync_s && !graph_launch_s && !event_record_s && api.empty();
  }
  // The measured cost of `api` for a GPU `busy` or idle with `threads` host threads launching:
  // the entry of that state at the largest measured thread count <= threads (linear between
  // measured counts), the other state's when only it was measured; nullopt without that api.
  std::optional<double> api_seconds(const std::string& api, bool busy, int threads) const;
};

struct Calibration {
  std::string platform;
  std::string measured_on; // card, driver, CUDA, NCCL, date, environment: one line
  std::string source;      // how the numbers were obtained
  std::vector<CollectiveCurve> collectives;
  std::vector<KernelCurve> kernels;
  HostCosts host;
  OpModels op_models; // op-performance models over every shape dimension (op_time.hpp uses them)
  std::optional<double> mem_bw_eff, flops_eff, kernel_overhead, p2p_alpha;

  const CollectiveCurve* find(OpKind kind, int ranks) const;
  // The measured time of `op`, or nullopt (then the roofline applies). A grouped GEMM run as one
  // GEMM per expert (op.kernels > 1: engine grouped_gemm per_expert) is the sum of its experts' GEMMs
  // {rows, n, k} (rows rounded as round_group_rows does) when gemm curves cover every expert;
  // otherwise, and for every other op, the first curve covering the op's shape. `graph`: the step
  // runs as a CUDA graph, so graph-measured curves first, then stream-measured ones.
  // `exact` (when given) is set when every curve value used was a measured point.
  std::optional<double> kernel_time(const Op& op, bool graph = false, bool* exact = nullptr) const;
  // Host cost of launching `op` in eager mode: comm ops one launch, compute ops op.kernels launches,
  // each at the measured cost for its kind, else the measured median, else engine.launch_s.
  // With per-API costs measured (host.api), a GEMM launch is a cublaslt_call, a collective or send
  // an nccl_call and every other kernel a kernel_launch, at the GPU state and thread count given.
  double launch_seconds(const Op& op, double engine_launch_s, bool gpu_busy = true, int threads = 1) const;
  // Host cost of launching `op` under `engine` (eager): launch_seconds, plus two event records when
  // engine.timed_ops (at the measured cost, else engine.event_record_s). `cal` may be null.
  static double host_seconds(const Calibration* cal, const Op& op, const EngineParams& engine, bool gpu_busy = true,
                             int threads = 1);
};

// Adds to `c` what `moesim-validate bench-kernels --json` measured (`file` names it in errors): one
// kernel curve per (op kind, dtype, shape but the varying dimension), the varying dimension being the
// rows of a grouped GEMM and the first one of every other op; points at the same value are averaged;
// ops with graph_seconds give graph-measured curves beside the stream-measured ones.
// Host costs: the median launch cost per kind and overall, sync and graph launch. measured_on, when
// still empty, from the bench's system (card x count, driver, CUDA, NCCL). Throws InputError
// naming the file and the key for JSON that is not bench-kernels output.
void add_kernel_bench(Calibration& c, const std::string& json_text, const std::string& file);

// Strict YAML (unknown keys refused, file:line in errors).
Calibration load_calibration_file(const std::string& path);
// The same, parsed once per process: later calls with the same path return the first result (the
// CLI warms it before forking one process per scenario, so a sweep parses each file once).
const Calibration& cached_calibration(const std::string& path);
std::string calibration_to_yaml(const Calibration& c);

} // namespace moesim
