// bench-ops: the small kernels (kernels/*.cu, and the router's GEMM with fp32 logits), one handler
// per op behind a table. Each fills its inputs with seeded random values, runs once with the
// outputs poisoned, checks sampled rows against the CPU reference (kernels/reference.hpp) within
// the tolerance tests/kernels/test_kernels.cpp derives (exact for copies and integer results, one bf16
// ulp for rmsnorm and silu_mul, (experts + 16) * 2^-24 relative for the top-k weights), then times
// 8 launches back to back over the same buffers: a step's norms, activations and routing read what
// the op before them wrote, warm in L2. Two read what no op of the step wrote just before, and each of
// their instances reads inputs of its own, cold after the timer's L2 flush: greedy sampling (logits of
// its own per instance, as weights are, instances_for) and the embedding lookup (token ids of its own
// per instance, so other rows of the table). Their records say "inputs": "cold".
// A --points point with "inputs=cold" gives every instance of the others inputs of its own too (the
// router also weights), cold as a step may read them after big GEMMs evicted them from L2; outputs
// stay shared and only instance 0 is checked. Without the key each runs over one set of buffers.
#include "kernels/check.hpp"
#include "kernels/kernels.hpp"
#include "kernels/reference.hpp"
#include "validate/op_bench_family.hpp"

#include <cmath>
#include <cstdlib>

