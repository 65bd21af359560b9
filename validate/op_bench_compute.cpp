// bench-ops: what the families share (device memory, checks against the CPU reference, kernel
// counts), and the GEMM families: dense GEMMs through the replay's GemmPlanner, expert GEMMs through
// the replay's GroupedGemm (one cuBLASLt GEMM per expert, or the fused kernel).
#include "core/stats.hpp"
#include "kernels/check.hpp"
#include "kernels/kernels.hpp"
#include "kernels/reference.hpp"
#include "validate/block_cache.hpp"
#include "validate/grouped_gemm.hpp"
#include "validate/op_bench_family.hpp"
#include "validate/spin.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <string>

namespace moesim::validate::opbench {

namespace ref = kernels::ref;

namespace {

// Kept between points (validate/block_cache.hpp): up to 24 GiB, a third of an 80 GB card at most.
BlockCache& block_cache()
{
  static BlockCache cache(
      [](std::size_t bytes) -> void* {
        void* p = nullptr;
        if (cudaMalloc(&p, bytes) != cudaSuccess) {
          (void)cudaGetLastError(); // an out-of-memory error is not sticky: clear it and let the cache retry
          return nullptr;
        }
        return p;
      },
      [](void* p) { (void)cudaFree(p); }, std::size_t(24) << 30);
  return cache;
}

} // namespace

DevMem::DevMem(std::size_t bytes, bool poison) : bytes_(bytes)
{
  p_ = block_cache().take(std::max<std::size_t>(bytes, 256), &block_);
  if (!p_)
    MOESIM_CHECK(cudaErrorMemoryAllocation);
  if (poison) {
    // cudaMemset runs on the legacy default stream, asynchronously to the host, and the timer's
    // stream is non-blocking: without the wait the poison can land after the op under test wrote.
    MOESIM_CHECK(cudaMemset(p_, 0xff, bytes));
    MOESIM_CHECK(cudaDeviceSynchronize());
  }
}

DevMem::~DevMem()
{
  if (!p_)
    return;
  // Kept only once no work on it is pending (cudaFree waited the same way); after a failed context
  // the block is freed, not kept.
  if (cudaDeviceSynchronize() == cudaSuccess)
    block_cache().give(p_, block_);
  else
    (void)cudaFree(p_);
}

std::string release_kept_blocks()
{
  BlockCache& c = block_cache();
  const std::string what = std::to_string(c.hits()) + " of " + std::to_string(c.hits() + c.misses()) +
                           " device buffers reused, " + std::to_string(c.kept_bytes() >> 20) + " MiB kept at the end";
  c.clear();
  return what;
}

std::vector<long> sample_indices(long n, int want, Rng& rng)
{
  std::vector<long> v;
  if (n <= 0)
    return v;
  if (n <= want) {
    v.resize(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0L);
    return v;
  }
  v = {0, n - 1};
  while (static_cast<int>(v.size()) < want) {
    const long i = static_cast<long>(rng.next() % static_cast<std::uint64_t>(n));
    if (std::find(v.begin(), v.end(), i) == v.end())
      v.push_back(i);
  }
  std::sort(v.begin(), v.end());
  return v;
}

void Check::add(double got, double want, double tol, const std::string& at)
{
  compared++;
  const double d = std::fabs(got - want);
  const double r = std::isnan(d) ? INFINITY : (tol > 0 ? d / tol : (d == 0 ? 0 : INFINITY));
  if (!(d <= tol)) {
    if (bad++ == 0)
      first = at + ": got " + std::to_string(got) + ", want " + std::to_string(want) + " +- " + std::to_string(tol);
  }
  worst = std::max(worst, r);
}

void Check::finish() const
{
  if (bad > 0)
    throw VerifyFailure(what + ": " + std::to_string(bad) + " of " + std::to_string(compared) +
                        " compared elements outside tolerance; first " + first);
  if (compared == 0)
    throw VerifyFailure(what + ": nothing was compared");
}

namespace {

float decode(const unsigned char* p, std::size_t i, bool fp8)
{
  if (fp8)
    return ref::fp8_e4m3_to_float(p[i]);
  kernels::bf16_t b;
  std::memcpy(&b, p + 2 * i, 2);
  return ref::bf16_to_float(b);
}

void fill(void* p, std::size_t elems, bool fp8, std::uint64_t seed, cudaStream_t st)
{
  if (fp8) // [-2, 2] with scales 0.5: values in [-1, 1] like bf16's
    kernels::fill_uniform_fp8(static_cast<std::uint8_t*>(p), static_cast<std::int64_t>(elems), -2, 2, seed, st);
  else
    kernels::fill_uniform_bf16(static_cast<kernels::bf16_t*>(p), static_cast<std::int64_t>(elems), -1, 1, seed, st);
}

} // namespace

void check_gemm(Check& c, const void* x, const void* w, const void* y, bool y_f32, int n, int k, bool fp8, double scale,
                const std::vector<long>& rows, const std::vector<long>& cols)
{
  const std::size_t es = fp8 ? 1 : 2;
  std::map<long, std::vector<float>> wrows;
  for (long col : cols) {
    const auto raw = download<unsigned char>(static_cast<const unsigned char*>(w) + std::size_t(col) * k * es, k * es);
    std::vector<float>& f = wrows[col];
    for (int i = 0; i < k; i++)
      f.push_back(decode(raw.data(), i, fp8));
  }
  for (long r : rows) {
    const auto raw = download<unsigned char>(static_cast<const unsigned char*>(x) + std::size_t(r) * k * es, k * es);
    std::vector<float> xr;
    for (int i = 0; i < k; i++)
      xr.push_back(decode(raw.data(), i, fp8));
    std::vector<double> yr(static_cast<std::size_t>(n));
    if (y_f32) {
      const auto v = download<float>(static_cast<const float*>(y) + std::size_t(r) * n, n);
      std::copy(v.begin(), v.end(), yr.begin());
    } else {
      const auto v = download<kernels::bf16_t>(static_cast<const kernels::bf16_t*>(y) + std::size_t(r) * n, n);
      for (int i = 0; i < n; i++)
        yr[static_cast<std::size_t>(i)] = ref::bf16_to_float(v[static_cast<std::size_t>(i)]);
    }
    for (int i = 0; i < n; i++) // the whole row was written: the poison is NaN
      if (std::isnan(yr[static_cast<std::size_t>(i)]))
        c.add(NAN, 0, 0, "[row " + std::to_string(r) + ", col " + std::to_string(i) + "] not written");
    for (long col : cols) {
      const std::vector<float>& wr = wrows[col];
      double want = 0, abs = 0;
      for (int i = 0; i < k; i++) {
        const double p = double(xr[static_cast<std::size_t>(i)]) * wr[static_cast<std::size_t>(i)];
        want += p;
        abs += std::fabs(p);
      }
      want *= scale;
      abs *= scale;
      c.add(yr[static_cast<std::size_t>(col)], want, ref::gemm_tolerance(want, abs, k, fp8),
            "[row " + std::to_string(r) + ", col " + std::to_string(col) + "]");
    }
  }
}

int count_kernels(BenchContext& ctx, const std::function<void(cudaStream_t)>& launch)
{
  cudaStream_t st = ctx.timer.stream();
  MOESIM_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
  try {
    launch(st);
  } catch (...) {
    abandon_capture(st);
    throw;
  }
  cudaGraph_t graph = nullptr;
  MOESIM_CHECK(cudaStreamEndCapture(st, &graph));
  std::size_t n = 0;
  cudaError_t e = cudaGraphGetNodes(graph, nullptr, &n);
  std::vector<cudaGraphNode_t> nodes(n);
  if (e == cudaSuccess && n > 0)
    e = cudaGraphGetNodes(graph, nodes.data(), &n);
  int kernels = 0;
  for (std::size_t i = 0; e == cudaSuccess && i < n; i++) {
    cudaGraphNodeType t{};
    e = cudaGraphNodeGetType(nodes[i], &t);
    kernels += t == cudaGraphNodeTypeKernel;
  }
  (void)cudaGraphDestroy(graph);
  MOESIM_CHECK(e);
  return kernels;
}

// Wall seconds of a point's phases, for the run's extras (where a family's time goes).
struct Phases {
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  nlohmann::json seconds = nlohmann::json::object();
  void mark(const char* phase)
  {
    const auto now = std::chrono::steady_clock::now();
    seconds[phase] = std::chrono::duration<double>(now - last).count();
    last = now;
  }
};

void bench_gemm(BenchContext& ctx, const GemmPoint& p)
{
  const bool fp8 = p.dtype == Dtype::fp8;
  const std::size_t es = fp8 ? 1 : 2;
  const int n = static_cast<int>(p.n), k = static_cast<int>(p.k);
  const GemmPlan& plan = ctx.planner.plan(p.m, n, k, 1, fp8, false, 256);
  if (!plan.found)
    throw Unsupported("cuBLASLt offers no algorithm for this shape: " + plan.why);
  const int inst = instances_for(p, ctx.rates);
  const std::size_t w_bytes = std::size_t(n) * k * es;
  DevMem x(std::size_t(p.m) * k * es), w(w_bytes * inst), y(std::size_t(p.m) * n * 2, true);
  cudaStream_t st = ctx.timer.stream();
  fill(x.get(), std::size_t(p.m) * k, fp8, ctx.next_seed(), st);
  fill(w.get(), std::size_t(n) * k * inst, fp8, ctx.next_seed(), st);
  auto launch = [&](int i, cudaStream_t s) {
    ctx.planner.run(plan, w.as<unsigned char>() + std::size_t(i) * w_bytes, x.get(), y.get(), s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));
  Rng rng(ctx.next_seed());
  Check c{describe(p)};
  const double scale = fp8 ? double(GemmPlanner::fp8_scale_w) * GemmPlanner::fp8_scale_x : 1.0;
  check_gemm(c, x.get(), w.get(), y.get(), false, n, k, fp8, scale, sample_indices(p.m, 8, rng), sample_indices(n, 16, rng));
  c.finish();
  const int kernels = count_kernels(ctx, [&](cudaStream_t s) { launch(0, s); });
  const Timing t = ctx.timer.time(inst, 1, launch);
  ctx.add_timed(t, [&](const Measured& m) { return gemm_record(p, m); },
                {{"point", describe(p)}, {"kernels", kernels}, {"instances", inst}});
}

void bench_grouped(BenchContext& ctx, const GroupedPoint& p)
{
  const bool fp8 = p.dtype == Dtype::fp8;
  const std::size_t es = fp8 ? 1 : 2;
  Phases ph;
  GroupedGemm g(ctx.planner, p.rows, p.n, p.k, fp8, p.fused ? GroupedImpl::fused : GroupedImpl::per_expert);
  if (!g.ok())
    throw Unsupported("cuBLASLt offers no FP8 algorithm for some expert's rows: " + g.why());
  const int inst = instances_for(p, ctx.rates);
  const std::size_t w_bytes = std::size_t(p.experts) * p.n * p.k * es;
  const long total = g.total_rows();
  DevMem x(std::size_t(total) * p.k * es), w(w_bytes * inst), y(std::size_t(total) * p.n * 2, true);
  cudaStream_t st = ctx.timer.stream();
  fill(x.get(), std::size_t(total) * p.k, fp8, ctx.next_seed(), st);
  fill(w.get(), std::size_t(p.experts) * p.n * p.k * inst, fp8, ctx.next_seed(), st);
  auto launch = [&](int i, cudaStream_t s) {
    g.launch(w.as<unsigned char>() + std::size_t(i) * w_bytes, x.get(), y.as<kernels::bf16_t>(), s);
  };
  launch(0, st);
  MOESIM_CHECK(cudaStreamSynchronize(st));
  ph.mark("plan_buffers_fill_first_run");
  Rng rng(ctx.next_seed());
  Check c{describe(p)};
  const double scale = fp8 ? double(GemmPlanner::fp8_scale_w) * GemmPlanner::fp8_scale_x : 1.0;
  const std::vector<long> cols = sample_indices(p.n, 16, rng);
  for (long gi : sample_indices(static_cast<long>(g.groups().size()), 8, rng)) {
    const GroupedGemm::Group& grp = g.groups()[static_cast<std::size_t>(gi)];
    std::vector<long> rows;
    for (long r : sample_indices(grp.rows, 2, rng))
      rows.push_back(grp.row0 + r);
    check_gemm(c, x.get(), w.as<unsigned char>() + std::size_t(grp.expert) * p.n * p.k * es, y.get(), false, p.n, p.k,
               fp8, scale, rows, cols);
  }
  c.finish();
  ph.mark("check");
  const int kernels = count_kernels(ctx, [&](cudaStream_t s) { launch(0, s); });
  ph.mark("count_kernels");
  const Timing t = ctx.timer.time(inst, g.launches(), launch);
  ph.mark("time");
  ctx.add_timed(t, [&](const Measured& m) { return grouped_record(p, m); },
                {{"point", describe(p)},
                 {"phases_s", ph.seconds},
                 {"kernels", kernels},
                 {"launches", g.launches()},
                 {"instances", inst},
                 {"implementation", g.describe()},
                 {"tokens", p.tokens},
                 {"distribution", p.dist}});
}

} // namespace moesim::validate::opbench
