// kernels::attention (decode and causal prefill, GQA and MLA, with and without key splits) against
// ref::attention on seeded random inputs with the outputs poisoned ([gpu]); the reference itself, the
// GEMM and fp8 helpers of reference.hpp against hand-derived values, and the launcher's argument
// checks ([quick]).
//
// Tolerance: ref::attention_tolerance (derived in kernels/reference.cpp): P rounded to bf16 before
// P V moves an output by at most 2^-8 sum_j p_j |v_j| (the reference's out_abs); score errors from the
// fp32 accumulation of q . k are bounded per row by the reference (score_err) and move the output by
// about 2 score_err out_abs; the output itself is rounded once to bf16 (2^-8 |out|: half an ulp of 8
// significant bits).
#include "gpu_test.hpp"
#include "kernels/kernels.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>

using namespace moesim::test;
namespace kn = moesim::kernels;
namespace ref = moesim::kernels::ref;
using moesim::Rng;

namespace {

constexpr std::uint64_t seed = 20261127;

std::vector<bf16_t> bf16s(std::initializer_list<float> v)
{
  std::vector<bf16_t> out;
  for (float x : v)
    out.push_back(float_to_bf16(x));
  return out;
}

struct Case {
  int batch, q_len, q_heads, kv_heads, kv_len, qk_dim, v_dim;
  float scale;
  bool mla;       // latent cache: v inside k
  int window = 0; // sliding window (0: none)
};

int sm_count()
{
  int dev = 0, n = 0;
  MOESIM_CHECK(cudaGetDevice(&dev));
  MOESIM_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  return n;
}

// Runs the case with `splits` (0: what attention_splits picks) on random inputs and compares every
// output element with the reference. `pad` extra cache rows per sequence hold NaN: the kernel must
// never read past kv_len.
void check_case(const Case& c, int splits, int pad = 0)
{
  CAPTURE(c.batch, c.q_len, c.q_heads, c.kv_heads, c.kv_len, c.qk_dim, c.v_dim, c.scale, c.mla, c.window, splits, pad);
  Rng rng(seed + c.kv_len * 131 + c.q_heads);
  const std::size_t rows = std::size_t(c.batch) * c.q_len * c.q_heads;
  const int cap = c.kv_len + pad; // rows per sequence in the cache
  const auto q = random_bf16(rng, rows * c.qk_dim, -3, 3);
  // Device cache with `cap` rows per sequence; the host copies for the reference hold kv_len.
  const int kh = c.mla ? 1 : c.kv_heads;
  std::vector<bf16_t> kdev(std::size_t(c.batch) * cap * kh * c.qk_dim, 0xffff);
  std::vector<bf16_t> vdev(c.mla ? 0 : std::size_t(c.batch) * cap * kh * c.v_dim, 0xffff);
  std::vector<bf16_t> k(std::size_t(c.batch) * c.kv_len * kh * c.qk_dim), v(std::size_t(c.batch) * c.kv_len * kh * c.v_dim);
  const auto kr = random_bf16(rng, k.size(), -1, 1);
  const auto vr = random_bf16(rng, c.mla ? 0 : v.size(), -1, 1);
  for (int b = 0; b < c.batch; b++)
    for (int j = 0; j < c.kv_len; j++)
      for (int h = 0; h < kh; h++) {
        const std::size_t src = ((std::size_t(b) * c.kv_len + j) * kh + h);
        const std::size_t dst = ((std::size_t(b) * cap + j) * kh + h);
        for (int d = 0; d < c.qk_dim; d++)
          k[src * c.qk_dim + d] = kdev[dst * c.qk_dim + d] = kr[src * c.qk_dim + d];
        for (int d = 0; d < c.v_dim; d++)
          if (c.mla)
            v[src * c.v_dim + d] = kr[src * c.qk_dim + d]; // values: the latent row's first v_dim
          else
            v[src * c.v_dim + d] = vdev[dst * c.v_dim + d] = vr[src * c.v_dim + d];
      }
  DeviceBuffer<bf16_t> dq(q), dk(kdev), dout(rows * c.v_dim);
  DeviceBuffer<bf16_t> dv(c.mla ? std::vector<bf16_t>(1) : vdev);
  kn::AttentionArgs a;
  if (c.mla) {
    a = kn::attention_mla_decode(dq.get(), dk.get(), dout.get(), c.batch, c.q_heads, c.kv_len, c.v_dim,
                                 c.qk_dim - c.v_dim, c.scale);
    a.k_batch_stride = a.v_batch_stride = std::int64_t(cap) * c.qk_dim;
  } else {
    a = kn::attention_gqa(dq.get(), dk.get(), dv.get(), dout.get(), c.batch, c.q_len, c.q_heads, c.kv_heads, c.kv_len,
                          c.qk_dim, c.v_dim, c.scale);
    a.k_batch_stride = std::int64_t(cap) * c.kv_heads * c.qk_dim;
    a.v_batch_stride = std::int64_t(cap) * c.kv_heads * c.v_dim;
  }
  a.window = c.window;
  const int s = splits > 0 ? splits : kn::attention_splits(a, sm_count());
  DeviceBuffer<unsigned char> ws(std::max<std::size_t>(kn::attention_workspace_bytes(a, s), 16));
  kn::attention(a, s, ws.get(), std::max<std::size_t>(kn::attention_workspace_bytes(a, s), 16), nullptr);
  const auto got = dout.download();

  ref::AttentionDims d;
  d.q_len = c.q_len, d.q_heads = c.q_heads, d.kv_heads = kh, d.kv_len = c.kv_len;
  d.qk_dim = c.qk_dim, d.v_dim = c.v_dim, d.scale = c.scale, d.window = c.window;
  std::vector<double> want(rows * c.v_dim), abs(rows * c.v_dim), eps(rows);
  ref::attention(q, k, v, want, abs, eps, c.batch, d);
  Mismatch m;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); i++) {
    const double g = bf16_to_float(got[i]);
    const double tol = ref::attention_tolerance(want[i], abs[i], eps[i / c.v_dim], c.kv_len);
    const double err = std::fabs(g - want[i]);
    worst = std::max(worst, err / tol);
    if (!(err <= tol))
      m.add(i, std::to_string(g), std::to_string(want[i]) + " +- " + std::to_string(tol));
  }
  INFO(m.first << " worst error / tolerance " << worst << ", splits " << s);
  CHECK(m.wrong == 0);

  // The same launch again gives the same bits: no race, no dependence on leftovers.
  kn::attention(a, s, ws.get(), std::max<std::size_t>(kn::attention_workspace_bytes(a, s), 16), nullptr);
  const Mismatch again = compare_exact(dout.download(), got);
  INFO(again.first);
  CHECK(again.wrong == 0);
}

} // namespace

