// sample: greedy sampling, kernels::argmax over fp32 logits [rows, vocab].
#include "kernels/reference.hpp"
#include "validate/ops/ops.hpp"

#include <algorithm>

namespace moesim::validate::ops {

namespace ref = kernels::ref;

namespace {

struct SampleConfig : Config {
  long rows = 0;
  int vocab = 0;
};

void check(const Op& op, const OpSite& site)
{
  check_shape_fits(op, site);
  if (op.sample().vocab < 1)
    site.refuse(op, "sample with vocab 0", "write the schedule with `moesim schedule`");
}

std::unique_ptr<Config> resolve(const Op& op, ResolveContext& ctx)
{
  auto c = std::make_unique<SampleConfig>();
  c->kind = op.kind;
  c->rows = std::max(0L, op.sample().rows);
  c->vocab = static_cast<int>(op.sample().vocab);
  c->empty = c->rows == 0;
  ctx.needs.need(ctx.needs.sample, std::size_t(c->rows) * c->vocab, 4, op);
  ctx.needs.need(ctx.needs.argmax, std::size_t(c->rows), 4, op);
  c->key = c->info = "sample (argmax) rows=" + std::to_string(c->rows) + " vocab=" + std::to_string(c->vocab);
  c->math = "fp32";
  c->launches = c->empty ? 0 : 1;
  return c;
}

void launch(const Config& cfg, const RunContext& r, cudaStream_t stream)
{
  const auto& c = static_cast<const SampleConfig&>(cfg);
  if (c.empty)
    return;
  kernels::argmax(r.buf.sample_logits, r.buf.argmax_idx, r.buf.argmax_val, static_cast<int>(c.rows), c.vocab, stream);
}

void verify(const Config& cfg, const RunContext& r, Verifier& v)
{
  const auto& c = static_cast<const SampleConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  const cudaStream_t stream = v.stream();
  // Argmax: exact.
  kernels::fill_uniform_f32(b.sample_logits, std::size_t(c.rows) * c.vocab, -10, 10, v.next_seed(), stream);
  poison(b.argmax_idx, std::size_t(c.rows) * 4, stream);
  poison(b.argmax_val, std::size_t(c.rows) * 4, stream);
  launch(c, r, stream);
  v.sync();
  const auto idx = download(b.argmax_idx, c.rows, stream);
  Worst w;
  for (long row = 0; row < c.rows; row++)
    if (idx[row] < 0 || idx[row] >= c.vocab)
      w.exact(idx[row], 0, "[row " + std::to_string(row) + "] index out of range");
  for (long row : v.sample(c.rows, 16)) {
    const auto x = download(b.sample_logits + std::size_t(row) * c.vocab, c.vocab, stream);
    std::vector<std::int32_t> want(1);
    std::vector<float> want_v(1);
    ref::argmax(x, want, want_v, 1, c.vocab);
    const auto val = download(b.argmax_val + row, 1, stream);
    w.exact(idx[row], want[0], "[row " + std::to_string(row) + "] index");
    w.exact(val[0], want_v[0], "[row " + std::to_string(row) + "] value");
  }
  v.report(w);
}

} // namespace

const OpHandler sample = {check, resolve, launch, verify};

} // namespace moesim::validate::ops
