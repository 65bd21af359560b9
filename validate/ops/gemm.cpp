// gemm: one cuBLASLt GEMM (gemm_plan.hpp), BF16 in and out with fp32 accumulation; FP8 e4m3 with
// per-tensor scales when the op's weights are fp8 and the GPU is sm_89 or newer; strided-batched
// over per-head slices when batch > 1 (MLA's absorptions); fp32 logits when the shape says so (the
// router's, which topk reads). Also the launch and the check of grouped GEMMs (grouped_gemm.cpp).
#include "kernels/reference.hpp"
#include "validate/ops/ops.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace moesim::validate::ops {

namespace ref = kernels::ref;

namespace {

void check(const Op& op, const OpSite& site)
{
  check_shape_fits(op, site);
  const GemmShape& g = op.gemm();
  if (g.n <= 0 || g.k <= 0 || g.batch <= 0)
    site.refuse(op, "gemm with n, k or batch 0", "write the schedule with `moesim schedule`");
  if (g.out != Dtype::bf16 && g.out != Dtype::fp32)
    site.refuse(op, std::string("gemm output dtype ") + to_string(g.out) + " is not supported (bf16 or fp32)",
                "write the schedule with `moesim schedule`");
}

std::unique_ptr<Config> resolve(const Op& op, ResolveContext& ctx)
{
  const GemmShape& g = op.gemm();
  auto c = std::make_unique<GemmConfig>();
  c->m = std::max(0L, g.m);
  c->n = static_cast<int>(g.n);
  c->k = static_cast<int>(g.k);
  c->batch = static_cast<int>(g.batch);
  c->out_f32 = g.out == Dtype::fp32;
  // Batched: each head's slice starts k (x), n (y) and n * k (w) elements after the last.
  const int es_guess = op.dtype == Dtype::fp8 ? 1 : 2;
  const int align = c->batch > 1 ? alignment_of({std::uint64_t(c->k) * es_guess, std::uint64_t(c->n) * 2,
                                                 std::uint64_t(c->n) * c->k * es_guess})
                                 : 256;
  c->fp8 = choose_fp8(op.dtype, ctx.fp8_ok, c->out_f32, c->n, c->k, align, c->substitution);
  if (c->fp8 && c->m > 0) {
    c->plan = &ctx.gemm.plan(c->m, c->n, c->k, c->batch, true, false, align);
    if (!c->plan->found) {
      c->fp8 = false;
      c->substitution = "cuBLASLt has no FP8 algorithm for this shape: ran bf16";
    }
  }
  const int es = c->fp8 ? 1 : 2;
  const int align_final = c->batch > 1 ? alignment_of({std::uint64_t(c->k) * es, std::uint64_t(c->n) * 2,
                                                       std::uint64_t(c->n) * c->k * es})
                                       : 256;
  if (!c->fp8 && c->m > 0) {
    c->plan = &ctx.gemm.plan(c->m, c->n, c->k, c->batch, false, c->out_f32, align_final);
    if (!c->plan->found)
      ctx.site.refuse(op,
                      "cuBLASLt found no BF16 algorithm for m=" + std::to_string(c->m) + " n=" + std::to_string(c->n) +
                          " k=" + std::to_string(c->k),
                      "report this shape");
  }
  c->math = c->fp8 ? "fp8 e4m3" : "bf16";
  c->empty = c->m == 0;
  const std::size_t x_elems = std::size_t(c->m) * c->batch * c->k;
  if (c->fp8)
    ctx.needs.need(ctx.needs.act_fp8, x_elems, 1, op);
  else
    ctx.needs.need(ctx.needs.act_in, x_elems, 2, op);
  if (c->out_f32)
    ctx.needs.need(ctx.needs.router, std::size_t(c->m) * c->n, 4, op);
  else
    ctx.needs.need(ctx.needs.act_out, std::size_t(c->m) * c->batch * c->n, 2, op);
  ctx.pool = ctx.pools.use(op_label(op.family, op.role), weights_key(op), std::size_t(c->batch) * c->n * c->k * es,
                           false, c->fp8, op, ctx.needs);
  c->key = "gemm m=" + std::to_string(c->m) + " n=" + std::to_string(c->n) + " k=" + std::to_string(c->k) +
           (c->batch > 1 ? " batch=" + std::to_string(c->batch) : "") + " " + c->math + (c->out_f32 ? " fp32-out" : "");
  c->info = c->key;
  c->launches = c->empty ? 0 : 1;
  return c;
}

} // namespace

void launch_gemm(const Config& cfg, const RunContext& r, cudaStream_t stream)
{
  const auto& c = static_cast<const GemmConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  const void* x = c.fp8 ? static_cast<const void*>(b.act_fp8) : b.act_in;
  if (c.grouped)
    c.grouped->launch(r.pooled, x, b.act_out, stream);
  else
    r.gemm.run(*c.plan, r.pooled, x, c.out_f32 ? static_cast<void*>(b.router_logits) : b.act_out, stream);
}