TEST_CASE("attention decode (GQA) matches the reference, with and without key splits", "[gpu]")
{
  require_gpu();
  // G = 1, 8, 16 (one 16-row tile), 3 (padding rows), 20 (more rows than a decode tile: the 64-row
  // configuration); head_dim 128 and 64;
  // contexts of one key, not a multiple of the 64-key tile, and long.
  for (const Case& c : {Case{1, 1, 8, 8, 1, 128, 128, 0.0883883f, false}, Case{3, 1, 32, 4, 1000, 128, 128, 0.2f, false},
                        Case{2, 1, 64, 4, 4097, 128, 128, 0.0883883f, false},
                        Case{5, 1, 12, 4, 77, 64, 64, 0.125f, false}, Case{1, 1, 40, 2, 300, 128, 128, 0.15f, false},
                        Case{4, 1, 64, 8, 2500, 64, 64, 0.125f, false}})
    for (int splits : {1, 0, 7})
      check_case(c, splits);
}

TEST_CASE("attention decode (MLA, latent cache) matches the reference", "[gpu]")
{
  require_gpu();
  // kv_lora 512 + rope 64; heads 16 (half a 32-row tile), 128 (four tiles), 32.
  for (const Case& c : {Case{2, 1, 16, 1, 1, 576, 512, 0.0721688f, true}, Case{1, 1, 128, 1, 2000, 576, 512, 0.0721688f, true},
                        Case{3, 1, 32, 1, 513, 576, 512, 0.1f, true}})
    for (int splits : {1, 0, 5})
      check_case(c, splits);
}

TEST_CASE("attention prefill (causal, GQA and MLA) matches the reference", "[gpu]")
{
  require_gpu();
  // q_len 1 (a one-token prompt), prompts shorter and longer than the 64-row tile, a cached
  // context before them, G = 1, 4 and 8; MLA prefill's (192, 128).
  for (const Case& c : {Case{1, 1, 8, 8, 1, 128, 128, 0.0883883f, false}, Case{2, 100, 8, 2, 100, 128, 128, 0.0883883f, false},
                        Case{1, 130, 4, 4, 167, 64, 64, 0.125f, false}, Case{1, 64, 16, 2, 564, 128, 128, 0.1f, false},
                        Case{1, 70, 8, 8, 70, 192, 128, 0.0721688f, false},
                        Case{2, 33, 4, 4, 133, 192, 128, 0.0721688f, false}})
    for (int splits : {1, 3})
      check_case(c, splits);
}

