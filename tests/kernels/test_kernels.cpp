// Every kernel against its CPU reference on seeded random inputs, outputs poisoned beforehand
// ([gpu]; skipped without a device), and what the launchers and MOESIM_CHECK do before any GPU
// work ([quick]).
//
// Tolerances. A bf16 output is compared in ulps: how many bf16 values lie between the GPU's and the
// reference's. Both compute in fp32 and round once, so where they do the same fp32 operations in
// the same order (residual_add, unpermute with fmaf on both sides) or only move bits (permute,
// embedding, argmax, topk's choice) the results must be identical. Where they differ in fp32 by a
// relative delta (another summation order, the GPU's expf), the two values before rounding lie
// within delta of each other; bf16 values are 2^-8 to 2^-7 apart relative to their size, so for
// delta well under 2^-9 at most one rounding boundary lies between them and they round to the same
// or to adjacent bf16 values: 1 ulp. Each test states its delta.
#include "tests/kernels/gpu_test.hpp"
#include "kernels/kernels.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <tuple>

using namespace moesim::test;
namespace kn = moesim::kernels;
namespace ref = moesim::kernels::ref;
using moesim::Rng;

namespace {

constexpr std::uint64_t seed = 20240611;

} // namespace

TEST_CASE("rmsnorm matches the reference within 1 bf16 ulp", "[gpu]")
{
  require_gpu();
  // delta: only the fp32 sum of squares differs (a tree, maybe with fmas, against a loop). Its
  // terms are >= 0, so each sum is within (dim - 1) * 2^-24 relative of the exact one: 2^-12 at
  // dim 4096, halved by the square root, plus a few fp32 roundings: well under 2^-9.
  // dim 33 takes the one-element path, 8 and 4096 the 16-byte one.
  for (auto [rows, dim] : std::vector<std::pair<int, int>>{{1, 8}, {5, 33}, {64, 4096}}) {
    CAPTURE(rows, dim);
    Rng rng(seed);
    const auto x = random_bf16(rng, static_cast<std::size_t>(rows) * dim, -4, 4);
    const auto w = random_bf16(rng, dim, 0.5f, 1.5f);
    std::vector<bf16_t> want(x.size());
    ref::rmsnorm(x, w, want, rows, dim, 1e-6f);
    DeviceBuffer<bf16_t> dx(x), dw(w), dout(x.size());
    kn::rmsnorm(dx.get(), dw.get(), dout.get(), rows, dim, 1e-6f, nullptr);
    const Mismatch m = compare_bf16(dout.download(), want, 1);
    INFO(m.first);
    CHECK(m.wrong == 0);
  }
}

TEST_CASE("silu_mul matches the reference within 1 bf16 ulp", "[gpu]")
{
  require_gpu();
  // delta: CUDA's expf is within 2 fp32 ulps and glibc's within 1, so 1 + e^-g differs by at most
  // 3 * 2^-24 relative; the division and the product are the same IEEE operations: delta < 2^-20.
  for (auto [rows, inter] : std::vector<std::pair<int, int>>{{1, 8}, {3, 37}, {64, 1408}}) {
    CAPTURE(rows, inter);
    Rng rng(seed);
    const auto in = random_bf16(rng, static_cast<std::size_t>(rows) * 2 * inter, -8, 8);
    std::vector<bf16_t> want(static_cast<std::size_t>(rows) * inter);
    ref::silu_mul(in, want, rows, inter);
    DeviceBuffer<bf16_t> din(in), dout(want.size());
    kn::silu_mul(din.get(), dout.get(), rows, inter, nullptr);
    const Mismatch m = compare_bf16(dout.download(), want, 1);
    INFO(m.first);
    CHECK(m.wrong == 0);
  }
}

TEST_CASE("residual_add matches the reference exactly, also in place", "[gpu]")
{
  require_gpu();
  // The same fp32 addition and the same rounding on both sides: identical bits.
  for (std::int64_t n : {8, 1001, 1 << 16}) {
    CAPTURE(n);
    const auto size = static_cast<std::size_t>(n);
    Rng rng(seed);
    const auto x = random_bf16(rng, size, -100, 100), r = random_bf16(rng, size, -1, 1);
    std::vector<bf16_t> want(size);
    ref::residual_add(x, r, want);
    DeviceBuffer<bf16_t> dx(x), dr(r), dout(size);
    kn::residual_add(dx.get(), dr.get(), dout.get(), n, nullptr);
    Mismatch m = compare_exact(dout.download(), want);
    INFO(m.first);
    CHECK(m.wrong == 0);
    kn::residual_add(dx.get(), dr.get(), dx.get(), n, nullptr); // x += r
    m = compare_exact(dx.download(), want);
    INFO(m.first);
    CHECK(m.wrong == 0);
  }
}

