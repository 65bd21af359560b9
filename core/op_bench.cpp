#include "core/op_bench.hpp"

#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace moesim {
namespace {

const char* const fix_contract = "write records as the moesim-op-bench-1 contract gives them";

// One JSON object read strictly: every key must be asked for, values are type-checked.
class Obj {
public:
  Obj(const nlohmann::json& j, std::string file, std::string where) : j_(j), file_(std::move(file)), where_(std::move(where))
  {
    if (!j_.is_object())
      fail("", "expected an object", fix_contract);
  }
  bool has(const std::string& k) { return used_.insert(k), j_.contains(k); }
  [[noreturn]] void fail(const std::string& key, const std::string& what, const std::string& fix) const
  {
    throw InputError(file_, key.empty() ? where_ : where_.empty() ? key : where_ + "." + key, what, fix);
  }
  std::string str(const std::string& k)
  {
    if (!has(k))
      fail(k, "missing", fix_contract);
    if (!j_[k].is_string())
      fail(k, "expected a string", fix_contract);
    return j_[k].get<std::string>();
  }
  std::string str(const std::string& k, const std::string& dflt) { return has(k) ? str(k) : dflt; }
  double num(const std::string& k)
  {
    if (!has(k))
      fail(k, "missing", fix_contract);
    if (!j_[k].is_number() || !std::isfinite(j_[k].get<double>()))
      fail(k, "expected a number", fix_contract);
    return j_[k].get<double>();
  }
  double num(const std::string& k, double dflt) { return has(k) ? num(k) : dflt; }
  double positive(const std::string& k)
  {
    const double v = num(k);
    if (!(v > 0))
      fail(k, "must be positive", "drop the record or fix the value");
    return v;
  }
  double non_negative(const std::string& k, double dflt)
  {
    const double v = num(k, dflt);
    if (v < 0)
      fail(k, "must not be negative", "drop the record or fix the value");
    return v;
  }
  const nlohmann::json& node(const std::string& k)
  {
    if (!has(k))
      fail(k, "missing", fix_contract);
    return j_[k];
  }
  std::string path(const std::string& k) const { return where_.empty() ? k : where_ + "." + k; }
  void finish() const
  {
    for (const auto& [k, v] : j_.items())
      if (!used_.count(k))
        fail(k, "unknown key", "remove it, or add it to the moesim-op-bench-1 reader (core/op_bench.cpp) and its contract");
  }

private:
  const nlohmann::json& j_;
  std::string file_, where_;
  std::set<std::string> used_;
};

Dtype dtype_of(Obj& o, const std::string& k)
{
  const std::string s = o.str(k);
  try {
    return parse_dtype(s);
  } catch (const std::invalid_argument& e) {
    o.fail(k, e.what(), "convert the record to one of those dtypes or leave it out");
  }
}

bool launch_of(Obj& o)
{
  const std::string l = o.str("launch");
  if (l != "stream" && l != "graph")
    o.fail("launch", "unknown launch '" + l + "'", "write stream (launched one by one) or graph (captured in a CUDA graph)");
  return l == "graph";
}

void attention(Obj& o, OpRecord& r, bool decode)
{
  r.key.variant = o.str("attn");
  if (r.key.variant != "gqa" && r.key.variant != "mla")
    o.fail("attn", "unknown attention '" + r.key.variant + "'", "write gqa (any grouped-query or multi-head) or mla");
  r.key.kv_dtype = o.has("kv_dtype") ? dtype_of(o, "kv_dtype") : r.key.dtype;
  r.key.window = static_cast<int>(o.non_negative("window", 0));
  const double batch = o.positive("batch"), qh = o.positive("q_heads");
  const bool mla = r.key.variant == "mla";
  const double lora = o.non_negative("kv_lora_rank", 0), rope = o.non_negative("rope_dim", 0);
  double kvh = 0, dqk = 0, dv = 0;
  if (!mla) {
    if (lora > 0 || rope > 0)
      o.fail("kv_lora_rank", "a gqa record has no latent rank or separate rope dim", "write attn: mla, or 0");
    kvh = o.positive("kv_heads");
    dqk = o.positive("head_dim_qk");
    dv = o.positive("head_dim_v");
  } else {
    if (!(lora > 0))
      o.fail("kv_lora_rank", "an mla record needs its latent rank", "write e.g. kv_lora_rank: 512, rope_dim: 64");
    // The model's own head dims: checked, and used by prefill (not absorbed); absorbed decode
    // attends in the latent space, one KV head of kv_lora_rank + rope_dim shared by all heads.
    dqk = o.has("head_dim_qk") ? o.positive("head_dim_qk") : 0;
    dv = o.has("head_dim_v") ? o.positive("head_dim_v") : 0;
    if (o.has("kv_heads")) {
      const double k = o.positive("kv_heads");
      if (k != 1 && k != qh)
        o.fail("kv_heads", "an mla record has 1 latent KV head (decode) or one per query head (prefill)",
               "write kv_heads: 1, or leave it out");
    }
    if (decode) {
      dqk = lora + rope, dv = lora, kvh = 1;
    } else {
      if (!(dqk > 0) || !(dv > 0))
        o.fail("head_dim_qk", "an mla prefill record needs head_dim_qk and head_dim_v", "write e.g. 192 and 128");
      kvh = qh;
    }
  }
  if (decode) {
    r.dims = op_dims::decode(dqk, dv, kvh, qh, batch, o.positive("context"));
  } else {
    const double prompt = o.positive("prompt"), cached = o.non_negative("cached", 0);
    if (o.has("context") && o.num("context") != cached + prompt)
      o.fail("context", "a prefill record's context is its cached tokens plus its prompt",
             "write context: cached + prompt, or leave it out");
    r.dims = op_dims::prefill(dqk, dv, kvh, qh, batch, cached, prompt);
  }
}

void small_kernel(Obj& o, OpRecord& r)
{
  const std::vector<std::string>& fields = op_dims::small_fields(r.key.kind);
  const double elements = o.has("elements") ? o.positive("elements") : 0;
  r.bytes = o.positive("bytes");
  if (r.key.kind == OpKind::rmsnorm && o.has("rows")) {
    const double e = o.positive("rows") * o.positive("width");
    if (elements > 0 && elements != e)
      o.fail("elements", "is not rows x width", "write elements = rows * width, or leave it out");
    r.dims = {e};
    return;
  }
  for (const std::string& f : fields)
    r.dims.push_back(fields.size() == 1 && f == "elements" ? (elements > 0 ? elements : o.positive(f)) : o.positive(f));
}

OpRecord op_record(Obj& o, OpKind kind)
{
  OpRecord r;
  r.key.kind = kind;
  r.key.dtype = dtype_of(o, "dtype");
  r.key.kv_dtype = r.key.dtype;
  r.key.graph = launch_of(o);
  r.seconds = o.positive("seconds");
  r.kernel = o.str("kernel", "");
  o.non_negative("reps", 0);
  o.non_negative("spread", 0);
  switch (kind) {
    case OpKind::gemm: {
      const double batch = o.has("batch") ? o.positive("batch") : 1;
      r.dims = op_dims::gemm(batch, o.positive("m"), o.positive("n"), o.positive("k"));
      break;
    }
    case OpKind::grouped_gemm: {
      r.key.variant = o.str("impl");
      if (r.key.variant != "loop" && r.key.variant != "fused")
        o.fail("impl", "unknown implementation '" + r.key.variant + "'",
               "write loop (one GEMM per expert) or fused (one grouped kernel)");
      const nlohmann::json& rows = o.node("rows");
      if (!rows.is_array() || rows.empty())
        o.fail("rows", "expected a non-empty list of rows per expert", "write e.g. rows: [3, 0, 7, 1]");
      for (const auto& x : rows) {
        if (!x.is_number() || !(x.get<double>() >= 0))
          o.fail("rows", "rows per expert must be numbers >= 0", "write e.g. rows: [3, 0, 7, 1]");
        r.rows.push_back(x.get<double>());
      }
      r.dims = op_dims::grouped(o.positive("n"), o.positive("k"), r.rows);
      if (!(r.dims[3] > 0))
        o.fail("rows", "no expert has rows", "drop the record");
      break;
    }
    case OpKind::attention_decode: attention(o, r, true); break;
    case OpKind::attention_prefill: attention(o, r, false); break;
    default: small_kernel(o, r); break;
  }
  return r;
}

HostApiCost host_record(Obj& o)
{
  static const std::set<std::string> apis = {"kernel_launch", "cublaslt_call", "nccl_call",
                                             "event_record",  "sync",          "graph_launch"};
  HostApiCost h;
  h.api = o.str("api");
  if (!apis.count(h.api))
    o.fail("api", "unknown api '" + h.api + "'",
           "write kernel_launch, cublaslt_call, nccl_call, event_record, sync or graph_launch");
  const std::string st = o.str("gpu_state");
  if (st != "idle" && st != "busy")
    o.fail("gpu_state", "unknown state '" + st + "'", "write idle or busy");
  h.busy = st == "busy";
  const double t = o.positive("threads");
  if (t != std::floor(t))
    o.fail("threads", "must be a whole number", "write e.g. threads: 4");
  h.threads = static_cast<int>(t);
  h.seconds = o.positive("seconds");
  return h;
}

// A whole fused MoE layer (conversions of public tables): checked, counted, not modelled.
void moe_record(Obj& o)
{
  dtype_of(o, "dtype");
  launch_of(o);
  o.str("kernel", "");
  for (const char* k : {"tokens", "hidden", "inter", "topk", "experts", "moe_tp", "moe_ep", "seconds"})
    o.positive(k);
  o.str("distribution");
}

} // namespace

