// rmsnorm and silu_mul: kernels::rmsnorm (norm weights shared by every norm op) and
// kernels::silu_mul over rows of the shape's width; fractional expected rows (expert activations
// under expected-value routing) round to the nearest whole row.
#include "kernels/reference.hpp"
#include "validate/ops/ops.hpp"

#include <cmath>

namespace moesim::validate::ops {

namespace ref = kernels::ref;

namespace {

constexpr float rms_eps = 1e-6f;

struct RowsConfig : Config {
  long rows = 0;
  int dim = 0;
};

long whole(double x)
{
  return x > 0 ? static_cast<long>(std::llround(x)) : 0L;
}

void check(const Op& op, const OpSite& site)
{
  check_shape_fits(op, site);
  if (op.rows().width < 1 || !(op.rows().rows >= 0))
    site.refuse(op, std::string(to_string(op.kind)) + " needs rows >= 0 and width >= 1",
                "write the schedule with `moesim schedule`");
}

std::unique_ptr<Config> resolve(const Op& op, ResolveContext& ctx)
{
  auto c = std::make_unique<RowsConfig>();
  c->kind = op.kind;
  const long n = whole(op.rows().elements());
  const long dim = op.rows().width;
  c->dim = static_cast<int>(dim);
  c->rows = (n + dim / 2) / dim; // fractional expected rows round to the nearest
  if (op.kind == OpKind::silu_mul) {
    ctx.needs.need(ctx.needs.act_in, std::size_t(c->rows) * 2 * dim, 2, op);
    ctx.needs.need(ctx.needs.act_out, std::size_t(c->rows) * dim, 2, op);
  } else {
    ctx.needs.need(ctx.needs.act_in, std::size_t(c->rows) * dim, 2, op);
    ctx.needs.need(ctx.needs.act_out, std::size_t(c->rows) * dim, 2, op);
    ctx.needs.need(ctx.needs.norm, std::size_t(dim), 2, op);
  }
  c->key = c->info = std::string(to_string(op.kind)) + " rows=" + std::to_string(c->rows) + " dim=" + std::to_string(c->dim);
  c->empty = c->rows * dim == 0;
  c->launches = c->empty ? 0 : 1;
  return c;
}

void launch(const Config& cfg, const RunContext& r, cudaStream_t stream)
{
  const auto& c = static_cast<const RowsConfig&>(cfg);
  if (c.empty)
    return;
  if (c.kind == OpKind::silu_mul)
    kernels::silu_mul(r.buf.act_in, r.buf.act_out, static_cast<int>(c.rows), c.dim, stream);
  else
    kernels::rmsnorm(r.buf.act_in, r.buf.norm_w, r.buf.act_out, static_cast<int>(c.rows), c.dim, rms_eps, stream);
}

void verify(const Config& cfg, const RunContext& r, Verifier& v)
{
  const auto& c = static_cast<const RowsConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  const cudaStream_t stream = v.stream();
  // 1 bf16 ulp: the two sides differ in fp32 by far less than 2^-9 relative (expf, or the order of
  // the sum of squares; tests/kernels/test_kernels.cpp derives it), so they round to the same or to
  // adjacent bf16 values.
  const bool silu = c.kind == OpKind::silu_mul;
  const std::size_t in_w = silu ? std::size_t(2) * c.dim : c.dim;
  kernels::fill_uniform_bf16(b.act_in, std::size_t(c.rows) * in_w, silu ? -8 : -4, silu ? 8 : 4, v.next_seed(), stream);
  if (!silu)
    kernels::fill_uniform_bf16(b.norm_w, c.dim, 0.5f, 1.5f, v.next_seed(), stream);
  poison(b.act_out, std::size_t(c.rows) * c.dim * 2, stream);
  launch(c, r, stream);
  v.sync();
  v.scan_bf16(b.act_out, std::size_t(c.rows) * c.dim);
  const auto nw = silu ? std::vector<bf16_t>() : download(b.norm_w, c.dim, stream);
  Worst w;
  for (long row : v.sample(c.rows, 32)) {
    const auto in = download(b.act_in + std::size_t(row) * in_w, in_w, stream);
    const auto got = download(b.act_out + std::size_t(row) * c.dim, c.dim, stream);
    std::vector<bf16_t> want(c.dim);
    if (silu)
      ref::silu_mul(in, want, 1, c.dim);
    else
      ref::rmsnorm(in, nw, want, 1, c.dim, rms_eps);
    for (int i = 0; i < c.dim; i++) {
      // In ulps: adjacent bf16 values of the same sign differ by 1 in their bits.
      const long gi = (got[i] & 0x8000) ? -long(got[i] & 0x7fff) : long(got[i]);
      const long wi = (want[i] & 0x8000) ? -long(want[i] & 0x7fff) : long(want[i]);
      const double ulps = bf16_nan(got[i]) ? INFINITY : std::fabs(double(gi - wi));
      w.add(ulps, 0, 1, "[row " + std::to_string(row) + ", col " + std::to_string(i) + "] (ulps; got " +
                            fmt(ref::bf16_to_float(got[i])) + ", want " + fmt(ref::bf16_to_float(want[i])) + ")");
    }
  }
  v.report(w);
}

} // namespace

const OpHandler rmsnorm = {check, resolve, launch, verify};
const OpHandler silu_mul = {check, resolve, launch, verify};

} // namespace moesim::validate::ops
