#include "core/op_bench.hpp"

#include "core/error.hpp"
#include "core/text_file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>

namespace moesim {

namespace {

// Which fields each op kind carries. `dims` are required numbers, `optional_dims` may be left out;
// `words` are the string fields besides op, dtype, kernel, launch and source_row.
struct OpSpec {
  BenchOp op;
  const char* name;
  bool dtype;
  std::vector<std::string> dims;
  std::vector<std::string> optional_dims;
  std::vector<std::string> words;
  bool rows = false;
};

const std::vector<std::string> small_dims = {"elements", "bytes", "rows", "width", "tokens", "experts", "k", "hidden", "vocab"};
// Attention: batch and q_heads always; kv_heads and the head dims of GQA (MLA's follow from its
// latent rank, fill_attention); kv_lora_rank, rope_dim and window default to 0.
const std::vector<std::string> attention_required = {"batch", "q_heads"};
const std::vector<std::string> attention_optional = {"kv_heads", "head_dim_qk", "head_dim_v", "kv_lora_rank", "rope_dim", "window"};

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b)
{
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<OpSpec>& op_specs()
{
  static const std::vector<OpSpec> specs = {
      {BenchOp::gemm, "gemm", true, {"m", "n", "k"}, {"batch"}, {"scales"}},
      {BenchOp::grouped_gemm, "grouped_gemm", true, {"n", "k"}, {}, {"impl"}, true},
      {BenchOp::attention_decode, "attention_decode", true, plus(attention_required, {"context"}), attention_optional,
       {"attn", "kv_dtype"}},
      {BenchOp::attention_prefill, "attention_prefill", true, plus(attention_required, {"prompt"}),
       plus(attention_optional, {"cached", "context"}), {"attn", "kv_dtype"}},
      {BenchOp::moe, "moe", true, {"tokens", "hidden", "inter", "topk", "experts", "moe_tp", "moe_ep"}, {},
       {"distribution", "scales"}},
      {BenchOp::rmsnorm, "rmsnorm", true, {}, small_dims, {"inputs"}},
      {BenchOp::silu_mul, "silu_mul", true, {}, small_dims, {"inputs"}},
      {BenchOp::residual_add, "residual_add", true, {}, small_dims, {"inputs"}},
      {BenchOp::topk, "topk", true, {}, small_dims, {"inputs"}},
      {BenchOp::permute, "permute", true, {}, small_dims, {"inputs"}},
      {BenchOp::unpermute, "unpermute", true, {}, small_dims, {"inputs"}},
      {BenchOp::embedding, "embedding", true, {}, small_dims, {"inputs"}},
      {BenchOp::sample, "sample", true, {}, small_dims, {"inputs"}},
      {BenchOp::router, "router", true, {}, small_dims, {"inputs"}},
      // distinct, events: bench-ops' boundary points (op_measurements.hpp's LaunchGap).
      {BenchOp::graph_gap, "graph_gap", false, {"kernels"}, {"distinct", "events"}, {}},
      {BenchOp::host, "host", false, {}, {"threads"}, {"api", "gpu_state"}},
  };
  return specs;
}

const OpSpec& spec_of(BenchOp op)
{
  for (const OpSpec& s : op_specs())
    if (s.op == op)
      return s;
  throw std::logic_error("op kind without a spec");
}

std::string names_of_ops()
{
  std::string s;
  for (const OpSpec& o : op_specs())
    s += (s.empty() ? "" : ", ") + std::string(o.name);
  return s;
}

std::string& word_field(BenchRecord& r, const std::string& key)
{
  if (key == "attn")
    return r.attn;
  if (key == "impl")
    return r.impl;
  if (key == "distribution")
    return r.distribution;
  if (key == "api")
    return r.api;
  if (key == "kv_dtype")
    return r.kv_dtype;
  if (key == "scales")
    return r.scales;
  if (key == "inputs")
    return r.inputs;
  return r.gpu_state;
}

const std::string& word_field(const BenchRecord& r, const std::string& key)
{
  return word_field(const_cast<BenchRecord&>(r), key);
}

std::string num(double v);

const std::set<std::string> system_text = {"gpu", "driver", "cuda", "nccl", "cublas", "date", "cc"};
const std::set<std::string> system_numbers = {"sms", "sm_clock_mhz", "mem_clock_mhz", "mem_bw", "l2_bytes"};

// Completes an attention record's shape so every reader sees all of its dims: kv_lora_rank,
// rope_dim, window and cached default to 0; a prefill's context is cached + prompt (checked when
// written, then dropped as implied); MLA decode is absorbed (one latent KV head, head_dim_qk = kv_lora_rank + rope_dim,
// head_dim_v = kv_lora_rank, checked when written); MLA prefill runs over the up-projected heads
// (kv_heads = q_heads); GQA needs its kv_heads and head dims written.
template <class Fail>
void fill_attention(BenchRecord& r, const Fail& fail)
{
  for (const char* k : {"kv_lora_rank", "rope_dim", "window"})
    r.dims.emplace(k, 0.0);
  const bool decode = r.op == BenchOp::attention_decode;
  if (!decode) {
    const double cached = r.dims.emplace("cached", 0.0).first->second, prompt = r.dims.at("prompt");
    if (r.dims.count("context") && r.dims.at("context") != cached + prompt)
      throw fail("context", "a prefill record's context is its cached tokens plus its prompt",
                 "write context: cached + prompt, or leave it out");
    r.dims.erase("context"); // implied: one shape has one key however it was written
  }
  const double lora = r.dims.at("kv_lora_rank"), rope = r.dims.at("rope_dim"), q_heads = r.dims.at("q_heads");
  if (r.attn == "gqa") {
    if (lora > 0 || rope > 0)
      throw fail("kv_lora_rank", "a gqa record has no latent rank or separate rope dim", "write attn: mla, or 0");
    for (const char* k : {"kv_heads", "head_dim_qk", "head_dim_v"})
      if (!r.dims.count(k))
        throw fail(k, "missing", "a gqa record needs kv_heads, head_dim_qk and head_dim_v");
    return;
  }
  if (!(lora > 0))
    throw fail("kv_lora_rank", "an mla record needs its latent rank", "write e.g. kv_lora_rank: 512, rope_dim: 64");
  const std::map<std::string, double> implied =
      decode ? std::map<std::string, double>{{"kv_heads", 1}, {"head_dim_qk", lora + rope}, {"head_dim_v", lora}}
             : std::map<std::string, double>{{"kv_heads", q_heads}};
  for (const auto& [k, v] : implied)
    if (!r.dims.emplace(k, v).second && r.dims.at(k) != v)
      throw fail(k, std::string("an mla ") + (decode ? "decode" : "prefill") + " record has " + k + " " + num(v),
                 "write " + k + ": " + num(v) + ", or leave it out");
  if (!decode && (!r.dims.count("head_dim_qk") || !r.dims.count("head_dim_v")))
    throw fail("head_dim_qk", "an mla prefill record needs head_dim_qk and head_dim_v", "write e.g. 192 and 128");
}

BenchRecord parse_record(const nlohmann::json& j, const std::string& file, const std::string& where)
{
  auto fail = [&](const std::string& key, const std::string& what, const std::string& fix) -> InputError {
    return InputError(file, where + (key.empty() ? "" : "." + key), what, fix);
  };
  if (!j.is_object())
    throw fail("", "a record must be an object", "write {\"op\": ..., \"seconds\": ...}");
  if (!j.contains("op") || !j["op"].is_string())
    throw fail("op", "missing", "name the op: " + names_of_ops());
  const std::string op = j["op"].get<std::string>();
  const OpSpec* spec = nullptr;
  for (const OpSpec& s : op_specs())
    if (op == s.name)
      spec = &s;
  if (!spec)
    throw fail("op", "unknown op '" + op + "'", "use one of " + names_of_ops());
  BenchRecord r;
  r.op = spec->op;
  auto number = [&](const std::string& key) {
    const nlohmann::json& v = j[key];
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
      throw fail(key, "must be a non-negative number", "write e.g. \"" + key + "\": 4096");
    return v.get<double>();
  };
  auto word = [&](const std::string& key) {
    if (!j[key].is_string())
      throw fail(key, "must be a string", "write e.g. \"" + key + "\": \"...\"");
    return j[key].get<std::string>();
  };
  std::set<std::string> known = {"op", "seconds", "reps", "spread", "kernel", "launch", "source_row"};
  if (spec->dtype)
    known.insert("dtype");
  for (const std::string& k : spec->dims)
    known.insert(k);
  for (const std::string& k : spec->optional_dims)
    known.insert(k);
  for (const std::string& k : spec->words)
    known.insert(k);
  if (spec->rows)
    known.insert("rows");
  for (const auto& [key, value] : j.items())
    if (!known.count(key))
      throw fail(key, "unknown key for op " + op, "remove it, or add it to the op-bench contract and core/op_bench.cpp");

  if (!j.contains("seconds"))
    throw fail("seconds", "missing", "write the GPU time of one op in seconds");
  r.seconds = number("seconds");
  if (!(r.seconds > 0))
    throw fail("seconds", "must be positive", "write the GPU time of one op in seconds");
  if (spec->dtype) {
    if (!j.contains("dtype"))
      throw fail("dtype", "missing", "write bf16, fp16, fp8, nvfp4, mxfp4, int4 or fp32");
    try {
      r.dtype = parse_dtype(word("dtype"));
    } catch (const std::invalid_argument& e) {
      throw fail("dtype", e.what(), "spell it as core/dtype.hpp does");
    }
  }
  for (const std::string& k : spec->dims) {
    if (!j.contains(k))
      throw fail(k, "missing", "op " + op + " needs " + k);
    r.dims[k] = number(k);
  }
  for (const std::string& k : spec->optional_dims)
    if (j.contains(k))
      r.dims[k] = number(k);
  for (const std::string& k : spec->words)
    if (j.contains(k))
      word_field(r, k) = word(k);
  if (!r.kv_dtype.empty()) {
    try {
      parse_dtype(r.kv_dtype);
    } catch (const std::invalid_argument& e) {
      throw fail("kv_dtype", e.what(), "spell it as core/dtype.hpp does");
    }
  }
  if (!r.scales.empty() && (r.scales != "block" || r.dtype != Dtype::fp8))
    throw fail("scales", "'" + r.scales + "' is not a scaling moesim knows for " +
                             (r.dtype ? to_string(*r.dtype) : "this") + " weights",
               "write \"scales\": \"block\" on an fp8 GEMM or MoE layer with 128x128 block scales, or leave it out (one scale "
               "per tensor)");
  if (!r.inputs.empty() && r.inputs != "cold")
    throw fail("inputs", "'" + r.inputs + "' is not a way moesim knows of reading a small kernel's inputs",
               "write \"inputs\": \"cold\" where each timed instance read inputs of its own, or leave it "
               "out (the instances re-read one buffer)");
  if (r.op == BenchOp::attention_decode || r.op == BenchOp::attention_prefill) {
    if (r.attn != "gqa" && r.attn != "mla")
      throw fail("attn", "must be gqa or mla", "write \"attn\": \"gqa\" (MHA, GQA, MQA) or \"mla\"");
    fill_attention(r, fail);
  }
  if (spec->rows) {
    if (!j.contains("rows") || !j["rows"].is_array())
      throw fail("rows", "missing", "list the tokens of each expert, e.g. [3, 0, 7]");
    for (const auto& v : j["rows"]) {
      if (!v.is_number() || v.get<double>() < 0)
        throw fail("rows", "must hold non-negative numbers", "list the tokens of each expert");
      r.rows.push_back(v.get<double>());
    }
  }
  if (j.contains("kernel"))
    r.kernel = word("kernel");
  if (j.contains("launch")) {
    r.launch = word("launch");
    if (r.launch != "stream" && r.launch != "graph")
      throw fail("launch", "must be stream or graph", "write \"launch\": \"stream\" or \"graph\"");
  }
  if (j.contains("source_row"))
    r.source_row = word("source_row");
  if (j.contains("reps"))
    r.reps = number("reps");
  if (j.contains("spread"))
    r.spread = number("spread");
  return r;
}

// Integers print as integers; anything else with 4 significant digits (%.4g), which is also how
// times are rounded: 0.01%, far below any measurement's repeat noise.
std::string num(double v)
{
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

} // namespace

const char* to_string(BenchOp op)
{
  return spec_of(op).name;
}

std::string OpBenchSystem::word(const std::string& key) const
{
  auto it = text.find(key);
  return it == text.end() ? "" : it->second;
}

double OpBenchSystem::number(const std::string& key) const
{
  auto it = numbers.find(key);
  return it == numbers.end() ? 0 : it->second;
}

std::string OpBenchSystem::describe() const
{
  std::string o = word("gpu").empty() ? "unknown GPU" : word("gpu");
  if (number("sms") > 0)
    o += ", " + num(number("sms")) + " SMs";
  for (const auto& [key, label] : {std::pair<const char*, const char*>{"driver", "driver "}, {"cuda", "CUDA "},
                                   {"cublas", "cuBLAS "}, {"date", ""}})
    if (!word(key).empty())
      o += ", " + std::string(label) + word(key);
  return o;
}

double BenchRecord::dim(const std::string& key) const
{
  auto it = dims.find(key);
  if (it == dims.end())
    throw std::invalid_argument(std::string(to_string(op)) + " record has no '" + key + "'");
  return it->second;
}

OpBench parse_op_bench(const std::string& text, const std::string& file)
{
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) { // also a number past double's range (out_of_range 406)
    throw InputError(file, "", std::string("malformed JSON: ") + e.what(), "pass a moesim-op-bench-1 file");
  }
  if (!j.is_object() || !j.contains("format") || j["format"] != "moesim-op-bench-1")
    throw InputError(file, "format", "not a moesim-op-bench-1 file", "write \"format\": \"moesim-op-bench-1\"");
  for (const auto& [key, value] : j.items())
    if (key != "format" && key != "source" && key != "system" && key != "records")
      throw InputError(file, key, "unknown top-level key", "use format, source, system and records");
  OpBench doc;
  if (j.contains("source")) {
    if (!j["source"].is_string())
      throw InputError(file, "source", "must be a string", "say where the records come from");
    doc.source = j["source"].get<std::string>();
  }
  if (j.contains("system")) {
    const nlohmann::json& s = j["system"];
    if (!s.is_object())
      throw InputError(file, "system", "must be an object", "write e.g. {\"gpu\": \"NVIDIA H200\"}");
    for (const auto& [key, value] : s.items()) {
      if (system_text.count(key) && value.is_string())
        doc.system.text[key] = value.get<std::string>();
      else if (system_numbers.count(key) && value.is_number())
        doc.system.numbers[key] = value.get<double>();
      else
        throw InputError(file, "system." + key, "unknown key or wrong type",
                         "use gpu, driver, cuda, nccl, cublas, date, cc (strings) or sms, sm_clock_mhz, mem_clock_mhz, "
                         "mem_bw, l2_bytes (numbers)");
    }
  }
  if (!j.contains("records") || !j["records"].is_array())
    throw InputError(file, "records", "missing", "list the records");
  const nlohmann::json& recs = j["records"];
  doc.records.reserve(recs.size());
  for (std::size_t i = 0; i < recs.size(); ++i)
    doc.records.push_back(parse_record(recs[i], file, "records[" + std::to_string(i) + "]"));
  return doc;
}

OpBench read_op_bench_file(const std::string& path)
{
  return parse_op_bench(read_text_file(path, "an op-bench records file (.json or .json.gz)"), path);
}

std::string write_op_bench(const OpBench& doc)
{
  nlohmann::ordered_json head;
  head["format"] = "moesim-op-bench-1";
  head["source"] = doc.source;
  nlohmann::ordered_json sys = nlohmann::ordered_json::object();
  for (const auto& [k, v] : doc.system.text)
    sys[k] = v;
  for (const auto& [k, v] : doc.system.numbers)
    sys[k] = v;
  head["system"] = sys;
  std::string out = head.dump();
  out.pop_back();
  out += ",\n\"records\":[\n";
  for (std::size_t i = 0; i < doc.records.size(); ++i) {
    const BenchRecord& r = doc.records[i];
    const OpSpec& spec = spec_of(r.op);
    std::string line = "{\"op\":\"" + std::string(spec.name) + "\"";
    auto text = [&](const char* key, const std::string& v) {
      if (!v.empty())
        line += ",\"" + std::string(key) + "\":" + nlohmann::json(v).dump();
    };
    for (const std::string& w : spec.words)
      if (w == "attn" || w == "impl")
        text(w.c_str(), word_field(r, w));
    if (r.dtype)
      text("dtype", to_string(*r.dtype));
    text("kernel", r.kernel);
    text("launch", r.launch);
    for (const auto* list : {&spec.dims, &spec.optional_dims})
      for (const std::string& k : *list)
        if (auto it = r.dims.find(k); it != r.dims.end())
          line += ",\"" + k + "\":" + num(it->second);
    if (spec.rows) {
      line += ",\"rows\":[";
      for (std::size_t e = 0; e < r.rows.size(); ++e)
        line += (e ? "," : "") + num(r.rows[e]);
      line += "]";
    }
    for (const std::string& w : spec.words)
      if (w != "attn" && w != "impl")
        text(w.c_str(), word_field(r, w));
    line += ",\"seconds\":" + num(r.seconds);
    if (r.reps)
      line += ",\"reps\":" + num(*r.reps);
    if (r.spread)
      line += ",\"spread\":" + num(*r.spread);
    text("source_row", r.source_row);
    out += line + "}" + (i + 1 < doc.records.size() ? ",\n" : "\n");
  }
  return out + "]}\n";
}

bool BenchRecord::cold_study() const
{
  return inputs == "cold" && op != BenchOp::sample && op != BenchOp::embedding;
}

std::string shape_key(const BenchRecord& r)
{
  std::string k = to_string(r.op);
  for (const std::string& w : {r.attn, r.impl, r.distribution, r.api, r.gpu_state})
    k += "|" + w;
  if (!r.kv_dtype.empty())
    k += "|kv " + r.kv_dtype;
  if (!r.scales.empty())
    k += "|scales " + r.scales;
  k += "|" + std::string(r.dtype ? to_string(*r.dtype) : "-");
  for (const auto& [name, v] : r.dims)
    k += "|" + name + "=" + num(v);
  for (double v : r.rows)
    k += "," + num(v);
  return k;
}

} // namespace moesim
