// Forms: small documented formulas for an op's time, fitted to measurements so that shapes outside
// a measured grid extrapolate sensibly (docs/perf-models.md gives each with its equations). Pure
// functions: numbers in, seconds out. One file per form in forms/, behind the table in forms.cpp.
#pragma once
#include <string>
#include <utility>
#include <cstddef>
#include <vector>

namespace moesim::perf {

enum class FormKind {
  gemm_tiles,      // dense GEMM, dims {batch, m, n, k}: output tiles in waves over the SMs, split-K
  grouped_tiles,   // fused grouped GEMM, dims {n, k, active experts, total rows} (+ rows per expert)
  decode_splitk,   // decode attention, dims {d_qk, d_v, kv_heads, q_heads, batch, context}
  decode_tiles,    // decode attention as the harness kernel runs it (row tiles, its split rule, resident
                   // blocks per SM), the same dims
  decode_tiles_staggered, // decode_tiles whose partial last round starts as the last full round's blocks
                          // finish (session 24; off by default: docs/perf-models.md), the same dims
  prefill_tiles,   // prefill attention, dims {d_qk, d_v, kv_heads, q_heads, batch, cached, prompt}
  prefill_kernel_tiles, // prefill attention as the harness kernel runs it (row tiles over position x group
                        // per KV head, the causal imbalance), the same dims
  floor_bandwidth, // memory-bound kernel: a floor plus bytes over a bandwidth, dims are its sizes
};
const char* to_string(FormKind k);
// decode_tiles or its staggered variant: the same launch, terms and grid rules.
inline bool is_decode_tiles(FormKind k) { return k == FormKind::decode_tiles || k == FormKind::decode_tiles_staggered; }
FormKind parse_form_kind(const std::string& s); // throws std::invalid_argument naming the choices
// How many dims a form takes (floor_bandwidth: any number, returned as 0).
std::size_t form_dims(FormKind k);

struct FormParams {
  FormKind kind = FormKind::floor_bandwidth;
  // Given, not fitted: the GPU and the op's element sizes.
  double sms = 0;          // streaming multiprocessors
  double bytes_a = 2;      // bytes per element of activations (GEMM A, attention queries and outputs)
  double bytes_w = 2;      // bytes per element of weights (GEMM B) and of the KV cache
  double bytes_c = 2;      // bytes per element of GEMM outputs
  double bytes_per_item = 0; // floor_bandwidth: bytes moved per unit of size (the product of its size dims)
  int size_dims = 0;       // floor_bandwidth: how many leading dims multiply into the size (0: all)
  bool shared_kv = false;  // decode_splitk, decode_tiles: keys and values are one latent vector (MLA)
  double smem_per_sm = 0;    // decode_tiles: shared memory of one SM (bytes), from the compute capability
  double smem_per_block = 0; // decode_tiles: the most one block may opt into (bytes)
  double smem_reserved = 0;  // decode_tiles: what the runtime reserves per resident block (bytes)
  double threads_per_sm = 0; // decode_tiles: resident threads of one SM
  double l2_bytes = 0;     // grouped_tiles: the GPU's L2; an expert's weights larger than it, over more
                           // column tiles than SMs, are read again by each of its row tiles (0: unknown,
                           // read once)
  // Fitted.
  double floor_s = 0;      // GPU time of the smallest launch (s)
  double flops = 0;        // sustained math rate of the whole GPU (FLOP/s)
  double bandwidth = 0;    // sustained device-memory bandwidth (B/s)
  double tile_m = 128;     // output tile rows (prefill: query rows per tile)
  double tile_n = 128;     // output tile columns
  double split_min = 256;  // gemm_tiles: least k per split; decode_splitk: least context per split
  double combine_s = 0;    // decode_splitk: time to combine the partial results of a split context
  double unit_s = 0;       // decode_splitk, prefill_tiles, grouped_tiles: fixed time of one work unit (tile) on its SM
  double score_rate = 0;   // prefill_tiles: softmax rate over attention scores, whole GPU (scores/s)
  double tile_bandwidth = 0; // grouped_tiles, decode_tiles: what one tile's block streams (B/s); the GPU caps the sum at bandwidth
  double tile_s = 0;       // decode_tiles: fixed time of one key tile in a block (its loads' latency, the softmax)
  double split_s = 0;      // decode_tiles: the combine's serial time per key split and value column a thread
                           // sums (one dependent global load each; 0: none, as calibrations before it)
  double l2_bandwidth = 0; // grouped_tiles: what the SMs pull through the L2 when an expert's second and later
                           // 16-row tiles find its weights there (B/s, whole GPU; 0: none, as calibrations
                           // before it: every row tile reads its expert's weights from device memory)
};

// The numeric fields of FormParams by name (in the order the calibration file writes them).
const std::vector<std::pair<const char*, double FormParams::*>>& form_fields();
// Numeric fields added after calibration files were first written: written only when not zero, and
// 0 when a file leaves them out.
const std::vector<std::pair<const char*, double FormParams::*>>& optional_form_fields();
// Throws std::invalid_argument naming the first field the form uses that is not positive (or sms).
void check_form(const FormParams& p);

// Seconds of one op of shape `dims`. `rows`: a grouped GEMM's rows per expert (may be empty: the
// rows are then spread evenly over the active experts).
double form_seconds(const FormParams& p, const std::vector<double>& dims, const std::vector<double>& rows = {});

// How the harness kernel launches one decode attention op (decode_tiles; kernels/attention.cu): its
// tile, the work units and key splits, and how many of its blocks one SM holds at once. Needs
// p.sms, p.shared_kv and the SM limits.
struct DecodeTiling {
  double rows = 0, keys = 0, threads = 0; // query rows and keys of one tile, threads of a block
  double smem = 0;                        // shared memory of one block (bytes)
  double units = 0, splits = 0, chunk = 0, blocks = 0;
  double resident = 0;                    // blocks resident on one SM
};
DecodeTiling decode_tiling(const FormParams& p, double d_qk, double d_v, double kv_heads, double q_heads, double batch,
                           double context);

struct FitPoint {
  std::vector<double> dims;
  std::vector<double> rows;
  double seconds = 0;
};

// Fits the fitted fields of `given` (whose given fields are set) to `points`: minimises the mean
// |log(form / measured)| (so the typical relative error, not the large shapes, drives the fit) by a
// coarse scan of the continuous parameters, Nelder-Mead in log space, and a greedy pass over the
// discrete ones (tiles, split sizes). Deterministic: the same points give the same parameters. At
// most `max_points` points are used, taken at an even stride in the given order.
FormParams fit_form(FormParams given, const std::vector<FitPoint>& points, std::size_t max_points = 4000);

} // namespace moesim::perf
