// grouped_gemm: the MoE expert GEMM, run by GroupedGemm (validate/grouped_gemm.hpp) the way the
// schedule's engine option asks: engine.grouped_gemm fused, one kernels::grouped_gemm launch over
// all local experts; per_expert, one cuBLASLt GEMM per local expert that received rows (experts
// without rows read nothing, as the simulator charges). Rows per expert rounded as round_group_rows
// does. FP8 for every expert's GEMM or for none. Launch and verify: gemm.cpp.
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
  c->experts = g.experts;
  c->n = static_cast<int>(g.n);
  c->k = static_cast<int>(g.k);
  const std::vector<long> rows = round_group_rows(g.rows);
  // FP8 for every expert's GEMM or none. Offsets: rows * k (x), rows * n (y), expert * n * k (w):
  // the alignment every expert's operands share (GroupedGemm plans per_expert GEMMs for it).
  int align = 256;
  long row0 = 0;
  for (int e = 0; e < c->experts; e++) {
    align = std::min(align, alignment_of({std::uint64_t(row0) * c->k, std::uint64_t(row0) * c->n * 2,
                                          std::uint64_t(e) * c->n * c->k}));
    row0 += rows[e];
  }
  c->fp8 = choose_fp8(op.dtype, ctx.fp8_ok, false, c->n, c->k, align, c->substitution);
  // How the engine runs it (engine.grouped_gemm): one fused kernel over the local experts, or a loop
  // of one cuBLASLt GEMM per expert with rows; a shape the fused kernel refuses runs per expert.
  GroupedImpl impl = ctx.site.schedule.engine.grouped_gemm_per_expert ? GroupedImpl::per_expert : GroupedImpl::fused;
  if (impl == GroupedImpl::fused)
    if (const std::string why = fused_refusal(c->n, c->k, c->fp8); !why.empty()) {
      impl = GroupedImpl::per_expert;
      c->substitution = why + ": ran one GEMM per expert";
    }
  for (int pass = 0; pass < 2; pass++) {
    c->grouped = std::make_unique<GroupedGemm>(ctx.gemm, rows, c->n, c->k, c->fp8, impl);
    if (c->grouped->ok())
      break;
    if (!c->fp8)
      ctx.site.refuse(op,
                      "cuBLASLt found no BF16 algorithm for an expert's GEMM (n=" + std::to_string(c->n) +
                          " k=" + std::to_string(c->k) + ")",
                      "report this shape");
    c->fp8 = false;
    c->substitution = "cuBLASLt has no FP8 algorithm for some expert's rows: ran bf16";
  }
  c->m = c->grouped->total_rows();
  c->math = c->fp8 ? "fp8 e4m3" : "bf16";
  const int es = c->fp8 ? 1 : 2;
  c->empty = c->grouped->groups().empty();
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
  c->info = "grouped_gemm experts=" + std::to_string(c->experts) +
            " active=" + std::to_string(c->grouped->groups().size()) + " rows=" + std::to_string(c->m) +
            " n=" + std::to_string(c->n) + " k=" + std::to_string(c->k) + " " + c->math + " " +
            to_string(c->grouped->impl());
  c->key = c->info + " [" + dist + "]";
  c->launches = c->grouped->launches();
  c->impl = to_string(c->grouped->impl());
  return c;
}

} // namespace

const OpHandler grouped_gemm = {check, resolve, launch_gemm, verify_gemm};

} // namespace moesim::validate::ops