TEST_CASE("topk_softmax picks the reference's experts and weights", "[gpu]")
{
  require_gpu();
  // The choice compares the same fp32 logits under the same total order: identical ids.
  // Weights, delta: expf differs by up to 3 * 2^-24 per term (see silu_mul); the renormalised
  // denominator adds k terms in the same order on both sides, the full one adds `experts` terms in
  // another order, off by at most (experts - 1) * 2^-24 relative (all terms > 0); then one
  // division. So |got - want| <= (experts + 16) * 2^-24 * want covers both.
  struct Case {
    int tokens, experts, k;
    bool renormalize, coarse; // coarse: logits rounded to bf16, so that ties are frequent
  };
  for (const Case c : {Case{1, 8, 2, true, false}, Case{37, 64, 6, false, false}, Case{128, 256, 8, true, true},
                       Case{5, 3, 3, false, true}, Case{19, 384, 8, false, true}}) {
    CAPTURE(c.tokens, c.experts, c.k, c.renormalize, c.coarse);
    Rng rng(seed);
    auto logits = random_floats(rng, static_cast<std::size_t>(c.tokens) * c.experts, -4, 4);
    if (c.coarse)
      for (float& l : logits)
        l = bf16_to_float(float_to_bf16(l));
    const std::size_t slots = static_cast<std::size_t>(c.tokens) * c.k;
    std::vector<std::int32_t> want_ids(slots);
    std::vector<float> want_w(slots);
    ref::topk_softmax(logits, want_ids, want_w, c.tokens, c.experts, c.k, c.renormalize);
    DeviceBuffer<float> dl(logits), dw(slots);
    DeviceBuffer<std::int32_t> dids(slots);
    kn::topk_softmax(dl.get(), dids.get(), dw.get(), c.tokens, c.experts, c.k, c.renormalize, nullptr);
    Mismatch m = compare_exact(dids.download(), want_ids);
    INFO("ids: " << m.first);
    CHECK(m.wrong == 0);
    m = compare_relative(dw.download(), want_w, (c.experts + 16) * 0x1p-24);
    INFO("weights: " << m.first);
    CHECK(m.wrong == 0);
  }
}

TEST_CASE("permute places rows exactly as the reference", "[gpu]")
{
  require_gpu();
  // Only integer counting and copies: identical offsets, rows and bits.
  struct Case {
    int tokens, hidden, k, first_expert, experts, all_experts;
  };
  // The third case is an EP shard (experts 16..31 of 64): most slots are dropped. hidden 13 takes
  // the one-element path; 600 * 8 slots span many 256-slot tiles.
  for (const Case c : {Case{1, 8, 1, 0, 4, 4}, Case{50, 64, 2, 0, 8, 8}, Case{300, 72, 8, 16, 16, 64},
                       Case{33, 13, 4, 0, 5, 5}, Case{600, 256, 8, 0, 128, 128}}) {
    CAPTURE(c.tokens, c.hidden, c.k, c.first_expert, c.experts);
    Rng rng(seed);
    const std::size_t slots = static_cast<std::size_t>(c.tokens) * c.k;
    const auto x = random_bf16(rng, static_cast<std::size_t>(c.tokens) * c.hidden, -1, 1);
    const auto ids = random_ints(rng, slots, 0, c.all_experts - 1);
    std::vector<bf16_t> want(slots * c.hidden);
    std::vector<std::int32_t> want_dest(slots), want_off(c.experts + 1);
    ref::permute(x, ids, want, want_dest, want_off, c.tokens, c.hidden, c.k, c.first_expert, c.experts);
    DeviceBuffer<bf16_t> dx(x), dout(want.size());
    DeviceBuffer<std::int32_t> dids(ids), ddest(slots), doff(c.experts + 1);
    kn::permute(dx.get(), dids.get(), dout.get(), ddest.get(), doff.get(), c.tokens, c.hidden, c.k, c.first_expert,
                c.experts, nullptr);
    Mismatch m = compare_exact(doff.download(), want_off);
    INFO("offsets: " << m.first);
    CHECK(m.wrong == 0);
    m = compare_exact(ddest.download(), want_dest);
    INFO("dest_row: " << m.first);
    CHECK(m.wrong == 0);
    // Rows past expert_offsets[experts] are not written: compare the written ones.
    const std::size_t written = static_cast<std::size_t>(want_off.back()) * c.hidden;
    auto got = dout.download();
    got.resize(written);
    want.resize(written);
    m = compare_exact(got, want);
    INFO("rows: " << m.first);
    CHECK(m.wrong == 0);
  }
}

