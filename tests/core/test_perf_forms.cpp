// The fitted forms (core/perf/forms): each expected time derived in a comment, then asserted; the
// fitter recovers known parameters from synthetic records.
#include "core/perf/forms.hpp"

#include "tests/core/grouped_points.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace moesim::perf;

namespace {

FormParams gemm_params()
{
  FormParams p;
  p.kind = FormKind::gemm_tiles;
  p.sms = 132;
  p.bytes_a = p.bytes_w = p.bytes_c = 2;
  p.floor_s = 5e-6;
  p.flops = 132e12; // 1e12 FLOP/s per SM
  p.bandwidth = 4e12;
  p.tile_m = 128;
  p.tile_n = 128;
  p.split_min = 256;
  return p;
}

} // namespace

TEST_CASE("gemm_tiles: a large GEMM is tiles in waves over the SMs", "[quick][perf]")
{
  // m = n = k = 4096 on 132 SMs at 1e12 FLOP/s each. Tiles tried: 128x128, 128x256, 256x128.
  //   128x128: 32*32 = 1024 tiles -> ceil(1024/132) = 8 waves (7.76: the last wave part-full);
  //            8 * 2*128*128*4096 / 1e12 = 8 * 134217728e-12 = 1.073741824e-3 s
  //   128x256: 512 tiles -> 4 waves * 2*128*256*4096 / 1e12 = 1.073741824e-3 s (the same)
  //   memory: 3 * 4096^2 * 2 B / 4e12 = 2.5165824e-5 s, far below.
  // With split_min = 4096 k cannot split: t = 5e-6 + 1.073741824e-3 = 1.078741824e-3 s; the ideal
  // 2*4096^3/132e12 = 1.04125e-3 s is 3.1% less, the wave quantisation 8 / 7.76.
  FormParams p = gemm_params();
  p.split_min = 4096;
  CHECK(form_seconds(p, {1, 4096, 4096, 4096}) == Approx(1.078741824e-3).epsilon(1e-12));
  // With split_min = 256, splitting k 16 ways evens the waves out: 128x128, 16384 tile-splits ->
  // ceil(124.1) = 125 waves of 2*128*128*256 / 1e12 = 8.388608e-6 s = 1.048576e-3 s (s = 8: 63 waves
  // of 1.6777216e-5 = 1.0569646e-3; s = 2, 4: 1.073741824e-3). The split's partial outputs,
  // 15 * 8 * 4096^2 B more, keep memory at 5.28e-4 s, below. t = 5e-6 + 1.048576e-3.
  CHECK(form_seconds(gemm_params(), {1, 4096, 4096, 4096}) == Approx(1.053576e-3).epsilon(1e-12));
}

TEST_CASE("gemm_tiles: a one-row GEMM splits k to fill SMs but cannot beat reading its weights", "[quick][perf]")
{
  // m = 1, n = k = 4096, 5e12 FLOP/s per SM (660e12 in all), tile 64x128, split_min 256.
  // Weights, input and output: (4096 + 4096*4096 + 4096) * 2 B = 33570816 B -> 8.392704e-6 s at 4e12;
  // each extra split writes and reads 8 B per output: + 32768 B = 8.192e-9 s.
  //   64x128, s = 1: 32 tiles, 1 wave, 2*64*128*4096 / 5e12 = 1.34217728e-5 s of math
  //   64x128, s = 2: 64 tiles, 1 wave, 2*64*128*2048 / 5e12 = 6.7108864e-6 s; memory 8.400896e-6 s
  //   64x128, s = 4: math 3.3554432e-6 s but memory 8.417280e-6 s (more partial outputs)
  //   wider tiles only halve the tile count, never helping a one-row GEMM.
  // Best: s = 2, memory-bound: t = 5e-6 + 8.392704e-6 + 8.192e-9 = 1.3400896e-5 s.
  FormParams p = gemm_params();
  p.flops = 660e12;
  p.tile_m = 64;
  CHECK(form_seconds(p, {1, 1, 4096, 4096}) == Approx(1.3400896e-5).epsilon(1e-12));
  // Without split-K (split_min above k) the single wave does all of k: 5e-6 + 1.34217728e-5.
  p.split_min = 1e9;
  CHECK(form_seconds(p, {1, 1, 4096, 4096}) == Approx(5e-6 + 1.34217728e-5).epsilon(1e-12));
}

