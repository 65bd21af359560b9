// The fused grouped GEMM (kernels::grouped_gemm) and validate::GroupedGemm (fused or one cuBLASLt
// GEMM per expert) against the CPU reference ([gpu]), on seeded random operands with the outputs
// poisoned; the tiling, the size rules and the implementation names without a GPU ([quick]).
//
// Tolerance: ref::gemm_tolerance (kernels/reference.cpp) per element: the products of bf16 or e4m3
// operands are exact in fp32, so only the fp32 (bf16) or ~14-bit (fp8 tensor-core) accumulation over
// k and the one bf16 rounding of the output err.
#include "tests/kernels/gpu_test.hpp"
#include "kernels/kernels.hpp"
#include "validate/gemm_plan.hpp"
#include "validate/grouped_gemm.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <stdexcept>

using namespace moesim::test;
namespace kn = moesim::kernels;
namespace ref = moesim::kernels::ref;
using moesim::Rng;
using moesim::validate::GemmPlanner;
using moesim::validate::GroupedGemm;
using moesim::validate::GroupedImpl;

namespace {

constexpr std::uint64_t seed = 20261204;

bool fp8_device()
{
  int dev = 0, major = 0, minor = 0;
  MOESIM_CHECK(cudaGetDevice(&dev));
  MOESIM_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  MOESIM_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  return major * 10 + minor >= 89;
}

// Operands of one grouped GEMM on the host: bf16 bits or e4m3 bytes, and their values as floats.
struct Operands {
  std::vector<unsigned char> x, w; // raw bytes
  std::vector<float> xf, wf;       // decoded
};

Operands random_operands(Rng& rng, long rows, int experts, int n, int k, bool fp8)
{
  Operands o;
  const std::size_t xe = std::size_t(rows) * k, we = std::size_t(experts) * n * k;
  const std::size_t es = fp8 ? 1 : 2;
  o.x.resize(xe * es);
  o.w.resize(we * es);
  o.xf.resize(xe);
  o.wf.resize(we);
  auto fill = [&](std::vector<unsigned char>& raw, std::vector<float>& f) {
    for (std::size_t i = 0; i < f.size(); i++) {
      if (fp8) {
        std::uint8_t b;
        do
          b = static_cast<std::uint8_t>(rng.next() & 0xff);
        while ((b & 0x7f) == 0x7f || std::fabs(ref::fp8_e4m3_to_float(b)) > 2.0f); // finite, in [-2, 2]
        raw[i] = b;
        f[i] = ref::fp8_e4m3_to_float(b);
      } else {
        const bf16_t b = float_to_bf16(-1.0f + 2.0f * static_cast<float>(rng.uniform()));
        std::memcpy(&raw[2 * i], &b, 2);
        f[i] = bf16_to_float(b);
      }
    }
  };
  fill(o.x, o.xf);
  fill(o.w, o.wf);
  return o;
}

// Compares every output element with the reference, expert by expert. `scale` multiplies the
// reference (fp8: the planner's per-tensor scales).
Mismatch compare(const std::vector<bf16_t>& got, const Operands& o, const std::vector<long>& rows, int n, int k,
                 bool fp8, double scale, double* worst)
{
  Mismatch m;
  long row0 = 0;
  for (std::size_t e = 0; e < rows.size(); e++) {
    if (rows[e] == 0)
      continue;
    std::vector<double> y(std::size_t(rows[e]) * n), abs(y.size());
    ref::gemm(std::span<const float>(o.xf.data() + std::size_t(row0) * k, std::size_t(rows[e]) * k),
              std::span<const float>(o.wf.data() + e * std::size_t(n) * k, std::size_t(n) * k), y, abs,
              static_cast<int>(rows[e]), n, k);
    for (long r = 0; r < rows[e]; r++)
      for (int c = 0; c < n; c++) {
        const double want = y[std::size_t(r) * n + c] * scale;
        const double tol = ref::gemm_tolerance(want, abs[std::size_t(r) * n + c] * scale, k, fp8);
        const double g = bf16_to_float(got[std::size_t(row0 + r) * n + c]);
        *worst = std::max(*worst, std::fabs(g - want) / tol);
        if (!(std::fabs(g - want) <= tol))
          m.add(std::size_t(row0 + r) * n + c, std::to_string(g),
                std::to_string(want) + " +- " + std::to_string(tol) + " (expert " + std::to_string(e) + ")");
      }
    row0 += rows[e];
  }
  return m;
}

struct Case {
  std::vector<long> rows;
  int n, k;
  bool fp8;
};

void check_kernel(const Case& c, bool engine_bound)
{
  const long total = std::accumulate(c.rows.begin(), c.rows.end(), 0L);
  const int experts = static_cast<int>(c.rows.size());
  const int active = static_cast<int>(std::count_if(c.rows.begin(), c.rows.end(), [](long r) { return r > 0; }));
  CAPTURE(experts, active, total, c.n, c.k, c.fp8, engine_bound);
  Rng rng(seed + total * 7 + c.n);
  const Operands o = random_operands(rng, total, experts, c.n, c.k, c.fp8);
  std::vector<std::int32_t> offsets(experts + 1, 0);
  for (int e = 0; e < experts; e++)
    offsets[e + 1] = static_cast<std::int32_t>(offsets[e] + c.rows[e]);
  DeviceBuffer<unsigned char> dx(o.x), dw(o.w);
  DeviceBuffer<std::int32_t> doff(offsets);
  DeviceBuffer<bf16_t> dy(std::size_t(total) * c.n);
  const float scales[2] = {0.5f, 0.25f};
  DeviceBuffer<float> dscale(std::vector<float>(scales, scales + 2));
  kn::GroupedGemmArgs a;
  a.x = dx.get(), a.w = dw.get(), a.y = dy.get(), a.row_offsets = doff.get();
  a.experts = experts, a.n = c.n, a.k = c.k, a.total_rows = total, a.fp8 = c.fp8;
  a.active_experts = engine_bound ? experts : active; // an engine's grid bound, or the exact one
  a.scale_w = dscale.get(), a.scale_x = dscale.get() + 1;
  kn::grouped_gemm(a, nullptr);
  const auto got = dy.download();
  double worst = 0;
  const Mismatch m = compare(got, o, c.rows, c.n, c.k, c.fp8, c.fp8 ? 0.5 * 0.25 : 1.0, &worst);
  INFO(m.first << " worst error / tolerance " << worst);
  CHECK(m.wrong == 0);
  kn::grouped_gemm(a, nullptr); // the same bits again: no race, nothing left over
  const Mismatch again = compare_exact(dy.download(), got);
  INFO(again.first);
  CHECK(again.wrong == 0);
}

std::vector<Case> cases(bool fp8)
{
  // Decode-like (few rows per expert: 16-row tiles), with experts that got nothing; one expert
  // with everything; prefill-like (64-row tiles) with skew; n not a multiple of the 128-column tile;
  // k not a multiple of the 128-byte k tile; a single row.
  const int k_odd = fp8 ? 144 : 72; // 144 bytes: one full k tile and 16 bytes of the next
  return {Case{{1, 0, 3, 2, 0, 0, 5, 1}, 256, 512, fp8},
          Case{{0, 0, 40, 0}, 128, 256, fp8},
          Case{{130, 7, 0, 64, 300, 1}, 384, 256, fp8},
          Case{{5, 9, 2}, 200, 128, fp8},
          Case{{3, 17, 0, 33}, 256, k_odd, fp8},
          Case{{1}, 64, 64, fp8}};
}

} // namespace