TEST_CASE("unpermute matches the reference exactly", "[gpu]")
{
  require_gpu();
  // Both sides accumulate the k products in slot order with a correctly rounded fused
  // multiply-add (fmaf, std::fma) and round once: identical bits.
  struct Case {
    int tokens, hidden, k, first_expert, experts;
  };
  for (const Case c : {Case{1, 8, 1, 0, 4}, Case{40, 64, 4, 0, 16}, Case{70, 100, 8, 8, 8}, Case{9, 13, 2, 0, 3}}) {
    CAPTURE(c.tokens, c.hidden, c.k, c.first_expert, c.experts);
    Rng rng(seed);
    const std::size_t slots = static_cast<std::size_t>(c.tokens) * c.k;
    // Routing as permute would see it (some slots dropped when first_expert > 0), then expert
    // outputs for every row permute could have written.
    const auto x = random_bf16(rng, static_cast<std::size_t>(c.tokens) * c.hidden, -1, 1);
    const auto ids = random_ints(rng, slots, 0, c.first_expert + c.experts - 1);
    std::vector<bf16_t> rows(slots * c.hidden);
    std::vector<std::int32_t> dest(slots), off(c.experts + 1);
    ref::permute(x, ids, rows, dest, off, c.tokens, c.hidden, c.k, c.first_expert, c.experts);
    const auto expert_out = random_bf16(rng, slots * c.hidden, -2, 2);
    const auto w = random_floats(rng, slots, 0, 1);
    std::vector<bf16_t> want(static_cast<std::size_t>(c.tokens) * c.hidden);
    ref::unpermute(expert_out, dest, w, want, c.tokens, c.hidden, c.k);
    DeviceBuffer<bf16_t> deo(expert_out), dout(want.size());
    DeviceBuffer<std::int32_t> ddest(dest);
    DeviceBuffer<float> dw(w);
    kn::unpermute(deo.get(), ddest.get(), dw.get(), dout.get(), c.tokens, c.hidden, c.k, nullptr);
    const Mismatch m = compare_exact(dout.download(), want);
    INFO(m.first);
    CHECK(m.wrong == 0);
  }
}

TEST_CASE("embedding matches the reference exactly, zeros outside the shard", "[gpu]")
{
  require_gpu();
  for (auto [tokens, hidden, first_id, rows] :
       std::vector<std::tuple<int, int, int, int>>{{1, 8, 0, 16}, {100, 64, 1000, 50}, {17, 13, 5, 9}}) {
    CAPTURE(tokens, hidden, first_id, rows);
    Rng rng(seed);
    const auto table = random_bf16(rng, static_cast<std::size_t>(rows) * hidden, -1, 1);
    // ids a little beyond the shard on both sides, so that some rows are zeros
    const auto ids = random_ints(rng, tokens, first_id - 3, first_id + rows + 2);
    std::vector<bf16_t> want(static_cast<std::size_t>(tokens) * hidden);
    ref::embedding(ids, table, want, tokens, hidden, first_id, rows);
    DeviceBuffer<std::int32_t> dids(ids);
    DeviceBuffer<bf16_t> dtable(table), dout(want.size());
    kn::embedding(dids.get(), dtable.get(), dout.get(), tokens, hidden, first_id, rows, nullptr);
    const Mismatch m = compare_exact(dout.download(), want);
    INFO(m.first);
    CHECK(m.wrong == 0);
  }
}

TEST_CASE("argmax matches the reference exactly, with ties, NaN and -inf", "[gpu]")
{
  require_gpu();
  // A vocabulary of 151936 (Qwen3) spans many passes of a block.
  for (auto [rows, cols] : std::vector<std::pair<int, int>>{{1, 1}, {7, 1000}, {4, 151936}}) {
    CAPTURE(rows, cols);
    Rng rng(seed);
    auto x = random_floats(rng, static_cast<std::size_t>(rows) * cols, -10, 10);
    if (rows >= 4) {
      // Row 0: its maximum copied to the last column (the first copy must win). Row 1: NaNs in
      // two places (the first wins). Row 2: all -inf (column 0).
      auto row = [&](int r) { return x.begin() + static_cast<std::ptrdiff_t>(r) * cols; };
      *(row(1) - 1) = *std::max_element(row(0), row(1));
      *(row(1) + cols / 3) = *(row(1) + cols / 2) = std::numeric_limits<float>::quiet_NaN();
      std::fill(row(2), row(3), -std::numeric_limits<float>::infinity());
    }
    std::vector<std::int32_t> want(rows);
    std::vector<float> want_v(rows);
    ref::argmax(x, want, want_v, rows, cols);
    DeviceBuffer<float> dx(x), dv(rows);
    DeviceBuffer<std::int32_t> didx(rows);
    kn::argmax(dx.get(), didx.get(), dv.get(), rows, cols, nullptr);
    Mismatch m = compare_exact(didx.download(), want);
    INFO("index: " << m.first);
    CHECK(m.wrong == 0);
    m = compare_exact(dv.download(), want_v);
    INFO("value: " << m.first);
    CHECK(m.wrong == 0);
  }
}