TEST_CASE("grouped_tiles: a fused grouped GEMM tiles each expert's rows", "[quick][perf]")
{
  // n = 4096, k = 2048, rows {3, 0, 130, 1}: 134 rows over 3 active experts, 44.7 each (above 24), so
  // the 128-row tile; 128x128 tiles, 132 SMs at 1e12 FLOP/s.
  // Row tiles: 1 + 0 + 2 + 1 = 4; tiles 4 * 32 = 128 -> 1 wave: 2*128*128*2048 / 1e12 = 6.7108864e-5 s.
  // Memory: 3 active experts' weights 3*2048*4096*2 = 50331648 B, rows 134 * (2048 + 4096) * 2 =
  // 1646592 B: 51978240 / 4e12 = 1.299456e-5 s, below the math. t = 5e-6 + 6.7108864e-5.
  // Each tile streams 4e12 / 132 B/s: 132 tiles or more reach the 4 TB/s cap (128 tiles: 3.88 TB/s).
  FormParams p = gemm_params();
  p.kind = FormKind::grouped_tiles;
  p.tile_bandwidth = 4e12 / 132;
  CHECK(form_seconds(p, {4096, 2048, 3, 134}, {3, 0, 130, 1}) == Approx(5e-6 + 6.7108864e-5).epsilon(1e-12));
  // Without rows, 134 rows spread over 3 experts: 3 * ceil(44.7 / 128) = 3 row tiles, 96 tiles, still 1 wave.
  CHECK(form_seconds(p, {4096, 2048, 3, 134}) == Approx(5e-6 + 6.7108864e-5).epsilon(1e-12));
  // 20 experts of 130 rows: 40 row tiles * 32 = 1280 tiles -> 10 waves: 10x the math.
  std::vector<double> rows(20, 130);
  CHECK(form_seconds(p, {4096, 2048, 20, 2600}, rows) == Approx(5e-6 + 10 * 6.7108864e-5).epsilon(1e-12));
  // Decode, 24 rows per expert or fewer: 16-row tiles. 128 experts of 1 row, n = k = 4096: 128 * 32 =
  // 4096 tiles -> 32 waves of 2*16*128*4096 / 1e12 = 1.6777216e-5 s: 5.36870912e-4 s (128-row tiles
  // would charge 8x that). Memory: 128 * 4096 * 4096 * 2 = 4294967296 B + 128 * 8192 * 2 = 2097152 B:
  // 4297064448 / 4e12 = 1.074266112e-3 s, the larger: the weights' read bounds it.
  std::vector<double> ones(128, 1);
  CHECK(form_seconds(p, {4096, 4096, 128, 128}, ones) == Approx(5e-6 + 1.074266112e-3).epsilon(1e-12));
  // 3 experts of 24 rows, n = 4096, k = 2048: 16-row tiles, 2 each: 6 * 32 = 192 tiles -> 2 waves of
  // 2*16*128*2048 / 1e12 = 8.388608e-6 s = 1.6777216e-5 s; memory, each 16-row tile streaming its
  // expert's weights: 6*2048*4096*2 + 72*6144*2 = 101548032 B / 4e12 (192 tiles pull above the cap)
  // = 2.5387008e-5 s, the larger. t = 5e-6 + 2.5387008e-5.
  CHECK(form_seconds(p, {4096, 2048, 3, 72}, {24, 24, 24}) == Approx(5e-6 + 2.5387008e-5).epsilon(1e-12));
}

