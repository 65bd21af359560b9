// The grid of `moesim-validate bench-ops` (no GPU needed): which points each op family times, what
// each point is estimated to cost on a device, and which points fit a time budget.
//
// Grids are log-spaced in every size, not taken from any model: GEMM m x n x k by powers of two
// (m 1 .. 16384, n 128 .. 262144, k 128 .. 16384), expert GEMMs (n 256 .. 32768, k 512 .. 16384) over experts, token-expert pairs
// and three row distributions, attention over batch, heads, head dims and context up to 128k,
// small kernels over rows and widths, so that a floor + bandwidth (or tiles and waves) form can be
// fitted and interpolated.
//
// Order and budget. Each axis's values get a level: 0 for every fourth value and the last, 1 for
// every second, 2 for the rest; a point's level is the highest of its axes. Points are ordered by
// level, and within a level by a fixed hash of the point, so that any prefix is a coarse grid
// first and then a uniform sample of the finer one. Each family has a share of the budget and takes
// the longest prefix whose estimated time fits its share; what a family leaves unused goes to the
// families that were cut, in proportion to their shares. The estimates (FLOPs or bytes at the
// device's rates, plus the bench's own waits, flushes, setup and CPU-side verification) are
// printed by --dry-run; at run time each family also stops at a wall-clock deadline.
#pragma once
#include "core/dtype.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace moesim::validate::opbench {

// Rates for the estimates (datasheet leads; the bench measures what the device really does).
struct DeviceRates {
  std::string name;      // "NVIDIA H200"
  int cc = 0;            // compute capability, 10 * major + minor
  int sms = 0;
  double bf16_flops = 0; // dense tensor-core peak, FLOP/s
  double fp8_flops = 0;  // 0: no FP8 tensor cores
  double fp4_flops = 0;  // 0: no FP4 tensor cores
  double mem_bw = 0;     // bytes/s
  double l2_bytes = 0;
  double mem_bytes = 0;
  int gpus = 1;          // devices visible (host-bench threads)
};
// "h200", "h100", "a100", "b200" (NVIDIA datasheets). Throws moesim::InputError for others.
DeviceRates preset_rates(const std::string& key);
// The preset whose name the device's contains ("NVIDIA H200" -> h200), with the device's own SM
// count, memory and L2; a device not in the presets gets rates scaled from the H100 by SMs.
DeviceRates rates_for_device(const std::string& name, int cc, int sms, double mem_bytes, double l2_bytes, int gpus);

enum class Family { gemm, grouped_gemm, attention_decode, attention_prefill, small, graph_gap, host };
const char* to_string(Family f);
Family parse_family(const std::string& s); // the names above; throws std::invalid_argument
const std::vector<Family>& all_families(); // in the order a run takes them: small, graph_gap, host first
double family_share(Family f); // of the budget; the shares sum to 1

struct GemmPoint {
  Dtype dtype = Dtype::bf16;
  long m = 0, n = 0, k = 0;
  bool operator==(const GemmPoint&) const = default;
};
struct GroupedPoint {
  Dtype dtype = Dtype::bf16;
  bool fused = true;     // else one GEMM per expert ("loop")
  int n = 0, k = 0, experts = 0;
  long tokens = 0;       // token-expert pairs on this GPU
  std::string dist;      // "uniform", "zipf", "sparse"
  std::vector<long> rows; // per local expert (expert_rows)
  bool operator==(const GroupedPoint&) const = default;
};
struct AttnPoint {
  bool decode = true;
  bool mla = false;      // decode over the latent cache (kv_lora + rope keys, kv_lora values)
  int batch = 0, q_heads = 0, kv_heads = 0, qk = 0, v = 0, kv_lora = 0, rope = 0;
  long context = 0;      // decode: keys per sequence
  long prompt = 0, cached = 0; // prefill
  int window = 0;
  bool operator==(const AttnPoint&) const = default;
};
// rmsnorm (rows, width), silu_mul (rows, width = inter), residual_add (elements in rows),
// topk (rows = tokens, width = experts, k), permute / unpermute (rows = tokens, width = hidden, k,
// experts), embedding (rows = tokens, width = hidden, vocab = table rows), sample (rows, vocab),
// router (rows = tokens, width = hidden, experts).
// cold_inputs (--points' "inputs=cold", never on the grid): every timed instance reads inputs (the
// router also weights) of its own, cold after the timer's L2 flush, as a step may read them after
// big GEMMs evicted them; the records say "inputs": "cold" and core fits them as models of their own
// (variant "cold"), which the simulator blends in after big ops (core/l2_reuse.hpp).
// Sample and embedding read inputs of their own always and take no key.
struct SmallPoint {
  std::string op;
  long rows = 0, width = 0;
  int k = 0, experts = 0;
  long vocab = 0;
  bool cold_inputs = false;
  bool operator==(const SmallPoint&) const = default;
};
// The launch family (op_bench_launch.cpp). kernels >= 2, distinct 1, events 0: the per-kernel gap
// of a chain of identical kernels against one kernel of the chain's work (the grid's points, and
// the only ones the simulator's graph_gap_us takes). distinct K > 1: the chain cycles through K
// kernel functions of identical work (a boundary between different kernels). events = kernels:
// the chain with an event record before and after each kernel, as the runner brackets every op
// (the cost of the bracket per op). kernels 0, events N >= 2: N event pairs with nothing between.
inline constexpr int kGapDistinctMost = 8; // fixed_work's variants (spin.hpp; checked where they launch)
inline constexpr int kGapMost = 1 << 12;   // kernels or event pairs of one point: one graph, one repetition
struct GapPoint {
  int kernels = 0;  // chain length (compared with 1 kernel of the chain's work); 0: events only
  int distinct = 1; // kernel functions the chain cycles through (1 .. kGapDistinctMost)
  int events = 0;   // event pairs: 0, kernels (one around each kernel), or N with kernels 0
  bool operator==(const GapPoint&) const = default;
  bool plain() const { return distinct == 1 && events == 0; }
};
// Throws std::invalid_argument naming the key when `p` is no point of the launch family above.
void check_gap_point(const GapPoint& p);
struct HostPoint {
  int threads = 0;
  bool operator==(const HostPoint&) const = default;
};
using Point = std::variant<GemmPoint, GroupedPoint, AttnPoint, SmallPoint, GapPoint, HostPoint>;

