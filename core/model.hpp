// Model: architecture facts of a (MoE) transformer, nothing about how it is split.
#pragma once
#include "core/dtype.hpp"

#include <string>

namespace moesim {

enum class AttentionKind { mha, gqa, mla };

struct Attention {
  AttentionKind kind = AttentionKind::gqa;
  int q_heads = 0;
  int kv_heads = 0;   // gqa/mha; for mla the logical head count (= q_heads)
  int head_dim = 0;   // gqa/mha
  // MLA ranks (DeepSeek-V2/V3 naming). q_lora_rank 0 = no query compression.
  int q_lora_rank = 0;
  int kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;
  // Sliding-window layers: every `sliding_every`-th layer (index % sliding_every == 0) attends to
  // at most `sliding_window` past tokens. 0 = none.
  int sliding_window = 0;
  int sliding_every = 0;

  long long params(int hidden) const;  // weights of one attention block (projections only)
  double kv_elems_per_token() const;   // KV-cache elements per token per layer (all heads)
  int q_dim() const;                   // width of the attention output before o_proj
};

struct MoeBlock {
  int experts = 0;
  int top_k = 0;
  int expert_intermediate = 0;
  int shared_experts = 0;
  int shared_intermediate = 0; // per shared expert
  // Skew of expert popularity that whole-MoE-layer records are read at: 0 reads the records of even
  // routing (balanced, or uniform random), a > 0 those of power-law routing with that exponent
  // (NVIDIA AIConfigurator's `power_law_<a>` MoE tables), where a table has them (core/moe_layer).
  double routing_power_law_alpha = 0;

  long long expert_params(int hidden) const { return 3LL * hidden * expert_intermediate; }
  long long shared_params(int hidden) const { return 3LL * hidden * shared_intermediate * shared_experts; }
  long long router_params(int hidden) const { return 1LL * hidden * experts; }
};

struct ModelDtypes {
  Dtype expert_weights = Dtype::bf16; // routed + shared experts
  Dtype dense_weights = Dtype::bf16;  // attention, dense FFN (the router stays in `activations`: unquantized)
  Dtype embeddings = Dtype::bf16;     // embedding table and LM head
  Dtype activations = Dtype::bf16;
  Dtype kv_cache = Dtype::bf16;
  // fp8 weights carry one scale per 128x128 block (`fp8_scales: block`; DeepSeek-V3's and
  // Qwen3's FP8 checkpoints), not one per tensor: their GEMMs run block-scaled kernels.
  bool fp8_block_scales = false;
};

// The parameters of each part of the model, per layer where a part repeats.
struct ParamParts {
  double embedding = 0;      // the input table, vocab x hidden
  double lm_head = 0;        // vocab x hidden, 0 when tied to the input table
  double attention = 0;      // one layer's attention projections
  double dense_ffn = 0;      // one dense layer's FFN (gate, up, down)
  double expert = 0;         // one routed expert (gate, up, down)
  double shared_experts = 0; // one MoE layer's shared experts together
  double router = 0;         // one MoE layer's router
  int layers = 0, moe_layers = 0, dense_layers = 0; // dense_layers: layers with the dense FFN
};

struct ParamCounts {
  double total = 0;
  double active = 0;                  // top-k routed experts + everything else
  double input_embedding = 0;         // included in both figures above
};

struct Model {
  std::string name;
  std::string file;
  int hidden = 0;
  int layers = 0;
  int dense_layers = 0;       // the first `dense_layers` layers use the dense FFN
  int moe_layer_step = 1;     // after those, layer l is MoE iff (l + 1) % step == 0 (Llama-4 interleave)
  int dense_intermediate = 0; // dense FFN width (0 when there is no dense layer)
  int vocab = 0;
  bool tied_embeddings = false;
  Attention attn;
  MoeBlock moe;
  ModelDtypes dtypes;

  bool is_moe_layer(int layer) const;
  int moe_layer_count() const;
  ParamParts param_parts() const;
  ParamCounts param_counts() const; // from param_parts()
  // Bytes of all weights (as stored, scales included).
  double weight_bytes() const;
};

} // namespace moesim
