// grouped_gemm: one cuBLASLt GEMM per local expert that received rows, each with its own weights
// (experts without rows read nothing, as the simulator charges); rows per expert rounded as
// round_group_rows does. FP8 for every expert's GEMM or for none. Launch and verify: gemm.cpp.
#include "validate/ops/ops.hpp"

#include <algorithm>

namespace moesim::validate::ops {

namespace {

void check(const Op& op, const OpSite& site)
{
  check_shape_fits(op, site);
  const GroupedGemmShape& g = op.grouped();
  if (g.experts <= 0 || g.n <= 0 || g.k <= 0)
    site.refuse(op, "grouped_gemm with no expert, n or k", "write the schedule with `moesim schedule`");
  if (static_cast<int>(g.rows.size()) != g.experts)
    site.refuse(op,
                "group_rows has " + std::to_string(g.rows.size()) + " entries for " + std::to_string(g.experts) +
                    " experts",
                "write the schedule with `moesim schedule`");
}

std::unique_ptr<Config> resolve(const Op& op, ResolveContext& ctx)
{
  const GroupedGemmShape& g = op.grouped();
  auto c = std::make_unique<GemmConfig>();
  c->kind = OpKind::grouped_gemm;
  c->grouped = true;
  c->experts = g.experts;
  c->n = static_cast<int>(g.n);
  c->k = static_cast<int>(g.k);
  const std::vector<long> rows = round_group_rows(g.rows);
  // Offsets: rows * k (x), rows * n (y), expert * n * k (w).
  auto group_align = [&](int es) {
    int a = 256;
    long row0 = 0;
    for (int e = 0; e < c->experts; e++) {
      a = std::min(a, alignment_of({std::uint64_t(row0) * c->k * es, std::uint64_t(row0) * c->n * 2,
                                    std::uint64_t(e) * c->n * c->k * es}));
      row0 += rows[e];
    }
    return a;
  };
  c->fp8 = choose_fp8(op.dtype, ctx.fp8_ok, false, c->n, c->k, group_align(1), c->substitution);
  for (int pass = 0; pass < 2; pass++) {
    const int es = c->fp8 ? 1 : 2;
    const int align = group_align(es);
    c->groups.clear();
    bool ok = true;
    long row0 = 0;
    for (int e = 0; e < c->experts; e++) {
      if (rows[e] > 0) {
        GemmPlan* p = ctx.gemm.plan(rows[e], c->n, c->k, 1, c->fp8, false, align);
        ok = ok && p->found;
        c->groups.push_back({e, row0, rows[e], p});
      }
      row0 += rows[e];
    }
    c->m = row0;
    if (ok)
      break;
    if (!c->fp8)
      ctx.site.refuse(op,
                      "cuBLASLt found no BF16 algorithm for an expert's GEMM (n=" + std::to_string(c->n) +
                          " k=" + std::to_string(c->k) + ")",
                      "report this shape");
    c->fp8 = false;
    c->substitution = "cuBLASLt has no FP8 algorithm for some expert's rows: ran bf16";
  }
  c->math = c->fp8 ? "fp8 e4m3" : "bf16";
  const int es = c->fp8 ? 1 : 2;
  c->empty = c->groups.empty();
  if (c->fp8)
    ctx.needs.need(ctx.needs.act_fp8, std::size_t(c->m) * c->k, 1, op);
  else
    ctx.needs.need(ctx.needs.act_in, std::size_t(c->m) * c->k, 2, op);
  ctx.needs.need(ctx.needs.act_out, std::size_t(c->m) * c->n, 2, op);
  ctx.pool = ctx.pools.use(op_label(op.family, op.role), weights_key(op), std::size_t(c->experts) * c->n * c->k * es,
                           false, c->fp8, op, ctx.needs);
  std::string dist;
  for (long r : rows)
    dist += std::to_string(r) + ",";
  c->info = "grouped_gemm experts=" + std::to_string(c->experts) + " active=" + std::to_string(c->groups.size()) +
            " rows=" + std::to_string(c->m) + " n=" + std::to_string(c->n) + " k=" + std::to_string(c->k) + " " +
            c->math;
  c->key = c->info + " [" + dist + "]";
  c->launches = static_cast<int>(c->groups.size());
  return c;
}

} // namespace

const OpHandler grouped_gemm = {check, resolve, launch_gemm, verify_gemm};

} // namespace moesim::validate::ops