std::string OpBenchSystem::describe() const
{
  std::ostringstream o;
  o << (gpu.empty() ? "unknown GPU" : gpu);
  if (sms > 0)
    o << ", " << sms << " SMs";
  if (!driver.empty())
    o << ", driver " << driver;
  if (!cuda.empty())
    o << ", CUDA " << cuda;
  if (!cublas.empty())
    o << ", cuBLAS " << cublas;
  if (!date.empty())
    o << ", " << date;
  return o.str();
}

OpBench parse_op_bench(const std::string& json_text, const std::string& file)
{
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file, "", std::string("not JSON: ") + e.what(), "pass a moesim-op-bench-1 file");
  }
  Obj top(j, file, "");
  if (top.str("format") != "moesim-op-bench-1")
    top.fail("format", "is not moesim-op-bench-1", "pass a file written to the moesim-op-bench-1 contract");
  OpBench b;
  b.source = top.str("source");
  if (top.has("system")) {
    Obj s(top.node("system"), file, "system");
    OpBenchSystem& y = b.system;
    y.gpu = s.str("gpu", "");
    y.driver = s.str("driver", "");
    y.cuda = s.str("cuda", "");
    y.nccl = s.str("nccl", "");
    y.cublas = s.str("cublas", "");
    y.date = s.str("date", "");
    y.cc = s.str("cc", "");
    y.sms = s.non_negative("sms", 0);
    y.sm_clock_mhz = s.non_negative("sm_clock_mhz", 0);
    y.mem_clock_mhz = s.non_negative("mem_clock_mhz", 0);
    y.mem_bw = s.non_negative("mem_bw", 0);
    y.l2_bytes = s.non_negative("l2_bytes", 0);
    s.finish();
  }
  const nlohmann::json& recs = top.node("records");
  if (!recs.is_array())
    top.fail("records", "expected a list", fix_contract);
  top.finish();
  for (size_t i = 0; i < recs.size(); i++) {
    const std::string where = "records[" + std::to_string(i) + "]";
    Obj o(recs[i], file, where);
    const std::string op = o.str("op");
    o.has("source_row");
    if (o.has("source_row") && !recs[i]["source_row"].is_string())
      o.fail("source_row", "expected a string", "write \"<csv path>:<row>\"");
    if (op == "graph_gap") {
      const double k = o.positive("kernels");
      (void)k;
      b.graph_gaps.push_back(o.positive("seconds"));
    } else if (op == "host") {
      b.host.push_back(host_record(o));
    } else if (op == "moe") {
      moe_record(o);
      b.unmodelled["moe"]++;
    } else {
      OpKind kind{};
      try {
        kind = parse_op_kind(op);
      } catch (const std::invalid_argument&) {
        o.fail("op", "unknown op '" + op + "'", "use gemm, grouped_gemm, attention_decode, attention_prefill, a memory-bound "
                                              "kernel (rmsnorm, silu_mul, ...), graph_gap or host");
      }
      if (op_class(kind) != OpClass::compute)
        o.fail("op", "'" + op + "' is not a compute op", "collectives are calibrated from nccl-tests logs");
      OpRecord r = op_record(o, kind);
      r.where = file + ": " + where;
      b.ops.push_back(std::move(r));
    }
    o.finish();
  }
  return b;
}

OpBench load_op_bench_file(const std::string& path)
{
  std::ifstream in(path);
  if (!in)
    throw InputError(path, "--op-bench", "file not found or unreadable", "check the path");
  std::stringstream text;
  text << in.rdbuf();
  return parse_op_bench(text.str(), path);
}

} // namespace moesim
