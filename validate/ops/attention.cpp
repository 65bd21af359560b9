// attention_decode / attention_prefill: kernels::attention (tensor-core flash attention, keys split
// across blocks where that fills the GPU) over a per-layer, per-microbatch bf16 KV cache: GQA
// [batch, context, kv_heads, head_dim] for K and V; MLA decode (absorbed): the latent cache
// [batch, context, kv_lora_rank + rope_dim], one head whose values are its first kv_lora_rank
// elements; MLA prefill: K and V up-projected per head, like GQA with as many KV heads as heads.
// Head dims: any multiples of 16 from 16 to 576 (qk and v independently); sliding-window layers
// run with the kernel's window.
#include "kernels/reference.hpp"
#include "validate/ops/ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace moesim::validate::ops {

namespace ref = kernels::ref;

namespace {

struct AttentionConfig : Config {
  kernels::AttentionArgs attn{}; // sizes, strides and scale; pointers bound at launch
  int splits = 1;
  bool mla_latent = false; // K and V both inside one latent cache
};

// The kernel's arguments for the op's shape, pointers left null. The softmax scale is
// 1/sqrt(qk dim) of the kernel's rows (for absorbed MLA decode, the latent rows: not the model's
// 1/sqrt(nope + rope)); any scale costs the same.
kernels::AttentionArgs args_of(const Op& op, bool& latent)
{
  const AttentionShape& s = op.attention();
  const int batch = static_cast<int>(s.batch), q_len = static_cast<int>(s.prompt);
  const int kv_len = static_cast<int>(s.context());
  latent = op.kind == OpKind::attention_decode && s.mla;
  kernels::AttentionArgs a =
      latent ? kernels::attention_mla_decode(nullptr, nullptr, nullptr, batch, s.q_heads, kv_len, s.kv_lora_rank,
                                             s.rope_dim, 1.0f)
             : kernels::attention_gqa(nullptr, nullptr, nullptr, nullptr, batch, q_len, s.q_heads, s.kv_heads, kv_len,
                                      s.head_dim_qk, s.head_dim_v, 1.0f);
  a.scale = 1.0f / std::sqrt(static_cast<float>(a.qk_dim));
  // A sliding-window layer: each query sees at most the last sliding_window keys up to its own (the
  // cache holds at most that many already, so only a prompt longer than the window is cut).
  a.window = s.sliding_window;
  return a;
}

void check(const Op& op, const OpSite& site)
{
  check_shape_fits(op, site);
  const AttentionShape& s = op.attention();
  if (op.kind == OpKind::attention_decode && s.prompt != 1)
    site.refuse(op, "attention_decode with " + std::to_string(s.prompt) + " query tokens per sequence (decode has 1)",
                "write the schedule with `moesim schedule`");
  bool latent = false;
  const kernels::AttentionArgs a = args_of(op, latent);
  if (!kernels::attention_supported(a.qk_dim, a.v_dim))
    site.refuse(op,
                "attention head dims (qk " + std::to_string(a.qk_dim) + ", v " + std::to_string(a.v_dim) +
                    ") are not supported by kernels::attention",
                "use head dims that are multiples of 16 from 16 to 576");
  // kernels::attention's own size checks, which attention_splits runs first (the split count it
  // returns depends on the GPU and is not needed here).
  if (a.batch > 0)
    try {
      (void)kernels::attention_splits(a, 1);
    } catch (const std::invalid_argument& e) {
      site.refuse(op, e.what(), "write the schedule with `moesim schedule`");
    }
}

std::unique_ptr<Config> resolve(const Op& op, ResolveContext& ctx)
{
  auto c = std::make_unique<AttentionConfig>();
  c->kind = op.kind;
  kernels::AttentionArgs& a = c->attn;
  a = args_of(op, c->mla_latent);
  c->splits = a.batch > 0 ? kernels::attention_splits(a, ctx.prop.multiProcessorCount) : 1;
  ctx.needs.attn_ws_bytes = std::max(ctx.needs.attn_ws_bytes, kernels::attention_workspace_bytes(a, c->splits));
  c->empty = a.batch == 0;
  const std::size_t rows = std::size_t(a.batch) * a.q_len * a.q_heads;
  ctx.needs.need(ctx.needs.act_in, rows * a.qk_dim, 2, op);
  ctx.needs.need(ctx.needs.act_out, rows * a.v_dim, 2, op);
  const std::size_t kv_bytes = c->mla_latent ? std::size_t(a.batch) * a.kv_len * a.qk_dim * 2
                                             : std::size_t(a.batch) * a.kv_len * a.kv_heads * (a.qk_dim + a.v_dim) * 2;
  ctx.pool = ctx.pools.use(op_label(op.family, op.role), cache_key(op), kv_bytes, true, false, op, ctx.needs);
  char s[200];
  std::snprintf(s, sizeof s, "%s %s batch=%d q_len=%d q_heads=%d kv_heads=%d kv_len=%d qk=%d v=%d%s splits=%d",
                to_string(op.kind), op.attention().mla ? "mla" : "gqa", a.batch, a.q_len, a.q_heads, a.kv_heads,
                a.kv_len, a.qk_dim, a.v_dim, a.window > 0 ? (" window=" + std::to_string(a.window)).c_str() : "",
                c->splits);
  c->key = c->info = s;
  c->launches = c->empty ? 0 : (c->splits > 1 ? 2 : 1);
  return c;
}

kernels::AttentionArgs bound_args(const AttentionConfig& c, const RunContext& r)
{
  kernels::AttentionArgs a = c.attn;
  a.q = r.buf.act_in;
  a.out = r.buf.act_out;
  a.k = static_cast<const bf16_t*>(r.pooled);
  a.v = c.mla_latent ? a.k : a.k + std::size_t(a.batch) * a.kv_len * a.kv_heads * a.qk_dim;
  return a;
}

void launch(const Config& cfg, const RunContext& r, cudaStream_t stream)
{
  const auto& c = static_cast<const AttentionConfig&>(cfg);
  if (c.empty)
    return;
  kernels::attention(bound_args(c, r), c.splits, r.buf.attn_ws, std::max<std::size_t>(r.buf.attn_ws_bytes, 1), stream);
}

void verify(const Config& cfg, const RunContext& r, Verifier& v)
{
  const auto& c = static_cast<const AttentionConfig&>(cfg);
  if (c.empty)
    return;
  const cudaStream_t stream = v.stream();
  // Tolerance: kernels/reference.cpp, attention_tolerance (P rounded to bf16, score and
  // accumulation errors, bf16 output). q in [-3, 3] makes the softmax peaked enough that a wrong
  // key or value shows.
  const kernels::AttentionArgs a = bound_args(c, r);
  const std::size_t rows = std::size_t(a.batch) * a.q_len * a.q_heads;
  const std::size_t kv_elems = c.mla_latent ? std::size_t(a.batch) * a.kv_len * a.qk_dim
                                            : std::size_t(a.batch) * a.kv_len * a.kv_heads * (a.qk_dim + a.v_dim);
  kernels::fill_uniform_bf16(r.buf.act_in, rows * a.qk_dim, -3, 3, v.next_seed(), stream);
  kernels::fill_uniform_bf16(static_cast<bf16_t*>(r.pooled), kv_elems, -1, 1, v.next_seed(), stream);
  poison(r.buf.act_out, rows * a.v_dim * 2, stream);
  launch(c, r, stream);
  v.sync();
  v.scan_bf16(r.buf.act_out, rows * a.v_dim);
  ref::AttentionDims d;
  d.q_len = a.q_len, d.q_heads = a.q_heads, d.kv_heads = a.kv_heads, d.kv_len = a.kv_len;
  d.qk_dim = a.qk_dim, d.v_dim = a.v_dim, d.window = a.window, d.scale = a.scale;
  Worst w;
  for (long bi : v.sample(a.batch, 2)) {
    const std::size_t kseq = std::size_t(a.kv_len) * a.kv_heads * a.qk_dim;
    const std::size_t vseq = std::size_t(a.kv_len) * a.kv_heads * a.v_dim;
    const auto kv = download(a.k + bi * a.k_batch_stride, kseq, stream);
    std::vector<bf16_t> vv;
    if (c.mla_latent) { // values: each latent row's first v_dim elements
      vv.resize(vseq);
      for (long j = 0; j < a.kv_len; j++)
        std::copy_n(kv.begin() + j * a.qk_dim, a.v_dim, vv.begin() + j * a.v_dim);
    } else {
      vv = download(a.v + bi * a.v_batch_stride, vseq, stream);
    }
    for (long i : v.sample(a.q_len, 6))
      for (long h : v.sample(a.q_heads, a.q_len > 1 ? 6 : 12)) {
        const std::size_t row = (std::size_t(bi) * a.q_len + i) * a.q_heads + h;
        const auto q = download(a.q + row * a.qk_dim, a.qk_dim, stream);
        const auto got = download(a.out + row * a.v_dim, a.v_dim, stream);
        std::vector<double> want(a.v_dim), abs(a.v_dim);
        const double eps = ref::attention_row(q, kv, vv, d, static_cast<int>(i), static_cast<int>(h), want, abs);
        for (int e = 0; e < a.v_dim; e++)
          w.add(ref::bf16_to_float(got[e]), want[e], ref::attention_tolerance(want[e], abs[e], eps, a.kv_len),
                "[seq " + std::to_string(bi) + ", query " + std::to_string(i) + ", head " + std::to_string(h) +
                    ", dim " + std::to_string(e) + "]");
      }
  }
  v.report(w);
}

} // namespace

const OpHandler attention = {check, resolve, launch, verify};

} // namespace moesim::validate::ops
