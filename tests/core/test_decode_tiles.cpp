// The decode_tiles form (core/perf/forms/decode_tiles.cpp) against the harness kernel's launch rule
// (kernels/attention.cu attention_splits, attention_kernel.cuh smem_layout, attention_gqa.cu and
// attention_mla.cu's variants): each expected number derived in a comment, then asserted.
#include "core/perf/forms.hpp"
#include "core/perf/op_model.hpp"
#include "core/perf/sm_limits.hpp"

#include "form_refit.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace moesim::perf;

namespace {

// An H200 (compute capability 9.0, 132 SMs) with round rates.
FormParams h200(bool latent = false)
{
  FormParams p;
  p.kind = FormKind::decode_tiles;
  p.sms = 132;
  p.bytes_w = 2;
  p.shared_kv = latent;
  const SmLimits sm = sm_limits("9.0");
  p.smem_per_sm = sm.smem_per_sm;
  p.smem_per_block = sm.smem_per_block;
  p.smem_reserved = sm.smem_reserved;
  p.threads_per_sm = sm.threads_per_sm;
  p.floor_s = 3e-6;
  p.unit_s = 0.5e-6;
  p.combine_s = 1e-6;
  p.bandwidth = 4.8e12;
  p.tile_bandwidth = 20e9;
  p.tile_s = 1e-6;
  p.flops = 1e18; // never the limit unless a case says
  return p;
}

} // namespace

TEST_CASE("sm_limits: an SM's shared memory and threads by compute capability", "[quick][perf]")
{
  // Hopper 9.0: 228 KB an SM, 227 KB a block, 1 KB reserved a block, 2048 threads.
  const SmLimits h = sm_limits("9.0");
  CHECK(h.smem_per_sm == 233472);
  CHECK(h.smem_per_block == 232448);
  CHECK(h.smem_reserved == 1024);
  CHECK(h.threads_per_sm == 2048);
  CHECK(sm_limits("90").smem_per_sm == 233472); // gpus.yaml's spelling
  // Ampere 8.6: 100 KB, 99 KB a block, 1536 threads; Blackwell 10.0 as Hopper.
  CHECK(sm_limits("8.6").smem_per_block == 101376);
  CHECK(sm_limits("8.6").threads_per_sm == 1536);
  CHECK(sm_limits("10.0").smem_per_sm == 233472);
  CHECK_FALSE(sm_limits("").known());
  CHECK_FALSE(sm_limits("7.0").known());
  CHECK_FALSE(sm_limits("nine").known());
  // A decode_tiles form without the SM's limits cannot count resident blocks: refused, by name.
  FormParams p = h200();
  check_form(p);
  p.smem_per_sm = 0;
  CHECK_THROWS_WITH(check_form(p), "smem_per_sm must be positive for decode_tiles");
}