TEST_CASE("grouped_tiles: 16-row tiles stream their expert's weights once per row tile, tile_m rows when "
          "the weights exceed the L2 over more column tiles than SMs",
          "[quick][perf]")
{
  // Mixtral-8x7B's experts.up at batch 64 (n 28672, k 4096, 16-row tiles), 4 TB/s, 20 GB/s per tile,
  // an L2 of 50 MiB = 52428800 B. One expert's weights, 4096 * 28672 * 2 = 234881024 B.
  // Rows {17, 16, 20, 12, 18, 18, 13, 14} (128, 16 per expert): row tiles 2+1+2+1+2+2+1+1 = 12.
  // Tiles 12 * 224 = 2688 pull far above the cap: 4 TB/s. Weights 12 * 234881024 = 2818572288 B,
  // rows 128 * (4096 + 28672) * 2 = 8388608 B: 2826960896 / 4e12 = 7.06740224e-4 s. Math:
  // ceil(2688 / 132) = 21 waves of 2*16*128*4096 / 1e12 = 1.6777216e-5 s = 3.52321536e-4 s, less.
  FormParams p = gemm_params();
  p.kind = FormKind::grouped_tiles;
  p.tile_bandwidth = 20e9;
  p.l2_bytes = 52428800;
  const std::vector<double> rows = {17, 16, 20, 12, 18, 18, 13, 14};
  CHECK(form_seconds(p, {28672, 4096, 8, 128}, rows) == Approx(5e-6 + 7.06740224e-4).epsilon(1e-12));
  // Every expert 16 rows: 8 row tiles, 8 reads: (1879048192 + 8388608) / 4e12 = 4.718592e-4 s.
  CHECK(form_seconds(p, {28672, 4096, 8, 128}, std::vector<double>(8, 16)) == Approx(5e-6 + 4.718592e-4).epsilon(1e-12));
  // 16-row tiles count every row tile whatever the L2 (unknown here, 0): still 7.06740224e-4 s.
  p.l2_bytes = 0;
  CHECK(form_seconds(p, {28672, 4096, 8, 128}, rows) == Approx(5e-6 + 7.06740224e-4).epsilon(1e-12));
  // ... and at 64 column tiles, fewer than the SMs (n 8192, k 8192: 134217728 B per expert): the
  // same rows, 12 row tiles, 768 tiles (rate 4 TB/s), 12 reads: (12 * 134217728 = 1610612736 +
  // 128 * 16384 * 2 = 4194304) / 4e12 = 4.0370176e-4 s; math ceil(768 / 132) = 6 waves of
  // 2*16*128*8192 / 1e12 = 3.3554432e-5 s = 2.01326592e-4 s, less.
  p.l2_bytes = 52428800;
  CHECK(form_seconds(p, {8192, 8192, 8, 128}, rows) == Approx(5e-6 + 4.0370176e-4).epsilon(1e-12));
  // ... and when an expert fits the L2 (n 256, k 8192: 4194304 B): 8 experts of 20 rows, 16-row
  // tiles (20 <= 24), 2 row tiles each, 16 * 2 = 32 tiles at min(4e12, 32 * 20e9) = 6.4e11 B/s:
  // (16 * 4194304 + 160 * (8192 + 256) * 2 = 2703360) / 6.4e11 = 1.090816e-4 s; math 1 wave of
  // 2*16*128*8192 / 1e12 = 3.3554432e-5 s, less.
  p.tile_m = 128;
  CHECK(form_seconds(p, {256, 8192, 8, 160}, std::vector<double>(8, 20)) == Approx(5e-6 + 1.090816e-4).epsilon(1e-12));
  // tile_m rows (64 here; 130 rows per expert is above 24): 8 experts of 130 rows, 3 row tiles
  // each, 24 tiles, n 256, k 8192, an expert inside the L2: read once, 8 * 4194304 + 1040 * (8192 +
  // 256) * 2 = 51127296 B at min(4e12, 24 * 20e9 = 4.8e11): 1.06515200e-4 s; math 1 wave of
  // 2*64*128*8192 / 1e12 = 1.34217728e-4 s, the larger. (Counted per row tile the memory would be
  // 118236160 B / 4.8e11 = 2.46325333e-4 s.)
  p.tile_m = 64;
  CHECK(form_seconds(p, {256, 8192, 8, 1040}, std::vector<double>(8, 130)) ==
        Approx(5e-6 + 1.34217728e-4).epsilon(1e-12));
  // tile_m rows, an expert larger than the L2 over more column tiles than SMs (n 28672, k 4096):
  // 8 experts of 130 rows, 3 row tiles each = 24, 24 * 224 = 5376 tiles (4 TB/s): 24 reads of
  // 234881024 B = 5637144576 + 1040 * 32768 * 2 = 68157440 -> 5705302016 / 4e12 = 1.426325504e-3 s;
  // math ceil(5376 / 132) = 41 waves of 2*64*128*4096 / 1e12 = 6.7108864e-5 s = 2.751463424e-3 s,
  // the larger. With the L2 unknown (0) the weights count once: 8 reads, (1879048192 + 68157440) /
  // 4e12 = 4.86801408e-4 s, still below the math: the same 2.751463424e-3 s.
  CHECK(form_seconds(p, {28672, 4096, 8, 1040}, std::vector<double>(8, 130)) ==
        Approx(5e-6 + 2.751463424e-3).epsilon(1e-12));
}