TEST_CASE("fused grouped GEMM (bf16) matches the reference", "[gpu]")
{
  require_gpu();
  for (const Case& c : cases(false))
    for (bool engine_bound : {false, true})
      check_kernel(c, engine_bound);
}

TEST_CASE("fused grouped GEMM (fp8 e4m3) matches the reference", "[gpu]")
{
  require_gpu();
  if (!fp8_device()) {
    std::printf("SKIPPED: fp8 needs compute capability 8.9 or newer\n");
    std::exit(77);
  }
  for (const Case& c : cases(true))
    check_kernel(c, false);
}

TEST_CASE("GroupedGemm: fused and per-expert runs agree with the reference, and are graph-capturable", "[gpu]")
{
  require_gpu();
  GemmPlanner planner;
  for (bool fp8 : {false, true}) {
    if (fp8 && !fp8_device())
      continue;
    const std::vector<long> rows = {4, 0, 12, 1, 0, 30, 2, 7};
    const int n = 256, k = 512, experts = 8;
    const long total = 56;
    Rng rng(seed + fp8);
    const Operands o = random_operands(rng, total, experts, n, k, fp8);
    DeviceBuffer<unsigned char> dx(o.x), dw(o.w);
    for (GroupedImpl impl : {GroupedImpl::per_expert, GroupedImpl::fused}) {
      CAPTURE(fp8, to_string(impl));
      GroupedGemm g(planner, rows, n, k, fp8, impl);
      INFO(g.why()); // the cuBLAS status of the refused plan
      REQUIRE(g.ok());
      // Active experts: 6 (per_expert: one cuBLASLt call each); fused: one launch.
      CHECK(g.launches() == (impl == GroupedImpl::fused ? 1 : 6));
      CHECK(g.total_rows() == total);
      CHECK(g.groups().size() == 6);
      CHECK(g.groups()[2].row0 == 16); // experts 0 (4 rows) and 2 (12 rows) before expert 3
      DeviceBuffer<bf16_t> dy(std::size_t(total) * n);
      g.launch(dw.get(), dx.get(), dy.get(), nullptr);
      const auto got = dy.download();
      double worst = 0;
      const double scale = fp8 ? double(GemmPlanner::fp8_scale_w) * GemmPlanner::fp8_scale_x : 1.0;
      const Mismatch m = compare(got, o, rows, n, k, fp8, scale, &worst);
      INFO(m.first << " worst " << worst);
      CHECK(m.wrong == 0);
      // Captured in a CUDA graph, replayed: the same bits.
      DeviceBuffer<bf16_t> dy2(std::size_t(total) * n);
      cudaStream_t st;
      MOESIM_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
      cudaGraph_t graph;
      MOESIM_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
      g.launch(dw.get(), dx.get(), dy2.get(), st);
      MOESIM_CHECK(cudaStreamEndCapture(st, &graph));
      cudaGraphExec_t exec;
      MOESIM_CHECK(cudaGraphInstantiate(&exec, graph, 0));
      MOESIM_CHECK(cudaGraphLaunch(exec, st));
      MOESIM_CHECK(cudaStreamSynchronize(st));
      const Mismatch same = compare_exact(dy2.download(), got);
      INFO(same.first);
      CHECK(same.wrong == 0);
      MOESIM_CHECK(cudaGraphExecDestroy(exec));
      MOESIM_CHECK(cudaGraphDestroy(graph));
      MOESIM_CHECK(cudaStreamDestroy(st));
    }
  }
}