TEST_CASE("launchers refuse bad sizes before touching the GPU", "[quick]")
{
  // No device needed: the checks come first, and nothing is dereferenced.
  CHECK_THROWS_WITH(kn::topk_softmax(nullptr, nullptr, nullptr, 4, 16, 9, true, nullptr),
                    "kernels::topk_softmax: k must be in [1, 8], got 9");
  CHECK_THROWS_WITH(kn::topk_softmax(nullptr, nullptr, nullptr, 4, 2, 3, true, nullptr),
                    "kernels::topk_softmax: k must be in [1, 2], got 3");
  CHECK_THROWS_WITH(kn::rmsnorm(nullptr, nullptr, nullptr, 1, 0, 1e-6f, nullptr),
                    "kernels::rmsnorm: dim must be >= 1, got 0");
  CHECK_THROWS_AS(kn::rmsnorm(nullptr, nullptr, nullptr, 1, 8, -1.0f, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kn::silu_mul(nullptr, nullptr, -1, 8, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kn::residual_add(nullptr, nullptr, nullptr, -1, nullptr), std::invalid_argument);
  CHECK_THROWS_WITH(kn::permute(nullptr, nullptr, nullptr, nullptr, nullptr, 4, 8, 2, 0, 0, nullptr),
                    "kernels::permute: experts must be >= 1, got 0");
  CHECK_THROWS_AS(kn::permute(nullptr, nullptr, nullptr, nullptr, nullptr, 1 << 30, 8, 8, 0, 4, nullptr),
                  std::invalid_argument); // tokens * k overflows int32
  CHECK_THROWS_AS(kn::unpermute(nullptr, nullptr, nullptr, nullptr, 4, 8, 0, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kn::embedding(nullptr, nullptr, nullptr, 4, 8, 0, 0, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(kn::argmax(nullptr, nullptr, nullptr, 4, 0, nullptr), std::invalid_argument);
  // Nothing to do: no launch (a zero-block grid would be a launch error).
  CHECK_NOTHROW(kn::rmsnorm(nullptr, nullptr, nullptr, 0, 8, 1e-6f, nullptr));
  CHECK_NOTHROW(kn::residual_add(nullptr, nullptr, nullptr, 0, nullptr));
  CHECK_NOTHROW(kn::argmax(nullptr, nullptr, nullptr, 0, 8, nullptr));
}

TEST_CASE("MOESIM_CHECK throws with file, line and the library's message", "[quick]")
{
  // Error names and strings are tables in each library: no device needed.
  CHECK_NOTHROW(MOESIM_CHECK(cudaSuccess));
  std::string what;
  const int line = __LINE__; try { MOESIM_CHECK(cudaErrorInvalidValue); } catch (const std::runtime_error& e) { what = e.what(); }
  CHECK_THAT(what, Catch::Contains("test_kernels.cpp:" + std::to_string(line) + ": cudaErrorInvalidValue failed: "));
  CHECK_THROWS_WITH(MOESIM_CHECK(cudaErrorInvalidValue), Catch::EndsWith("cudaErrorInvalidValue: invalid argument"));
  CHECK_THROWS_AS(MOESIM_CHECK(CUBLAS_STATUS_NOT_INITIALIZED), std::runtime_error);
  CHECK_THROWS_WITH(MOESIM_CHECK(CUBLAS_STATUS_NOT_INITIALIZED), Catch::Contains("CUBLAS_STATUS_NOT_INITIALIZED"));
  CHECK_THROWS_WITH(MOESIM_CHECK(ncclInvalidArgument), Catch::Contains("ncclInvalidArgument: invalid argument"));
  CHECK_NOTHROW(MOESIM_CHECK(ncclSuccess));
}