TEST_CASE("grouped_tiles: an expert's second 16-row tile finds its weights in the L2 when they fit: device "
          "memory serves each expert once, the SMs pull every row tile through the L2",
          "[quick][perf]")
{
  // Round 16's e36 at batch 136 (validate/oos/diagnosis-grouped-l2.md): experts.up, n 1664, k 1792,
  // 36 experts, 26 of 14 rows and 10 of 20 (564 rows, 15.7 an expert: 16-row tiles). One expert's
  // weights 1792 * 1664 * 2 = 5963776 B, within an L2 of 50 MiB. Row tiles 26 + 2 * 10 = 46, column
  // tiles ceil(1664 / 128) = 13, tiles 598 (598 * 22 GB/s = 13.2 TB/s: neither cap binds on it).
  // Rows in and out: 564 * (1792 + 1664) * 2 = 3898368 B.
  //   device memory: (36 * 5963776 + 3898368) = 218594304 B / 2.8e12 = 7.806939429e-5 s
  //   through the L2: (46 * 5963776 + 3898368) = 278232064 B / 3.8e12 = 7.321896421e-5 s
  //   math: ceil(598 / 132) = 5 waves of 2*16*128*1792 / 1e12 = 3.670016e-5 s
  // The device memory binds: 5e-6 + 7.806939429e-5 s.
  FormParams p = gemm_params();
  p.kind = FormKind::grouped_tiles;
  p.bandwidth = 2.8e12;
  p.tile_bandwidth = 22e9;
  p.tile_m = 64;
  p.l2_bytes = 52428800;
  p.l2_bandwidth = 3.8e12;
  std::vector<double> rows(26, 14);
  rows.insert(rows.end(), 10, 20);
  CHECK(form_seconds(p, {1664, 1792, 36, 564}, rows) == Approx(5e-6 + 7.806939429e-5).epsilon(1e-9));
  // A slower L2 path binds instead: 278232064 / 3e12 = 9.274402133e-5 s.
  p.l2_bandwidth = 3e12;
  CHECK(form_seconds(p, {1664, 1792, 36, 564}, rows) == Approx(5e-6 + 9.274402133e-5).epsilon(1e-9));
  // Without the term (0, calibrations before it) every row tile reads from device memory, as before:
  // 278232064 / 2.8e12 = 9.936859429e-5 s (27% above the first).
  p.l2_bandwidth = 0;
  CHECK(form_seconds(p, {1664, 1792, 36, 564}, rows) == Approx(5e-6 + 9.936859429e-5).epsilon(1e-9));
  // An expert larger than the L2 (an L2 of 4 MB here): read again from device memory whatever
  // l2_bandwidth: the same 9.936859429e-5 s.
  p.l2_bandwidth = 3.8e12;
  p.l2_bytes = 4e6;
  CHECK(form_seconds(p, {1664, 1792, 36, 564}, rows) == Approx(5e-6 + 9.936859429e-5).epsilon(1e-9));
}

TEST_CASE("grouped_tiles: the row tile as the harness kernel picks it: 16 rows up to 24 per expert on average "
          "and each 16-row tile rereads its expert's weights",
          "[quick][perf]")
{
  // kernels/grouped_gemm.cu, grouped_gemm_tiling: rows_per_tile = 16 when total_rows <= 24 x
  // active_experts, else 64; an expert of r rows takes ceil(r / rows_per_tile) row tiles, and block b
  // takes column tile b % n_tiles of row tile b / n_tiles, so each row tile streams the expert's
  // weight columns again. Mixtral-8x7B's down GEMM (n 4096, k 14336: 14336 * 4096 * 2 = 117440512 B
  // per expert), 8 experts, 4 TB/s, 20 GB/s per tile, tile_m 64, 990 TFLOP/s over 132 SMs (7.5e12 per
  // SM), no L2 given (a 64-row tile then reads its expert once).
  FormParams p = gemm_params();
  p.kind = FormKind::grouped_tiles;
  p.flops = 990e12;
  p.tile_bandwidth = 20e9;
  p.tile_m = 64;
  // Rows {17, 29, 17, 29, 17, 29, 17, 29}: 184 <= 24 * 8 = 192, so 16-row tiles, 2 per expert: 16 row
  // tiles, 16 * 32 = 512 tiles (pull 10.24 TB/s: the 4 TB/s cap). Bytes: 16 reads * 117440512 =
  // 1879048192 + 184 rows * (14336 + 4096) * 2 = 6782976 -> 1885831168 / 4e12 = 4.71457792e-4 s. Math:
  // ceil(512 / 132) = 4 waves of 2*16*128*14336 / 7.5e12 = 7.8293675e-6 s = 3.13e-5 s, less.
  const std::vector<double> two_tiles = {17, 29, 17, 29, 17, 29, 17, 29};
  CHECK(form_seconds(p, {4096, 14336, 8, 184}, two_tiles) == Approx(5e-6 + 4.71457792e-4).epsilon(1e-12));
  // Counted once, the weights would take (939524096 + 6782976) / 4e12 = 2.36576768e-4 s: the second
  // row tile doubles the stream. The same total spread evenly (23 rows each: ceil(23 / 16) = 2 row
  // tiles per expert) reads as much: the same time.
  CHECK(form_seconds(p, {4096, 14336, 8, 184}) == Approx(5e-6 + 4.71457792e-4).epsilon(1e-12));
  // 25 rows each: 200 > 192, so 64-row tiles, 1 per expert: 8 reads, 939524096 + 200 * 36864 =
  // 7372800 -> 946896896 / 4e12 = 2.36724224e-4 s; math ceil(256 / 132) = 2 waves of
  // 2*64*128*14336 / 7.5e12 = 3.1317470e-5 s = 6.26e-5 s, less. Eight more rows, half the time.
  CHECK(form_seconds(p, {4096, 14336, 8, 200}, std::vector<double>(8, 25)) ==
        Approx(5e-6 + 2.36724224e-4).epsilon(1e-12));
}

