// residual_add: kernels::residual_add over the shape's elements (fractional expected counts round).
#include "kernels/reference.hpp"
#include "validate/ops/ops.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::validate::ops {

namespace ref = kernels::ref;

namespace {

struct ElementsConfig : Config {
  std::int64_t elems = 0;
};

void check(const Op& op, const OpSite& site)
{
  check_shape_fits(op, site);
  if (!(op.elements().elements >= 0))
    site.refuse(op, "residual_add with a negative element count", "write the schedule with `moesim schedule`");
}

std::unique_ptr<Config> resolve(const Op& op, ResolveContext& ctx)
{
  auto c = std::make_unique<ElementsConfig>();
  c->kind = op.kind;
  const double x = op.elements().elements;
  const long n = x > 0 ? static_cast<long>(std::llround(x)) : 0L;
  c->elems = n;
  ctx.needs.need(ctx.needs.act_in, n, 2, op);
  ctx.needs.need(ctx.needs.act_in2, n, 2, op);
  ctx.needs.need(ctx.needs.act_out, n, 2, op);
  c->key = c->info = "residual_add n=" + std::to_string(n);
  c->empty = c->elems == 0;
  c->launches = c->empty ? 0 : 1;
  return c;
}

void launch(const Config& cfg, const RunContext& r, cudaStream_t stream)
{
  const auto& c = static_cast<const ElementsConfig&>(cfg);
  if (c.empty)
    return;
  kernels::residual_add(r.buf.act_in, r.buf.act_in2, r.buf.act_out, c.elems, stream);
}

void verify(const Config& cfg, const RunContext& r, Verifier& v)
{
  const auto& c = static_cast<const ElementsConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  const cudaStream_t stream = v.stream();
  // The same fp32 addition and rounding: exact.
  kernels::fill_uniform_bf16(b.act_in, c.elems, -100, 100, v.next_seed(), stream);
  kernels::fill_uniform_bf16(b.act_in2, c.elems, -1, 1, v.next_seed(), stream);
  poison(b.act_out, std::size_t(c.elems) * 2, stream);
  launch(c, r, stream);
  v.sync();
  v.scan_bf16(b.act_out, c.elems);
  Worst w;
  const long window = std::min<long>(c.elems, 4096);
  for (long start : v.sample(c.elems - window + 1, 3)) {
    const auto x = download(b.act_in + start, window, stream);
    const auto res = download(b.act_in2 + start, window, stream);
    const auto got = download(b.act_out + start, window, stream);
    std::vector<bf16_t> want(window);
    ref::residual_add(x, res, want);
    for (long i = 0; i < window; i++)
      if (got[i] != want[i]) {
        w.exact(ref::bf16_to_float(got[i]), ref::bf16_to_float(want[i]), "[" + std::to_string(start + i) + "]");
        break;
      }
  }
  v.report(w);
}

} // namespace

const OpHandler residual_add = {check, resolve, launch, verify};

} // namespace moesim::validate::ops
