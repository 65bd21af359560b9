#include "core/model_loader.hpp"

#include "core/input_file.hpp"
#include "core/limits.hpp"
#include "core/yaml_reader.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace moesim {
namespace {

// The largest value each dimension may take (limits.hpp): far above every real model, and low
// enough that the schedule's products of them stay exact.
int most(const std::string& key)
{
  if (key == "layers" || key == "dense_layers" || key == "moe_layer_step")
    return limits::layers;
  if (key == "vocab")
    return limits::vocab;
  if (key == "q_heads" || key == "kv_heads")
    return limits::heads;
  if (key == "head_dim" || key.ends_with("head_dim"))
    return limits::head_dim;
  if (key == "experts" || key == "top_k" || key == "shared_experts")
    return limits::experts;
  if (key == "sliding_window" || key == "sliding_every")
    return limits::context;
  if (key.ends_with("intermediate"))
    return 16 * limits::hidden;
  return limits::hidden; // hidden, lora ranks
}

int positive(Fields& f, const std::string& key)
{
  return f.integer_in(key, 1, most(key));
}

int non_negative(Fields& f, const std::string& key, int dflt)
{
  return f.integer_in(key, dflt, 0, most(key));
}

Dtype read_dtype(Fields& f, const std::string& key)
{
  std::string s = f.str(key);
  try {
    return parse_dtype(s);
  } catch (const std::invalid_argument& e) {
    f.fail(key, e.what(), "write one of fp32, bf16, fp16, fp8, nvfp4, mxfp4, int4");
  }
}

Attention read_attention(const std::string& file, const YAML::Node& n)
{
  Fields f(file, n, "attention");
  Attention a;
  std::string kind = f.str("kind");
  if (kind == "mha")
    a.kind = AttentionKind::mha;
  else if (kind == "gqa")
    a.kind = AttentionKind::gqa;
  else if (kind == "mla")
    a.kind = AttentionKind::mla;
  else
    f.fail("kind", "unknown attention kind '" + kind + "'", "use mha, gqa or mla");
  a.q_heads = positive(f, "q_heads");
  if (a.kind == AttentionKind::mla) {
    a.kv_heads = a.q_heads;
    a.q_lora_rank = non_negative(f, "q_lora_rank", 0);
    a.kv_lora_rank = positive(f, "kv_lora_rank");
    a.qk_nope_head_dim = positive(f, "qk_nope_head_dim");
    a.qk_rope_head_dim = positive(f, "qk_rope_head_dim");
    a.v_head_dim = positive(f, "v_head_dim");
  } else {
    a.kv_heads = a.kind == AttentionKind::mha ? a.q_heads : positive(f, "kv_heads");
    a.head_dim = positive(f, "head_dim");
    if (a.q_heads % a.kv_heads != 0)
      f.fail("kv_heads", "q_heads (" + std::to_string(a.q_heads) + ") is not a multiple of kv_heads",
             "check both against config.json");
  }
  a.sliding_window = non_negative(f, "sliding_window", 0);
  a.sliding_every = non_negative(f, "sliding_every", a.sliding_window > 0 ? 1 : 0);
  if (a.sliding_window == 0 && a.sliding_every != 0)
    f.fail("sliding_every", "is set but sliding_window is 0", "set sliding_window or remove sliding_every");
  f.finish();
  return a;
}

MoeBlock read_moe(const std::string& file, const YAML::Node& n)
{
  Fields f(file, n, "moe");
  MoeBlock m;
  m.experts = positive(f, "experts");
  m.top_k = positive(f, "top_k");
  m.expert_intermediate = positive(f, "expert_intermediate");
  m.shared_experts = non_negative(f, "shared_experts", 0);
  m.shared_intermediate = m.shared_experts > 0 ? positive(f, "shared_intermediate") : non_negative(f, "shared_intermediate", 0);
  if (m.shared_experts == 0 && m.shared_intermediate != 0)
    f.fail("shared_intermediate", "is set but shared_experts is 0", "set shared_experts or remove shared_intermediate");
  if (m.top_k > m.experts)
    f.fail("top_k", "top_k exceeds the number of experts", "check moe.top_k against num_experts_per_tok");
  m.routing_power_law_alpha = f.num("routing_power_law_alpha", 0.0, Bounds{0, 10, false});
  f.finish();
  return m;
}

ModelDtypes read_dtypes(const std::string& file, const YAML::Node& n)
{
  Fields f(file, n, "dtypes");
  ModelDtypes d;
  d.expert_weights = read_dtype(f, "expert_weights");
  d.dense_weights = read_dtype(f, "dense_weights");
  d.embeddings = read_dtype(f, "embeddings");
  d.activations = read_dtype(f, "activations");
  d.kv_cache = read_dtype(f, "kv_cache");
  const std::string scales = f.str("fp8_scales", "tensor");
  if (scales != "tensor" && scales != "block")
    f.fail("fp8_scales", "unknown scaling '" + scales + "'",
           "write block (one scale per 128x128 weight block) or tensor (one per tensor)");
  d.fp8_block_scales = scales == "block";
  f.finish();
  return d;
}

} // namespace


