// `moesim model import` (core/hf_config.hpp, core/model_writer.hpp), tested on configs rebuilt from
// the zoo's own files: each workloads/models/*.yaml is written back as the config.json its
// architecture has (the field names of the real configs, e.g. NVIDIA's AIConfigurator model_configs/
// copies of deepseek-ai/DeepSeek-V3, Qwen/Qwen3-30B-A3B, openai/gpt-oss-120b, meta-llama/Llama-4-Scout),
// imported, and compared with the zoo file field by field; then written as YAML, read back by the
// model loader, and compared again.
#include "core/error.hpp"
#include "core/hf_config.hpp"
#include "core/model_loader.hpp"
#include "core/model_writer.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>

using namespace moesim;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const fs::path models_dir = fs::path(MOESIM_SOURCE_DIR) / "workloads" / "models";

const char* architecture_of(const std::string& stem)
{
  if (stem == "deepseek-v3" || stem == "kimi-k2")
    return "DeepseekV3ForCausalLM";
  if (stem == "deepseek-v2-lite")
    return "DeepseekV2ForCausalLM";
  if (stem.rfind("qwen3", 0) == 0)
    return "Qwen3MoeForCausalLM";
  if (stem.rfind("mixtral", 0) == 0)
    return "MixtralForCausalLM";
  if (stem.rfind("glm-4.5", 0) == 0)
    return "Glm4MoeForCausalLM";
  if (stem.rfind("gpt-oss", 0) == 0)
    return "GptOssForCausalLM";
  if (stem.rfind("llama-4", 0) == 0)
    return "Llama4ForConditionalGeneration";
  return nullptr;
}

const char* torch_dtype(Dtype d)
{
  return d == Dtype::fp16 ? "float16" : d == Dtype::fp32 ? "float32" : "bfloat16";
}