TEST_CASE("decode_tiles: the kernel's tiles, splits and resident blocks", "[quick][perf]")
{
  const FormParams p = h200();
  // GLM-4.5 decode at batch 80: 96 query heads over 8 KV heads (group 12), head dims 128, context 6145.
  // Group 12 <= 16: the decode tile, 16 rows x 64 keys, 4 warps (128 threads). Shared memory
  // (row strides 128 + 8 = 136): Q 16*136*2 = 4352, K 64*136*2 = 17408, V 17408, scores 16*(64+4)*4 =
  // 4352, probabilities 16*(64+8)*2 = 2304, row stats 16*3*4 = 192: 46016 B.
  // Units 1 row tile * 8 KV heads * 80 = 640 >= 2 * 132: no split; 640 blocks, 4.85 per SM.
  // Resident: min(floor(233472 / (46016 + 1024)) = 4, 2048 / 128 = 16) = 4.
  DecodeTiling t = decode_tiling(p, 128, 128, 8, 96, 80, 6145);
  CHECK(t.rows == 16);
  CHECK(t.keys == 64);
  CHECK(t.threads == 128);
  CHECK(t.smem == 46016);
  CHECK(t.units == 640);
  CHECK(t.splits == 1);
  CHECK(t.chunk == 6208); // ceil(6145 / 64) = 97 tiles
  CHECK(t.blocks == 640);
  CHECK(t.blocks / p.sms == Approx(4.8485).epsilon(1e-4));
  CHECK(t.resident == 4);

  // Head dim 64: Q 16*72*2 = 2304, K and V 64*72*2 = 9216 each, 4352 + 2304 + 192: 27584 B ->
  // floor(233472 / 28608) = 8 resident. Head dim 256: 16*264*2 = 8448, K and V 33792 each, 6848: 82880
  // B -> floor(233472 / 83904) = 2.
  CHECK(decode_tiling(p, 64, 64, 8, 64, 40, 8193).smem == 27584);
  CHECK(decode_tiling(p, 64, 64, 8, 64, 40, 8193).resident == 8);
  CHECK(decode_tiling(p, 256, 256, 4, 32, 8, 4096).resident == 2);

  // A group of 24 (192 / 8): 64 rows (one warp per 16 rows, softmax in registers, no score buffers):
  // Q 64*136*2 = 17408, K and V 17408 each: 52224 B -> floor(233472 / 53248) = 4; one row tile.
  t = decode_tiling(p, 128, 128, 8, 192, 2, 4096);
  CHECK(t.rows == 64);
  CHECK(t.smem == 52224);
  CHECK(t.resident == 4);
  // Units 1 * 8 * 2 = 16 < 264: splits = min(ceil(4 * 132 / 16) = 33, ceil(4096 / 256) = 16, 64) = 16,
  // chunk ceil(4096 / 16) = 256 keys, 4 tiles.
  CHECK(t.units == 16);
  CHECK(t.splits == 16);
  CHECK(t.chunk == 256);

  // The split rule's edges: 263 units split (ceil(528 / 263) = 3), 264 do not; 256 keys never split.
  CHECK(decode_tiling(p, 128, 128, 263, 263, 1, 4096).splits == 2 + 1);
  CHECK(decode_tiling(p, 128, 128, 264, 264, 1, 4096).splits == 1);
  CHECK(decode_tiling(p, 128, 128, 1, 1, 1, 256).splits == 1);
  // and 64 at most: one unit over 32768 keys: min(528, 128, 64).
  CHECK(decode_tiling(p, 128, 128, 1, 1, 1, 32768).splits == 64);

  // Values of 512 (bucket 512) at d_qk 576 on an 8.6 SM (99 KB a block): the 64-key decode tile needs
  // 16*584*2 + 64*584*2 + 64*520*2 + 16*68*4 + 16*72*2 + 192 = 166848 B, too much, so the 32-key variant:
  // 18688 + 37376 + 33280 + 16*36*4 + 16*40*2 + 192 = 93120 B, floor(102400 / 94144) = 1 resident.
  FormParams a = p;
  const SmLimits sm86 = sm_limits("8.6");
  a.smem_per_sm = sm86.smem_per_sm, a.smem_per_block = sm86.smem_per_block, a.threads_per_sm = sm86.threads_per_sm;
  t = decode_tiling(a, 576, 512, 1, 8, 1, 4096);
  CHECK(t.keys == 32);
  CHECK(t.smem == 93120);
  CHECK(t.resident == 1);
}