TEST_CASE("GemmPlanner: FP8 GEMMs at decode batch sizes run in FP8 and match the reference", "[gpu]")
{
  // A dense GEMM is a per_expert GroupedGemm of one expert: the plan, scales and launch the dense ops
  // of a replay use. Decode batches 1 to 8 per GPU, a 16-row and a 64-row batch, and k = 7168 (a
  // DeepSeek-V3 hidden size): none may be refused, none may fall back to bf16.
  require_gpu();
  if (!fp8_device()) {
    std::printf("SKIPPED: fp8 needs compute capability 8.9 or newer\n");
    std::exit(77);
  }
  GemmPlanner planner;
  struct Shape {
    long m;
    int n, k;
  };
  for (const Shape& sh : {Shape{1, 256, 512}, Shape{2, 256, 512}, Shape{3, 256, 512}, Shape{4, 256, 512},
                          Shape{8, 256, 512}, Shape{16, 256, 512}, Shape{64, 256, 512}, Shape{1, 128, 7168},
                          Shape{4, 128, 7168}}) {
    CAPTURE(sh.m, sh.n, sh.k);
    Rng rng(seed + 101 * sh.m + sh.k);
    const Operands o = random_operands(rng, sh.m, 1, sh.n, sh.k, true);
    DeviceBuffer<unsigned char> dx(o.x), dw(o.w);
    GroupedGemm g(planner, {sh.m}, sh.n, sh.k, true, GroupedImpl::per_expert);
    INFO(g.why());
    REQUIRE(g.ok());
    DeviceBuffer<bf16_t> dy(std::size_t(sh.m) * sh.n);
    g.launch(dw.get(), dx.get(), dy.get(), nullptr);
    double worst = 0;
    const double scale = double(GemmPlanner::fp8_scale_w) * GemmPlanner::fp8_scale_x;
    const Mismatch m = compare(dy.download(), o, {sh.m}, sh.n, sh.k, true, scale, &worst);
    INFO(m.first << " worst " << worst);
    CHECK(m.wrong == 0);
  }
}

