// topk: kernels::topk_softmax over the router's fp32 logits (the router GEMM writes them),
// weights renormalised over the k chosen.
#include "kernels/reference.hpp"
#include "validate/ops/ops.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::validate::ops {

namespace ref = kernels::ref;

namespace {

struct TopkConfig : Config {
  int tokens = 0, experts = 0, k = 0;
};

void check(const Op& op, const OpSite& site)
{
  check_shape_fits(op, site);
  const TopkShape& t = op.topk();
  if (t.k < 1 || t.k > std::min(t.experts, kernels::max_top_k))
    site.refuse(op,
                "top-k " + std::to_string(t.k) + " of " + std::to_string(t.experts) + " experts is not supported (at most " +
                    std::to_string(kernels::max_top_k) + ")",
                "raise kernels::max_top_k");
}

std::unique_ptr<Config> resolve(const Op& op, ResolveContext& ctx)
{
  const TopkShape& t = op.topk();
  auto c = std::make_unique<TopkConfig>();
  c->kind = op.kind;
  c->tokens = static_cast<int>(t.tokens);
  c->experts = t.experts;
  c->k = t.k;
  c->empty = c->tokens == 0;
  ctx.needs.need(ctx.needs.router, std::size_t(c->tokens) * c->experts, 4, op);
  ctx.needs.need(ctx.needs.topk, std::size_t(c->tokens) * c->k, 4, op);
  c->key = c->info = "topk tokens=" + std::to_string(c->tokens) + " experts=" + std::to_string(c->experts) +
                     " k=" + std::to_string(c->k);
  c->math = "fp32";
  c->launches = c->empty ? 0 : 1;
  return c;
}

void launch(const Config& cfg, const RunContext& r, cudaStream_t stream)
{
  const auto& c = static_cast<const TopkConfig&>(cfg);
  if (c.empty)
    return;
  kernels::topk_softmax(r.buf.router_logits, r.buf.topk_ids, r.buf.topk_w, c.tokens, c.experts, c.k, true, stream);
}

void verify(const Config& cfg, const RunContext& r, Verifier& v)
{
  const auto& c = static_cast<const TopkConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  const cudaStream_t stream = v.stream();
  // Ids exact; weights within (experts + 16) * 2^-24 relative (tests/kernels/test_kernels.cpp).
  const std::size_t n = std::size_t(c.tokens) * c.experts, slots = std::size_t(c.tokens) * c.k;
  kernels::fill_uniform_f32(b.router_logits, n, -4, 4, v.next_seed(), stream);
  poison(b.topk_ids, slots * 4, stream);
  poison(b.topk_w, slots * 4, stream);
  launch(c, r, stream);
  v.sync();
  Worst w;
  for (long t : v.sample(c.tokens, 64)) {
    const auto l = download(b.router_logits + t * c.experts, c.experts, stream);
    const auto ids = download(b.topk_ids + t * c.k, c.k, stream);
    const auto wt = download(b.topk_w + t * c.k, c.k, stream);
    std::vector<std::int32_t> want_ids(c.k);
    std::vector<float> want_w(c.k);
    ref::topk_softmax(l, want_ids, want_w, 1, c.experts, c.k, true);
    for (int j = 0; j < c.k; j++) {
      const std::string at = "[token " + std::to_string(t) + ", choice " + std::to_string(j) + "]";
      w.exact(ids[j], want_ids[j], at + " id");
      w.add(wt[j], want_w[j], (c.experts + 16) * 0x1p-24 * std::fabs(want_w[j]), at + " weight");
    }
  }
  v.report(w);
}

} // namespace

const OpHandler topk = {check, resolve, launch, verify};

} // namespace moesim::validate::ops