TEST_CASE("decode_tiles: HBM-bound full rounds and a partial last round bound by one block's stream",
          "[quick][perf]")
{
  const FormParams p = h200();
  // GLM-4.5 b80 (the tiling above): 640 blocks of 6208 keys * (128 + 128) * 2 B = 3178496 B each.
  // One block alone: 3178496 / 20e9 + 97 tiles * 1e-6 = 1.589248e-4 + 9.7e-5 = 2.559248e-4 s.
  // 4 resident * 132 = 528 at once: floor(640 / 528) = 1 full round, at
  // max(2.559248e-4, 528 * 3178496 / 4.8e12 = 3.4963456e-4) = 3.4963456e-4 s (the HBM binds); the last
  // 112 blocks: max(2.559248e-4, 112 * 3178496 / 4.8e12 = 7.4165e-5) = 2.559248e-4 s (their own stream).
  // Math: 5 blocks an SM * 6208 * 2 * 16 rows * 256 / (1e18 / 132) = 3.4e-8 s, below.
  // t = 3e-6 + 5 * 0.5e-6 + 3.4963456e-4 + 2.559248e-4 = 6.1105936e-4 s.
  CHECK(form_seconds(p, {128, 128, 8, 96, 80, 6145}) == Approx(6.1105936e-4).epsilon(1e-12));
  // The same at 64 query heads (group 8, still one 16-row tile): the padded rows make it cost the same.
  CHECK(form_seconds(p, {128, 128, 8, 64, 80, 6145}) == form_seconds(p, {128, 128, 8, 96, 80, 6145}));
  // decode_tiles_staggered: the full round's blocks finish spread over [2.559248e-4, 3.4963456e-4], and the
  // 112 start as the first 112 of them finish, (3.4963456e-4 - 2.559248e-4) * (1 - 112 / 528) =
  // 7.38319321e-5 s before the round ends: 3.4963456e-4 - 7.38319321e-5 + 2.559248e-4 = 5.31727428e-4 s,
  // above the HBM's 640 * 3178496 / 4.8e12 = 4.2379947e-4 s.
  // t = 3e-6 + 5 * 0.5e-6 + 5.31727428e-4 = 5.37227428e-4 s.
  FormParams q = p;
  q.kind = FormKind::decode_tiles_staggered;
  CHECK(form_seconds(q, {128, 128, 8, 96, 80, 6145}) == Approx(5.37227428e-4).epsilon(1e-8));
}

TEST_CASE("decode_tiles_staggered: a partial round of a few blocks hides in the last full round's stagger",
          "[quick][perf]")
{
  FormParams p = h200();
  p.kind = FormKind::decode_tiles_staggered;
  // Round 16's Qwen3-235B graph b7 decode (64 query heads over 4 KV heads of 128, context 12801), here
  // on the H200 of h200(): group 16, one 16-row tile: 4 * 7 = 28 units, split min(ceil(528 / 28) = 19,
  // ceil(12801 / 256) = 51, 64) = 19 ways; chunk ceil(ceil(12801 / 19) = 674 / 64) * 64 = 704 keys;
  // 28 * 19 = 532 blocks, 4 resident an SM (46016 B each): 528 at once, then 4.
  // A block: 704 * 256 * 2 = 360448 B, alone 360448 / 20e9 + 11 tiles * 1e-6 = 2.90224e-5 s.
  // The full round: max(2.90224e-5, 528 * 360448 / 4.8e12 = 3.964928e-5) = 3.964928e-5 s (HBM).
  // The 4 left start as the first 4 of the round finish, (3.964928e-5 - 2.90224e-5) * (1 - 4 / 528)
  // = 1.05463733e-5 s before its end, and take one block's 2.90224e-5 s: 5.81253067e-5 s (the HBM's
  // 532 * 360448 / 4.8e12 = 3.9949653e-5 s is below). Synchronous rounds: 3.964928e-5 + 2.90224e-5
  // = 6.867168e-5 s, 18% more for 4 blocks of 532 (the round-16 miss: +41% on decode attention).
  // Combine: 1e-6 + 19 splits * 1 column * 0 (split_s unset) + 7 * 64 * 19 * 130 * 8 / 4.8e12
  // = 1e-6 + 1.8442667e-6 = 2.8442667e-6 s. Blocks an SM ceil(532 / 132) = 5: 5 * 0.5e-6.
  // t = 3e-6 + 2.5e-6 + 5.81253067e-5 + 2.8442667e-6 = 6.64695733e-5 s.
  CHECK(decode_tiling(p, 128, 128, 4, 64, 7, 12801).blocks == 532);
  CHECK(decode_tiling(p, 128, 128, 4, 64, 7, 12801).chunk == 704);
  CHECK(form_seconds(p, {128, 128, 4, 64, 7, 12801}) == Approx(6.64695733e-5).epsilon(1e-8));
  // decode_tiles (the default) prices the 4 as a round after the full one ends:
  // t = 3e-6 + 2.5e-6 + 6.867168e-5 + 2.8442667e-6 = 7.70159467e-5 s.
  FormParams sync = p;
  sync.kind = FormKind::decode_tiles;
  CHECK(form_seconds(sync, {128, 128, 4, 64, 7, 12801}) == Approx(7.70159467e-5).epsilon(1e-8));
  // No full round before it (B <= R): one round of its own blocks, unchanged. At
  // batch 4: 16 units, min(ceil(528 / 16) = 33, 51, 64) = 33 splits, chunk ceil(388 / 64) * 64 = 448,
  // 528 blocks: exactly one full round, no partial one, nothing staggered:
  // max(448 * 512 / 20e9 + 7e-6 = 1.84688e-5, 528 * 229376 / 4.8e12 = 2.5231360e-5) = 2.523136e-5 s.
  const DecodeTiling one = decode_tiling(p, 128, 128, 4, 64, 4, 12801);
  CHECK(one.blocks == 528);
  const double combine = 1e-6 + 4 * 64 * 33 * 130 * 8 / 4.8e12;
  CHECK(form_seconds(p, {128, 128, 4, 64, 4, 12801}) ==
        Approx(3e-6 + 4 * 0.5e-6 + 2.523136e-5 + combine).epsilon(1e-8));
}

