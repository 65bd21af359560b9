#include "core/schedule_json.hpp"

#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/limits.hpp"
#include "core/text_file.hpp"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace moesim {

using nlohmann::json;

namespace {

constexpr const char* format_v2 = "moesim-schedule-2";
constexpr const char* regenerate = "regenerate it with `moesim schedule`";

const char* to_string(AttentionKind k)
{
  switch (k) {
    case AttentionKind::mha: return "mha";
    case AttentionKind::gqa: return "gqa";
    case AttentionKind::mla: return "mla";
  }
  return "?";
}

// An all-reduce's runner as the schedule spells it.
const char* json_name(AllReduceImpl a)
{
  switch (a) {
    case AllReduceImpl::nccl: return "nccl";
    case AllReduceImpl::one_shot: return "one_shot";
    case AllReduceImpl::two_shot: return "two_shot";
  }
  return "?";
}

// ---- writing --------------------------------------------------------------------------------

json facts_to_json(const ModelFacts& f)
{
  const Attention& a = f.attn;
  json attn = {{"kind", to_string(a.kind)}, {"q_heads", a.q_heads}, {"kv_heads", a.kv_heads}};
  if (a.kind == AttentionKind::mla)
    attn.update({{"q_lora_rank", a.q_lora_rank},
                 {"kv_lora_rank", a.kv_lora_rank},
                 {"qk_nope_head_dim", a.qk_nope_head_dim},
                 {"qk_rope_head_dim", a.qk_rope_head_dim},
                 {"v_head_dim", a.v_head_dim}});
  else
    attn["head_dim"] = a.head_dim;
  if (a.sliding_window > 0)
    attn.update({{"sliding_window", a.sliding_window}, {"sliding_every", a.sliding_every}});
  const ModelDtypes& d = f.dtypes;
  return {{"hidden", f.hidden},
          {"layers", f.layers},
          {"vocab", f.vocab},
          {"dense_intermediate", f.dense_intermediate},
          {"attention", attn},
          {"moe",
           {{"experts", f.moe.experts},
            {"top_k", f.moe.top_k},
            {"expert_intermediate", f.moe.expert_intermediate},
            {"shared_experts", f.moe.shared_experts},
            {"shared_intermediate", f.moe.shared_intermediate}}},
          {"dtypes",
           {{"expert_weights", to_string(d.expert_weights)},
            {"dense_weights", to_string(d.dense_weights)},
            {"embeddings", to_string(d.embeddings)},
            {"activations", to_string(d.activations)},
            {"kv_cache", to_string(d.kv_cache)}}}};
}

struct ShapeWriter {
  Dtype op_dtype; // the op's own dtype: an attention's KV cache is written where it differs
  json operator()(const std::monostate&) const { return nullptr; }
  json operator()(const GemmShape& s) const
  {
    json j = {{"m", s.m}, {"n", s.n}, {"k", s.k}, {"batch", s.batch}, {"out_dtype", to_string(s.out)}};
    if (s.block_scales)
      j["block_scales"] = true;
    return j;
  }
  json operator()(const GroupedGemmShape& s) const
  {
    return {{"experts", s.experts}, {"first_expert", s.first_expert}, {"rows", s.rows}, {"n", s.n}, {"k", s.k}};
  }
  json operator()(const AttentionShape& s) const
  {
    json j = {{"batch", s.batch},           {"q_heads", s.q_heads}, {"kv_heads", s.kv_heads},
              {"head_dim_qk", s.head_dim_qk}, {"head_dim_v", s.head_dim_v}, {"prompt", s.prompt},
              {"cached", s.cached},          {"causal", s.causal}, {"sliding_window", s.sliding_window}};
    if (s.mla)
      j["mla"] = {{"kv_lora_rank", s.kv_lora_rank}, {"rope_dim", s.rope_dim}};
    if (s.kv_dtype != op_dtype)
      j["kv_dtype"] = to_string(s.kv_dtype);
    return j;
  }
  json operator()(const RowsShape& s) const { return {{"rows", s.rows}, {"width", s.width}}; }
  json operator()(const ElementsShape& s) const { return {{"elements", s.elements}}; }
  json operator()(const TopkShape& s) const { return {{"tokens", s.tokens}, {"experts", s.experts}, {"k", s.k}}; }
  json operator()(const PermuteShape& s) const
  {
    return {{"tokens", s.tokens}, {"k", s.k}, {"hidden", s.hidden}, {"first_expert", s.first_expert},
            {"experts", s.experts}};
  }
  json operator()(const EmbeddingShape& s) const
  {
    return {{"tokens", s.tokens}, {"hidden", s.hidden}, {"vocab", s.vocab}, {"first_id", s.first_id},
            {"table_rows", s.table_rows}};
  }
  json operator()(const SampleShape& s) const { return {{"rows", s.rows}, {"vocab", s.vocab}}; }
};

json op_to_json(const Op& o)
{
  json jo = {{"id", o.id},
             {"name", o.name},
             {"kind", to_string(o.kind)},
             {"family", to_string(o.family)},
             {"role", to_string(o.role)},
             {"layer", o.layer}};
  if (o.microbatch)
    jo["microbatch"] = o.microbatch;
  if (o.stream)
    jo["stream"] = o.stream;
  if (!o.deps.empty())
    jo["deps"] = o.deps;
  switch (op_class(o.kind)) {
    case OpClass::compute:
      jo["flops"] = o.flops;
      jo["bytes"] = o.bytes;
      jo["dtype"] = to_string(o.dtype);
      jo["shape"] = std::visit(ShapeWriter{o.dtype}, o.shape);
      jo["kernels"] = o.kernels;
      break;
    case OpClass::collective:
      jo["group"] = o.group;
      jo["coll"] = o.coll;
      jo["bytes"] = o.comm_bytes;
      jo["dtype"] = to_string(o.dtype);
      if (!o.peer_bytes.empty())
        jo["peer_bytes"] = o.peer_bytes.dense();
      if (o.ar_impl != AllReduceImpl::nccl) // an engine's custom all-reduce kernel
        jo["custom_all_reduce"] = {{"impl", json_name(o.ar_impl)}, {"fixed_s", o.ar_fixed_s}};
      if (o.per_root) // one NCCL broadcast / reduce per member (Op::per_root)
        jo["per_root"] = true;
      break;
    case OpClass::p2p:
      jo["peer"] = o.peer;
      jo["tag"] = o.tag;
      jo["bytes"] = o.comm_bytes;
      break;
    case OpClass::host: break;
  }
  return jo;
}

// ---- reading: every object read through Fields, which refuses missing, mistyped and unknown keys ----

class Fields {
public:
  Fields(const json& j, const std::string& file, std::string at) : j_(j), file_(file), at_(std::move(at))
  {
    if (!j.is_object())
      fail("", "expected an object");
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const
  {
    throw InputError(file_, at_ + key, what, regenerate);
  }
  bool has(const char* key)
  {
    seen_.insert(key);
    return j_.contains(key);
  }
  const json& node(const char* key)
  {
    if (!has(key))
      fail(key, "missing key");
    return j_.at(key);
  }
  std::string where(const char* key) const { return at_ + key; }
  std::string str(const char* key)
  {
    const json& v = node(key);
    if (!v.is_string())
      fail(key, "expected a string");
    return v.get<std::string>();
  }
  bool boolean(const char* key)
  {
    const json& v = node(key);
    if (!v.is_boolean())
      fail(key, "expected true or false");
    return v.get<bool>();
  }
  // Every number of a schedule is a count, a size, a rate's fraction or a time: never negative,
  // and past 1e24 (a yotta-FLOP, a yottabyte, 10^24 seconds) no longer a machine's.
  static constexpr double number_max = 1e24;
  double number(const char* key)
  {
    const json& v = node(key);
    if (!v.is_number())
      fail(key, "expected a number");
    const double x = v.get<double>();
    if (!(x >= 0 && x <= number_max))
      fail(key, "must be between 0 and 1e24, got " + v.dump());
    return x;
  }
  // A whole number at least `least`.
  long integer(const char* key, long least = 0)
  {
    const json& v = node(key);
    if (!v.is_number_integer())
      fail(key, "expected a whole number");
    const long x = v.get<long>();
    if (x < least)
      fail(key, "must be at least " + std::to_string(least) + ", got " + std::to_string(x));
    return x;
  }
  // An int field (a layer, a rank, a head count): a value past INT_MAX would wrap on the cast.
  int small(const char* key, long least = 0)
  {
    const long x = integer(key, least);
    if (x > std::numeric_limits<int>::max())
      fail(key, "must be at most " + std::to_string(std::numeric_limits<int>::max()) + ", got " + std::to_string(x));
    return static_cast<int>(x);
  }
  // A list whose every element passes `is` (json::is_number, json::is_number_integer), as T.
  template <class T>
  std::vector<T> list(const char* key, bool (json::*is)() const noexcept, const char* expected)
  {
    const json& v = node(key);
    if (!v.is_array())
      fail(key, expected);
    std::vector<T> out;
    for (const json& x : v) {
      if (!(x.*is)())
        fail(key, expected);
      out.push_back(x.get<T>());
    }
    return out;
  }
  std::vector<double> numbers(const char* key) { return list<double>(key, &json::is_number, "expected a list of numbers"); }
  std::vector<int> ints(const char* key) { return list<int>(key, &json::is_number_integer, "expected a list of whole numbers"); }
  Dtype dtype(const char* key)
  {
    const std::string s = str(key);
    try {
      return parse_dtype(s);
    } catch (const std::invalid_argument& e) {
      fail(key, e.what());
    }
  }
  template <class Parse>
  auto parsed(const char* key, Parse parse)
  {
    const std::string s = str(key);
    try {
      return parse(s);
    } catch (const std::invalid_argument& e) {
      fail(key, e.what());
    }
  }
  // Refuses the keys no call asked about.
  void finish() const
  {
    for (const auto& [k, v] : j_.items())
      if (!seen_.count(k))
        fail(k, "unknown key");
  }

private:
  const json& j_;
  const std::string& file_;
  std::string at_;
  std::set<std::string> seen_;
};

ModelFacts parse_facts(const json& j, const std::string& file)
{
  Fields f(j, file, "model_facts.");
  ModelFacts m;
  m.hidden = f.small("hidden", 1);
  m.layers = f.small("layers", 1);
  m.vocab = f.small("vocab", 1);
  m.dense_intermediate = f.small("dense_intermediate");
  Fields a(f.node("attention"), file, "model_facts.attention.");
  const std::string kind = a.str("kind");
  if (kind == "mha" || kind == "gqa" || kind == "mla")
    m.attn.kind = kind == "mha" ? AttentionKind::mha : kind == "gqa" ? AttentionKind::gqa : AttentionKind::mla;
  else
    a.fail("kind", "unknown attention kind '" + kind + "' (known: mha, gqa, mla)");
  m.attn.q_heads = a.small("q_heads", 1);
  m.attn.kv_heads = a.small("kv_heads", 1);
  if (m.attn.kind == AttentionKind::mla) {
    m.attn.q_lora_rank = a.small("q_lora_rank");
    m.attn.kv_lora_rank = a.small("kv_lora_rank", 1);
    m.attn.qk_nope_head_dim = a.small("qk_nope_head_dim", 1);
    m.attn.qk_rope_head_dim = a.small("qk_rope_head_dim");
    m.attn.v_head_dim = a.small("v_head_dim", 1);
  } else {
    m.attn.head_dim = a.small("head_dim", 1);
  }
  if (a.has("sliding_window")) {
    m.attn.sliding_window = a.small("sliding_window", 1);
    m.attn.sliding_every = a.small("sliding_every", 1);
  }
  a.finish();
  Fields e(f.node("moe"), file, "model_facts.moe.");
  m.moe.experts = e.small("experts");
  m.moe.top_k = e.small("top_k");
  m.moe.expert_intermediate = e.small("expert_intermediate");
  m.moe.shared_experts = e.small("shared_experts");
  m.moe.shared_intermediate = e.small("shared_intermediate");
  e.finish();
  Fields d(f.node("dtypes"), file, "model_facts.dtypes.");
  m.dtypes.expert_weights = d.dtype("expert_weights");
  m.dtypes.dense_weights = d.dtype("dense_weights");
  m.dtypes.embeddings = d.dtype("embeddings");
  m.dtypes.activations = d.dtype("activations");
  m.dtypes.kv_cache = d.dtype("kv_cache");
  d.finish();
  f.finish();
  return m;
}

OpShape parse_shape(OpKind kind, Dtype op_dtype, const json& j, const std::string& file, const std::string& at)
{
  Fields f(j, file, at);
  OpShape out;
  switch (kind) {
    case OpKind::gemm: {
      GemmShape s{f.integer("m"), f.integer("n", 1), f.integer("k", 1), f.integer("batch", 1), f.dtype("out_dtype")};
      s.block_scales = f.has("block_scales") && f.boolean("block_scales");
      if (s.block_scales && op_dtype != Dtype::fp8)
        f.fail("block_scales", "block scales are for fp8 weights, the op's are " + std::string(to_string(op_dtype)));
      out = s;
      break;
    }
    case OpKind::grouped_gemm: {
      GroupedGemmShape s;
      s.experts = f.small("experts", 1);
      s.first_expert = f.small("first_expert");
      s.rows = f.numbers("rows");
      for (double r : s.rows) // (peer_bytes, the other list of numbers, is checked entry by entry below)
        if (!(r >= 0 && r <= Fields::number_max))
          f.fail("rows", "holds " + json(r).dump() + ": every entry must be between 0 and 1e24");
      s.n = f.integer("n", 1);
      s.k = f.integer("k", 1);
      if (static_cast<int>(s.rows.size()) != s.experts)
        f.fail("rows", "has " + std::to_string(s.rows.size()) + " entries for " + std::to_string(s.experts) +
                           " experts");
      out = std::move(s);
      break;
    }
    case OpKind::attention_decode:
    case OpKind::attention_prefill: {
      AttentionShape s;
      s.batch = f.integer("batch");
      s.q_heads = f.small("q_heads", 1);
      s.kv_heads = f.small("kv_heads", 1);
      s.head_dim_qk = f.small("head_dim_qk", 1);
      s.head_dim_v = f.small("head_dim_v", 1);
      s.prompt = f.integer("prompt", 1);
      s.cached = f.integer("cached");
      s.causal = f.boolean("causal");
      s.sliding_window = f.small("sliding_window");
      s.kv_dtype = f.has("kv_dtype") ? f.dtype("kv_dtype") : op_dtype;
      if (f.has("mla")) {
        Fields m(f.node("mla"), file, at + "mla.");
        s.mla = true;
        s.kv_lora_rank = m.small("kv_lora_rank", 1);
        s.rope_dim = m.small("rope_dim");
        m.finish();
      }
      out = s;
      break;
    }
    case OpKind::rmsnorm:
    case OpKind::silu_mul: {
      RowsShape s{f.number("rows"), f.integer("width", 1)};
      if (s.rows < 0)
        f.fail("rows", "must not be negative");
      out = s;
      break;
    }
    case OpKind::residual_add: {
      ElementsShape s{f.number("elements")};
      if (s.elements < 0)
        f.fail("elements", "must not be negative");
      out = s;
      break;
    }
    case OpKind::topk: out = TopkShape{f.integer("tokens"), f.small("experts", 1), f.small("k", 1)}; break;
    case OpKind::permute:
    case OpKind::unpermute:
      out = PermuteShape{f.integer("tokens"), f.small("k", 1), f.integer("hidden", 1), f.small("first_expert"),
                         f.small("experts", 1)};
      break;
    case OpKind::embedding:
      out = EmbeddingShape{f.integer("tokens"), f.integer("hidden", 1), f.integer("vocab", 1), f.integer("first_id"),
                           f.integer("table_rows", 1)};
      break;
    case OpKind::sample: out = SampleShape{f.integer("rows"), f.integer("vocab", 1)}; break;
    default: f.fail("", std::string("a ") + to_string(kind) + " op has no shape");
  }
  f.finish();
  return out;
}

Op parse_op(const json& j, const std::string& file, const std::string& at, int groups)
{
  Fields f(j, file, at);
  Op o;
  o.id = f.small("id");
  o.name = f.str("name");
  o.kind = f.parsed("kind", parse_op_kind);
  o.family = f.parsed("family", parse_op_family);
  o.role = f.parsed("role", parse_op_role);
  o.layer = f.small("layer", -1);
  o.microbatch = f.has("microbatch") ? f.small("microbatch") : 0;
  o.stream = f.has("stream") ? f.small("stream") : 0;
  if (f.has("deps"))
    o.deps = f.ints("deps");
  switch (op_class(o.kind)) {
    case OpClass::compute:
      o.flops = f.number("flops");
      o.bytes = f.number("bytes");
      o.dtype = f.dtype("dtype");
      o.kernels = f.small("kernels", 1);
      o.shape = parse_shape(o.kind, o.dtype, f.node("shape"), file, at + "shape.");
      break;
    case OpClass::collective:
      o.group = f.small("group");
      o.coll = f.small("coll");
      o.comm_bytes = f.number("bytes");
      o.dtype = f.dtype("dtype");
      if (f.has("peer_bytes"))
        o.peer_bytes = f.numbers("peer_bytes");
      if (f.has("custom_all_reduce")) {
        if (o.kind != OpKind::all_reduce)
          f.fail("custom_all_reduce", "only an all_reduce runs a custom all-reduce kernel");
        Fields c(f.node("custom_all_reduce"), file, at + "custom_all_reduce.");
        const std::string impl = c.str("impl");
        if (impl == "one_shot" || impl == "two_shot")
          o.ar_impl = impl == "one_shot" ? AllReduceImpl::one_shot : AllReduceImpl::two_shot;
        else
          c.fail("impl", "unknown value '" + impl + "' (known: one_shot, two_shot)");
        o.ar_fixed_s = c.number("fixed_s");
        if (o.ar_fixed_s < 0)
          c.fail("fixed_s", "must not be negative");
        c.finish();
      }
      if (f.has("per_root")) {
        if (o.kind != OpKind::all_gather && o.kind != OpKind::reduce_scatter)
          f.fail("per_root", "only an all_gather or a reduce_scatter runs per root rank");
        o.per_root = f.boolean("per_root");
      }
      if (o.group >= groups)
        f.fail("group", "group " + std::to_string(o.group) + " does not exist");
      break;
    case OpClass::p2p:
      o.peer = f.small("peer");
      o.tag = f.small("tag");
      o.comm_bytes = f.number("bytes");
      break;
    case OpClass::host: break;
  }
  f.finish();
  return o;
}

Schedule parse_schedule(const json& j, const std::string& file)
{
  if (!j.is_object() || !j.contains("format") || !j["format"].is_string() ||
      j["format"].get<std::string>().rfind("moesim-schedule-", 0) != 0)
    throw InputError(file, "format", std::string("not a moesim schedule (expected format ") + format_v2 + ")",
                     "pass a file written by `moesim schedule`");
  const std::string format = j["format"].get<std::string>();
  if (format != format_v2)
    throw InputError(file, "format",
                     "is " + format + ", which this version no longer reads (it reads " + format_v2 + ")",
                     regenerate);
  Fields f(j, file, "");
  f.str("format");
  Schedule s;
  s.model = f.str("model");
  s.facts = parse_facts(f.node("model_facts"), file);
  s.routing = f.str("routing");
  {
    Fields st(f.node("step"), file, "step.");
    const std::string phase = st.str("phase");
    if (phase != "decode" && phase != "prefill")
      st.fail("phase", "unknown phase '" + phase + "' (known: decode, prefill)");
    s.step.phase = phase == "decode" ? Phase::decode : Phase::prefill;
    s.step.batch = st.small("batch", 1);
    s.step.context = st.small("context");
    s.step.prompt = st.small("prompt");
    if (st.has("tokens_per_seq"))
      s.step.tokens_per_seq = st.small("tokens_per_seq", 1);
    if (st.has("chunk")) {
      s.step.chunk = st.small("chunk", 1);
      s.step.chunk_context = st.small("chunk_context");
    }
    st.finish();
  }
  {
    Fields en(f.node("engine"), file, "engine.");
    s.engine.cuda_graphs = en.boolean("cuda_graphs");
    s.engine.launch_s = en.number("launch_s");
    s.engine.sync_s = en.number("sync_s");
    s.engine.graph_launch_s = en.number("graph_launch_s");
    const std::string gg = en.str("grouped_gemm");
    if (gg != "fused" && gg != "per_expert")
      en.fail("grouped_gemm", "unknown value '" + gg + "' (known: fused, per_expert)");
    s.engine.grouped_gemm_per_expert = gg == "per_expert";
    s.engine.timed_ops = en.boolean("timed_ops");
    for (auto [key, fraction] : {std::pair{"attention_bw_fraction", &s.engine.attention_bw_fraction},
                                 {"moe_bw_fraction", &s.engine.moe_bw_fraction},
                                 {"moe_flops_fraction", &s.engine.moe_flops_fraction}})
      if (en.has(key)) {
        *fraction = en.number(key);
        if (!(*fraction > 0 && *fraction <= 1))
          en.fail(key, "must be in (0, 1]");
      }
    if (en.has("moe_backend")) {
      const std::string b = en.str("moe_backend");
      const auto parsed = parse_moe_backend(b);
      if (!parsed)
        en.fail("moe_backend", "unknown value '" + b + "' (known: fastest, cutlass, trtllm)");
      s.engine.moe_backend = *parsed;
    }
    en.finish();
  }
  {
    Fields pj(f.node("plan"), file, "plan.");
    Plan& p = s.layout.plan;
    p.name = pj.str("name");
    p.attn_tp = pj.small("attn_tp", 1);
    p.attn_dp = pj.small("attn_dp", 1);
    p.moe_tp = pj.small("moe_tp", 1);
    p.ep = pj.small("ep", 1);
    p.pp = pj.small("pp", 1);
    p.microbatches = pj.small("microbatches", 1);
    if (pj.has("redundant_experts"))
      p.redundant_experts = pj.small("redundant_experts", 1);
    const std::string ec = pj.str("expert_comm");
    bool known = false;
    for (ExpertComm c : {ExpertComm::all_to_all, ExpertComm::all_reduce, ExpertComm::allgather})
      if (ec == to_string(c))
        p.expert_comm = c, known = true;
    if (!known)
      pj.fail("expert_comm", "unknown value '" + ec + "' (known: all_to_all, all_reduce, allgather)");
    pj.finish();
  }
  s.layout.world = f.small("world", 1);
  s.collectives = f.small("collectives");
  const json& groups = f.node("groups");
  if (!groups.is_array())
    f.fail("groups", "expected a list");
  for (const json& g : groups) {
    const std::string at = "groups[" + std::to_string(s.layout.groups.size()) + "].";
    Fields gf(g, file, at);
    Group gr;
    gr.id = gf.small("id");
    gr.ranks = gf.ints("ranks");
    const std::string kind = gf.str("kind");
    bool known = false;
    for (GroupKind k : {GroupKind::attn_tp, GroupKind::moe_tp, GroupKind::ep, GroupKind::stage, GroupKind::dp})
      if (kind == to_string(k))
        gr.kind = k, known = true;
    if (!known)
      gf.fail("kind", "unknown group kind '" + kind + "'");
    if (gr.id != static_cast<int>(s.layout.groups.size()))
      gf.fail("id", "group ids must be 0, 1, 2, ... in order");
    gf.finish();
    s.layout.groups.push_back(std::move(gr));
  }
  const json& ranks = f.node("ranks");
  if (!ranks.is_array())
    f.fail("ranks", "expected a list");
  for (const json& rj : ranks) {
    const std::string at = "ranks[" + std::to_string(s.ranks.size()) + "].";
    Fields rf(rj, file, at);
    RankSchedule r;
    r.rank = rf.small("rank");
    const json& ops = rf.node("ops");
    if (!ops.is_array())
      rf.fail("ops", "expected a list");
    for (const json& oj : ops) {
      const std::string oat = "ranks[" + std::to_string(r.rank) + "].ops[" + std::to_string(r.ops.size()) + "].";
      Op o = parse_op(oj, file, oat, static_cast<int>(s.layout.groups.size()));
      if (o.id != static_cast<int>(r.ops.size()))
        throw InputError(file, oat + "id", "op ids must be 0, 1, 2, ... in order", regenerate);
      if (!o.peer_bytes.empty()) {
        // A row per member of the op's group, each a byte count: the simulator reads it by member.
        const size_t members = s.layout.groups.at(static_cast<size_t>(o.group)).ranks.size();
        if (o.kind != OpKind::all_to_all)
          throw InputError(file, oat + "peer_bytes", "only an all_to_all sends bytes per member", regenerate);
        if (o.peer_bytes.size() != members)
          throw InputError(file, oat + "peer_bytes",
                           "has " + std::to_string(o.peer_bytes.size()) + " entries for a group of " +
                               std::to_string(members) + " members",
                           regenerate);
        for (const PeerBytes::Entry& e : o.peer_bytes.entries())
          if (!std::isfinite(e.bytes) || e.bytes < 0)
            throw InputError(file, oat + "peer_bytes[" + std::to_string(e.member) + "]",
                             "must be a finite byte count, 0 or more", regenerate);
      }
      r.ops.push_back(std::move(o));
    }
    rf.finish();
    s.ranks.push_back(std::move(r));
  }
  f.finish();
  if (static_cast<int>(s.ranks.size()) != s.layout.world)
    throw InputError(file, "ranks",
                     "has " + std::to_string(s.ranks.size()) + " ranks but world is " + std::to_string(s.layout.world),
                     regenerate);
  return s;
}

} // namespace

json schedule_to_json(const Schedule& s)
{
  const Plan& p = s.layout.plan;
  json j;
  j["format"] = format_v2;
  j["model"] = s.model;
  j["model_facts"] = facts_to_json(s.facts);
  j["routing"] = s.routing;
  j["step"] = {{"phase", to_string(s.step.phase)},
               {"batch", s.step.batch},
               {"context", s.step.context},
               {"prompt", s.step.prompt}};
  // What a plain step leaves out: speculative tokens per sequence, a prefill chunk mixed in.
  if (s.step.tokens_per_seq != 1)
    j["step"]["tokens_per_seq"] = s.step.tokens_per_seq;
  if (s.step.chunk > 0)
    j["step"].update({{"chunk", s.step.chunk}, {"chunk_context", s.step.chunk_context}});
  j["engine"] = {{"cuda_graphs", s.engine.cuda_graphs},
                 {"launch_s", s.engine.launch_s},
                 {"sync_s", s.engine.sync_s},
                 {"graph_launch_s", s.engine.graph_launch_s},
                 {"grouped_gemm", s.engine.grouped_gemm_per_expert ? "per_expert" : "fused"},
                 {"timed_ops", s.engine.timed_ops}};
  // An engine profile's kernel bandwidth fractions (0: the platform's).
  if (s.engine.attention_bw_fraction > 0)
    j["engine"]["attention_bw_fraction"] = s.engine.attention_bw_fraction;
  if (s.engine.moe_bw_fraction > 0)
    j["engine"]["moe_bw_fraction"] = s.engine.moe_bw_fraction;
  if (s.engine.moe_flops_fraction > 0)
    j["engine"]["moe_flops_fraction"] = s.engine.moe_flops_fraction;
  // Whose measured whole MoE layers the step reads (core/moe_layer.hpp); absent: the fastest kernel's.
  if (s.engine.moe_backend != MoeBackend::fastest)
    j["engine"]["moe_backend"] = to_string(s.engine.moe_backend);
  j["plan"] = {{"name", p.name},       {"attn_tp", p.attn_tp}, {"attn_dp", p.attn_dp},
               {"moe_tp", p.moe_tp},   {"ep", p.ep},           {"pp", p.pp},
               {"microbatches", p.microbatches}, {"expert_comm", to_string(p.expert_comm)}};
  if (p.redundant_experts > 0) // EPLB's extra expert slots
    j["plan"]["redundant_experts"] = p.redundant_experts;
  j["world"] = s.layout.world;
  j["collectives"] = s.collectives;
  json groups = json::array();
  for (const Group& g : s.layout.groups)
    groups.push_back({{"id", g.id}, {"kind", to_string(g.kind)}, {"ranks", g.ranks}});
  j["groups"] = groups;
  json ranks = json::array();
  for (const RankSchedule& r : s.ranks) {
    json ops = json::array();
    for (const Op& o : r.ops)
      ops.push_back(op_to_json(o));
    ranks.push_back({{"rank", r.rank}, {"ops", std::move(ops)}});
  }
  j["ranks"] = std::move(ranks);
  return j;
}

Schedule schedule_from_json(const json& j, const std::string& file)
{
  try {
    return parse_schedule(j, file);
  } catch (const json::exception& e) {
    // Values out of range for their C++ type, a whole section missing or of the wrong type (the
    // per-key checks cover the rest).
    throw InputError(file, "", std::string("malformed schedule: ") + e.what(), regenerate);
  } catch (const std::invalid_argument& e) {
    // A name the core's parsers refuse (an unknown dtype or op kind); the message lists the accepted ones.
    throw InputError(file, "", std::string("malformed schedule: ") + e.what(), regenerate);
  }
}

Schedule load_schedule_file(const std::string& path)
{
  // Plain or gzip-compressed (`validate/oos/oos.py schedules` writes .json.gz), either way at most
  // limits::json_bytes of JSON; a folder, a device or a missing file is refused by read_input_file.
  const std::string text = inflate_if_gzip(read_input_file(path, limits::json_bytes), path, limits::json_bytes);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) { // parse errors, and numbers past double's range (out_of_range 406)
    throw InputError(path, "", std::string("malformed JSON: ") + e.what(), regenerate);
  }
  return schedule_from_json(j, path);
}

} // namespace moesim
