#include "core/model_writer.hpp"

#include "core/numbers.hpp"

#include <sstream>

namespace moesim {
namespace {

// A YAML double-quoted scalar.
std::string quoted(const std::string& s)
{
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

const char* attention_kind(AttentionKind k)
{
  return k == AttentionKind::mla ? "mla" : k == AttentionKind::mha ? "mha" : "gqa";
}

} // namespace

std::string model_to_yaml(const Model& m, const std::string& source, const std::vector<std::string>& notes)
{
  std::ostringstream o;
  o << "# " << m.name << ": written by moesim. It has no official parameter counts (no `official:` block),\n"
    << "# so tests/core/test_model_params.cpp does not check it against a vendor's figures.\n";
  for (const std::string& n : notes)
    o << "# " << n << "\n";
  o << "name: " << quoted(m.name) << "\n"
    << "source: " << quoted(source) << "\n"
    << "hidden: " << m.hidden << "\n"
    << "layers: " << m.layers << "\n"
    << "dense_layers: " << m.dense_layers << "\n"
    << "moe_layer_step: " << m.moe_layer_step << "\n"
    << "dense_intermediate: " << m.dense_intermediate << "\n"
    << "vocab: " << m.vocab << "\n"
    << "tied_embeddings: " << (m.tied_embeddings ? "true" : "false") << "\n";
  const Attention& a = m.attn;
  o << "attention:\n  kind: " << attention_kind(a.kind) << "\n  q_heads: " << a.q_heads << "\n";
  if (a.kind == AttentionKind::mla)
    o << "  q_lora_rank: " << a.q_lora_rank << "\n  kv_lora_rank: " << a.kv_lora_rank
      << "\n  qk_nope_head_dim: " << a.qk_nope_head_dim << "\n  qk_rope_head_dim: " << a.qk_rope_head_dim
      << "\n  v_head_dim: " << a.v_head_dim << "\n";
  else
    o << (a.kind == AttentionKind::gqa ? "  kv_heads: " + std::to_string(a.kv_heads) + "\n" : std::string())
      << "  head_dim: " << a.head_dim << "\n";
  o << "  sliding_window: " << a.sliding_window << "\n";
  if (a.sliding_window > 0)
    o << "  sliding_every: " << a.sliding_every << "\n";
  if (m.moe.experts > 0) {
    const MoeBlock& e = m.moe;
    o << "moe:\n  experts: " << e.experts << "\n  top_k: " << e.top_k << "\n  expert_intermediate: "
      << e.expert_intermediate << "\n  shared_experts: " << e.shared_experts << "\n  shared_intermediate: "
      << e.shared_intermediate << "\n";
    if (e.routing_power_law_alpha > 0)
      o << "  routing_power_law_alpha: " << number_text(e.routing_power_law_alpha) << "\n";
  }
  const ModelDtypes& d = m.dtypes;
  o << "dtypes:\n  expert_weights: " << to_string(d.expert_weights) << "\n  dense_weights: " << to_string(d.dense_weights)
    << "\n  embeddings: " << to_string(d.embeddings) << "\n  activations: " << to_string(d.activations)
    << "\n  kv_cache: " << to_string(d.kv_cache) << "\n";
  if (d.fp8_block_scales)
    o << "  fp8_scales: block\n";
  return o.str();
}

} // namespace moesim