TEST_CASE("grouped_tiles: each tile's block streams at its own rate, the device caps the sum", "[quick][perf]")
{
  // 20 GB/s per tile, 4 TB/s for the device.
  FormParams p = gemm_params();
  p.kind = FormKind::grouped_tiles;
  p.tile_bandwidth = 20e9;
  // One expert of 1 row, n = 128, k = 4096: 16-row tiles, 1 tile. Memory: 4096 * 128 * 2 = 1048576 B of
  // weights + 1 * (4096 + 128) * 2 = 8448 B = 1057024 B at min(4e12, 20e9) B/s = 5.28512e-5 s.
  // Math: 1 wave of 2*16*128*4096 / 1e12 = 1.6777216e-5 s, less.
  CHECK(form_seconds(p, {128, 4096, 1, 1}, {1}) == Approx(5e-6 + 1057024 / 20e9).epsilon(1e-12));
  // 40 tiles (n = 5120): 0.8 TB/s. 4096 * 5120 * 2 + (4096 + 5120) * 2 = 41961472 B / 0.8e12 = 5.245184e-5 s.
  CHECK(form_seconds(p, {5120, 4096, 1, 1}, {1}) == Approx(5e-6 + 41961472 / 0.8e12).epsilon(1e-12));
  // 160 tiles (n = 20480), more than the 132 SMs: 160 * 20e9 = 3.2 TB/s, under the cap (every SM at
  // 20 GB/s would give 2.64 TB/s). 4096 * 20480 * 2 + (4096 + 20480) * 2 = 167821312 B / 3.2e12 =
  // 5.244416e-5 s; math 2 waves, 3.3554432e-5 s, less.
  CHECK(form_seconds(p, {20480, 4096, 1, 1}, {1}) == Approx(5e-6 + 167821312 / 3.2e12).epsilon(1e-12));
  // 128 experts of 1 row, n = k = 4096: 4096 tiles would pull 82 TB/s; the device's 4 TB/s caps them,
  // as the previous case derived: 4297064448 / 4e12 = 1.074266112e-3 s.
  std::vector<double> ones(128, 1);
  CHECK(form_seconds(p, {4096, 4096, 128, 128}, ones) == Approx(5e-6 + 1.074266112e-3).epsilon(1e-12));
}

TEST_CASE("grouped_tiles: a tile's fixed time makes long k run at a higher rate than short k", "[quick][perf]")
{
  // 128x128 tiles, 132 SMs at 1e12 FLOP/s each, unit_s = 1 us per tile.
  FormParams p = gemm_params();
  p.kind = FormKind::grouped_tiles;
  p.tile_bandwidth = 4e12 / 132;
  p.unit_s = 1e-6;
  // 8 experts of 512 rows, n = 4096: 8 * 4 = 32 row tiles * 32 column tiles = 1024 tiles, 8 waves.
  // k = 512: a tile is 1 us + 2*128*128*512 / 1e12 = 1.6777216e-5 s, so 8 * 1.7777216e-5 s of math.
  // Memory: 8 experts' weights 8*512*4096*2 = 33554432 B + 4096 rows * (512 + 4096) * 2 = 37748736 B
  // = 71303168 B / 4e12 = 1.7825792e-5 s, less.
  const std::vector<double> rows(8, 512);
  CHECK(form_seconds(p, {4096, 512, 8, 4096}, rows) == Approx(5e-6 + 8 * 1.7777216e-5).epsilon(1e-12));
  // k = 8192: 1 us + 2.68435456e-4 s per tile; memory 8*8192*4096*2 + 4096 * 12288 * 2 = 637534208
  // B / 4e12 = 1.59383552e-4 s, less than 8 waves of math.
  CHECK(form_seconds(p, {4096, 8192, 8, 4096}, rows) == Approx(5e-6 + 8 * 2.69435456e-4).epsilon(1e-12));
  // The math rate each reaches, 2*4096*4096*k / (8 waves' math): k 512 at 1.6777216e-5 / 1.7777216e-5
  // = 94.4% of the tensor rate, k 8192 at 2.68435456e-4 / 2.69435456e-4 = 99.6%.
  // Decode stays bound by its weights: 128 experts of 1 row, n = k = 4096, 32 waves of 16-row tiles
  // at 1 us + 1.6777216e-5 s = 5.68870912e-4 s of math, under the 1.074266112e-3 s read (derived in
  // the first grouped_tiles case).
  CHECK(form_seconds(p, {4096, 4096, 128, 128}, std::vector<double>(128, 1)) ==
        Approx(5e-6 + 1.074266112e-3).epsilon(1e-12));
}

