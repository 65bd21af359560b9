// permute / unpermute: kernels::permute and kernels::unpermute with expert ids from one fixed draw
// per rank (buffers.hpp, RoutingDraw): every token's k distinct experts out of the model's, of
// which the slots of experts [first_expert, first_expert + experts) are kept (all experts when
// tokens are exchanged by all-to-all, the rank's expert shard when they are replicated).
#include "kernels/reference.hpp"
#include "validate/ops/ops.hpp"

#include <algorithm>
#include <span>

namespace moesim::validate::ops {

namespace ref = kernels::ref;

namespace {

struct PermuteConfig : Config {
  int tokens = 0, k = 0, hidden = 0;
  int first_expert = 0, local_experts = 0, all_experts = 0;
};

int all_experts(const OpSite& site)
{
  return std::max(1, site.schedule.facts.moe.experts);
}

void check(const Op& op, const OpSite& site)
{
  check_shape_fits(op, site);
  const PermuteShape& p = op.permute();
  if (p.k < 1 || p.k > kernels::max_top_k || p.hidden < 1)
    site.refuse(op, "k must be in [1, " + std::to_string(kernels::max_top_k) + "] and hidden >= 1",
                "write the schedule with `moesim schedule`");
  const int all = all_experts(site);
  if (all < p.k)
    site.refuse(op, "top-k " + std::to_string(p.k) + " exceeds the experts", "check the model");
  if (p.experts < 1 || p.first_expert < 0 || p.first_expert + p.experts > all)
    site.refuse(op,
                "keeps experts " + std::to_string(p.first_expert) + ".." + std::to_string(p.first_expert + p.experts - 1) +
                    " of a model with " + std::to_string(all),
                "write the schedule with `moesim schedule`");
}

std::unique_ptr<Config> resolve(const Op& op, ResolveContext& ctx)
{
  const PermuteShape& p = op.permute();
  auto c = std::make_unique<PermuteConfig>();
  c->kind = op.kind;
  c->tokens = static_cast<int>(p.tokens);
  c->k = p.k;
  c->hidden = static_cast<int>(p.hidden);
  c->all_experts = all_experts(ctx.site);
  c->first_expert = p.first_expert;
  c->local_experts = p.experts;
  ctx.routing = {c->all_experts, c->k, c->first_expert, c->local_experts};
  c->empty = c->tokens == 0;
  const std::size_t slots = std::size_t(c->tokens) * c->k;
  ctx.needs.need(ctx.needs.ids, slots, 4, op);
  ctx.needs.need(ctx.needs.offsets, std::size_t(c->local_experts) + 1, 4, op);
  if (op.kind == OpKind::permute) {
    ctx.needs.need(ctx.needs.act_in, std::size_t(c->tokens) * c->hidden, 2, op);
    ctx.needs.need(ctx.needs.act_out, slots * c->hidden, 2, op);
    c->launches = c->empty ? 0 : 2;
  } else {
    ctx.needs.need(ctx.needs.act_in, slots * c->hidden, 2, op);
    ctx.needs.need(ctx.needs.act_out, std::size_t(c->tokens) * c->hidden, 2, op);
    c->launches = c->empty ? 0 : 1;
  }
  c->key = c->info = std::string(to_string(op.kind)) + " tokens=" + std::to_string(c->tokens) +
                     " k=" + std::to_string(c->k) + " hidden=" + std::to_string(c->hidden) + " experts " +
                     std::to_string(c->first_expert) + ".." + std::to_string(c->first_expert + c->local_experts - 1) +
                     " of " + std::to_string(c->all_experts);
  return c;
}

void launch_permute(const Config& cfg, const RunContext& r, cudaStream_t stream)
{
  const auto& c = static_cast<const PermuteConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  kernels::permute(b.act_in, b.fixed_ids, b.act_out, b.dest_row, b.offsets, c.tokens, c.hidden, c.k, c.first_expert,
                   c.local_experts, stream);
}

void launch_unpermute(const Config& cfg, const RunContext& r, cudaStream_t stream)
{
  const auto& c = static_cast<const PermuteConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  kernels::unpermute(b.act_in, b.dest_row, b.fixed_w, b.act_out, c.tokens, c.hidden, c.k, stream);
}

void verify_permute(const Config& cfg, const RunContext& r, Verifier& v)
{
  const auto& c = static_cast<const PermuteConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  const cudaStream_t stream = v.stream();
  // Integer placement and copies: exact.
  const std::size_t slots = std::size_t(c.tokens) * c.k;
  kernels::fill_uniform_bf16(b.act_in, std::size_t(c.tokens) * c.hidden, -1, 1, v.next_seed(), stream);
  poison(b.act_out, slots * c.hidden * 2, stream);
  poison(b.dest_row, slots * 4, stream);
  poison(b.offsets, std::size_t(c.local_experts + 1) * 4, stream);
  launch_permute(c, r, stream);
  v.sync();
  const auto ids = download(b.fixed_ids, slots, stream);
  const auto dest = download(b.dest_row, slots, stream);
  const auto off = download(b.offsets, c.local_experts + 1, stream);
  std::vector<bf16_t> zeros(c.tokens), rows(slots);
  std::vector<std::int32_t> want_dest(slots), want_off(c.local_experts + 1);
  ref::permute(zeros, ids, rows, want_dest, want_off, c.tokens, 1, c.k, c.first_expert, c.local_experts);
  Worst w;
  for (std::size_t a = 0; a < slots; a++)
    if (dest[a] != want_dest[a])
      w.exact(dest[a], want_dest[a], "[dest_row " + std::to_string(a) + "]");
  for (int e = 0; e <= c.local_experts; e++)
    w.exact(off[e], want_off[e], "[expert_offsets " + std::to_string(e) + "]");
  for (long a : v.sample(static_cast<long>(slots), 128)) {
    if (want_dest[a] < 0)
      continue;
    const auto got = download(b.act_out + std::size_t(want_dest[a]) * c.hidden, c.hidden, stream);
    const auto x = download(b.act_in + std::size_t(a / c.k) * c.hidden, c.hidden, stream);
    for (int i = 0; i < c.hidden; i++)
      if (got[i] != x[i]) {
        w.exact(ref::bf16_to_float(got[i]), ref::bf16_to_float(x[i]),
                "[slot " + std::to_string(a) + ", col " + std::to_string(i) + "]");
        break;
      }
  }
  v.report(w);
}

void verify_unpermute(const Config& cfg, const RunContext& r, Verifier& v)
{
  const auto& c = static_cast<const PermuteConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  const cudaStream_t stream = v.stream();
  // Both sides accumulate the k products in slot order with fmaf and round once: exact.
  const std::size_t slots = std::size_t(c.tokens) * c.k;
  kernels::fill_uniform_bf16(b.act_in, slots * c.hidden, -1, 1, v.next_seed(), stream);
  poison(b.act_out, std::size_t(c.tokens) * c.hidden * 2, stream);
  launch_unpermute(c, r, stream);
  v.sync();
  v.scan_bf16(b.act_out, std::size_t(c.tokens) * c.hidden);
  const auto dest = download(b.dest_row, slots, stream);
  const auto wts = download(b.fixed_w, slots, stream);
  Worst w;
  for (long t : v.sample(c.tokens, 64)) {
    std::vector<bf16_t> eo(std::size_t(c.k) * c.hidden, 0);
    std::vector<std::int32_t> mini(c.k, -1);
    for (int j = 0; j < c.k; j++) {
      const std::int32_t row = dest[t * c.k + j];
      if (row < 0)
        continue;
      if (std::size_t(row) >= slots)
        v.mismatch("dest_row[" + std::to_string(t * c.k + j) + "] = " + std::to_string(row) + " is out of range");
      const auto got = download(b.act_in + std::size_t(row) * c.hidden, c.hidden, stream);
      std::copy(got.begin(), got.end(), eo.begin() + std::size_t(j) * c.hidden);
      mini[j] = j;
    }
    std::vector<bf16_t> want(c.hidden);
    ref::unpermute(eo, mini, std::span<const float>(wts.data() + t * c.k, c.k), want, 1, c.hidden, c.k);
    const auto got = download(b.act_out + std::size_t(t) * c.hidden, c.hidden, stream);
    for (int i = 0; i < c.hidden; i++)
      if (got[i] != want[i]) {
        w.exact(ref::bf16_to_float(got[i]), ref::bf16_to_float(want[i]),
                "[token " + std::to_string(t) + ", col " + std::to_string(i) + "]");
        break;
      }
  }
  v.report(w);
}

} // namespace

const OpHandler permute = {check, resolve, launch_permute, verify_permute};
const OpHandler unpermute = {check, resolve, launch_unpermute, verify_unpermute};

} // namespace moesim::validate::ops