TEST_CASE("decode_tiles: MLA reads the latent once per 32-head row tile and splits the context", "[quick][perf]")
{
  FormParams p = h200(true);
  p.flops = 100e12;
  // DeepSeek-V3 decode at batch 6: 128 heads over the latent (576 / 512), context 3073.
  // Latent tile 32 rows x 32 keys, 256 threads; shared memory Q and K 32*584*2 = 37376 each, scores
  // 32*36*4 = 4608, probabilities 32*40*2 = 2560, stats 384: 82304 B -> min(floor(233472 / 83328) = 2,
  // 2048 / 256 = 8) = 2 resident. Units ceil(128 / 32) = 4 * 1 * 6 = 24; splits min(ceil(528 / 24) =
  // 22, ceil(3073 / 256) = 13, 64) = 13; chunk ceil(ceil(3073 / 13) = 237 / 32) * 32 = 256; 312 blocks,
  // ceil(312 / 132) = 3 an SM.
  const DecodeTiling t = decode_tiling(p, 576, 512, 1, 128, 6, 3073);
  CHECK(t.smem == 82304);
  CHECK(t.resident == 2);
  CHECK(t.units == 24);
  CHECK(t.splits == 13);
  CHECK(t.chunk == 256);
  // A block: 256 * 576 * 2 B = 294912 B at 20e9 + 8 tiles * 1e-6 = 2.27456e-5 s; 264 at once read
  // 264 * 294912 / 4.8e12 = 1.622e-5 s, less: both rounds (264, then 48) take 2.27456e-5 s: t_mem
  // 4.54912e-5 s. Math: 3 * 256 * 2 * 32 * (576 + 512) / (100e12 / 132) = 7.059013632e-5 s, the larger.
  // Combine: 1e-6 + 6 * 128 * 13 * (512 + 2) * 8 B / 4.8e12 = 1e-6 + 8.55296e-6.
  // t = 3e-6 + 3 * 0.5e-6 + 7.059013632e-5 + 9.55296e-6 = 8.464309632e-5 s.
  CHECK(form_seconds(p, {576, 512, 1, 128, 6, 3073}) == Approx(8.464309632e-5).epsilon(1e-12));
}

