// Hugging Face config.json -> Model, for the architectures of the zoo: what-if models that no
// vendor has published can start from the format people already have. One reader per architecture
// behind a table; each maps the config's fields to the model schema (core/model.hpp) and refuses
// what the schema cannot express rather than guessing.
//   DeepseekV3ForCausalLM (DeepSeek-V3/R1, Kimi-K2), DeepseekV2ForCausalLM   MLA, dense-first layers, shared experts
//   Qwen3MoeForCausalLM                                                      GQA, decoder_sparse_step, mlp_only_layers
//   MixtralForCausalLM                                                       GQA, sliding_window
//   Glm4MoeForCausalLM (GLM-4.5, GLM-4.5-Air)                                GQA, dense-first layers, shared experts
//   GptOssForCausalLM                                                        GQA, layer_types (sliding / full)
//   Llama4ForConditionalGeneration, Llama4ForCausalLM (text_config)          interleaved MoE, shared expert
// quantization_config maps to dtypes: none -> every weight in torch_dtype; quant_method fp8 ->
// fp8 experts and dense weights; mxfp4 -> mxfp4 experts; modelopt with quant_algo NVFP4 or FP8 ->
// those experts. Dense weights stay in torch_dtype when the unquantized modules
// (modules_to_not_convert / ignore) name the attention (self_attn). Embeddings and LM head keep
// torch_dtype; the KV cache is fp8 when the config says so (kv_cache_quant_algo, kv_cache_scheme).
#pragma once
#include "core/model.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace moesim {

struct HfImport {
  Model model;
  std::string architecture;       // the config's architectures[0]
  std::vector<std::string> notes; // what was not carried over or was assumed, one sentence each
};

// The architectures import_hf_config reads.
std::vector<std::string> hf_architectures();

// Reads `path` (a config.json). Throws InputError naming the file and the key: malformed JSON, an
// architecture not in the table (listing those that are), a missing or impossible field, or a
// quantization the schema cannot express. The model's name is `name`.
HfImport import_hf_config(const std::string& path, const std::string& name);
HfImport import_hf_config(const nlohmann::json& config, const std::string& file, const std::string& name);

} // namespace moesim