namespace moesim::validate::opbench {

namespace {

namespace ref = kernels::ref;
using kernels::bf16_t;

constexpr float rms_eps = 1e-6f;

long ulps(bf16_t a, bf16_t b)
{
  auto nan = [](bf16_t x) { return (x & 0x7fff) > 0x7f80; };
  if (nan(a) || nan(b))
    return 1L << 30;
  auto line = [](bf16_t x) { return (x & 0x8000) ? -static_cast<long>(x & 0x7fff) : static_cast<long>(x); };
  return std::labs(line(a) - line(b));
}

std::string at(long r, long c)
{
  return "[" + std::to_string(r) + ", " + std::to_string(c) + "]";
}

template <class T>
void upload(void* dst, const std::vector<T>& v)
{
  // From pageable memory cudaMemcpy returns once the data is staged, before it reaches the device,
  // and the legacy stream it uses does not order the timer's non-blocking stream: wait, or the op
  // reads what the buffer held before (bench-ops on an H200: permute read a freed point's -1 ids,
  // dropped every slot and wrote dest_row -1 throughout).
  MOESIM_CHECK(cudaMemcpy(dst, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  MOESIM_CHECK(cudaDeviceSynchronize());
}

// Each token's k distinct experts out of `experts`, and weights that sum to 1 (as a router gives).
void routing(Rng& rng, long tokens, int k, int experts, std::vector<std::int32_t>& ids, std::vector<float>& w)
{
  ids.assign(static_cast<std::size_t>(tokens) * k, 0);
  w.assign(ids.size(), 0.0f);
  for (long t = 0; t < tokens; t++) {
    float sum = 0;
    for (int j = 0; j < k; j++) {
      std::int32_t e;
      bool taken;
      do {
        e = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(experts));
        taken = false;
        for (int q = 0; q < j; q++)
          taken |= ids[static_cast<std::size_t>(t * k + q)] == e;
      } while (taken);
      ids[static_cast<std::size_t>(t * k + j)] = e;
      sum += (w[static_cast<std::size_t>(t * k + j)] = 0.05f + static_cast<float>(rng.uniform()));
    }
    for (int j = 0; j < k; j++)
      w[static_cast<std::size_t>(t * k + j)] /= sum;
  }
}

// Times `inst` instances of `launches` kernel calls each, instance i launched by launch(i, stream),
// and adds the point's records.
void timed(BenchContext& ctx, const SmallPoint& p, int launches, int inst,
           const std::function<void(int, cudaStream_t)>& launch)
{
  const int kernels = count_kernels(ctx, [&](cudaStream_t s) { launch(0, s); });
  const Timing t = ctx.timer.time(inst, launches, launch);
  ctx.add_timed(t, [&](const Measured& m) { return small_record(p, m); },
                {{"point", describe(p)}, {"kernels", kernels}, {"instances", inst}});
}

// The copies of one input of `per` elements: one per instance where the point's inputs are cold,
// else one that every instance reads. Copies start 256 bytes apart at least (cudaMalloc's alignment,
// which the kernels' vector paths and the router's GEMM plan take), so every instance runs the code
// instance 0 runs.
struct Copies {
  std::size_t per = 0, stride = 0;
  int n = 1;
  std::size_t elements() const { return n == 1 ? per : stride * std::size_t(n); }
  std::size_t at(int i) const { return n == 1 ? 0 : stride * std::size_t(i); }
  // `v` (per elements, from the host: ids, weights) at every copy's place.
  template <class T>
  std::vector<T> repeated(const std::vector<T>& v) const
  {
    std::vector<T> out(elements());
    for (int i = 0; i < n; i++)
      std::copy(v.begin(), v.end(), out.begin() + static_cast<std::ptrdiff_t>(at(i)));
    return out;
  }
};

Copies copies(const SmallPoint& p, int inst, std::size_t per, std::size_t element_bytes)
{
  const std::size_t unit = 256 / element_bytes;
  return {per, (per + unit - 1) / unit * unit, p.cold_inputs ? inst : 1};
}

void rows_op(BenchContext& ctx, const SmallPoint& p)
{
  const bool silu = p.op == "silu_mul";
  const long rows = p.rows;
  const int w = static_cast<int>(p.width);
  const std::size_t in_w = silu ? 2 * std::size_t(w) : std::size_t(w);
  const int inst = instances_for(p, ctx.rates);
  const Copies cx = copies(p, inst, std::size_t(rows) * in_w, 2), cw = copies(p, inst, std::size_t(w), 2);
  DevMem x(cx.elements() * 2), nw(cw.elements() * 2), out(std::size_t(rows) * w * 2, true);
  cudaStream_t st = ctx.timer.stream();
  kernels::fill_uniform_bf16(x.as<bf16_t>(), std::int64_t(cx.elements()), silu ? -8 : -4, silu ? 8 : 4, ctx.next_seed(), st);
  kernels::fill_uniform_bf16(nw.as<bf16_t>(), std::int64_t(cw.elements()), 0.5f, 1.5f, ctx.next_seed(), st);
  auto launch = [&](int i, cudaStream_t s) {
    if (silu)
      kernels::silu_mul(x.as<bf16_t>() + cx.at(i), out.as<bf16_t>(), static_cast<int>(rows), w, s);
    else
      kernels::rmsnorm(x.as<bf16_t>() + cx.at(i), nw.as<bf16_t>() + cw.at(i), out.as<bf16_t>(), static_cast<int>(rows), w,
                       rms_eps, s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));
  Rng rng(ctx.next_seed());
  Check c{describe(p)};
  const auto weight = download<bf16_t>(nw.get(), std::size_t(w));
  for (long r : sample_indices(rows, 16, rng)) {
    const auto in = download<bf16_t>(x.as<bf16_t>() + r * in_w, in_w);
    const auto got = download<bf16_t>(out.as<bf16_t>() + r * w, std::size_t(w));
    std::vector<bf16_t> want(static_cast<std::size_t>(w));
    if (silu)
      ref::silu_mul(in, want, 1, w);
    else
      ref::rmsnorm(in, weight, want, 1, w, rms_eps);
    for (int i = 0; i < w; i++)
      c.add(double(ulps(got[std::size_t(i)], want[std::size_t(i)])), 0, 1, at(r, i) + " (ulps)");
  }
  c.finish();
  timed(ctx, p, 1, inst, launch);
}

void residual_add(BenchContext& ctx, const SmallPoint& p)
{
  const std::int64_t n = p.rows;
  const int inst = instances_for(p, ctx.rates);
  const Copies cn = copies(p, inst, std::size_t(n), 2);
  DevMem x(cn.elements() * 2), r(cn.elements() * 2), out(n * 2, true);
  cudaStream_t st = ctx.timer.stream();
  kernels::fill_uniform_bf16(x.as<bf16_t>(), std::int64_t(cn.elements()), -100, 100, ctx.next_seed(), st);
  kernels::fill_uniform_bf16(r.as<bf16_t>(), std::int64_t(cn.elements()), -1, 1, ctx.next_seed(), st);
  auto launch = [&](int i, cudaStream_t s) {
    kernels::residual_add(x.as<bf16_t>() + cn.at(i), r.as<bf16_t>() + cn.at(i), out.as<bf16_t>(), n, s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));
  Rng rng(ctx.next_seed());
  Check c{describe(p)};
  const long window = static_cast<long>(std::min<std::int64_t>(n, 4096));
  for (long start : sample_indices(static_cast<long>(n) - window + 1, 3, rng)) {
    const auto a = download<bf16_t>(x.as<bf16_t>() + start, window), b = download<bf16_t>(r.as<bf16_t>() + start, window);
    const auto got = download<bf16_t>(out.as<bf16_t>() + start, window);
    std::vector<bf16_t> want(static_cast<std::size_t>(window));
    ref::residual_add(a, b, want);
    for (long i = 0; i < window; i++)
      c.add(double(got[std::size_t(i)] != want[std::size_t(i)]), 0, 0, "[" + std::to_string(start + i) + "]");
  }
  c.finish();
  timed(ctx, p, 1, inst, launch);
}

void topk(BenchContext& ctx, const SmallPoint& p)
{
  const long tokens = p.rows;
  const int experts = p.experts, k = p.k;
  const int inst = instances_for(p, ctx.rates);
  const Copies cl = copies(p, inst, std::size_t(tokens) * experts, 4);
  DevMem logits(cl.elements() * 4), ids(std::size_t(tokens) * k * 4, true), w(std::size_t(tokens) * k * 4, true);
  cudaStream_t st = ctx.timer.stream();
  kernels::fill_uniform_f32(logits.as<float>(), std::int64_t(cl.elements()), -4, 4, ctx.next_seed(), st);
  auto launch = [&](int i, cudaStream_t s) {
    kernels::topk_softmax(logits.as<float>() + cl.at(i), ids.as<std::int32_t>(), w.as<float>(),
                          static_cast<int>(tokens), experts, k, true, s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));
  Rng rng(ctx.next_seed());
  Check c{describe(p)};
  for (long t : sample_indices(tokens, 64, rng)) {
    const auto l = download<float>(logits.as<float>() + t * experts, std::size_t(experts));
    const auto gi = download<std::int32_t>(ids.as<std::int32_t>() + t * k, std::size_t(k));
    const auto gw = download<float>(w.as<float>() + t * k, std::size_t(k));
    std::vector<std::int32_t> wi(static_cast<std::size_t>(k));
    std::vector<float> ww(static_cast<std::size_t>(k));
    ref::topk_softmax(l, wi, ww, 1, experts, k, true);
    for (int j = 0; j < k; j++) {
      c.add(gi[std::size_t(j)], wi[std::size_t(j)], 0, at(t, j) + " id");
      c.add(gw[std::size_t(j)], ww[std::size_t(j)], (experts + 16) * 0x1p-24 * std::fabs(ww[std::size_t(j)]), at(t, j) + " weight");
    }
  }
  c.finish();
  timed(ctx, p, 1, inst, launch);
}

void permute(BenchContext& ctx, const SmallPoint& p)
{
  const long tokens = p.rows;
  const int hidden = static_cast<int>(p.width), k = p.k, experts = p.experts;
  const std::size_t slots = std::size_t(tokens) * k;
  Rng rng(ctx.next_seed());
  std::vector<std::int32_t> ids;
  std::vector<float> unused;
  routing(rng, tokens, k, experts, ids, unused);
  const int inst = instances_for(p, ctx.rates);
  const Copies cx = copies(p, inst, std::size_t(tokens) * hidden, 2), ci = copies(p, inst, slots, 4);
  DevMem x(cx.elements() * 2), dids(ci.elements() * 4), out(slots * hidden * 2, true), dest(slots * 4, true),
      off(std::size_t(experts + 1) * 4, true);
  cudaStream_t st = ctx.timer.stream();
  kernels::fill_uniform_bf16(x.as<bf16_t>(), std::int64_t(cx.elements()), -1, 1, ctx.next_seed(), st);
  upload(dids.get(), ci.repeated(ids)); // one routing, a copy per instance
  auto launch = [&](int i, cudaStream_t s) {
    kernels::permute(x.as<bf16_t>() + cx.at(i), dids.as<std::int32_t>() + ci.at(i),
                     out.as<bf16_t>(), dest.as<std::int32_t>(), off.as<std::int32_t>(), static_cast<int>(tokens), hidden,
                     k, 0, experts, s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));
  Check c{describe(p)};
  const auto gdest = download<std::int32_t>(dest.get(), slots);
  const auto goff = download<std::int32_t>(off.get(), std::size_t(experts + 1));
  std::vector<bf16_t> zeros(static_cast<std::size_t>(tokens)), rows(slots);
  std::vector<std::int32_t> wdest(slots), woff(static_cast<std::size_t>(experts + 1));
  ref::permute(zeros, ids, rows, wdest, woff, static_cast<int>(tokens), 1, k, 0, experts);
  for (std::size_t a = 0; a < slots; a++)
    c.add(gdest[a], wdest[a], 0, "[dest_row " + std::to_string(a) + "]");
  for (int e = 0; e <= experts; e++)
    c.add(goff[std::size_t(e)], woff[std::size_t(e)], 0, "[expert_offsets " + std::to_string(e) + "]");
  for (long a : sample_indices(static_cast<long>(slots), 64, rng)) {
    const auto got = download<bf16_t>(out.as<bf16_t>() + std::size_t(wdest[std::size_t(a)]) * hidden, std::size_t(hidden));
    const auto want = download<bf16_t>(x.as<bf16_t>() + std::size_t(a / k) * hidden, std::size_t(hidden));
    for (int i = 0; i < hidden; i++)
      c.add(double(got[std::size_t(i)] != want[std::size_t(i)]), 0, 0, at(a, i));
  }
  c.finish();
  timed(ctx, p, 2, inst, launch);
}

void unpermute(BenchContext& ctx, const SmallPoint& p)
{
  const long tokens = p.rows;
  const int hidden = static_cast<int>(p.width), k = p.k;
  const std::size_t slots = std::size_t(tokens) * k;
  Rng rng(ctx.next_seed());
  std::vector<std::int32_t> ids;
  std::vector<float> w;
  routing(rng, tokens, k, std::max(k, 8), ids, w);
  std::vector<std::int32_t> dest(slots); // every slot kept, in a shuffled order of rows
  for (std::size_t a = 0; a < slots; a++)
    dest[a] = static_cast<std::int32_t>(a);
  for (std::size_t a = slots; a > 1; a--)
    std::swap(dest[a - 1], dest[rng.next() % a]);
  const int inst = instances_for(p, ctx.rates);
  const Copies ce = copies(p, inst, slots * hidden, 2), cs = copies(p, inst, slots, 4);
  DevMem eo(ce.elements() * 2), ddest(cs.elements() * 4), dw(cs.elements() * 4), out(std::size_t(tokens) * hidden * 2, true);
  cudaStream_t st = ctx.timer.stream();
  kernels::fill_uniform_bf16(eo.as<bf16_t>(), std::int64_t(ce.elements()), -1, 1, ctx.next_seed(), st);
  upload(ddest.get(), cs.repeated(dest)); // one routing, a copy per instance
  upload(dw.get(), cs.repeated(w));
  auto launch = [&](int i, cudaStream_t s) {
    kernels::unpermute(eo.as<bf16_t>() + ce.at(i), ddest.as<std::int32_t>() + cs.at(i), dw.as<float>() + cs.at(i),
                       out.as<bf16_t>(), static_cast<int>(tokens), hidden, k, s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));
  Check c{describe(p)};
  for (long t : sample_indices(tokens, 32, rng)) {
    std::vector<bf16_t> rows(std::size_t(k) * hidden);
    std::vector<std::int32_t> mini(static_cast<std::size_t>(k));
    for (int j = 0; j < k; j++) {
      const auto r = download<bf16_t>(eo.as<bf16_t>() + std::size_t(dest[std::size_t(t * k + j)]) * hidden, std::size_t(hidden));
      std::copy(r.begin(), r.end(), rows.begin() + std::size_t(j) * hidden);
      mini[std::size_t(j)] = j;
    }
    std::vector<bf16_t> want(static_cast<std::size_t>(hidden));
    ref::unpermute(rows, mini, std::span<const float>(w.data() + t * k, std::size_t(k)), want, 1, hidden, k);
    const auto got = download<bf16_t>(out.as<bf16_t>() + std::size_t(t) * hidden, std::size_t(hidden));
    for (int i = 0; i < hidden; i++)
      c.add(double(got[std::size_t(i)] != want[std::size_t(i)]), 0, 0, at(t, i));
  }
  c.finish();
  timed(ctx, p, 1, inst, launch);
}

void embedding(BenchContext& ctx, const SmallPoint& p)
{
  const long tokens = p.rows;
  const int hidden = static_cast<int>(p.width), rows = static_cast<int>(p.vocab);
  Rng rng(ctx.next_seed());
  // Token ids of its own for each instance: each reads other rows of the table, cold after the flush.
  const int inst = instances_for(p, ctx.rates);
  std::vector<std::int32_t> ids(static_cast<std::size_t>(tokens) * inst);
  for (auto& t : ids)
    t = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(rows));
  DevMem dids(ids.size() * 4), table(std::size_t(rows) * hidden * 2), out(std::size_t(tokens) * hidden * 2, true);
  cudaStream_t st = ctx.timer.stream();
  upload(dids.get(), ids);
  kernels::fill_uniform_bf16(table.as<bf16_t>(), std::int64_t(rows) * hidden, -1, 1, ctx.next_seed(), st);
  auto launch = [&](int i, cudaStream_t s) {
    kernels::embedding(dids.as<std::int32_t>() + std::size_t(i) * tokens, table.as<bf16_t>(), out.as<bf16_t>(),
                       static_cast<int>(tokens), hidden, 0, rows, s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));
  Check c{describe(p)};
  for (long t : sample_indices(tokens, 32, rng)) {
    const auto want = download<bf16_t>(table.as<bf16_t>() + std::size_t(ids[std::size_t(t)]) * hidden, std::size_t(hidden));
    const auto got = download<bf16_t>(out.as<bf16_t>() + std::size_t(t) * hidden, std::size_t(hidden));
    for (int i = 0; i < hidden; i++)
      c.add(double(got[std::size_t(i)] != want[std::size_t(i)]), 0, 0, at(t, i));
  }
  c.finish();
  timed(ctx, p, 1, inst, launch);
}

void sample(BenchContext& ctx, const SmallPoint& p)
{
  const long rows = p.rows, vocab = p.vocab;
  // Logits of its own for each instance (about 1 GiB in all, instances_for): each reads them cold.
  const int inst = instances_for(p, ctx.rates);
  const std::size_t per = std::size_t(rows) * vocab;
  DevMem x(per * inst * 4), idx(std::size_t(rows) * 4, true), val(std::size_t(rows) * 4, true);
  cudaStream_t st = ctx.timer.stream();
  kernels::fill_uniform_f32(x.as<float>(), static_cast<std::int64_t>(per) * inst, -10, 10, ctx.next_seed(), st);
  auto launch = [&](int i, cudaStream_t s) {
    kernels::argmax(x.as<float>() + per * i, idx.as<std::int32_t>(), val.as<float>(), static_cast<int>(rows),
                    static_cast<int>(vocab), s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));
  Rng rng(ctx.next_seed());
  Check c{describe(p)};
  const auto gi = download<std::int32_t>(idx.get(), std::size_t(rows));
  for (long r : sample_indices(rows, 16, rng)) {
    const auto row = download<float>(x.as<float>() + std::size_t(r) * vocab, std::size_t(vocab));
    std::vector<std::int32_t> want(1);
    std::vector<float> wv(1);
    ref::argmax(row, want, wv, 1, static_cast<int>(vocab));
    c.add(gi[std::size_t(r)], want[0], 0, "[row " + std::to_string(r) + "]");
  }
  c.finish();
  timed(ctx, p, 1, inst, launch);
}

// The router: logits [tokens, experts] fp32 = x [tokens, hidden] w[experts, hidden]^T, bf16
// operands, through the GemmPlanner (the replay's moe.router GEMM).
void router(BenchContext& ctx, const SmallPoint& p)
{
  const long tokens = p.rows;
  const int hidden = static_cast<int>(p.width), experts = p.experts;
  const GemmPlan& plan = ctx.planner.plan(tokens, experts, hidden, 1, false, true, 256);
  if (!plan.found)
    throw Unsupported("cuBLASLt offers no algorithm for this router GEMM");
  const int inst = instances_for(p, ctx.rates);
  const Copies cx = copies(p, inst, std::size_t(tokens) * hidden, 2), cw = copies(p, inst, std::size_t(experts) * hidden, 2);
  DevMem x(cx.elements() * 2), w(cw.elements() * 2), y(std::size_t(tokens) * experts * 4, true);
  cudaStream_t st = ctx.timer.stream();
  kernels::fill_uniform_bf16(x.as<bf16_t>(), std::int64_t(cx.elements()), -1, 1, ctx.next_seed(), st);
  kernels::fill_uniform_bf16(w.as<bf16_t>(), std::int64_t(cw.elements()), -1, 1, ctx.next_seed(), st);
  auto launch = [&](int i, cudaStream_t s) {
    ctx.planner.run(plan, w.as<bf16_t>() + cw.at(i), x.as<bf16_t>() + cx.at(i), y.get(), s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));
  Rng rng(ctx.next_seed());
  Check c{describe(p)};
  check_gemm(c, x.get(), w.get(), y.get(), true, experts, hidden, false, 1.0, sample_indices(tokens, 8, rng),
             sample_indices(experts, 16, rng));
  c.finish();
  timed(ctx, p, 1, inst, launch);
}

struct SmallOp {
  const char* name;
  void (*run)(BenchContext&, const SmallPoint&);
};
const SmallOp small_ops[] = {{"rmsnorm", rows_op},   {"silu_mul", rows_op},       {"residual_add", residual_add},
                             {"topk", topk},         {"permute", permute},        {"unpermute", unpermute},
                             {"embedding", embedding}, {"sample", sample},        {"router", router}};

} // namespace

void bench_small(BenchContext& ctx, const SmallPoint& p)
{
  for (const SmallOp& op : small_ops)
    if (p.op == op.name)
      return op.run(ctx, p);
  throw std::logic_error("bench-ops: no small kernel '" + p.op + "'");
}

} // namespace moesim::validate::opbench