double OfficialParams::comparable_active(const Model& m) const
{
  const ParamCounts c = m.param_counts();
  double a = c.active;
  if (!active_counts_input_embedding)
    a -= c.input_embedding;
  if (!active_counts_lm_head && !m.tied_embeddings)
    a -= c.input_embedding; // the LM head has the same shape as the input table
  return a;
}

ModelFile load_model_file(const std::string& path)
{
  YAML::Node root = load_yaml_file(path);
  Fields f(path, root, "");
  ModelFile out;
  Model& m = out.model;
  m.file = path;
  m.name = f.str("name");
  out.source = f.str("source");
  m.hidden = positive(f, "hidden");
  m.layers = positive(f, "layers");
  m.dense_layers = non_negative(f, "dense_layers", 0);
  m.moe_layer_step = f.integer_in("moe_layer_step", 1, 1, limits::layers);
  m.dense_intermediate = non_negative(f, "dense_intermediate", 0);
  m.vocab = positive(f, "vocab");
  m.tied_embeddings = f.boolean("tied_embeddings");
  m.attn = read_attention(path, f.node("attention"));
  if (auto n = f.maybe("moe"))
    m.moe = read_moe(path, *n);
  m.dtypes = read_dtypes(path, f.node("dtypes"));
  if (m.dense_layers > m.layers)
    f.fail("dense_layers", "exceeds layers", "check first_k_dense_replace against num_hidden_layers");
  if (m.moe_layer_count() < m.layers && m.dense_intermediate == 0)
    f.fail("dense_intermediate", "the model has dense layers but no dense FFN width",
           "set dense_intermediate to intermediate_size from config.json");
  const std::optional<YAML::Node> official = f.maybe("official");
  if (!official) {
    f.finish();
    return out;
  }
  Fields o(path, *official, "official");
  OfficialParams& off = out.official.emplace();
  off.total = o.num("total", positive(1e16));
  off.active = o.num("active", positive(1e16));
  off.active_counts_input_embedding = o.boolean("active_counts_input_embedding", true);
  off.active_counts_lm_head = o.boolean("active_counts_lm_head", true);
  off.tolerance_total = o.num("tolerance_total", 0.01);
  off.tolerance_active = o.num("tolerance_active", 0.01);
  off.source = o.str("source");
  if (!(off.active <= off.total))
    o.fail("active", "must be positive and at most the total", "write the vendor's active figure, e.g. 35e9");
  for (const char* k : {"tolerance_total", "tolerance_active"})
    if (const double t = o.num(k, 0.01); !(t > 0 && t <= 0.1))
      o.fail(k, "must be in (0, 0.1]", "use 0.01 unless the official figure is itself rounded");
  o.finish();
  f.finish();
  return out;
}

std::string resolve_model_path(const std::string& name_or_path, const std::string& models_dir)
{
  namespace fs = std::filesystem;
  if (name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".yaml"))
    return name_or_path;
  fs::path p = fs::path(models_dir) / (name_or_path + ".yaml");
  if (!path_exists(p)) {
    std::string names;
    if (is_folder(models_dir)) {
      std::vector<std::string> v;
      for (const auto& e : fs::directory_iterator(models_dir))
        if (e.path().extension() == ".yaml")
          v.push_back(e.path().stem().string());
      std::sort(v.begin(), v.end());
      for (const auto& s : v)
        names += (names.empty() ? "" : ", ") + s;
    }
    throw InputError(p.string(), "model", "unknown model '" + name_or_path + "'",
                     names.empty() ? "give a path to a model YAML" : "use one of: " + names);
  }
  return p.string();
}

} // namespace moesim