TEST_CASE("decode_tiles: the combine sums each value column over the splits in series", "[quick][perf]")
{
  // attention.cu combine_kernel: one 128-thread block per output row; each thread sums its
  // ceil(d_v / 128) value columns over the splits, one dependent load after another: the term is
  // splits * ceil(d_v / 128) * split_s, on top of everything the form had (split_s 0: unchanged).
  FormParams p = h200(true);
  p.flops = 100e12;
  FormParams q = p;
  q.split_s = 0.2e-6;
  // DeepSeek-V2-Lite decode (round 15) at batch 3: 16 heads over the latent (576 / 512), context 9729.
  // Units ceil(16 / 32) = 1 * 1 * 3 = 3; splits min(ceil(528 / 3) = 176, ceil(9729 / 256) = 39, 64) = 39.
  // The combine's serial term: 39 * ceil(512 / 128) = 4 * 0.2e-6 = 3.12e-5 s.
  CHECK(decode_tiling(p, 576, 512, 1, 16, 3, 9729).splits == 39);
  CHECK(form_seconds(q, {576, 512, 1, 16, 3, 9729}) - form_seconds(p, {576, 512, 1, 16, 3, 9729}) ==
        Approx(3.12e-5).epsilon(1e-9));
  // GQA 18 / 2 at head dims 128, batch 3, context 6657 (the invented e28): group 9 -> 16 rows; units
  // 1 * 2 * 3 = 6; splits min(ceil(528 / 6) = 88, ceil(6657 / 256) = 27, 64) = 27; ceil(128 / 128) = 1
  // column a thread: 27 * 0.2e-6 = 5.4e-6 s.
  FormParams g = h200(), g2 = h200();
  g2.split_s = 0.2e-6;
  CHECK(decode_tiling(g, 128, 128, 2, 18, 3, 6657).splits == 27);
  CHECK(form_seconds(g2, {128, 128, 2, 18, 3, 6657}) - form_seconds(g, {128, 128, 2, 18, 3, 6657}) ==
        Approx(5.4e-6).epsilon(1e-9));
  // Head dims 64 at the same launch: still one column a thread (ceil(64 / 128) = 1): 5.4e-6 s again.
  CHECK(form_seconds(g2, {64, 64, 2, 18, 3, 6657}) - form_seconds(g, {64, 64, 2, 18, 3, 6657}) ==
        Approx(5.4e-6).epsilon(1e-9));
  // No split (GLM-4.5 at batch 80: 640 units >= 264): no combine kernel, no term.
  CHECK(form_seconds(g2, {128, 128, 8, 96, 80, 6145}) == form_seconds(g, {128, 128, 8, 96, 80, 6145}));
  // A calibration written before the term (split_s absent, so 0) is still a valid decode_tiles form.
  CHECK_NOTHROW(check_form(g));
}

TEST_CASE("decode_tiles: the fitter recovers the rates and never leaves a rate unbounded", "[quick][perf]")
{
  FormParams truth = h200();
  truth.flops = 150e12;
  // (no serial combine term: split_s is fitted last, with the other terms held; its own case below)
  std::vector<FitPoint> pts;
  for (double b : {1, 4, 16, 64, 160})
    for (double ctx : {1024, 4096, 16384})
      for (double q : {8, 32, 64}) // groups 1, 4 and 8 over 8 KV heads
        for (double hd : {64, 128})
          pts.push_back({{hd, hd, 8, q, b, ctx}, {}, form_seconds(truth, {hd, hd, 8, q, b, ctx})});
  FormParams given = truth;
  const auto [fit, worst] = moesim::test::refit(given, pts);
  CHECK(worst < 0.02);
  CHECK(fit.bandwidth == Approx(4.8e12).epsilon(0.05));
  CHECK(fit.tile_bandwidth == Approx(20e9).epsilon(0.05));
  // The math never binds on these records (16 rows of at most 256 columns): flops is only known to be
  // above what would bind, and comes down to the least rate that fits as well, not to the scan's
  // edge or beyond (an unphysical 1e16 would read as a free term).
  CAPTURE(fit.floor_s, fit.unit_s, fit.bandwidth, fit.tile_bandwidth, fit.tile_s, fit.combine_s, fit.flops);
  CHECK(fit.flops <= 150e12 * 1.01);
  CHECK(fit.flops > 1e12);

  // Records where the HBM never binds (one sequence, few blocks): the bandwidth is bounded the same way,
  // at or below the true one, where an unbounded fit drifts away (the 3.4e13 B/s of the diagnosis).
  std::vector<FitPoint> few;
  for (double ctx : {1024, 2048, 4096, 8192, 16384, 32768})
    for (double q : {8, 16})
      for (double hd : {64, 128})
        few.push_back({{hd, hd, 1, q, 1, ctx}, {}, form_seconds(truth, {hd, hd, 1, q, 1, ctx})});
  const FormParams f2 = fit_form(given, few);
  CHECK(f2.bandwidth <= 4.8e12 * 1.01);
  CHECK(std::isfinite(f2.bandwidth));
}