TEST_CASE("attention never reads cache rows past kv_len", "[gpu]")
{
  require_gpu();
  // 37 rows of NaN after each sequence's keys and values: a read would turn outputs into NaN.
  check_case(Case{2, 1, 16, 2, 333, 128, 128, 0.1f, false}, 0, 37);
  check_case(Case{2, 1, 16, 1, 130, 576, 512, 0.1f, true}, 3, 37);
  check_case(Case{1, 50, 4, 4, 90, 64, 64, 0.1f, false}, 1, 37);
}

TEST_CASE("attention takes any head dims: multiples of 16 up to 576, qk and v independently", "[gpu]")
{
  require_gpu();
  // GQA decode over every value bucket (64 .. 576) and qk widths that are not: 16, 80, 112, 320, 576;
  // one of them (576, 576) needs the 32-key tiles on an A100.
  for (const Case& c : {Case{2, 1, 8, 2, 300, 16, 16, 0.25f, false}, Case{3, 1, 12, 4, 777, 80, 80, 0.11f, false},
                        Case{2, 1, 16, 2, 1000, 96, 64, 0.1f, false}, Case{1, 1, 8, 8, 260, 112, 112, 0.09f, false},
                        Case{2, 1, 8, 1, 700, 256, 256, 0.0625f, false}, Case{1, 1, 4, 2, 333, 320, 192, 0.05f, false},
                        Case{1, 1, 8, 4, 300, 128, 384, 0.08f, false}, Case{1, 1, 4, 4, 130, 576, 576, 0.04f, false}})
    for (int splits : {1, 0})
      check_case(c, splits);
  // Prefill: registers-resident rows up to v 256 (96, 256, and qk 320 over v 128), wider values on
  // 32-row tiles (384 with 64-key tiles, 512 with 32).
  for (const Case& c : {Case{1, 70, 8, 2, 100, 96, 96, 0.1f, false}, Case{1, 40, 4, 4, 90, 256, 256, 0.0625f, false},
                        Case{1, 50, 4, 2, 77, 320, 128, 0.05f, false}, Case{1, 40, 2, 2, 60, 128, 384, 0.08f, false},
                        Case{1, 33, 2, 2, 50, 576, 512, 0.04f, false}, Case{2, 50, 4, 4, 80, 160, 96, 0.08f, false}})
    for (int splits : {1, 3})
      check_case(c, splits);
  // MLA decode over latent caches of other ranks: kv_lora 384 + rope 64, 256 + 64, 128 + 16, and
  // 576 with no separate rope part.
  for (const Case& c : {Case{2, 1, 16, 1, 1000, 448, 384, 0.06f, true}, Case{1, 1, 32, 1, 500, 320, 256, 0.07f, true},
                        Case{3, 1, 8, 1, 300, 144, 128, 0.08f, true}, Case{1, 1, 16, 1, 200, 576, 576, 0.04f, true}})
    for (int splits : {1, 0, 3})
      check_case(c, splits);
}

TEST_CASE("attention with a sliding window matches the reference", "[gpu]")
{
  require_gpu();
  // Decode: the last 100 of 1000 keys, split or not (splits chunk only the keys some query sees);
  // prefill: 70 queries, each over the 32 keys up to its own; MLA decode over the last 64.
  check_case(Case{2, 1, 16, 2, 1000, 128, 128, 0.1f, false, 100}, 1);
  check_case(Case{2, 1, 16, 2, 1000, 128, 128, 0.1f, false, 100}, 0);
  check_case(Case{2, 1, 16, 2, 1000, 128, 128, 0.1f, false, 100}, 7);
  check_case(Case{1, 70, 8, 2, 150, 64, 64, 0.125f, false, 32}, 1);
  check_case(Case{1, 70, 8, 2, 150, 64, 64, 0.125f, false, 32}, 3);
  check_case(Case{1, 1, 16, 1, 500, 576, 512, 0.07f, true, 64}, 0);
  // A window wider than the cache is no window.
  check_case(Case{1, 1, 8, 8, 50, 128, 128, 0.1f, false, 4096}, 1);
}