// The config.json a zoo model's vendor publishes, rebuilt from the model file.
json config_of(const Model& m, const std::string& arch)
{
  json c;
  c["architectures"] = {arch};
  c["hidden_size"] = m.hidden;
  c["num_hidden_layers"] = m.layers;
  c["vocab_size"] = m.vocab;
  c["tie_word_embeddings"] = m.tied_embeddings;
  c["num_attention_heads"] = m.attn.q_heads;
  c["torch_dtype"] = torch_dtype(m.dtypes.embeddings);
  if (arch.rfind("Deepseek", 0) == 0) {
    c["num_key_value_heads"] = m.attn.q_heads;
    c["q_lora_rank"] = m.attn.q_lora_rank > 0 ? json(m.attn.q_lora_rank) : json(nullptr);
    c["kv_lora_rank"] = m.attn.kv_lora_rank;
    c["qk_nope_head_dim"] = m.attn.qk_nope_head_dim;
    c["qk_rope_head_dim"] = m.attn.qk_rope_head_dim;
    c["v_head_dim"] = m.attn.v_head_dim;
    c["moe_layer_freq"] = 1;
    c["num_nextn_predict_layers"] = 1;
  } else {
    c["num_key_value_heads"] = m.attn.kv_heads;
    c["head_dim"] = m.attn.head_dim;
  }
  if (arch.rfind("Deepseek", 0) == 0 || arch == "Glm4MoeForCausalLM") {
    c["first_k_dense_replace"] = m.dense_layers;
    c["intermediate_size"] = m.dense_intermediate;
    c["n_routed_experts"] = m.moe.experts;
    c["num_experts_per_tok"] = m.moe.top_k;
    c["moe_intermediate_size"] = m.moe.expert_intermediate;
    c["n_shared_experts"] = m.moe.shared_experts;
  } else if (arch == "Qwen3MoeForCausalLM") {
    c["decoder_sparse_step"] = m.moe_layer_step;
    c["mlp_only_layers"] = json::array();
    c["intermediate_size"] = 6144; // present in Qwen's configs, unused when every layer is MoE
    c["num_experts"] = m.moe.experts;
    c["num_experts_per_tok"] = m.moe.top_k;
    c["moe_intermediate_size"] = m.moe.expert_intermediate;
    c["use_sliding_window"] = false;
    c["sliding_window"] = nullptr;
  } else if (arch == "MixtralForCausalLM") {
    c.erase("head_dim"); // Mixtral's configs have none: hidden / heads
    c["num_local_experts"] = m.moe.experts;
    c["num_experts_per_tok"] = m.moe.top_k;
    c["intermediate_size"] = m.moe.expert_intermediate;
    c["sliding_window"] = m.attn.sliding_window > 0 ? json(m.attn.sliding_window) : json(nullptr);
  } else if (arch == "GptOssForCausalLM") {
    c["num_local_experts"] = m.moe.experts;
    c["num_experts_per_tok"] = m.moe.top_k;
    c["intermediate_size"] = m.moe.expert_intermediate;
    c["sliding_window"] = m.attn.sliding_window;
    json types = json::array();
    for (int l = 0; l < m.layers; l++)
      types.push_back(l % m.attn.sliding_every == 0 ? "sliding_attention" : "full_attention");
    c["layer_types"] = types;
  } else if (arch == "Llama4ForConditionalGeneration") {
    json t = c;
    t.erase("architectures");
    t["interleave_moe_layer_step"] = m.moe_layer_step;
    t["intermediate_size"] = m.moe.expert_intermediate;
    t["intermediate_size_mlp"] = m.dense_intermediate > 0 ? m.dense_intermediate : 16384; // unused when all MoE
    t["num_local_experts"] = m.moe.experts;
    t["num_experts_per_tok"] = m.moe.top_k;
    t["attention_chunk_size"] = 8192;
    c = {{"architectures", {arch}}, {"text_config", t}, {"torch_dtype", c["torch_dtype"]}};
  }
  // The release checkpoints' quantization (the zoo's dtypes say which).
  const ModelDtypes& d = m.dtypes;
  if (d.expert_weights == Dtype::fp8) {
    c["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"activation_scheme", "dynamic"}};
    if (d.fp8_block_scales)
      c["quantization_config"]["weight_block_size"] = {128, 128};
  }
  else if (d.expert_weights == Dtype::mxfp4)
    c["quantization_config"] = {{"quant_method", "mxfp4"},
                                {"modules_to_not_convert",
                                 {"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"}}};
  return c;
}

// Every field of the model schema, one CHECK each (INFO names the field).
void check_same(const Model& got, const Model& want)
{
#define SAME(field)                                                                                                    \
  do {                                                                                                                 \
    INFO(#field);                                                                                                      \
    CHECK(got.field == want.field);                                                                                    \
  } while (0)
  SAME(name);
  SAME(hidden);
  SAME(layers);
  SAME(dense_layers);
  SAME(moe_layer_step);
  SAME(dense_intermediate);
  SAME(vocab);
  SAME(tied_embeddings);
  SAME(attn.kind);
  SAME(attn.q_heads);
  SAME(attn.kv_heads);
  SAME(attn.head_dim);
  SAME(attn.q_lora_rank);
  SAME(attn.kv_lora_rank);
  SAME(attn.qk_nope_head_dim);
  SAME(attn.qk_rope_head_dim);
  SAME(attn.v_head_dim);
  SAME(attn.sliding_window);
  SAME(attn.sliding_every);
  SAME(moe.experts);
  SAME(moe.top_k);
  SAME(moe.expert_intermediate);
  SAME(moe.shared_experts);
  SAME(moe.shared_intermediate);
  SAME(dtypes.expert_weights);
  SAME(dtypes.dense_weights);
  SAME(dtypes.embeddings);
  SAME(dtypes.activations);
  SAME(dtypes.kv_cache);
  SAME(dtypes.fp8_block_scales);
#undef SAME
}

} // namespace

TEST_CASE("model import: every zoo model, rebuilt as its config.json, imports back field by field", "[quick][model]")
{
  test::TempDir dir("moesim_test_hf_config");
  int imported = 0;
  for (const auto& e : fs::directory_iterator(models_dir)) {
    if (e.path().extension() != ".yaml")
      continue;
    const std::string stem = e.path().stem().string();
    INFO(stem);
    const char* arch = architecture_of(stem);
    REQUIRE(arch); // a new zoo model needs its architecture here (and in core/hf_config.cpp)
    const Model want = load_model_file(e.path().string()).model;
    const std::string config = dir.write(stem + ".json", config_of(want, arch).dump(2));
    const HfImport h = import_hf_config(config, want.name);
    CHECK(h.architecture == arch);
    check_same(h.model, want);
    // Written as YAML and read back: the same model, without official counts.
    const std::string yaml = dir.write(stem + ".yaml", model_to_yaml(h.model, "test", h.notes));
    const ModelFile back = load_model_file(yaml);
    CHECK_FALSE(back.official);
    check_same(back.model, want);
    CHECK(back.model.param_counts().total == want.param_counts().total);
    imported++;
  }
  CHECK(imported == 14);
}

TEST_CASE("model import: what cannot be read is refused with the file, the key and the fix", "[quick][model]")
{
  test::TempDir dir("moesim_test_hf_config_bad");
  const Model m = load_model_file((models_dir / "mixtral-8x7b.yaml").string()).model;
  json c = config_of(m, "MixtralForCausalLM");
  auto refusal = [&](const json& j) {
    try {
      import_hf_config(j, "config.json", "x");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  SECTION("an unknown architecture lists the known ones")
  {
    json u = c;
    u["architectures"] = {"LlamaForCausalLM"};
    const std::string r = refusal(u);
    CHECK_THAT(r, Catch::Contains("config.json: architectures: unknown architecture 'LlamaForCausalLM'"));
    for (const std::string& a : hf_architectures())
      CHECK_THAT(r, Catch::Contains(a));
  }
  SECTION("a missing field")
  {
    json u = c;
    u.erase("num_local_experts");
    CHECK_THAT(refusal(u), Catch::Contains("config.json: num_local_experts: missing"));
  }
  SECTION("a quantization the schema cannot express")
  {
    json u = c;
    u["quantization_config"] = {{"quant_method", "awq"}, {"bits", 4}};
    CHECK_THAT(refusal(u), Catch::Contains("quantization_config.quant_method: quantization 'awq' is not read"));
  }
  SECTION("a sliding pattern that is not every n-th layer")
  {
    const Model g = load_model_file((models_dir / "gpt-oss-20b.yaml").string()).model;
    json u = config_of(g, "GptOssForCausalLM");
    u["layer_types"][1] = "sliding_attention"; // layers 0, 1, 2, 4, 6, ... slide
    CHECK_THAT(refusal(u), Catch::Contains("layer_types: the sliding layers are not every n-th layer"));
  }
  SECTION("malformed JSON names the file")
  {
    const std::string p = dir.write("bad.json", "{\"architectures\": [");
    CHECK_THROWS_WITH(import_hf_config(p, "x"), Catch::Contains("bad.json: malformed JSON"));
  }
}

TEST_CASE("model import: quantization_config sets the dtypes", "[quick][model]")
{
  const Model m = load_model_file((models_dir / "qwen3-30b-a3b.yaml").string()).model;
  json c = config_of(m, "Qwen3MoeForCausalLM");
  // ModelOpt NVFP4 with the attention left out and an fp8 KV cache (as NVIDIA's NVFP4 checkpoints
  // write it): experts nvfp4, dense weights and embeddings stay bf16, KV cache fp8.
  c["quantization_config"] = {{"quant_method", "modelopt"},
                              {"quant_algo", "NVFP4"},
                              {"ignore", {"lm_head", "model.layers.0.self_attn*"}},
                              {"kv_cache_scheme", {{"num_bits", 8}, {"type", "float"}}}};
  HfImport h = import_hf_config(c, "config.json", "x");
  CHECK(h.model.dtypes.expert_weights == Dtype::nvfp4);
  CHECK(h.model.dtypes.dense_weights == Dtype::bf16);
  CHECK(h.model.dtypes.embeddings == Dtype::bf16);
  CHECK(h.model.dtypes.kv_cache == Dtype::fp8);
  // fp8 block quantization without exclusions (Qwen's -FP8 builds): experts and dense weights fp8.
  c["quantization_config"] = {{"quant_method", "fp8"}, {"fmt", "e4m3"}, {"modules_to_not_convert", {"lm_head"}}};
  h = import_hf_config(c, "config.json", "x");
  CHECK(h.model.dtypes.expert_weights == Dtype::fp8);
  CHECK(h.model.dtypes.dense_weights == Dtype::fp8);
  CHECK(h.model.dtypes.kv_cache == Dtype::bf16);
}