TEST_CASE("decode_tiles: the grid corrects the form only for a head configuration it measured", "[quick][perf]")
{
  // Records at one head configuration (128/128, 8 KV heads, 64 query heads), each 10% slower than the
  // form: the grid's ratio there is 1.1.
  const FormParams p = h200();
  std::vector<FitPoint> pts;
  for (double b : {8, 32})
    for (double ctx : {2048, 8192})
      pts.push_back({{128, 128, 8, 64, b, ctx}, {}, 1.1 * form_seconds(p, {128, 128, 8, 64, b, ctx})});
  OpModel m;
  m.form = p;
  std::vector<GridPoint> grid;
  for (const FitPoint& q : pts)
    grid.push_back({q.dims, q.seconds, form_seconds(p, q.dims)});
  m.grid = ShapeGrid(grid);
  // The same heads at a context past the grid: the form times the clamped ratio, 1.1.
  const std::vector<double> same = {128, 128, 8, 64, 32, 16384};
  CHECK(m.estimate(same).seconds == Approx(1.1 * form_seconds(p, same)).epsilon(1e-9));
  // 96 query heads (GLM's), never measured: the form alone, though its other dims lie inside the grid.
  const std::vector<double> other = {128, 128, 8, 96, 16, 4096};
  CHECK(m.estimate(other).seconds == form_seconds(p, other));
  CHECK(m.estimate(other).provenance == Provenance::extrapolated);
  // decode_splitk keeps the grid's ratio there (1.1: every record has it).
  m.form.kind = FormKind::decode_splitk;
  m.form.split_min = 256, m.form.flops = 1e15;
  for (GridPoint& g : grid)
    g.form_seconds = g.seconds / 1.1;
  m.grid = ShapeGrid(grid);
  CHECK(m.estimate(other).seconds == Approx(1.1 * form_seconds(m.form, other)).epsilon(1e-9));
}

TEST_CASE("decode_tiles: split_s is fitted last, so an unsplit shape predicts as the form without it", "[quick][perf]")
{
  // Records from a truth with the serial combine (split_s 0.2 us), at batches that split and batches
  // that do not (units = ceil(group / 16) * 8 * batch >= 264 from batch 33 at groups up to 16).
  FormParams truth = h200();
  truth.flops = 150e12;
  truth.split_s = 0.2e-6;
  std::vector<FitPoint> pts;
  for (double b : {1, 4, 16, 64, 160})
    for (double ctx : {1024, 4096, 16384})
      for (double q : {8, 32, 64})
        for (double hd : {64, 128})
          pts.push_back({{hd, hd, 8, q, b, ctx}, {}, form_seconds(truth, {hd, hd, 8, q, b, ctx})});
  const FormParams fit = fit_form(truth, pts);
  // Stage 1 is the form without split_s (held at 0) on every point, the fit the form had before the
  // term; stage 2 moves only combine_s and split_s, which price only the split points. So with those
  // two set to anything else, every unsplit record predicts the same time to the last bit.
  FormParams held = fit;
  held.combine_s = truth.combine_s, held.split_s = 0;
  for (const FitPoint& q : pts) {
    const DecodeTiling t = decode_tiling(fit, q.dims[0], q.dims[1], q.dims[2], q.dims[3], q.dims[4], q.dims[5]);
    if (t.splits == 1) // no combine: combine_s and split_s do not enter
      CHECK(form_seconds(fit, q.dims) == form_seconds(held, q.dims));
  }
  // Stage 2 finds the serial term from the split points alone: within 25% of the truth's 0.2 us
  // (0.183 us: stage 1's terms carry part of it, fitted with split_s at 0).
  CHECK(fit.split_s == Approx(0.2e-6).epsilon(0.25));
  double worst_split = 0, worst_unsplit = 0;
  for (const FitPoint& q : pts) {
    const double e = std::fabs(form_seconds(fit, q.dims) / q.seconds - 1);
    double& w = decode_tiling(fit, q.dims[0], q.dims[1], q.dims[2], q.dims[3], q.dims[4], q.dims[5]).splits > 1 ? worst_split : worst_unsplit;
    w = std::max(w, e);
  }
  // What the stages cost: stage 1 fits the split points without their serial term (as the form did
  // before it), so its terms lean toward them (here 7.2% worst at the unsplit points, 10.9% at the
  // split ones, against 2% for the joint fit, which instead moves the unsplit shapes whenever split_s
  // moves). The bounds hold those two figures with a little room.
  CHECK(worst_unsplit < 0.08);
  CHECK(worst_split < 0.12);
  // Records of which none splits: stage 2 has no point, split_s stays 0 (and combine_s, which no point
  // prices, at stage 1's value).
  std::vector<FitPoint> unsplit;
  for (const FitPoint& q : pts)
    if (decode_tiling(truth, q.dims[0], q.dims[1], q.dims[2], q.dims[3], q.dims[4], q.dims[5]).splits == 1)
      unsplit.push_back(q);
  REQUIRE(unsplit.size() == 36); // batches 64 and 160 (units 8 * batch = 512, 1280 >= 264), 3 contexts, 3 groups, 2 dims
  CHECK(fit_form(truth, unsplit).split_s == 0);
}