TEST_CASE("attention launches are captured in a CUDA graph and replay the same", "[gpu]")
{
  require_gpu();
  Rng rng(seed);
  const int B = 2, H = 32, KVH = 4, ctx = 3000, D = 128;
  const auto q = random_bf16(rng, std::size_t(B) * H * D, -3, 3);
  const auto kv = random_bf16(rng, std::size_t(B) * ctx * KVH * D * 2, -1, 1);
  DeviceBuffer<bf16_t> dq(q), dkv(kv), out1(std::size_t(B) * H * D), out2(std::size_t(B) * H * D);
  const bf16_t* k = dkv.get();
  const bf16_t* v = dkv.get() + std::size_t(B) * ctx * KVH * D;
  kn::AttentionArgs a = kn::attention_gqa(dq.get(), k, v, out1.get(), B, 1, H, KVH, ctx, D, D, 0.1f);
  const int s = 6;
  DeviceBuffer<unsigned char> ws(kn::attention_workspace_bytes(a, s));
  kn::attention(a, s, ws.get(), kn::attention_workspace_bytes(a, s), nullptr);
  cudaStream_t st;
  MOESIM_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  a.out = out2.get();
  cudaGraph_t g;
  MOESIM_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
  kn::attention(a, s, ws.get(), kn::attention_workspace_bytes(a, s), st);
  MOESIM_CHECK(cudaStreamEndCapture(st, &g));
  cudaGraphExec_t ge;
  MOESIM_CHECK(cudaGraphInstantiate(&ge, g, 0));
  MOESIM_CHECK(cudaGraphLaunch(ge, st));
  MOESIM_CHECK(cudaStreamSynchronize(st));
  const Mismatch m = compare_exact(out2.download(), out1.download());
  INFO(m.first);
  CHECK(m.wrong == 0);
  MOESIM_CHECK(cudaGraphExecDestroy(ge));
  MOESIM_CHECK(cudaGraphDestroy(g));
  MOESIM_CHECK(cudaStreamDestroy(st));
}

TEST_CASE("reference attention: hand-derived values", "[quick]")
{
  ref::AttentionDims d;
  d.qk_dim = 1, d.v_dim = 1;
  std::vector<double> out(1), abs(1);
  // One key: the output is its value.
  d.kv_len = 1;
  ref::attention_row(bf16s({2}), bf16s({3}), bf16s({-5}), d, 0, 0, out, abs);
  CHECK(out[0] == -5.0);
  CHECK(abs[0] == 5.0);
  // Scores ln(3) and 0 (scale ln 3, q = 1, k = 1 and 0): softmax 3/4 and 1/4, out = 3/4 * 4 + 1/4 * 8 = 5.
  d.kv_len = 2;
  d.scale = static_cast<float>(std::log(3.0));
  ref::attention_row(bf16s({1}), bf16s({1, 0}), bf16s({4, 8}), d, 0, 0, out, abs);
  CHECK(out[0] == Approx(5.0).epsilon(1e-6));
  // Equal scores (q = 0): the mean of the values; out_abs is the mean of |v|.
  ref::attention_row(bf16s({0}), bf16s({1, -1}), bf16s({4, -8}), d, 0, 0, out, abs);
  CHECK(out[0] == -2.0);
  CHECK(abs[0] == 6.0);
  // Causal: 2 queries over 3 keys; query 0 sees keys 0 and 1, query 1 all three (q = 0: means).
  d.q_len = 2, d.kv_len = 3, d.scale = 1;
  ref::attention_row(bf16s({0}), bf16s({1, 2, 3}), bf16s({1, 2, 6}), d, 0, 0, out, abs);
  CHECK(out[0] == 1.5);
  ref::attention_row(bf16s({0}), bf16s({1, 2, 3}), bf16s({1, 2, 6}), d, 1, 0, out, abs);
  CHECK(out[0] == 3.0);
  // GQA: 4 query heads over 2 KV heads; head h reads KV head h / 2, whose values are all kv + 1.
  d.q_len = 1, d.q_heads = 4, d.kv_heads = 2, d.kv_len = 2;
  const auto k = bf16s({0.5f, -1, 2, 1}); // [key][kv head]
  const auto v = bf16s({1, 2, 1, 2});
  for (int h = 0; h < 4; h++) {
    ref::attention_row(bf16s({1}), k, v, d, 0, h, out, abs);
    CHECK(out[0] == Approx(h / 2 + 1.0).epsilon(1e-12));
  }
  // The whole-batch form agrees with the rows and gives a positive score error bound.
  std::vector<double> all(8), all_abs(8), eps(8);
  ref::attention(bf16s({1, 1, 1, 1, -1, -1, -1, -1}), bf16s({0.5f, -1, 2, 1, 1, 1, 1, 1}), bf16s({1, 2, 1, 2, 3, 4, 3, 4}),
                 all, all_abs, eps, 2, d);
  CHECK(all[0] == Approx(1.0));
  CHECK(all[7] == Approx(4.0));
  CHECK(eps[0] > 0);
  CHECK_THROWS_AS(ref::attention_row(bf16s({1}), k, v, d, 0, 4, out, abs), std::invalid_argument); // head 4 of 4
  d.q_len = 3;                                                                                       // > kv_len 2
  CHECK_THROWS_AS(ref::attention_row(bf16s({1}), k, v, d, 0, 0, out, abs), std::invalid_argument);
}