Family family_of(const Point& p);
std::string describe(const Point& p); // "gemm bf16 m=64 n=4096 k=7168"

// What a small kernel moves: the elements it processes (rows x width for row-wise ops: rmsnorm,
// silu_mul's outputs, embedding; residual_add's elements; topk's logits; permute and unpermute's
// copied rows x hidden; sample's logits; router's inputs) and the bytes it reads and writes.
double small_kernel_elements(const SmallPoint& p);
double small_kernel_bytes(const SmallPoint& p);

// Rows per expert for `tokens` token-expert pairs over `experts`: uniform (even, the first
// tokens % experts one more), zipf (weight 1 / (e + 1), rounded with round_group_rows), sparse
// (every 8th expert, evenly). The rows sum to `tokens`.
std::vector<long> expert_rows(long tokens, int experts, const std::string& dist);

// Every candidate point of a family for this device, in the order the budget takes them.
std::vector<Point> candidates(Family f, const DeviceRates& d);
// The level (0 coarse .. 2 fine) of value i of an axis of n values.
int axis_level(std::size_t i, std::size_t n);

// Instances timed back to back: copies with weights (or a KV cache) of their own, about 1 GiB in all
// (1 to 16; attention 1 to 8), so that each reads cold memory as a step's layers do; 8 for kernels
// without weights. Fewer where that would make a repetition long: at most 256 launches and about
// 2 ms of estimated GPU work per repetition (at least one instance).
int instances_for(const Point& p, const DeviceRates& d);

struct CostModel {
  int iters = 10, warmup = 3;
};
// Estimated wall time of timing one point: setup, CPU verification, GPU waits and flushes, and the
// timed work in both launch modes. The GPU time of one op alone: op_seconds.
double op_seconds(const Point& p, const DeviceRates& d);
double estimate_seconds(const Point& p, const DeviceRates& d, const CostModel& c);

struct FamilyPlan {
  Family family = Family::gemm;
  double budget_s = 0;   // its share, plus what other families left
  double estimate_s = 0; // of the points taken
  std::size_t candidates = 0;
  std::vector<Point> points;
  std::vector<double> estimates;
  bool operator==(const FamilyPlan&) const = default;
};
struct Plan {
  double budget_s = 0, estimate_s = 0;
  std::size_t measured = 0; // candidates left out as measured before (make_plan's `measured`)
  std::vector<FamilyPlan> families;
  bool operator==(const Plan&) const = default;
};
// Points for `budget_s` seconds of bench time over `families` (empty: all). With shards > 1 the
// selection is made for shards x budget and shard i (1-based) keeps every shards-th point of each
// family from its i-th: N GPUs in parallel time N times the points (the host and graph_gap families,
// which use several GPUs or the host, stay whole in shard 1). Candidates whose describe() text is in
// `measured` (points an earlier run timed: bench-ops --skip-measured) are left out before the budget
// is shared, so a later call times the points the earlier ones did not reach.
Plan make_plan(const DeviceRates& d, double budget_s, const CostModel& c, const std::vector<Family>& families,
               int shard = 1, int shards = 1, const std::set<std::string>& measured = {});
// The plan as text: per family the points taken of the candidates and the estimated seconds.
std::string plan_text(const Plan& p);

} // namespace moesim::validate::opbench
