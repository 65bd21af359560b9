// The prefill_kernel_tiles form (core/perf/forms/prefill_kernel_tiles.cpp) against the harness kernel's
// prefill launch (kernels/attention.cu row_tiles and its grid, attention_gqa.cu's prefill variants):
// each expected number derived in a comment, then asserted.
#include "core/perf/forms.hpp"

#include "form_refit.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace moesim::perf;

namespace {

// 132 SMs at round rates: 1e12 FLOP/s and 1e12 scores/s an SM, a launch of 2 us, 0.1 us a wave of blocks,
// and an HBM too fast to bind.
FormParams gpu()
{
  FormParams p;
  p.kind = FormKind::prefill_kernel_tiles;
  p.sms = 132;
  p.floor_s = 2e-6;
  p.unit_s = 0.1e-6;
  p.flops = 132e12;
  p.score_rate = 132e12;
  p.bandwidth = 1e20;
  return p;
}

} // namespace

TEST_CASE("prefill_kernel_tiles: equal work at different heads costs the same, as the kernel's row tiles make it",
          "[quick][perf]")
{
  const FormParams p = gpu();
  CHECK_NOTHROW(check_form(p));
  CHECK(form_dims(FormKind::prefill_kernel_tiles) == 7);
  // A 64 x 64 tile at head dims 64: 4096 * (2 * 128 / 1e12 + 1 / 1e12) = 4096 * 257e-12 = 1.052672e-6 s.
  const double tile64 = 1.052672e-6;
  // Round 15's e24 prefill: 2 sequences of 1,280, 10 query heads over 2 KV heads of 64. Group 5: rows
  // 1280 * 5 = 6,400 per KV head, ceil(6400 / 64) = 100 row tiles, blocks 100 * 2 * 2 = 400. A tile's
  // rows span 64 / 5 = 12.8 positions: mean keys (1280 + 12.8) / 2 = 646.4 -> ceil(646.4 / 64) = 11
  // tiles; the last row tile 1280 keys, 20 tiles. t_math = max(400 * 11 / 132, 20) = 33.333333 tiles;
  // waves ceil(400 / 132) = 4: t = 2e-6 + 4 * 0.1e-6 + 33.333333 * 1.052672e-6 = 37.489067e-6 s.
  const double e24 = form_seconds(p, {64, 64, 2, 10, 2, 0, 1280});
  CHECK(e24 == Approx(2.4e-6 + 4400.0 / 132 * tile64).epsilon(1e-9));
  CHECK(e24 == Approx(37.489067e-6).epsilon(1e-7));
  // The records at equal work: one sequence of 2,048 at 8 / 1 heads of 64: group 8, 16,384 rows, 256
  // row tiles, 256 blocks; 8 positions a tile: mean keys (2048 + 8) / 2 = 1028 -> 17 tiles, the last
  // 32: max(256 * 17 / 132 = 32.969697, 32) tiles, 2 waves: 2.2e-6 + 32.969697 * 1.052672e-6 s.
  const double r81 = form_seconds(p, {64, 64, 1, 8, 1, 0, 2048});
  CHECK(r81 == Approx(2.2e-6 + 256.0 * 17 / 132 * tile64).epsilon(1e-9));
  // 8 / 8 heads: group 1, 2,048 rows a KV head, 32 row tiles x 8 = 256 blocks, 64 positions a tile:
  // mean (2048 + 64) / 2 = 1056 -> ceil(16.5) = 17 tiles: the same time.
  CHECK(form_seconds(p, {64, 64, 8, 8, 1, 0, 2048}) == Approx(r81).epsilon(1e-12));
  // So the e24 costs 1.3% more than the records (measured on the H100: 83.9 us against 81.5 and 84.5),
  // where prefill_tiles's one 256-row tile per query head priced it at 768 / 1,152 of them.
  CHECK(e24 / r81 == Approx((2.4e-6 + 4400.0 / 132 * tile64) / (2.2e-6 + 256.0 * 17 / 132 * tile64)).epsilon(1e-12));
  CHECK(e24 / r81 > 1.0);
  CHECK(e24 / r81 < 1.02);
}

TEST_CASE("prefill_kernel_tiles: the causal imbalance and the wide-value tiles", "[quick][perf]")
{
  const FormParams p = gpu();
  // One sequence of 4,096 at one head of 128: 64 row tiles, 64 blocks. The mean block streams
  // (4096 + 64) / 2 = 2080 keys, ceil(32.5) = 33 tiles: 64 * 33 / 132 = 16 tiles a SM, but the last
  // block streams all 64 tiles alone: t_math = 64 tiles of 4096 * (2 * 256 + 1) / 1e12 = 2.101248e-6 s.
  CHECK(form_seconds(p, {128, 128, 1, 1, 1, 0, 4096}) == Approx(2.1e-6 + 64 * 2.101248e-6).epsilon(1e-9));
  // Round 13's hd128-kv4: 896 tokens, 40 query heads over 4 KV heads of 128. Group 10: 8,960 rows,
  // 140 row tiles x 4 = 560 blocks; 6.4 positions a tile: mean (896 + 6.4) / 2 = 451.2 -> 8 tiles, the
  // last 14: max(560 * 8 / 132 = 33.939394, 14); waves ceil(560 / 132) = 5.
  CHECK(form_seconds(p, {128, 128, 4, 40, 1, 0, 896}) == Approx(2.5e-6 + 560.0 * 8 / 132 * 2.101248e-6).epsilon(1e-9));
  // Values wider than 256 take 32-row tiles, and above 384, 32 keys: head dims 512, one head, 1,024
  // tokens: 32 blocks, the last streams 32 tiles of 32 x 32 x (2 * 1024 + 1) / 1e12 = 2.098176e-6 s
  // (the mean, (1024 + 32) / 2 = 528 keys, 17 tiles: 32 * 17 / 132 = 4.1).
  CHECK(form_seconds(p, {512, 512, 1, 1, 1, 0, 1024}) == Approx(2.1e-6 + 32 * 2.098176e-6).epsilon(1e-9));
  // Cached context: every key tile of the prompt's blocks starts after it. 1,024 cached, 64 prompt
  // tokens at one head of 128: 1 block of 1024 + 64 = 1088 keys (mean and last alike, 17 tiles).
  CHECK(form_seconds(p, {128, 128, 1, 1, 1, 1024, 64}) == Approx(2.1e-6 + 17 * 2.101248e-6).epsilon(1e-9));
  // The HBM binds where the math is small: the same op at 1e6 B/s reads (1088 * 256 + 64 * 256) * 2 B
  // = 589,824 B: 0.589824 s.
  FormParams slow = p;
  slow.bandwidth = 1e6;
  CHECK(form_seconds(slow, {128, 128, 1, 1, 1, 1024, 64}) == Approx(2.1e-6 + 0.589824).epsilon(1e-9));
}

TEST_CASE("prefill_kernel_tiles: the fitter recovers the rates from records of the form", "[quick][perf]")
{
  FormParams truth = gpu();
  truth.bandwidth = 3e12;
  truth.flops = 300e12;
  truth.score_rate = 40e12;
  std::vector<FitPoint> pts;
  for (double prompt : {128, 512, 2048, 8192})
    for (double q : {8, 32, 64})
      for (double hd : {64, 128})
        for (double batch : {1, 4})
          pts.push_back({{hd, hd, 8, q, batch, 0, prompt}, {}, form_seconds(truth, {hd, hd, 8, q, batch, 0, prompt})});
  FormParams given = truth;
  CHECK(moesim::test::refit(given, pts).worst < 0.02);
}