TEST_CASE("reference attention: a sliding window keeps the last window keys", "[quick]")
{
  // q = 0: every score is 0, so the output is the mean of the values the query sees.
  ref::AttentionDims d;
  d.qk_dim = 1, d.v_dim = 1, d.scale = 1;
  std::vector<double> out(1), abs(1);
  // Decode over 4 keys with window 2: keys 2 and 3, values 6 and 10: mean 8.
  d.kv_len = 4, d.window = 2;
  ref::attention_row(bf16s({0}), bf16s({1, 1, 1, 1}), bf16s({1, 2, 6, 10}), d, 0, 0, out, abs);
  CHECK(out[0] == 8.0);
  // Prefill, 2 queries over 3 keys, window 2: query 0 is at position 1 (keys 0, 1: mean 1.5), query 1
  // at position 2 (keys 1, 2: mean 4).
  d.q_len = 2, d.kv_len = 3;
  ref::attention_row(bf16s({0}), bf16s({1, 1, 1}), bf16s({1, 2, 6}), d, 0, 0, out, abs);
  CHECK(out[0] == 1.5);
  ref::attention_row(bf16s({0}), bf16s({1, 1, 1}), bf16s({1, 2, 6}), d, 1, 0, out, abs);
  CHECK(out[0] == 4.0);
  // Window 1: only the query's own key.
  d.window = 1;
  ref::attention_row(bf16s({0}), bf16s({1, 1, 1}), bf16s({1, 2, 6}), d, 1, 0, out, abs);
  CHECK(out[0] == 6.0);
  d.window = -1;
  CHECK_THROWS_AS(ref::attention_row(bf16s({0}), bf16s({1, 1, 1}), bf16s({1, 2, 6}), d, 1, 0, out, abs),
                  std::invalid_argument);
}