void verify_gemm(const Config& cfg, const RunContext& r, Verifier& v)
{
  const auto& c = static_cast<const GemmConfig&>(cfg);
  if (c.empty)
    return;
  const SharedBuffers& b = r.buf;
  const cudaStream_t stream = v.stream();
  // Tolerance: kernels/reference.cpp, gemm_tolerance, element by element; and, over the compared
  // elements together, ||gpu - ref|| / ||ref|| <= 2^-7: the bf16 output rounding alone gives at most
  // 2^-8 in that norm and the accumulation errors of random data are far smaller, so a 2x margin
  // catches a systematic error that each element's worst-case bound would let through.
  const bool grouped = c.grouped != nullptr;
  const std::size_t es = c.fp8 ? 1 : 2;
  const long m = c.m;
  const int batch = grouped ? 1 : c.batch;
  const std::size_t x_elems = std::size_t(m) * batch * c.k;
  const std::size_t w_elems = std::size_t(grouped ? c.experts : batch) * c.n * c.k;
  if (c.fp8) {
    kernels::fill_uniform_fp8(b.act_fp8, x_elems, -2, 2, v.next_seed(), stream);
    kernels::fill_uniform_fp8(static_cast<std::uint8_t*>(r.pooled), w_elems, -2, 2, v.next_seed(), stream);
  } else {
    kernels::fill_uniform_bf16(b.act_in, x_elems, -1, 1, v.next_seed(), stream);
    kernels::fill_uniform_bf16(static_cast<bf16_t*>(r.pooled), w_elems, -1, 1, v.next_seed(), stream);
  }
  const std::size_t y_elems = std::size_t(m) * batch * c.n;
  poison(c.out_f32 ? static_cast<void*>(b.router_logits) : b.act_out, y_elems * (c.out_f32 ? 4 : 2), stream);
  launch_gemm(c, r, stream);
  v.sync();
  if (!c.out_f32)
    v.scan_bf16(b.act_out, y_elems);
  const double scale = c.fp8 ? double(GemmPlanner::fp8_scale_w) * GemmPlanner::fp8_scale_x : 1.0;
  const auto* xb = c.fp8 ? static_cast<const unsigned char*>(b.act_fp8) : reinterpret_cast<const unsigned char*>(b.act_in);
  const auto* wb = static_cast<const unsigned char*>(r.pooled);
  // (row of y, batch index, expert) triples to check, and the columns.
  struct Row {
    long r;
    int bi, expert;
  };
  std::vector<Row> rows;
  if (grouped) {
    const std::vector<GroupedGemm::Group>& groups = c.grouped->groups();
    for (long gi : v.sample(static_cast<long>(groups.size()), 16)) {
      const GroupedGemm::Group& g = groups[gi];
      for (long row : v.sample(g.rows, 3))
        rows.push_back({g.row0 + row, 0, g.expert});
    }
  } else {
    for (long bi : v.sample(batch, 2))
      for (long row : v.sample(m, 12))
        rows.push_back({row, static_cast<int>(bi), -1});
  }
  const std::vector<long> cols = v.sample(c.n, grouped ? 24 : 48);
  Worst w;
  double err2 = 0, ref2 = 0;
  std::map<std::pair<int, long>, std::vector<float>> wcache; // (matrix, col) -> w row
  for (const Row& row : rows) {
    const std::size_t xoff = (std::size_t(row.r) * batch + row.bi) * c.k;
    std::vector<unsigned char> xraw(c.k * es);
    MOESIM_CHECK(cudaMemcpy(xraw.data(), xb + xoff * es, c.k * es, cudaMemcpyDeviceToHost));
    std::vector<float> x(c.k);
    for (int i = 0; i < c.k; i++)
      x[i] = decode_in(xraw.data(), i, c.fp8);
    const int mat = grouped ? row.expert : row.bi;
    const std::size_t yoff = (std::size_t(row.r) * batch + row.bi) * c.n;
    std::vector<double> y(c.n);
    if (c.out_f32) {
      const auto got = download(b.router_logits + yoff, c.n, stream);
      for (int i = 0; i < c.n; i++)
        y[i] = got[i];
    } else {
      const auto got = download(b.act_out + yoff, c.n, stream);
      for (int i = 0; i < c.n; i++)
        y[i] = ref::bf16_to_float(got[i]);
    }
    for (int i = 0; i < c.n; i++) // the whole row was written (poison is NaN)
      if (std::isnan(y[i]))
        v.mismatch("output row " + std::to_string(row.r) + " column " + std::to_string(i) +
                   " was not written (poison left)");
    for (long col : cols) {
      auto& wr = wcache[{mat, col}];
      if (wr.empty()) {
        std::vector<unsigned char> raw(c.k * es);
        MOESIM_CHECK(cudaMemcpy(raw.data(), wb + (std::size_t(mat) * c.n + col) * c.k * es, c.k * es,
                                cudaMemcpyDeviceToHost));
        wr.resize(c.k);
        for (int i = 0; i < c.k; i++)
          wr[i] = decode_in(raw.data(), i, c.fp8);
      }
      double want = 0, abs = 0;
      for (int i = 0; i < c.k; i++) {
        const double p = double(x[i]) * wr[i];
        want += p;
        abs += std::fabs(p);
      }
      want *= scale;
      abs *= scale;
      // fp32 logits are not rounded to bf16: the same bound is looser than needed there.
      const double tol = ref::gemm_tolerance(want, abs, c.k, c.fp8);
      w.add(y[col], want, tol,
            "[row " + std::to_string(row.r) + (batch > 1 ? ", head " + std::to_string(row.bi) : "") +
                (grouped ? " (expert " + std::to_string(row.expert) + ")" : "") + ", col " + std::to_string(col) + "]");
      err2 += (y[col] - want) * (y[col] - want);
      ref2 += want * want;
    }
  }
  v.report(w);
  if (ref2 > 0 && !(std::sqrt(err2 / ref2) <= 0x1p-7))
    v.mismatch("relative error " + fmt(std::sqrt(err2 / ref2)) + " over " + std::to_string(w.compared) +
               " elements exceeds 2^-7");
}

const OpHandler gemm = {check, resolve, launch_gemm, verify_gemm};

} // namespace moesim::validate::ops
