// Whole fused MoE layers as measured (op-bench `moe` records: NVIDIA AIConfigurator's moe tables),
// and how a rank's schedule takes them. A record times one GPU's part of a fused MoE layer
// (routing top-k, permute, the two grouped expert GEMMs with their activation, unpermute) for a
// model shape (hidden, expert inter, top-k, experts), a split (moe_tp x moe_ep) and the tokens
// entering the layer on that GPU. The records of one shape and split make a curve over tokens,
// read by linear interpolation between the two records around a token count (docs/transfer.md,
// "Whole MoE layers").
//
// The schedule keeps its six ops per MoE layer (their names, order and the timeline's split), so
// the layer's measured time is shared out: the routing, permute, activation and unpermute kernels
// keep their own times, the two grouped GEMMs take the rest in proportion to their own estimates.
// The layer then sums to the measurement. Pure functions: numbers and schedules in, seconds out.
#pragma once
#include "core/dtype.hpp"
#include "core/perf/op_model.hpp"
#include "core/schedule.hpp"

#include <compare>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace moesim {

// The shape and split a curve measured. inter is the whole expert's (moe_tp shards it).
struct MoeLayerKey {
  Dtype dtype = Dtype::bf16;  // the experts' weights
  bool block_scales = false;  // fp8 with 128x128 weight blocks (SGLang's H200 wide-EP tables)
  int hidden = 0, inter = 0, topk = 0, experts = 0, moe_tp = 1, moe_ep = 1;
  // The routing measured: 0 even (AIConfigurator's `balanced`, SGLang's `uniform`), a > 0 power-law
  // expert popularity with exponent a (`power_law_<a>`).
  double power_law_alpha = 0;
  auto operator<=>(const MoeLayerKey&) const = default;
};
// "moe mxfp4 hidden 2880 inter 2880 top-4 of 128 tp1 ep4"
std::string describe(const MoeLayerKey& k);

// One record as the curves take it (op_measurements.cpp builds them from op_bench.hpp's records).
struct MoeLayerRecord {
  MoeLayerKey key;
  bool graph = false;    // measured inside a CUDA graph
  double tokens = 0;     // tokens entering the layer on the GPU (before top-k)
  double seconds = 0;
  std::string kernel;    // the kernel the source names
  std::string where;     // "file: records[12]"
};

struct MoeLayerPoint {
  double tokens = 0, seconds = 0;
  std::string where;
};
struct MoeLayerCurve {
  MoeLayerKey key;
  bool graph = false;
  std::string kernel;   // the one kernel of its points; "" where the fastest of several
  bool fastest = true;  // the fastest record at each token count, whatever the kernel
  std::vector<MoeLayerPoint> points; // by tokens, strictly increasing
};

// The backend a record's kernel belongs to, by AIConfigurator's TensorRT-LLM kernel_source names
// (ai-dynamo/aiconfigurator collector/trtllm/collect_moe.py @095f58a51): moe_torch_flow_cutlass is
// the CUTLASS backend, moe_torch_flow_min_latency TRTLLM-gen (moe_backend "trtllm", min-latency
// mode). Any other kernel (moe_torch_flow: Triton on Hopper, TRTLLM-gen or DeepGEMM on Blackwell,
// by dtype; the vLLM and SGLang tables' kernels) names no backend here.
bool kernel_runs(const std::string& kernel, MoeBackend b);

struct MoeLayerMatch {
  const MoeLayerCurve* curve = nullptr;
  bool fallback = false; // the backend has no record of the shape: the fastest kernels' curve
  // The key asked for skewed routing (power_law_alpha > 0) and no curve of that routing has the
  // shape and split: the even-routing curve (key.power_law_alpha = 0) stands in.
  bool even_routing = false;
  // The key's split is expert-TP (moe_tp > 1) and no curve has it: the curve of the expert-parallel
  // split over the same GPUs (moe_tp 1, moe_ep = moe_tp x moe_ep) stands in. Per GPU the two do the
  // same FLOPs and, under even routing, read the same expected expert bytes (moe_tp k: every expert
  // at 1/k of its width; moe_ep k: 1/k of the experts at full width); AIConfigurator's TensorRT-LLM
  // tables, which time both splits of many shapes, give tp-k / ep-k medians of 0.99-1.19 at up to
  // 128 tokens on H100, H200 and B200 (docs/engines.md, "Expert-TP MoE layers from the EP records").
  bool split_stand_in = false;
};

