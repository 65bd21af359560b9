#include "report/model_summary.hpp"

#include "report/render.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace moesim {
namespace {

// Parameters for people: "671.03 B", "44.04 M", "7168".
std::string params(double n)
{
  if (n >= 1e9)
    return fmt_value("%.2f B", n / 1e9);
  if (n >= 1e6)
    return fmt_value("%.2f M", n / 1e6);
  if (n >= 1e4)
    return fmt_value("%.1f k", n / 1e3);
  return fmt_value("%.0f", n);
}

std::string gb(double bytes)
{
  return fmt_value("%.2f GB", bytes / 1e9);
}

std::string pad(std::string s, size_t w, bool right)
{
  if (s.size() >= w)
    return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

const char* kind_name(AttentionKind k)
{
  return k == AttentionKind::mla ? "MLA" : k == AttentionKind::mha ? "MHA" : "GQA";
}

} // namespace

std::string render_model_summary(const ModelFile& mf)
{
  const Model& m = mf.model;
  const ParamParts p = m.param_parts();
  const ParamCounts c = m.param_counts();
  const Attention& a = m.attn;
  const ModelDtypes& d = m.dtypes;
  std::ostringstream o;
  o << m.name << " (" << m.file << ")\n";
  if (!mf.source.empty())
    o << "  source: " << mf.source << "\n";
  o << "  parameters: " << params(c.total) << " total, " << params(c.active) << " active per token ("
    << params(c.active - c.input_embedding) << " without the input embedding)\n";
  if (mf.official) {
    const OfficialParams& off = *mf.official;
    const double active = off.comparable_active(m);
    o << "  official: " << params(off.total) << " total, " << params(off.active) << " active ("
      << off.source << "); computed " << fmt_value("%+.2f%%", (c.total / off.total - 1) * 100) << " / "
      << fmt_value("%+.2f%%", (active / off.active - 1) * 100) << "\n";
  } else {
    o << "  official: none (a model nobody published: no vendor figures to check)\n";
  }
  o << "  weights as stored: " << gb(m.weight_bytes()) << " (experts " << to_string(d.expert_weights) << ", dense "
    << to_string(d.dense_weights) << ", embeddings " << to_string(d.embeddings) << "); activations "
    << to_string(d.activations) << ", KV cache " << to_string(d.kv_cache) << "\n";
  o << "  " << m.layers << " layers (" << p.dense_layers << " dense, " << p.moe_layers << " MoE), hidden " << m.hidden
    << ", vocab " << m.vocab << (m.tied_embeddings ? " (tied embeddings)" : "") << "\n";
  o << "  attention: " << kind_name(a.kind) << ", " << a.q_heads << " heads";
  if (a.kind == AttentionKind::mla)
    o << ", q_lora " << a.q_lora_rank << ", kv_lora " << a.kv_lora_rank << ", qk " << a.qk_nope_head_dim << "+"
      << a.qk_rope_head_dim << ", v " << a.v_head_dim;
  else
    o << ", " << a.kv_heads << " KV heads of " << a.head_dim;
  if (a.sliding_window > 0)
    o << ", sliding window " << a.sliding_window << " on every " << a.sliding_every
      << (a.sliding_every == 1 ? "" : a.sliding_every == 2 ? "nd" : a.sliding_every == 3 ? "rd" : "th") << " layer";
  o << "; KV cache " << fmt_value("%.0f", a.kv_elems_per_token()) << " elements per token per layer\n";
  if (m.moe.experts > 0)
    o << "  MoE: " << m.moe.experts << " experts of " << m.moe.expert_intermediate << ", top-" << m.moe.top_k << ", "
      << m.moe.shared_experts << " shared" << (m.moe_layer_step > 1 ? ", every " + std::to_string(m.moe_layer_step) + " layers" : "")
      << "\n";
  o << "\n  " << pad("part", 30, false) << pad("per layer", 12, true) << pad("layers", 8, true) << pad("in all", 12, true)
    << pad("stored", 12, true) << "\n";
  auto row = [&](const std::string& what, double each, int n, Dtype dt) {
    if (each <= 0 || n <= 0)
      return;
    o << "  " << pad(what, 30, false) << pad(params(each), 12, true) << pad(std::to_string(n), 8, true)
      << pad(params(each * n), 12, true) << pad(gb(each * n * bytes_per_element(dt)), 12, true) << "\n";
  };
  row("embedding", p.embedding, 1, d.embeddings);
  row(std::string("attention (") + kind_name(a.kind) + ")", p.attention, p.layers, d.dense_weights);
  row("dense FFN", p.dense_ffn, p.dense_layers, d.dense_weights);
  row("routed experts (" + std::to_string(m.moe.experts) + " x " + params(p.expert) + ")", p.expert * m.moe.experts,
      p.moe_layers, d.expert_weights);
  row("  active per token (top-" + std::to_string(m.moe.top_k) + ")", p.expert * m.moe.top_k, p.moe_layers,
      d.expert_weights);
  row("shared experts (" + std::to_string(m.moe.shared_experts) + ")", p.shared_experts, p.moe_layers, d.expert_weights);
  row("router", p.router, p.moe_layers, d.dense_weights);
  row("LM head", p.lm_head, 1, d.embeddings);
  return o.str();
}

} // namespace moesim
