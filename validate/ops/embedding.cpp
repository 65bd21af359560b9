// embedding: kernels::embedding in this rank's vocabulary shard of the table (ids outside it give
// zeros, which the embedding all-reduce completes), token ids drawn once over the whole vocabulary.
#include "kernels/reference.hpp"
#include "validate/ops/ops.hpp"

namespace moesim::validate::ops {

namespace ref = kernels::ref;

namespace {

struct EmbeddingConfig : Config {
  int tokens = 0, hidden = 0, vocab = 0, table_rows = 0, first_id = 0;
};

void check(const Op& op, const OpSite& site)
{
  check_shape_fits(op, site);
  const EmbeddingShape& e = op.embedding();
  if (e.hidden < 1)
    site.refuse(op, "embedding with hidden 0", "write the schedule with `moesim schedule`");
  if (e.vocab < 1 || e.table_rows < 1 || e.first_id < 0 || e.first_id >= e.vocab)
    site.refuse(op,
                "embedding table shard of " + std::to_string(e.table_rows) + " rows from id " +
                    std::to_string(e.first_id) + " does not lie in a vocabulary of " + std::to_string(e.vocab),
                "write the schedule with `moesim schedule`");
}

std::unique_ptr<Config> resolve(const Op& op, ResolveContext& ctx)
{
  const EmbeddingShape& e = op.embedding();
  auto c = std::make_unique<EmbeddingConfig>();
  c->kind = op.kind;
  c->tokens = static_cast<int>(e.tokens);
  c->hidden = static_cast<int>(e.hidden);
  c->vocab = static_cast<int>(e.vocab);
  c->table_rows = static_cast<int>(e.table_rows);
  c->first_id = static_cast<int>(e.first_id);
  c->empty = c->tokens == 0;
  ctx.needs.need(ctx.needs.embed_ids, c->tokens, 4, op);
  ctx.needs.need(ctx.needs.act_out, std::size_t(c->tokens) * c->hidden, 2, op);
  ctx.pool = ctx.pools.use(op_label(op.family, op.role), weights_key(op), std::size_t(c->table_rows) * c->hidden * 2,
                           false, false, op, ctx.needs);
  c->key = c->info = "embedding tokens=" + std::to_string(c->tokens) + " hidden=" + std::to_string(c->hidden) +
                     " table rows=" + std::to_string(c->table_rows);
  c->launches = c->empty ? 0 : 1;
  return c;
}

void launch(const Config& cfg, const RunContext& r, cudaStream_t stream)
{
  const auto& c = static_cast<const EmbeddingConfig&>(cfg);
  if (c.empty)
    return;
  kernels::embedding(r.buf.embed_ids, static_cast<const bf16_t*>(r.pooled), r.buf.act_out, c.tokens, c.hidden,
                     c.first_id, c.table_rows, stream);
}

void verify(const Config& cfg, const RunContext& r, Verifier& v)
{
  const auto& c = static_cast<const EmbeddingConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  const cudaStream_t stream = v.stream();
  // Copies: exact (zeros for ids outside this vocabulary shard).
  std::vector<std::int32_t> ids(c.tokens);
  for (auto& t : ids)
    t = static_cast<std::int32_t>(v.rng().next() % static_cast<std::uint64_t>(c.vocab));
  MOESIM_CHECK(cudaMemcpyAsync(b.embed_ids, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice, stream));
  kernels::fill_uniform_bf16(static_cast<bf16_t*>(r.pooled), std::size_t(c.table_rows) * c.hidden, -1, 1,
                             v.next_seed(), stream);
  poison(b.act_out, std::size_t(c.tokens) * c.hidden * 2, stream);
  launch(c, r, stream);
  v.sync();
  v.scan_bf16(b.act_out, std::size_t(c.tokens) * c.hidden);
  Worst w;
  for (long t : v.sample(c.tokens, 64)) {
    const long row = long(ids[t]) - c.first_id;
    std::vector<bf16_t> want(c.hidden, 0);
    if (row >= 0 && row < c.table_rows)
      want = download(static_cast<const bf16_t*>(r.pooled) + std::size_t(row) * c.hidden, c.hidden, stream);
    const auto got = download(b.act_out + std::size_t(t) * c.hidden, c.hidden, stream);
    for (int i = 0; i < c.hidden; i++)
      if (got[i] != want[i]) {
        w.exact(ref::bf16_to_float(got[i]), ref::bf16_to_float(want[i]),
                "[token " + std::to_string(t) + " (id " + std::to_string(ids[t]) + "), col " + std::to_string(i) + "]");
        break;
      }
  }
  v.report(w);
}

} // namespace

const OpHandler embedding = {check, resolve, launch, verify};

} // namespace moesim::validate::ops