TEST_CASE("decode_splitk: decode attention splits the context over idle SMs", "[quick][perf]")
{
  FormParams p;
  p.kind = FormKind::decode_splitk;
  p.sms = 132;
  p.bytes_w = 2;
  p.bandwidth = 4.8e12;
  p.flops = 1e18; // never the limit here
  p.floor_s = 3e-6;
  p.unit_s = 0.5e-6;
  p.combine_s = 1e-6;
  p.split_min = 256;
  // GQA: head dims 128/128, 8 KV heads, 32 query heads, batch 4, context 4096.
  // units = 4*8 = 32; splits = min(floor(132/32) = 4, ceil(4096/256) = 16) = 4; 128 SMs busy, 1 wave;
  // chunk = 1024 tokens of (128 + 128) * 2 = 512 B: 524288 B per SM at 4.8e12/132 B/s = 1.441792e-5 s.
  // t = 3e-6 + 1 * 0.5e-6 + 1.441792e-5 + 1e-6 (the split is combined) = 1.891792e-5 s.
  CHECK(form_seconds(p, {128, 128, 8, 32, 4, 4096}) == Approx(1.891792e-5).epsilon(1e-12));
  // MLA, absorbed: one latent head of 512 + 64, keys and values shared; 16 heads, batch 1,
  // context 32768. units = 1; splits = min(132, 128) = 128; chunk 256 tokens of 576 * 2 B:
  // 294912 B per SM -> 294912 * 132 / 4.8e12 = 8.11008e-6 s. t = 3e-6 + 0.5e-6 + 8.11008e-6 + 1e-6.
  p.shared_kv = true;
  CHECK(form_seconds(p, {576, 512, 1, 16, 1, 32768}) == Approx(3e-6 + 0.5e-6 + 8.11008e-6 + 1e-6).epsilon(1e-12));
  // 256 sequences x 8 KV heads = 2048 units fill the SMs: no split, no combine; ceil(2048/132) = 16
  // waves of 4096 tokens * 512 B at 4.8e12/132: 16 * (0.5e-6 + 2097152 * 132 / 4.8e12) + 3e-6.
  p.shared_kv = false;
  CHECK(form_seconds(p, {128, 128, 8, 32, 256, 4096}) ==
        Approx(3e-6 + 16 * 0.5e-6 + 16.0 * 2097152 * 132 / 4.8e12).epsilon(1e-12));
}

TEST_CASE("prefill_tiles: causal prefill is query tiles in waves, math and softmax", "[quick][perf]")
{
  FormParams p;
  p.kind = FormKind::prefill_tiles;
  p.sms = 132;
  p.bytes_a = p.bytes_w = 2;
  p.bandwidth = 4e12;
  p.flops = 132e12;      // 1e12 per SM
  p.score_rate = 132e12; // 1e12 scores/s per SM
  p.tile_m = 128;
  // Head dims 128/128, 8 KV heads, 32 query heads, batch 1, no cache, prompt 1024.
  // units = 32 * 1024/128 = 256 -> 2 waves; keys = (1024 + 128) / 2 = 576 per tile on average;
  // per tile 128 * 576 * (2*256 / 1e12 + 1 / 1e12) s: t_math = 2 * 73728 * 513e-12 = 7.5644928e-5 s.
  // Memory (1024 * 8 * 256 + 1024 * 32 * 256) * 2 B / 4e12 = 5.24288e-6 s, below.
  CHECK(form_seconds(p, {128, 128, 8, 32, 1, 0, 1024}) == Approx(7.5644928e-5).epsilon(1e-12));
}