TEST_CASE("GemmPlanner: each FP8 scale has a 16-byte-aligned slot of its own", "[quick]")
{
  // cuBLASLt's FP8 kernels need every pointer 16-byte aligned; the scale buffer comes from
  // cudaMalloc (256-byte aligned), so each scale's offset in it must be a multiple of 16, and the
  // two floats must not overlap. Slots of 256 bytes: w's at 0, x's at 256 (the float right after
  // w's, at 4, broke the rule).
  STATIC_REQUIRE(GemmPlanner::scale_offset_bytes(0) == 0);
  STATIC_REQUIRE(GemmPlanner::scale_offset_bytes(1) == 256);
  for (int which : {0, 1}) {
    CAPTURE(which);
    CHECK(GemmPlanner::scale_offset_bytes(which) % 16 == 0);
  }
  CHECK(GemmPlanner::scale_offset_bytes(1) - GemmPlanner::scale_offset_bytes(0) >= sizeof(float));
}

TEST_CASE("grouped GEMM tiling and size rules need no GPU", "[quick]")
{
  kn::GroupedGemmArgs a;
  a.experts = 128, a.n = 1536, a.k = 2048, a.total_rows = 64, a.active_experts = 50;
  // 64 rows over 50 experts: 1.3 per expert <= 24 -> 16-row tiles, 4 warps; 12 column tiles of 128;
  // row tiles bounded by 64 / 16 + 50 = 54; 648 blocks; shared memory 3 stages x (16 + 128) rows x
  // 144 bytes = 62208.
  kn::GroupedGemmTiling t = kn::grouped_gemm_tiling(a);
  CHECK(t.rows_per_tile == 16);
  CHECK(t.threads == 128);
  CHECK(t.n_tiles == 12);
  CHECK(t.m_tiles == 54);
  CHECK(t.blocks == 648);
  CHECK(t.smem_bytes == 62208);
  // 4096 rows over 64 experts (64 each > 24): 64-row tiles, 8 warps; 4096 / 64 + 64 = 128 row tiles;
  // 3 x (64 + 128) x 144 = 82944 bytes.
  a.total_rows = 4096, a.active_experts = 64;
  t = kn::grouped_gemm_tiling(a);
  CHECK(t.rows_per_tile == 64);
  CHECK(t.threads == 256);
  CHECK(t.m_tiles == 128);
  CHECK(t.smem_bytes == 82944);
  auto refused = [&](kn::GroupedGemmArgs b) {
    try {
      kn::grouped_gemm_tiling(b);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  kn::GroupedGemmArgs b = a;
  b.n = 1537;
  CHECK_THAT(refused(b), Catch::Contains("n must be even"));
  b = a;
  b.k = 2044; // 4088 bytes: not a multiple of 16
  CHECK_THAT(refused(b), Catch::Contains("k must be a multiple of 8"));
  b = a;
  b.fp8 = true, b.k = 2040; // 2040 bytes
  CHECK_THAT(refused(b), Catch::Contains("k must be a multiple of 16"));
  b = a;
  b.active_experts = 0;
  CHECK_THAT(refused(b), Catch::Contains("active_experts"));
  b = a;
  b.active_experts = 129;
  CHECK_THAT(refused(b), Catch::Contains("active_experts"));
  b = a;
  b.total_rows = 0, b.active_experts = 0; // nothing to do is allowed
  CHECK(refused(b) == "accepted");
  // Nothing to launch returns before touching the device.
  CHECK_NOTHROW(kn::grouped_gemm(b, nullptr));

  CHECK(moesim::validate::fused_refusal(1536, 2048, false).empty());
  CHECK_THAT(moesim::validate::fused_refusal(1535, 2048, false), Catch::Contains("even n"));
  CHECK_THAT(moesim::validate::fused_refusal(1536, 2040, true), Catch::Contains("multiple of 16"));
  CHECK(moesim::validate::parse_grouped_impl("fused") == GroupedImpl::fused);
  CHECK(moesim::validate::parse_grouped_impl("per_expert") == GroupedImpl::per_expert);
  CHECK(std::string(to_string(GroupedImpl::per_expert)) == "per_expert");
  CHECK_THROWS_AS(moesim::validate::parse_grouped_impl("loop"), std::invalid_argument);
}