TEST_CASE("decode_tiles: the grid interpolates its ratio to the form, not the time, across launches", "[quick][perf]")
{
  // Qwen3-235B's decode on an H100 (round 15): 64 query heads over 4 KV heads, head dims 128, batch 10
  // at context 4,609, between records at batches 1 and 16 and contexts 2,048 and 32,768 (132 SMs).
  FormParams p = h200();
  p.flops = 400e12;
  const std::vector<double> x = {128, 128, 4, 64, 10, 4609};
  // The launches: group 16 -> 16-row tiles, units = 1 * 4 * batch. Batch 16 (64 units), context 2,048:
  // splits min(ceil(528 / 64) = 9, ceil(2048 / 256) = 8, 64) = 8, chunk 256 keys. At context 32,768:
  // splits min(9, 128, 64) = 9, chunk ceil(ceil(32768 / 9) / 64) * 64 = 3,648 keys. At the query
  // (40 units): splits min(ceil(528 / 40) = 14, ceil(4609 / 256) = 19, 64) = 14, chunk
  // ceil(ceil(4609 / 14) = 330 / 64) * 64 = 384.
  CHECK(decode_tiling(p, 128, 128, 4, 64, 16, 2048).splits == 8);
  CHECK(decode_tiling(p, 128, 128, 4, 64, 16, 32768).chunk == 3648);
  CHECK(decode_tiling(p, 128, 128, 4, 64, 10, 4609).splits == 14);
  CHECK(decode_tiling(p, 128, 128, 4, 64, 10, 4609).chunk == 384);
  // Records each 1.2 times the form (its ratio 1.2 at every corner): the estimate is the form at the
  // query times 1.2, whatever the times at the corners (log-linear interpolation of the times
  // themselves bends through neither launch: it gives the form's corners, not its value at x).
  OpModel m;
  m.form = p;
  std::vector<GridPoint> grid;
  for (double b : {1, 16})
    for (double ctx : {2048, 32768}) {
      const std::vector<double> d = {128, 128, 4, 64, b, ctx};
      grid.push_back({d, 1.2 * form_seconds(p, d), form_seconds(p, d)});
    }
  m.grid = ShapeGrid(grid);
  CHECK(m.estimate(x).seconds == Approx(1.2 * form_seconds(p, x)).epsilon(1e-12));
  CHECK(m.estimate(x).provenance == Provenance::interpolated);
  // Ratios that differ: 1.0 at batch 1 and 1.3 at batch 16 (both contexts). In log batch the query sits
  // at w = ln 10 / ln 16 = 0.830482; the ratio exp(0.830482 * ln 1.3) = exp(0.830482 * 0.262364) = exp(0.217888) = 1.243449.
  for (GridPoint& g : grid)
    g.seconds = (g.dims[4] == 16 ? 1.3 : 1.0) * g.form_seconds;
  m.grid = ShapeGrid(grid);
  CHECK(m.estimate(x).seconds == Approx(std::pow(1.3, std::log(10.0) / std::log(16.0)) * form_seconds(p, x)).epsilon(1e-12));
  CHECK(std::pow(1.3, std::log(10.0) / std::log(16.0)) == Approx(1.243449).epsilon(1e-6));
  // A grid point still answers its own measured time.
  CHECK(m.estimate(grid[3].dims).seconds == Approx(grid[3].seconds).epsilon(1e-12));
  CHECK(m.estimate(grid[3].dims).provenance == Provenance::measured);
}