TEST_CASE("attention tiling: the zoo's dims keep their tiles, and every supported pair fits", "[quick]")
{
  // Q, K, V and out at distinct addresses (v = k would mean values inside the keys: MLA's latent cache).
  const auto* p = reinterpret_cast<const bf16_t*>(std::uintptr_t(256));
  const auto* k = reinterpret_cast<const bf16_t*>(std::uintptr_t(1 << 20));
  const auto* v = reinterpret_cast<const bf16_t*>(std::uintptr_t(1 << 24));
  auto* o = reinterpret_cast<bf16_t*>(std::uintptr_t(512));
  constexpr std::size_t h100 = 232448, a100 = 166912; // opt-in shared memory per block: 227 KB and 163 KB
  // GQA decode (128, 128), 32 query heads over 8 KV heads: 4 rows per KV head -> decode tiles,
  // 16 rows x 64 keys, 4 warps. Shared memory (row strides dim + 8): Q 16 * 136 * 2 = 4352,
  // K and V 64 * 136 * 2 = 17408 each, S 16 * 68 * 4 = 4352, P 16 * 72 * 2 = 2304, statistics
  // 16 * 3 * 4 = 192: 46016 bytes.
  kn::AttentionTiling t = kn::attention_tiling(kn::attention_gqa(p, k, v, o, 8, 1, 32, 8, 4096, 128, 128, 0.1f), h100);
  CHECK(std::string(t.shape) == "decode");
  CHECK(t.rows_per_block == 16);
  CHECK(t.keys_per_tile == 64);
  CHECK(t.threads == 128);
  CHECK(t.value_bucket == 128);
  CHECK(t.smem_bytes == 46016);
  // Prefill (128, 128), 64 queries: 64 rows x 64 keys, 4 warps owning whole rows (no S, P or
  // statistics in shared memory): Q, K, V 64 * 136 * 2 = 17408 each: 52224.
  t = kn::attention_tiling(kn::attention_gqa(p, k, v, o, 1, 64, 8, 8, 64, 128, 128, 0.1f), h100);
  CHECK(std::string(t.shape) == "prefill");
  CHECK(t.rows_per_block == 64);
  CHECK(t.keys_per_tile == 64);
  CHECK(t.smem_bytes == 52224);
  // MLA prefill (192, 128): Q and K 64 * 200 * 2 = 25600 each, V 64 * 136 * 2 = 17408: 68608.
  t = kn::attention_tiling(kn::attention_gqa(p, k, v, o, 1, 128, 16, 16, 128, 192, 128, 0.1f), h100);
  CHECK(std::string(t.shape) == "prefill");
  CHECK(t.smem_bytes == 68608);
  // MLA decode (576, 512) over the latent cache: 32 rows x 32 keys, 8 warps; Q and K 32 * 584 * 2 =
  // 37376 each, no V tile, S 32 * 36 * 4 = 4608, P 32 * 40 * 2 = 2560, statistics 384: 82304.
  t = kn::attention_tiling(kn::attention_mla_decode(p, k, o, 4, 128, 4096, 512, 64, 0.1f), h100);
  CHECK(std::string(t.shape) == "latent");
  CHECK(t.rows_per_block == 32);
  CHECK(t.keys_per_tile == 32);
  CHECK(t.threads == 256);
  CHECK(t.value_bucket == 512);
  CHECK(t.smem_bytes == 82304);
  // GQA decode (576, 576): 64-key tiles need 16 * 584 * 2 + 2 * 64 * 584 * 2 + 4352 + 2304 + 192 =
  // 175040 bytes, more than an A100 allows; 32-key tiles need 18688 + 2 * 37376 + 16 * 36 * 4 +
  // 16 * 40 * 2 + 192 = 97216.
  t = kn::attention_tiling(kn::attention_gqa(p, k, v, o, 1, 1, 4, 4, 100, 576, 576, 0.1f), h100);
  CHECK(t.keys_per_tile == 64);
  CHECK(t.smem_bytes == 175040);
  t = kn::attention_tiling(kn::attention_gqa(p, k, v, o, 1, 1, 4, 4, 100, 576, 576, 0.1f), a100);
  CHECK(t.keys_per_tile == 32);
  CHECK(t.smem_bytes == 97216);
  CHECK_THROWS_WITH(kn::attention_tiling(kn::attention_gqa(p, k, v, o, 1, 1, 4, 4, 100, 576, 576, 0.1f), 50000),
                    Catch::Contains("this device allows 50000"));
  // Every supported pair, decode (G = 4) and prefill (64 queries), and every latent pair (v <= qk):
  // a configuration fits both devices, with a value bucket at least v_dim and less than 1.5x it plus 64.
  long checked = 0;
  for (std::size_t limit : {h100, a100})
    for (int qk = 16; qk <= 576; qk += 16)
      for (int vd = 16; vd <= 576; vd += 16) {
        std::vector<kn::AttentionArgs> cases = {kn::attention_gqa(p, k, v, o, 1, 1, 32, 8, 1000, qk, vd, 0.1f),
                                                kn::attention_gqa(p, k, v, o, 1, 64, 8, 8, 64, qk, vd, 0.1f)};
        if (vd <= qk)
          cases.push_back(kn::attention_mla_decode(p, k, o, 1, 16, 1000, vd, qk - vd, 0.1f));
        for (const kn::AttentionArgs& a : cases) {
          INFO("qk " << qk << " v " << vd << " limit " << limit << " latent " << (a.v == a.k));
          kn::AttentionTiling x;
          REQUIRE_NOTHROW(x = kn::attention_tiling(a, limit));
          CHECK(x.smem_bytes <= limit);
          CHECK(x.value_bucket >= vd);
          CHECK(x.value_bucket < 1.5 * vd + 64);
          checked++;
        }
      }
  // 36 x 36 pairs, two shapes each, plus 36 * 37 / 2 latent pairs, on two devices.
  CHECK(checked == 2 * (36 * 36 * 2 + 36 * 37 / 2));
}