struct MoeLayerModels {
  // Sorted by (key, graph): first the fastest-kernel curve of the shape, then, where records of
  // several kernels share it, one curve per kernel (by name).
  std::vector<MoeLayerCurve> curves;
  bool empty() const { return curves.empty(); }
  // The curve of `key` measured the way the step runs (graph or not), else the other one; null
  // when no record has that shape and split. With a backend, that backend's own curve, else
  // (fallback) the fastest kernels' one. A key with skewed routing that no curve of its routing
  // matches reads the even-routing curve of the same shape (even_routing). An expert-TP split no
  // curve has reads the expert-parallel split over the same GPUs (split_stand_in).
  MoeLayerMatch match(const MoeLayerKey& key, bool graph, MoeBackend backend) const;
  const MoeLayerCurve* find(const MoeLayerKey& key, bool graph) const
  {
    return match(key, graph, MoeBackend::fastest).curve;
  }

private:
  MoeLayerMatch match_split(const MoeLayerKey& key, bool graph, MoeBackend backend) const; // this split only
  MoeLayerMatch match_routing(const MoeLayerKey& key, bool graph, MoeBackend backend) const; // this routing only
};

// Curves from records, deterministic whatever their order. Per shape and split, a curve of the
// fastest record at each token count (ties: the first in file order) and, where several kernels
// were kept, one curve per kernel. Two records of one kernel and curve at the same token count are
// an InputError naming both.
MoeLayerModels moe_layer_models(std::vector<MoeLayerRecord> records);

// The shape and split a model's MoE layers look up under a plan, with the experts' weight dtype
// and the model's routing skew (moe.routing_power_law_alpha) (what moe_layer_times reads for a
// fused layer).
MoeLayerKey moe_layer_key(const ModelFacts& f, const Plan& p);

// The layer's time at `tokens`: a record's own time (measured); between two records, the straight
// line through them (interpolated); below the first record its time, above the last the line
// through the last two (extrapolated). Throws std::invalid_argument for tokens <= 0 or a curve
// without points.
perf::Estimate moe_layer_seconds(const MoeLayerCurve& c, double tokens);

// The layer's share-out: `small_s` is what its routing, permute, activation and unpermute kernels
// take by their own times, `up_s` and `down_s` the grouped GEMMs' own estimates. The GEMMs get
// layer_s - small_s in proportion up_s : down_s. When the small kernels alone exceed the layer,
// the GEMMs get nothing and the small kernels are scaled by small_scale = layer_s / small_s. Either
// way every op of the layer carries the measurement's provenance: together they are its time.
struct MoeLayerSplit {
  double up = 0, down = 0, small_scale = 1;
};
MoeLayerSplit split_moe_layer(double layer_s, double small_s, double up_s, double down_s);

struct MoeLayerTime {
  double seconds = 0;
  perf::Provenance provenance = perf::Provenance::specs;
};

// The times of rank `rank`'s MoE-layer ops that a curve covers, by op id: for each (layer,
// microbatch) whose routed experts run as one fused kernel (one launch, no dequantise pass) and
// whose model shape and split a curve measured. `own` gives an op's time by the other models; the
// layer's tokens are the rank's expert rows x moe_ep / top-k (the tokens a GPU of that split sees
// before top-k). The curve is the schedule's engine's MoE backend's (s.engine.moe_backend), else
// the fastest kernels'. Ops of layers no curve covers are absent. A layer read from another split's
// curve (MoeLayerMatch::split_stand_in) is never `measured`: its record times are `interpolated`.
std::map<int, MoeLayerTime> moe_layer_times(const MoeLayerModels& m, const Schedule& s, int rank, bool graph,
                                            const std::function<MoeLayerTime(const Op&)>& own);

} // namespace moesim
