#include "core/hf_config.hpp"

#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/limits.hpp"

#include <nlohmann/json.hpp>

#include <optional>

namespace moesim {
namespace {

using json = nlohmann::json;

// Typed reads of one JSON object, every error naming the file and the dotted key.
class Config {
public:
  Config(const json& j, std::string file, std::string prefix) : j_(j), file_(std::move(file)), prefix_(std::move(prefix))
  {
    if (!j_.is_object())
      throw InputError(file_, prefix_.empty() ? "(top)" : prefix_.substr(0, prefix_.size() - 1), "expected a JSON object",
                       "pass a Hugging Face config.json");
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what, const std::string& fix) const
  {
    throw InputError(file_, prefix_ + key, what, fix);
  }
  // The value, or null when absent or null.
  const json* get(const std::string& key) const
  {
    const auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  bool has(const std::string& key) const { return get(key) != nullptr; }

  std::optional<long long> maybe_int(const std::string& key) const
  {
    const json* v = get(key);
    if (!v)
      return std::nullopt;
    if (!v->is_number_integer())
      fail(key, "expected a whole number, got " + v->dump(), "check the value in config.json");
    return v->get<long long>();
  }
  int positive(const std::string& key) const
  {
    const auto v = maybe_int(key);
    if (!v)
      fail(key, "missing", "a config.json of this architecture has it; check the file");
    if (*v <= 0 || *v > 2000000000)
      fail(key, "must be a positive whole number, got " + std::to_string(*v), "check the value in config.json");
    return static_cast<int>(*v);
  }
  int count(const std::string& key, int dflt) const
  {
    const auto v = maybe_int(key);
    if (!v)
      return dflt;
    if (*v < 0 || *v > 2000000000)
      fail(key, "must not be negative, got " + std::to_string(*v), "check the value in config.json");
    return static_cast<int>(*v);
  }
  bool boolean(const std::string& key, bool dflt) const
  {
    const json* v = get(key);
    if (!v)
      return dflt;
    if (!v->is_boolean())
      fail(key, "expected true or false, got " + v->dump(), "check the value in config.json");
    return v->get<bool>();
  }
  std::string str(const std::string& key, const std::string& dflt) const
  {
    const json* v = get(key);
    if (!v)
      return dflt;
    if (!v->is_string())
      fail(key, "expected a string, got " + v->dump(), "check the value in config.json");
    return v->get<std::string>();
  }
  Config child(const std::string& key) const
  {
    const json* v = get(key);
    if (!v)
      fail(key, "missing", "a config.json of this architecture has it; check the file");
    return Config(*v, file_, prefix_ + key + ".");
  }
  const std::string& file() const { return file_; }

private:
  const json& j_;
  std::string file_, prefix_;
};

Dtype torch_dtype(const Config& c, const Config* text, std::vector<std::string>& notes)
{
  std::string t = c.str("torch_dtype", c.str("dtype", ""));
  if (t.empty() && text)
    t = text->str("torch_dtype", text->str("dtype", ""));
  if (t.empty()) {
    notes.push_back("config.json names no torch_dtype: weights taken as bf16");
    return Dtype::bf16;
  }
  if (t == "bfloat16")
    return Dtype::bf16;
  if (t == "float16")
    return Dtype::fp16;
  if (t == "float32")
    return Dtype::fp32;
  c.fail("torch_dtype", "unknown dtype '" + t + "'", "use bfloat16, float16 or float32");
}

// Whether a list of unquantized modules names the attention.
bool keeps_attention(const Config& q)
{
  for (const char* key : {"modules_to_not_convert", "ignore", "exclude_modules"})
    if (const json* list = q.get(key); list && list->is_array())
      for (const json& m : *list)
        if (m.is_string() && m.get<std::string>().find("self_attn") != std::string::npos)
          return true;
  return false;
}

// quantization_config -> dtypes (see hf_config.hpp).
ModelDtypes dtypes_of(const Config& c, const Config* text, std::vector<std::string>& notes)
{
  const Dtype base = torch_dtype(c, text, notes);
  ModelDtypes d;
  d.expert_weights = d.dense_weights = d.embeddings = base;
  d.activations = base == Dtype::fp16 ? Dtype::fp16 : Dtype::bf16;
  d.kv_cache = d.activations;
  if (!c.has("quantization_config"))
    return d;
  const Config q = c.child("quantization_config");
  const std::string method = q.str("quant_method", "");
  const std::string algo = q.str("quant_algo", "");
  Dtype w = base;
  if (method == "fp8")
    w = Dtype::fp8;
  else if (method == "mxfp4")
    w = Dtype::mxfp4;
  else if ((method == "modelopt" || method.empty()) && (algo == "NVFP4" || algo == "FP8"))
    w = algo == "NVFP4" ? Dtype::nvfp4 : Dtype::fp8;
  else
    q.fail(method.empty() ? "quant_algo" : "quant_method",
           "quantization '" + (method.empty() ? algo : method) + (algo.empty() || method.empty() ? "" : " " + algo) +
               "' is not read",
           "import configs quantized with quant_method fp8 or mxfp4, or modelopt NVFP4 or FP8; or remove "
           "quantization_config and set the dtypes in the written YAML by hand");
  d.expert_weights = w;
  d.dense_weights = keeps_attention(q) ? base : w;
  d.fp8_block_scales = w == Dtype::fp8 && q.has("weight_block_size"); // DeepSeek-style 128x128 blocks
  if (d.dense_weights == base && w != base)
    notes.push_back(std::string("quantization_config leaves the attention unquantized: dense weights stay ") +
                    to_string(base));
  const std::string kv_algo = q.str("kv_cache_quant_algo", "");
  bool kv_fp8 = kv_algo == "FP8";
  if (const json* kv = q.get("kv_cache_scheme"); kv && kv->is_object())
    kv_fp8 = kv_fp8 || (kv->value("type", "") == "float" && kv->value("num_bits", 0) == 8);
  if (kv_fp8)
    d.kv_cache = Dtype::fp8;
  return d;
}

void common(Model& m, const Config& c)
{
  m.hidden = c.positive("hidden_size");
  m.layers = c.positive("num_hidden_layers");
  m.vocab = c.positive("vocab_size");
  m.tied_embeddings = c.boolean("tie_word_embeddings", false);
}

void gqa(Model& m, const Config& c)
{
  Attention& a = m.attn;
  a.kind = AttentionKind::gqa;
  a.q_heads = c.positive("num_attention_heads");
  a.kv_heads = c.has("num_key_value_heads") ? c.positive("num_key_value_heads") : a.q_heads;
  if (c.has("head_dim")) {
    a.head_dim = c.positive("head_dim");
  } else {
    if (m.hidden % a.q_heads != 0)
      c.fail("head_dim", "missing, and hidden_size is not a multiple of num_attention_heads", "add head_dim");
    a.head_dim = m.hidden / a.q_heads;
  }
  if (a.q_heads % a.kv_heads != 0)
    c.fail("num_key_value_heads", "num_attention_heads is not a multiple of it", "check both in config.json");
  if (a.kv_heads == a.q_heads)
    a.kind = AttentionKind::mha;
}

void note_mtp(const Config& c, std::vector<std::string>& notes)
{
  if (const int n = c.count("num_nextn_predict_layers", 0); n > 0)
    notes.push_back("num_nextn_predict_layers " + std::to_string(n) + ": the multi-token-prediction layer is not modelled");
}

// DeepSeek-V3 and GLM-4.5 name their MoE alike: first_k_dense_replace dense layers first, then
// n_routed_experts routed and n_shared_experts shared experts of moe_intermediate_size each, and an
// optional MTP head (noted, not modelled).
void routed_and_shared_experts(HfImport& h, const Config& c)
{
  Model& m = h.model;
  m.dense_layers = c.count("first_k_dense_replace", 0);
  m.dense_intermediate = m.dense_layers > 0 ? c.positive("intermediate_size") : 0;
  m.moe.experts = c.positive("n_routed_experts");
  m.moe.top_k = c.positive("num_experts_per_tok");
  m.moe.expert_intermediate = c.positive("moe_intermediate_size");
  m.moe.shared_experts = c.count("n_shared_experts", 0);
  m.moe.shared_intermediate = m.moe.shared_experts > 0 ? m.moe.expert_intermediate : 0;
  note_mtp(c, h.notes);
}

// DeepSeek-V2/V3 (and Kimi-K2): MLA, first_k_dense_replace dense layers, routed and shared experts.
void deepseek(HfImport& h, const Config& c)
{
  Model& m = h.model;
  common(m, c);
  Attention& a = m.attn;
  a.kind = AttentionKind::mla;
  a.q_heads = c.positive("num_attention_heads");
  a.kv_heads = a.q_heads;
  a.q_lora_rank = c.count("q_lora_rank", 0);
  a.kv_lora_rank = c.positive("kv_lora_rank");
  a.qk_nope_head_dim = c.positive("qk_nope_head_dim");
  a.qk_rope_head_dim = c.positive("qk_rope_head_dim");
  a.v_head_dim = c.positive("v_head_dim");
  if (const int freq = c.count("moe_layer_freq", 1); freq != 1)
    c.fail("moe_layer_freq", "is " + std::to_string(freq) + "; moesim reads every layer after the dense ones as MoE",
           "import a config with moe_layer_freq 1, or write the model YAML by hand (moe_layer_step)");
  routed_and_shared_experts(h, c);
}

// Qwen3-MoE: GQA; layer l is MoE unless it is in mlp_only_layers, when (l + 1) % decoder_sparse_step == 0.
void qwen3_moe(HfImport& h, const Config& c)
{
  Model& m = h.model;
  common(m, c);
  gqa(m, c);
  m.moe_layer_step = c.has("decoder_sparse_step") ? c.positive("decoder_sparse_step") : 1;
  // mlp_only_layers must be the first k layers: moesim's dense layers come first.
  m.dense_layers = 0;
  if (const json* only = c.get("mlp_only_layers")) {
    if (!only->is_array())
      c.fail("mlp_only_layers", "expected a list of layer indices", "check config.json");
    for (size_t i = 0; i < only->size(); i++)
      if (!(*only)[i].is_number_integer() || (*only)[i].get<long long>() != static_cast<long long>(i))
        c.fail("mlp_only_layers", "lists layers other than the first ones (0, 1, 2, ...)",
               "moesim's dense layers come first: write the model YAML by hand");
    m.dense_layers = static_cast<int>(only->size());
  }
  if (c.boolean("use_sliding_window", false))
    c.fail("use_sliding_window", "sliding windows on the first max_window_layers layers are not modelled",
           "import a config with use_sliding_window false");
  m.moe.experts = c.positive("num_experts");
  m.moe.top_k = c.positive("num_experts_per_tok");
  m.moe.expert_intermediate = c.positive("moe_intermediate_size");
  m.dense_intermediate = m.moe_layer_count() < m.layers ? c.positive("intermediate_size") : 0;
}

// Mixtral: GQA, every layer MoE, an optional sliding window on every layer.
void mixtral(HfImport& h, const Config& c)
{
  Model& m = h.model;
  common(m, c);
  gqa(m, c);
  m.attn.sliding_window = c.count("sliding_window", 0);
  m.attn.sliding_every = m.attn.sliding_window > 0 ? 1 : 0;
  m.moe.experts = c.positive("num_local_experts");
  m.moe.top_k = c.positive("num_experts_per_tok");
  m.moe.expert_intermediate = c.positive("intermediate_size");
}

// GLM-4.5: GQA (head_dim given), first_k_dense_replace dense layers, routed and shared experts.
void glm4_moe(HfImport& h, const Config& c)
{
  Model& m = h.model;
  common(m, c);
  gqa(m, c);
  routed_and_shared_experts(h, c);
}

// gpt-oss: GQA, every layer MoE, layer_types alternating sliding and full attention.
void gpt_oss(HfImport& h, const Config& c)
{
  Model& m = h.model;
  common(m, c);
  gqa(m, c);
  m.moe.experts = c.positive("num_local_experts");
  m.moe.top_k = c.has("num_experts_per_tok") ? c.positive("num_experts_per_tok") : c.positive("experts_per_token");
  m.moe.expert_intermediate = c.positive("intermediate_size");
  const json* types = c.get("layer_types");
  const int window = c.count("sliding_window", 0);
  if (!types || window == 0)
    return; // every layer attends to the whole context
  if (!types->is_array() || types->size() != static_cast<size_t>(m.layers))
    c.fail("layer_types", "expected one entry per layer", "check config.json");
  // moesim's rule: layer l slides iff l % sliding_every == 0. Find the period that reproduces the list.
  for (int every = 1; every <= m.layers; every++) {
    bool same = true;
    for (int l = 0; l < m.layers && same; l++)
      same = ((*types)[l] == "sliding_attention") == (l % every == 0);
    if (same) {
      m.attn.sliding_window = window;
      m.attn.sliding_every = every;
      return;
    }
  }
  c.fail("layer_types", "the sliding layers are not every n-th layer from layer 0",
         "write the model YAML by hand with the nearest sliding_every");
}

// Llama-4: the text model (text_config when nested), MoE every interleave_moe_layer_step-th layer
// with one shared expert; the dense layers' FFN is intermediate_size_mlp.
void llama4(HfImport& h, const Config& top)
{
  const bool nested = top.has("text_config");
  const Config c = nested ? top.child("text_config") : top;
  Model& m = h.model;
  common(m, c);
  m.tied_embeddings = c.boolean("tie_word_embeddings", top.boolean("tie_word_embeddings", false));
  gqa(m, c);
  m.moe_layer_step = c.has("interleave_moe_layer_step") ? c.positive("interleave_moe_layer_step") : 1;
  if (const json* moe_layers = c.get("moe_layers")) {
    // Transformers' default: layers step-1, 2 step-1, ...; anything else cannot be expressed.
    bool same = moe_layers->is_array();
    int n = 0;
    for (int l = 0; l < m.layers && same; l++) {
      const bool listed = n < static_cast<int>(moe_layers->size()) && (*moe_layers)[n] == l;
      same = listed == ((l + 1) % m.moe_layer_step == 0);
      n += listed;
    }
    if (!same || n != static_cast<int>(moe_layers->size()))
      c.fail("moe_layers", "is not every interleave_moe_layer_step-th layer", "write the model YAML by hand");
  }
  m.moe.experts = c.positive("num_local_experts");
  m.moe.top_k = c.positive("num_experts_per_tok");
  m.moe.expert_intermediate = c.positive("intermediate_size");
  m.moe.shared_experts = 1;
  m.moe.shared_intermediate = m.moe.expert_intermediate;
  m.dense_intermediate = m.moe_layer_count() < m.layers ? c.positive("intermediate_size_mlp") : 0;
  if (const int chunk = c.count("attention_chunk_size", 0); chunk > 0)
    h.notes.push_back("attention_chunk_size " + std::to_string(chunk) +
                      ": chunked local attention is modelled as full attention");
  if (nested)
    h.notes.push_back("the text model only: the vision encoder is not modelled");
}

struct Reader {
  const char* architecture;
  void (*read)(HfImport&, const Config&);
};

const Reader readers[] = {
    {"DeepseekV3ForCausalLM", deepseek},
    {"DeepseekV2ForCausalLM", deepseek},
    {"Qwen3MoeForCausalLM", qwen3_moe},
    {"MixtralForCausalLM", mixtral},
    {"Glm4MoeForCausalLM", glm4_moe},
    {"GptOssForCausalLM", gpt_oss},
    {"Llama4ForConditionalGeneration", llama4},
    {"Llama4ForCausalLM", llama4},
};

} // namespace

std::vector<std::string> hf_architectures()
{
  std::vector<std::string> v;
  for (const Reader& r : readers)
    v.push_back(r.architecture);
  return v;
}

HfImport import_hf_config(const json& j, const std::string& file, const std::string& name)
{
  const Config c(j, file, "");
  std::string list;
  for (const Reader& r : readers)
    list += (list.empty() ? "" : ", ") + std::string(r.architecture);
  const json* arch = c.get("architectures");
  if (!arch || !arch->is_array() || arch->empty() || !(*arch)[0].is_string())
    c.fail("architectures", "missing", "a Hugging Face config.json names its architecture; this reads " + list);
  HfImport h;
  h.architecture = (*arch)[0].get<std::string>();
  const Reader* reader = nullptr;
  for (const Reader& r : readers)
    if (h.architecture == r.architecture)
      reader = &r;
  if (!reader)
    c.fail("architectures", "unknown architecture '" + h.architecture + "'",
           "import one of " + list + ", or write the model YAML by hand");
  h.model.name = name;
  h.model.file = file;
  reader->read(h, c);
  const bool nested = c.has("text_config");
  const Config text = nested ? c.child("text_config") : c;
  h.model.dtypes = dtypes_of(c, nested ? &text : nullptr, h.notes);
  if (h.model.moe.top_k > h.model.moe.experts)
    c.fail("num_experts_per_tok", "exceeds the number of experts", "check config.json");
  return h;
}

HfImport import_hf_config(const std::string& path, const std::string& name)
{
  // read_input_file refuses a folder or a device (/dev/zero would never end) and a file past the limit.
  const json j = json::parse(read_input_file(path, limits::json_bytes), nullptr, false);
  if (j.is_discarded())
    throw InputError(path, "", "malformed JSON", "pass a Hugging Face config.json");
  return import_hf_config(j, path, name);
}

} // namespace moesim