TEST_CASE("attention tolerance: its terms", "[quick]")
{
  // With no score error and a short context: 1.25 * ((2^-8 + 2^-21 + 16 * 2^-23 + 1/16 * 2^-23) * out_abs
  // + (2^-8 + (1/8 + 16) * 2^-24) * |ref|) for kv_len 1.
  const double t = ref::attention_tolerance(0.5, 1.0, 0.0, 1);
  const double want = 1.25 * ((0x1p-8 + 0x1p-21 + (1 / 16.0 + 16) * 0x1p-23) + (0x1p-8 + (1 / 8.0 + 16) * 0x1p-24) * 0.5);
  CHECK(t == Approx(want).epsilon(1e-12));
  // A score error eps adds (e^(2 eps) - 1) * out_abs.
  CHECK(ref::attention_tolerance(0.5, 1.0, 0.01, 1) - t == Approx(1.25 * std::expm1(0.02)).epsilon(1e-9));
}

TEST_CASE("reference gemm, its tolerance and fp8 e4m3 decoding", "[quick]")
{
  // y = x w^T: x = [[1, 2], [3, -4]], w = [[1, 0], [0.5, -1]] -> [[1, -1.5], [3, 5.5]];
  // sum |x w| = [[1, 2.5], [3, 5.5]].
  std::vector<double> y(4), abs(4);
  ref::gemm(std::vector<float>{1, 2, 3, -4}, std::vector<float>{1, 0, 0.5f, -1}, y, abs, 2, 2, 2);
  CHECK(y == std::vector<double>{1, -1.5, 3, 5.5});
  CHECK(abs == std::vector<double>{1, 2.5, 3, 5.5});
  CHECK_THROWS_AS(ref::gemm(std::vector<float>{1}, std::vector<float>{1, 0, 0.5f, -1}, y, abs, 2, 2, 2),
                  std::invalid_argument);
  // bf16, k = 16: 2^-8 |ref| + (16 / 16 + 32) * 2^-23 * 1.01 * sum|x w|.
  CHECK(ref::gemm_tolerance(2.0, 10.0, 16, false) == Approx(2 * 0x1p-8 + 33 * 0x1p-23 * 1.01 * 10).epsilon(1e-12));
  // fp8, k = 64: (64 / 32 + 32) * 2^-13 per unit of sum|x w|.
  CHECK(ref::gemm_tolerance(0.0, 1.0, 64, true) == Approx(34 * 0x1p-13 * 1.01).epsilon(1e-12));
  // e4m3: bias 7, 3 mantissa bits; 0x38 = 2^0; 0x3c = 1.5; 0x7e = 1.75 * 2^8 = 448 (the largest);
  // 0x08 = 2^-6 (smallest normal); 0x01 = 2^-9 (smallest subnormal); 0x7f is NaN; 0x80 is -0.
  CHECK(ref::fp8_e4m3_to_float(0x38) == 1.0f);
  CHECK(ref::fp8_e4m3_to_float(0x3c) == 1.5f);
  CHECK(ref::fp8_e4m3_to_float(0x7e) == 448.0f);
  CHECK(ref::fp8_e4m3_to_float(0xfe) == -448.0f);
  CHECK(ref::fp8_e4m3_to_float(0x08) == 0x1p-6f);
  CHECK(ref::fp8_e4m3_to_float(0x01) == 0x1p-9f);
  CHECK(std::isnan(ref::fp8_e4m3_to_float(0x7f)));
  CHECK(std::signbit(ref::fp8_e4m3_to_float(0x80)));
  CHECK(ref::fp8_e4m3_to_float(0x80) == 0.0f);
}