TEST_CASE("floor_bandwidth: a memory-bound kernel is a floor plus bytes over bandwidth", "[quick][perf]")
{
  FormParams p;
  p.kind = FormKind::floor_bandwidth;
  p.floor_s = 3e-6;
  p.bandwidth = 2e12;
  p.bytes_per_item = 4;
  p.size_dims = 2; // topk {tokens, experts, k}: the size is tokens x experts
  // 64 tokens x 128 experts = 8192 scores of 4 B: 3e-6 + 32768 / 2e12 = 3.016384e-6 s.
  CHECK(form_seconds(p, {64, 128, 8}) == Approx(3.016384e-6).epsilon(1e-12));
  p.size_dims = 0; // every dim: 64*128*8 = 65536 items
  CHECK(form_seconds(p, {64, 128, 8}) == Approx(3e-6 + 65536 * 4 / 2e12).epsilon(1e-12));
}

TEST_CASE("forms refuse what they cannot evaluate", "[quick][perf]")
{
  CHECK_THROWS_AS(form_seconds(gemm_params(), {4096, 4096, 4096}), std::invalid_argument);
  CHECK_THROWS_WITH(parse_form_kind("roofline"), Catch::Matchers::Contains("gemm_tiles"));
  FormParams p = gemm_params();
  p.flops = 0;
  CHECK_THROWS_WITH(check_form(p), Catch::Matchers::Contains("flops"));
  CHECK_NOTHROW(check_form(gemm_params()));
}

TEST_CASE("the fitter recovers a GEMM form's parameters from records made by it", "[quick][perf]")
{
  // Records from known parameters: floor 4 us, 600 TFLOP/s, 3 TB/s, 128x128 tiles, split_min 256.
  FormParams truth = gemm_params();
  truth.floor_s = 4e-6;
  truth.flops = 600e12;
  truth.bandwidth = 3e12;
  std::vector<FitPoint> pts;
  for (double m : {1, 8, 64, 256, 1024, 4096, 16384})
    for (double n : {1024, 4096, 16384})
      for (double k : {1024, 4096, 16384})
        pts.push_back({{1, m, n, k}, {}, form_seconds(truth, {1, m, n, k})});
  FormParams given = gemm_params();
  const FormParams fit = fit_form(given, pts);
  // The rates and the floor come back within 1%, and every record within 1%.
  CHECK(fit.flops == Approx(600e12).epsilon(0.01));
  CHECK(fit.bandwidth == Approx(3e12).epsilon(0.01));
  CHECK(fit.floor_s == Approx(4e-6).epsilon(0.01));
  for (const FitPoint& q : pts)
    CHECK(form_seconds(fit, q.dims) == Approx(q.seconds).epsilon(0.01));
  // Deterministic: the same records give the same parameters, bit for bit.
  const FormParams again = fit_form(given, pts);
  CHECK(again.flops == fit.flops);
  CHECK(again.floor_s == fit.floor_s);
  CHECK(again.tile_m == fit.tile_m);
}

TEST_CASE("the fitter recovers a grouped GEMM's tensor rate and its tile's fixed time", "[quick][perf]")
{
  // Records from known parameters: floor 4 us, 600 TFLOP/s, 4 TB/s, 20 GB/s per tile, 1.5 us per
  // tile, 128x128 tiles; experts of 1 to 8192 rows at k 512 and 8192 (bench-ops' grid), n 256-8192.
  FormParams truth = moesim::test::grouped_truth();
  std::vector<FitPoint> pts = moesim::test::even_grouped_points(truth);
  FormParams given = truth;
  given.floor_s = given.flops = given.bandwidth = given.tile_bandwidth = given.unit_s = 0;
  const FormParams fit = fit_form(given, pts);
  // The tensor rate and the tile's fixed time come back within 2%: short and long k tell them apart.
  CHECK(fit.flops == Approx(600e12).epsilon(0.02));
  CHECK(fit.unit_s == Approx(1.5e-6).epsilon(0.02));
  CHECK(fit.tile_m == 128);
  for (const FitPoint& q : pts)
    CHECK(form_seconds(fit, q.dims, q.rows) == Approx(q.seconds).epsilon(0.01));

  // Records from a kernel with no fixed tile time (1 ps): the fitter also fits the form without the
  // term, so the records come back within 1% and the tile time stays far below one tile's math
  // (2*128*128*512 / (600e12 / 132) = 3.7 us at k 512).
  truth.unit_s = 1e-12;
  for (FitPoint& q : pts)
    q.seconds = form_seconds(truth, q.dims, q.rows);
  const FormParams plain = fit_form(given, pts);
  CHECK(plain.unit_s < 0.05e-6);
  CHECK(plain.flops == Approx(600e12).epsilon(0.02));
  for (const FitPoint& q : pts)
    CHECK(form_seconds(plain, q.dims, q.rows) == Approx(q.seconds).epsilon(0.01));
}

