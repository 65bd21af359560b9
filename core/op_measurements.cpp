#include "core/op_measurements.hpp"

#include "core/error.hpp"
#include "core/text_file.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

namespace moesim {
namespace {

// Errors name the file and the record's key: "b.json: records[3].launch".
struct Where {
  const std::string& file;
  std::string record;
  [[noreturn]] void fail(const std::string& key, const std::string& what, const std::string& fix) const
  {
    throw InputError(file, key.empty() ? record : record + "." + key, what, fix);
  }
};

double positive(const BenchRecord& r, const Where& w, const std::string& key)
{
  auto it = r.dims.find(key);
  if (it == r.dims.end())
    w.fail(key, "missing", "write the record as the moesim-op-bench-1 format gives it");
  if (!(it->second > 0))
    w.fail(key, "must be positive", "drop the record or fix the value");
  return it->second;
}

// The reader completed the attention dims (op_bench.cpp): MLA decode is one latent KV head of
// kv_lora_rank + rope_dim, MLA prefill one head per query head over the model's own head dims.
void attention(const BenchRecord& b, const Where& w, OpRecord& r, bool decode)
{
  r.key.variant = b.attn;
  r.key.kv_dtype = b.kv_dtype.empty() ? r.key.dtype : parse_dtype(b.kv_dtype);
  r.key.window = static_cast<int>(b.dim("window"));
  const double dqk = positive(b, w, "head_dim_qk"), dv = positive(b, w, "head_dim_v");
  const double kvh = positive(b, w, "kv_heads"), qh = positive(b, w, "q_heads"), batch = positive(b, w, "batch");
  if (decode)
    r.dims = op_dims::decode(dqk, dv, kvh, qh, batch, positive(b, w, "context"));
  else
    r.dims = op_dims::prefill(dqk, dv, kvh, qh, batch, b.dim("cached"), positive(b, w, "prompt"));
}

void small_kernel(const BenchRecord& b, const Where& w, OpRecord& r)
{
  r.bytes = positive(b, w, "bytes");
  const double elements = b.dims.count("elements") ? positive(b, w, "elements") : 0;
  if (r.key.kind == OpKind::rmsnorm && b.dims.count("rows")) {
    const double e = positive(b, w, "rows") * positive(b, w, "width");
    if (elements > 0 && elements != e)
      w.fail("elements", "is not rows x width", "write elements = rows * width, or leave it out");
    r.dims = {e};
    return;
  }
  const std::vector<std::string>& fields = op_dims::small_fields(r.key.kind);
  for (const std::string& f : fields)
    r.dims.push_back(fields.size() == 1 && f == "elements" && elements > 0 ? elements : positive(b, w, f));
}

// The fields every timed op's record shares: kind, dtype, launch mode, time, kernel, inputs.
OpRecord op_record_base(const BenchRecord& b, const Where& w, OpKind kind)
{
  OpRecord r;
  r.key.kind = kind;
  r.key.dtype = *b.dtype; // the reader requires a dtype on every timed op
  r.key.kv_dtype = r.key.dtype;
  if (b.launch.empty())
    w.fail("launch", "missing", "write stream (launched one by one) or graph (captured in a CUDA graph)");
  r.key.graph = b.launch == "graph";
  r.seconds = b.seconds;
  r.kernel = b.kernel;
  r.cold_inputs = b.inputs == "cold";
  // A norm, activation or routing kernel whose every instance read inputs of its own after the L2
  // flush: a model of its own beside the warm one (op_time.hpp's cold blend).
  if (b.cold_study())
    r.key.variant = "cold";
  return r;
}

OpRecord op_record(const BenchRecord& b, const Where& w, OpKind kind)
{
  OpRecord r = op_record_base(b, w, kind);
  switch (kind) {
    case OpKind::gemm:
      r.key.variant = b.scales; // "block": fp8 with 128x128 block scales, a kernel of its own
      r.dims = op_dims::gemm(b.dims.count("batch") ? positive(b, w, "batch") : 1, positive(b, w, "m"),
                             positive(b, w, "n"), positive(b, w, "k"));
      // An unaligned n or k is another cuBLASLt kernel: a model of its own (gemm_aligned). Block-scaled
      // fp8 (DeepGEMM) takes 128-multiples only.
      if (r.key.variant.empty() && !gemm_aligned(r.dims[2], r.dims[3], r.key.dtype))
        r.key.variant = unaligned_variant;
      break;
    case OpKind::grouped_gemm:
      r.key.variant = b.impl;
      if (r.key.variant != "loop" && r.key.variant != "fused")
        w.fail("impl", "unknown implementation '" + r.key.variant + "'",
               "write loop (one GEMM per expert) or fused (one grouped kernel)");
      if (b.rows.empty())
        w.fail("rows", "expected a non-empty list of rows per expert", "write e.g. rows: [3, 0, 7, 1]");
      r.rows = b.rows;
      r.dims = op_dims::grouped(positive(b, w, "n"), positive(b, w, "k"), r.rows);
      if (!(r.dims[3] > 0))
        w.fail("rows", "no expert has rows", "drop the record");
      break;
    case OpKind::attention_decode: attention(b, w, r, true); break;
    case OpKind::attention_prefill: attention(b, w, r, false); break;
    default: small_kernel(b, w, r); break;
  }
  return r;
}

// A router record with rows, width and experts (bench-ops writes them since session 26) and cold
// inputs as the GEMM it times: logits[rows, experts] = x[rows, width] w[experts, width]^T, bf16
// operands (dtype), fp32 logits, its weights cold as every GEMM record's; its alignment class from n =
// experts and k = width. nullopt for a record without the three (its shape is not recoverable from
// elements alone) or with warm inputs (one weight buffer re-read from the L2: no GEMM record's timing).
std::optional<OpRecord> router_gemm_record(const BenchRecord& b, const Where& w)
{
  if (!b.dims.count("rows") || !b.dims.count("width") || !b.dims.count("experts") || b.inputs != "cold")
    return std::nullopt;
  OpRecord r = op_record_base(b, w, OpKind::gemm);
  r.key.variant.clear(); // a cold study of the router is the GEMM's usual (cold) timing
  r.dims = op_dims::gemm(1, positive(b, w, "rows"), positive(b, w, "experts"), positive(b, w, "width"));
  if (!gemm_aligned(r.dims[2], r.dims[3], r.key.dtype))
    r.key.variant = unaligned_variant;
  return r;
}

// A whole-number field of at least 1 (top-k, experts, the split's degrees, widths).
int whole(const BenchRecord& r, const Where& w, const std::string& key)
{
  const double v = positive(r, w, key);
  if (v != std::floor(v) || v > 1e9)
    w.fail(key, "must be a whole number", "write e.g. " + key + ": 4");
  return static_cast<int>(v);
}

// The routing a moe record measured, as MoeLayerKey::power_law_alpha: 0 for even routing
// (balanced, uniform), a for power_law_<a>; nullopt for a routing no curve takes.
std::optional<double> routing_alpha(const std::string& distribution, const Where& w)
{
  if (distribution == "balanced" || distribution == "uniform")
    return 0.0;
  const std::string prefix = "power_law_";
  if (!distribution.starts_with(prefix))
    return std::nullopt;
  const std::string a = distribution.substr(prefix.size());
  char* end = nullptr;
  const double v = std::strtod(a.c_str(), &end);
  if (a.empty() || end != a.c_str() + a.size() || !(v > 0) || !std::isfinite(v))
    w.fail("distribution", "'" + distribution + "' is not power_law_ followed by a positive exponent",
           "write balanced, uniform or power_law_<a> (power_law_1.2)");
  return v;
}

MoeLayerRecord moe_record(const BenchRecord& b, const Where& w)
{
  MoeLayerRecord r;
  r.key.dtype = *b.dtype;
  r.key.block_scales = b.scales == "block"; // fp8 experts with 128x128 weight blocks (op_bench checked it)
  r.key.hidden = whole(b, w, "hidden");
  r.key.inter = whole(b, w, "inter");
  r.key.topk = whole(b, w, "topk");
  r.key.experts = whole(b, w, "experts");
  r.key.moe_tp = whole(b, w, "moe_tp");
  r.key.moe_ep = whole(b, w, "moe_ep");
  if (r.key.topk > r.key.experts)
    w.fail("topk", "is more than experts (" + std::to_string(r.key.experts) + ")", "fix topk or experts");
  if (r.key.experts % r.key.moe_ep != 0)
    w.fail("moe_ep", "does not divide experts (" + std::to_string(r.key.experts) + ")", "fix moe_ep or experts");
  if (r.key.inter % r.key.moe_tp != 0)
    w.fail("moe_tp", "does not divide inter (" + std::to_string(r.key.inter) + ")", "fix moe_tp or inter");
  if (b.launch.empty())
    w.fail("launch", "missing", "write stream (launched one by one) or graph (captured in a CUDA graph)");
  r.graph = b.launch == "graph";
  r.tokens = positive(b, w, "tokens");
  if (!(b.seconds > 0))
    w.fail("seconds", "must be positive", "drop the record or fix the value");
  r.seconds = b.seconds;
  r.kernel = b.kernel;
  return r;
}

// A graph_gap record: a plain chain (kernels, no distinct kernels, no events, in a graph: nullopt,
// its seconds go to graph_gaps) or one of bench-ops' boundary points (LaunchGap). An absent field
// is the plain value (distinct 1, events 0; launch graph); each is checked as a whole number.
std::optional<LaunchGap> gap_record(const BenchRecord& b, const Where& w)
{
  auto count = [&](const std::string& key, double absent) {
    const auto it = b.dims.find(key);
    const double v = it == b.dims.end() ? absent : it->second;
    if (v != std::floor(v) || v > 1e6)
      w.fail(key, "must be a whole number", "write e.g. " + key + ": 16");
    return static_cast<int>(v);
  };
  LaunchGap g;
  g.kernels = count("kernels", 0);
  g.distinct = count("distinct", 1);
  g.events = count("events", 0);
  g.graph = b.launch != "stream";
  g.seconds = b.seconds;
  if (g.distinct < 1)
    w.fail("distinct", "must be at least 1", "write the kernel functions the chain cycles through, or leave it out (1)");
  if (g.kernels == 0) {
    if (g.events < 1)
      w.fail("kernels", "must be positive (a chain of kernels), or 0 with events", "drop the record or fix the value");
    if (g.distinct != 1)
      w.fail("distinct", "a record of event pairs alone (kernels 0) has no kernel functions", "leave distinct out");
  } else {
    if (g.distinct > g.kernels)
      w.fail("distinct", "is more than the chain's kernels (" + std::to_string(g.kernels) + ")", "fix distinct or kernels");
    if (g.events != 0 && g.events != g.kernels)
      w.fail("events", "a chain's events bracket each of its " + std::to_string(g.kernels) + " kernels",
             "write events: " + std::to_string(g.kernels) + ", or leave it out (no events)");
  }
  if (g.distinct == 1 && g.events == 0 && g.graph)
    return std::nullopt;
  return g;
}

HostApiCost host_record(const BenchRecord& b, const Where& w)
{
  static const std::set<std::string> apis = {"kernel_launch", "cublaslt_call", "nccl_call",
                                             "event_record",  "sync",          "graph_launch"};
  HostApiCost h;
  h.api = b.api;
  if (!apis.count(h.api))
    w.fail("api", "unknown api '" + h.api + "'",
           "write kernel_launch, cublaslt_call, nccl_call, event_record, sync or graph_launch");
  if (b.gpu_state != "idle" && b.gpu_state != "busy")
    w.fail("gpu_state", "unknown state '" + b.gpu_state + "'", "write idle or busy");
  h.busy = b.gpu_state == "busy";
  const double t = positive(b, w, "threads");
  if (t != std::floor(t))
    w.fail("threads", "must be a whole number", "write e.g. threads: 4");
  h.threads = static_cast<int>(t);
  h.seconds = b.seconds;
  return h;
}

} // namespace

OpMeasurements op_measurements(const OpBench& bench, const std::string& file)
{
  OpMeasurements m;
  m.source = bench.source;
  m.system = bench.system;
  for (size_t i = 0; i < bench.records.size(); i++) {
    const BenchRecord& b = bench.records[i];
    const Where w{file, "records[" + std::to_string(i) + "]"};
    switch (b.op) {
      case BenchOp::graph_gap:
        // graph_gap_s is the median of the plain chains alone; the boundary points are kept apart.
        if (const std::optional<LaunchGap> g = gap_record(b, w))
          m.launch_gaps.push_back(*g);
        else
          m.graph_gaps.push_back(b.seconds);
        break;
      case BenchOp::host: m.host.push_back(host_record(b, w)); break;
      case BenchOp::moe:
        // Balanced routing (TensorRT-LLM's and vLLM's tables) or uniform random routing (SGLang's
        // wide-EP tables, which measure no balanced case) make the even curves; power-law routing
        // (AIConfigurator's power_law_<a>) a curve of its own per exponent (MoeLayerKey).
        if (const std::optional<double> a = routing_alpha(b.distribution, w)) {
          m.moe.push_back(moe_record(b, w));
          m.moe.back().key.power_law_alpha = *a;
          m.moe.back().where = file + ": " + w.record;
        } else {
          m.unmodelled["moe (distribution " + (b.distribution.empty() ? std::string("not given") : b.distribution) +
                       ")"]++;
        }
        break;
      // The router is a GEMM (role router, fp32 logits) in schedule format 2, timed by the GEMM
      // model: a cold router record that gives its rows, width and experts is a GEMM record (m rows,
      // n experts, k width; router_gemm_record); the others (elements only, or warm) are not fitted.
      case BenchOp::router:
        if (std::optional<OpRecord> r = router_gemm_record(b, w)) {
          r->where = file + ": " + w.record;
          m.ops.push_back(std::move(*r));
        } else {
          m.unmodelled["router"]++;
        }
        break;
      default: {
        const OpKind kind = parse_op_kind(to_string(b.op)); // every other BenchOp is a compute OpKind
        OpRecord r = op_record(b, w, kind);
        r.where = file + ": " + w.record;
        m.ops.push_back(std::move(r)); // a cold study under its own key (variant "cold")
      }
    }
  }
  return m;
}

OpMeasurements parse_op_measurements(const std::string& json_text, const std::string& file)
{
  return op_measurements(parse_op_bench(json_text, file), file);
}

OpMeasurements load_op_measurements(const std::string& path)
{
  OpMeasurements m = op_measurements(read_op_bench_file(path), path);
  // bench-ops writes its side file beside the records as RECORDS.run.json; a results folder keeps it
  // gzipped and may name it after the records' stem (ops.json.gz beside ops.run.json.gz).
  std::string stem = path;
  for (const char* ext : {".gz", ".json"})
    if (stem.size() > std::strlen(ext) && stem.compare(stem.size() - std::strlen(ext), std::string::npos, ext) == 0)
      stem.resize(stem.size() - std::strlen(ext));
  std::string side;
  for (const std::string& c : {path + ".run.json", path + ".run.json.gz", stem + ".run.json", stem + ".run.json.gz"})
    if (side.empty() && std::filesystem::exists(c))
      side = c;
  if (!side.empty()) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_text_file(side, "bench-ops's side file"));
    } catch (const nlohmann::json::exception& e) { // also a number past double's range (out_of_range 406)
      throw InputError(side, "", std::string("malformed JSON: ") + e.what(), "delete it, or rerun bench-ops");
    }
    if (!j.is_object() || !j.contains("complete") || !j["complete"].is_boolean())
      throw InputError(side, "complete", "missing or not true/false", "delete the side file, or rerun bench-ops");
    m.complete = j["complete"].get<bool>();
  }
  return m;
}

} // namespace moesim