TEST_CASE("attention launcher: argument checks and split choice need no GPU", "[quick]")
{
  const auto* p = reinterpret_cast<const bf16_t*>(std::uintptr_t(256));
  auto* o = reinterpret_cast<bf16_t*>(std::uintptr_t(512));
  kn::AttentionArgs a = kn::attention_gqa(p, p, p, o, 1, 1, 32, 8, 4096, 128, 128, 0.1f);
  // 1 row tile x 8 KV heads = 8 blocks: splits for 4 blocks per SM (66), at least 256 keys each (16).
  CHECK(kn::attention_splits(a, 132) == 16);
  a.batch = 64; // 512 blocks: no split
  CHECK(kn::attention_splits(a, 132) == 1);
  a.batch = 32; // 256 blocks, under 2 per SM: ceil(528 / 256) = 3 splits
  CHECK(kn::attention_splits(a, 132) == 3);
  a.batch = 1, a.kv_len = 200; // too few keys to split
  CHECK(kn::attention_splits(a, 132) == 1);
  a.kv_len = 4096;
  CHECK(kn::attention_workspace_bytes(a, 1) == 0);
  CHECK(kn::attention_workspace_bytes(a, 4) == 4u * 32 * (128 + 2) * 4);
  // Any multiples of 16 from 16 to 576, qk and v independently.
  CHECK(kn::attention_supported(576, 512));
  CHECK(kn::attention_supported(96, 96));
  CHECK(kn::attention_supported(16, 576));
  CHECK_FALSE(kn::attention_supported(100, 96));
  CHECK_FALSE(kn::attention_supported(592, 64));
  CHECK_FALSE(kn::attention_supported(0, 16));
  CHECK_THROWS_WITH(kn::attention(a, 0, nullptr, 0, nullptr), Catch::Contains("splits must be in [1, 128]"));
  CHECK_THROWS_WITH(kn::attention(a, 4, nullptr, 16, nullptr), Catch::Contains("the workspace holds 16 bytes"));
  kn::AttentionArgs bad = a;
  bad.qk_dim = bad.v_dim = 104;
  CHECK_THROWS_WITH(kn::attention(bad, 1, nullptr, 0, nullptr), Catch::Contains("(104, 104) is not supported"));
  bad = a;
  bad.window = -1;
  CHECK_THROWS_WITH(kn::attention(bad, 1, nullptr, 0, nullptr), Catch::Contains("window must be >= 0"));
  bad = a;
  bad.q_heads = 30; // not a multiple of 8 KV heads
  CHECK_THROWS_AS(kn::attention(bad, 1, nullptr, 0, nullptr), std::invalid_argument);
  bad = a;
  bad.q_len = 5000; // more queries than keys
  CHECK_THROWS_WITH(kn::attention(bad, 1, nullptr, 0, nullptr), Catch::Contains("kv_len (4096) must be >= q_len"));
  bad = a;
  bad.k_row_stride = 1028; // not a multiple of 8
  CHECK_THROWS_WITH(kn::attention(bad, 1, nullptr, 0, nullptr), Catch::Contains("multiples of 8"));
  bad = kn::attention_mla_decode(p, p, o, 1, 16, 100, 112, 16, 0.1f);
  bad.v_dim = 144; // values inside the keys cannot be wider than the keys (128)
  CHECK_THROWS_WITH(kn::attention(bad, 1, nullptr, 0, nullptr), Catch::Contains("values inside the keys"));
  bad = a;
  bad.k = p + 1; // misaligned
  CHECK_THROWS_WITH(kn::attention(bad, 1, nullptr, 0, nullptr), Catch::Contains("16-byte aligned"));
  // Nothing to do: returns before any launch.
  a.batch = 0;
  CHECK_NOTHROW(kn::attention(a, 1, nullptr, 0, nullptr));
  CHECK_THROWS_AS(kn::fill_uniform_bf16(nullptr, 4, 1.0f, 0.0f, 1, nullptr), std::invalid_argument);
  CHECK_NOTHROW(kn::fill_uniform_bf16(nullptr, 0, 0.0f, 1.0f, 1, nullptr));
}

TEST_CASE("fill_uniform: values in range, seeded, every element written", "[gpu]")
{
  require_gpu();
  const std::int64_t n = 100003;
  DeviceBuffer<bf16_t> a(n), b(n);
  DeviceBuffer<std::uint8_t> f8(n);
  DeviceBuffer<float> f32(n);
  kn::fill_uniform_bf16(a.get(), n, -1, 1, 42, nullptr);
  kn::fill_uniform_bf16(b.get(), n, -1, 1, 42, nullptr);
  kn::fill_uniform_fp8(f8.get(), n, -2, 2, 42, nullptr);
  kn::fill_uniform_f32(f32.get(), n, 3, 5, 43, nullptr);
  const auto va = a.download(), vb = b.download();
  CHECK(compare_exact(va, vb).wrong == 0); // same seed, same values
  double sum = 0;
  for (bf16_t x : va) {
    const float v = bf16_to_float(x);
    REQUIRE((v >= -1 && v <= 1));
    sum += v;
  }
  CHECK(std::fabs(sum / n) < 0.02); // mean of uniform[-1, 1]
  for (std::uint8_t x : f8.download()) {
    const float v = ref::fp8_e4m3_to_float(x);
    REQUIRE((v >= -2 && v <= 2));
  }
  for (float v : f32.download())
    REQUIRE((v >= 3 && v < 5));
}