TEST_CASE("the fitter places l2_bandwidth on the points with a second 16-row tile in the L2, every other "
          "point as the form without it",
          "[quick][perf]")
{
  // Records from known parameters (grouped_truth, an L2 of 50 MiB) with l2_bandwidth 5 TB/s: the even
  // grid (its experts of 1-8192 rows: none with a second 16-row tile) and 8 or 128 experts of 20 rows
  // (two 16-row tiles each) at n 256 / 4,096, k 512 / 2,048: 0.26-16.8 MB an expert, within the L2.
  // At 128 experts, n 4,096, k 2,048: 128 * 16777216 = 2147483648 B once at 4 TB/s = 5.37e-4 s, 256
  // row tiles through the L2 at 5 TB/s = 8.59e-4 s: the L2 term binds there, so the points place it.
  FormParams truth = moesim::test::grouped_truth();
  truth.l2_bytes = 52428800;
  truth.l2_bandwidth = 5e12;
  std::vector<FitPoint> pts = moesim::test::even_grouped_points(truth);
  const size_t plain = pts.size();
  for (double e : {8, 128})
    for (double n : {256, 4096})
      for (double k : {512, 2048}) {
        const std::vector<double> rows(static_cast<size_t>(e), 20);
        pts.push_back({{n, k, e, e * 20}, rows, form_seconds(truth, {n, k, e, e * 20}, rows)});
      }
  FormParams given = truth;
  given.floor_s = given.flops = given.bandwidth = given.tile_bandwidth = given.unit_s = given.l2_bandwidth = 0;
  const FormParams fit = fit_form(given, pts);
  // The staged fit: the first stage sees every point as the form without the term; the second fits
  // l2_bandwidth alone on the 8 points that carry it. It comes back within 5%, and every record within 2%.
  CHECK(fit.l2_bandwidth == Approx(5e12).epsilon(0.05));
  for (const FitPoint& q : pts)
    CHECK(form_seconds(fit, q.dims, q.rows) == Approx(q.seconds).epsilon(0.02));
  // Without the two-tile points nothing carries the term: it stays 0 (every row tile from device memory).
  pts.resize(plain);
  CHECK(fit_form(given, pts).l2_bandwidth == 0);
}

TEST_CASE("the fitter recovers floor and bandwidth, and decode attention's parameters", "[quick][perf]")
{
  FormParams truth;
  truth.kind = FormKind::floor_bandwidth;
  truth.floor_s = 2.5e-6;
  truth.bandwidth = 3.5e12;
  truth.bytes_per_item = 4;
  std::vector<FitPoint> pts;
  for (double e = 1024; e <= 1 << 26; e *= 4)
    pts.push_back({{e}, {}, form_seconds(truth, {e})});
  FormParams given = truth;
  given.floor_s = given.bandwidth = 0;
  const FormParams fit = fit_form(given, pts);
  CHECK(fit.floor_s == Approx(2.5e-6).epsilon(1e-3));
  CHECK(fit.bandwidth == Approx(3.5e12).epsilon(1e-3));

  FormParams dec;
  dec.kind = FormKind::decode_splitk;
  dec.sms = 132;
  dec.bytes_w = 2;
  dec.floor_s = 6e-6;
  dec.unit_s = 2e-6;
  dec.combine_s = 1.5e-6;
  dec.flops = 300e12;
  dec.bandwidth = 4e12;
  dec.split_min = 256;
  std::vector<FitPoint> d;
  for (double b : {1, 4, 16, 64, 256})
    for (double ctx : {128, 1024, 8192, 65536})
      for (double kv : {1, 8})
        for (double g : {1, 4, 16}) // query heads per KV head: tells the math from the memory term
          d.push_back({{128, 128, kv, g * kv, b, ctx}, {}, form_seconds(dec, {128, 128, kv, g * kv, b, ctx})});
  FormParams g = dec;
  const FormParams df = fit_form(g, d);
  CHECK(df.bandwidth == Approx(4e12).epsilon(0.02));
  CHECK(df.floor_s == Approx(6e-6).epsilon(0.05));
  CHECK(df.unit_s == Approx(2e-6).epsilon(0.05));
  CHECK(df.split_min == 256);
}
