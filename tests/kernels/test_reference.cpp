// The CPU references (kernels/reference.hpp) against values derived by hand. They need no GPU:
// they are what the [gpu] tests trust, so they are checked on their own here.
#include "tests/kernels/gpu_test.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

using namespace moesim::test;
namespace ref = moesim::kernels::ref;

namespace {

std::vector<bf16_t> bf16s(std::initializer_list<float> v)
{
  std::vector<bf16_t> out;
  for (float x : v)
    out.push_back(float_to_bf16(x));
  return out;
}

std::vector<float> floats(const std::vector<bf16_t>& v)
{
  std::vector<float> out;
  for (bf16_t x : v)
    out.push_back(bf16_to_float(x));
  return out;
}

} // namespace

TEST_CASE("bf16 conversions round to nearest even", "[quick]")
{
  // bf16 keeps 8 significant bits: in [1, 2) neighbours are 2^-7 apart, so 1 + 2^-8 is the midpoint
  // of 1 (0x3f80, even) and 1 + 2^-7 (0x3f81), and 1 + 3 * 2^-8 the midpoint of 0x3f81 and 0x3f82.
  CHECK(float_to_bf16(1.0f) == 0x3f80);
  CHECK(float_to_bf16(1.0f + 0x1p-8f) == 0x3f80);               // tie -> even
  CHECK(float_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);           // tie -> even
  CHECK(float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81);    // just above the tie -> up
  CHECK(float_to_bf16(-2.0f) == 0xc000);
  CHECK(float_to_bf16(-0.0f) == 0x8000);
  // FLT_MAX = (2 - 2^-23) * 2^127 lies above the midpoint between the largest bf16,
  // (2 - 2^-7) * 2^127 (0x7f7f), and 2^128: it overflows to infinity.
  CHECK(float_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);
  // A subnormal fp32, 2^-133 = 0x00000100, is the subnormal bf16 0x0001 (same exponent range).
  CHECK(float_to_bf16(0x1p-133f) == 0x0001);
  CHECK(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(bf16_to_float(float_to_bf16(-std::numeric_limits<float>::signaling_NaN()))));
  // Widening is exact: every bf16 survives the round trip.
  for (unsigned b = 0; b < 0x10000; b++)
    if ((b & 0x7fff) <= 0x7f80) // not NaN
      REQUIRE(float_to_bf16(bf16_to_float(static_cast<bf16_t>(b))) == b);
}

TEST_CASE("reference rmsnorm", "[quick]")
{
  // x = [3, 4], eps = 0: mean square = (9 + 16) / 2 = 12.5, so out = [3, 4] / sqrt(12.5) * w.
  // 3 / sqrt(12.5) = 0.848528: in [0.5, 1) bf16 steps are 2^-8, 0.848528 * 256 = 217.2 -> 217 / 256.
  // 4 / sqrt(12.5) = 1.131371: in [1, 2) steps are 2^-7, 1.131371 * 128 = 144.8 -> 145 / 128.
  std::vector<bf16_t> out(2);
  ref::rmsnorm(bf16s({3, 4}), bf16s({1, 1}), out, 1, 2, 0.0f);
  CHECK(floats(out) == std::vector<float>{217.0f / 256, 145.0f / 128});
  // w = [0.5, 2] halves and doubles those before the one rounding:
  // 0.424264 * 512 = 217.2 -> 217 / 512; 2.262742 * 64 = 144.8 -> 145 / 64.
  ref::rmsnorm(bf16s({3, 4}), bf16s({0.5f, 2}), out, 1, 2, 0.0f);
  CHECK(floats(out) == std::vector<float>{217.0f / 512, 145.0f / 64});
  // eps = 3.5 makes the mean square 16: out = x / 4 exactly; rows are independent.
  std::vector<bf16_t> two(4);
  ref::rmsnorm(bf16s({3, 4, 3, 4}), bf16s({1, 1}), two, 2, 2, 3.5f);
  CHECK(floats(two) == std::vector<float>{0.75f, 1.0f, 0.75f, 1.0f});
  CHECK_THROWS_WITH(ref::rmsnorm(bf16s({3, 4}), bf16s({1, 1}), two, 1, 2, 0.0f),
                    "kernels::rmsnorm: out has 4 elements, expected 2");
  CHECK_THROWS_AS(ref::rmsnorm(bf16s({}), bf16s({}), out, 1, 0, 0.0f), std::invalid_argument);
}

TEST_CASE("reference silu_mul", "[quick]")
{
  // One row, inter = 3: gates [0, 1, -1], ups [5, 2, 1].
  // silu(0) * 5 = 0.
  // silu(1) * 2 = 2 / (1 + e^-1) = 1.462117; steps of 2^-7 in [1, 2): * 128 = 187.15 -> 187 / 128.
  // silu(-1) * 1 = -1 / (1 + e) = -0.268941; steps of 2^-9 in [0.25, 0.5): * 512 = 137.70 -> -138 / 512.
  std::vector<bf16_t> out(3);
  ref::silu_mul(bf16s({0, 1, -1, 5, 2, 1}), out, 1, 3);
  CHECK(floats(out) == std::vector<float>{0.0f, 187.0f / 128, -138.0f / 512});
}

TEST_CASE("reference residual_add rounds once", "[quick]")
{
  // 1 + 3 * 2^-8 (both exact in bf16) is the midpoint of 1 + 2^-7 and 1 + 2^-6: ties to even 1 + 2^-6.
  // 1 + 2^-8 ties to even 1. 2 + 3 = 5 exactly.
  std::vector<bf16_t> out(3);
  ref::residual_add(bf16s({1, 1, 2}), bf16s({3 * 0x1p-8f, 0x1p-8f, 3}), out);
  CHECK(floats(out) == std::vector<float>{1.0f + 0x1p-6f, 1.0f, 5.0f});
}

TEST_CASE("reference topk_softmax", "[quick]")
{
  // logits [1, 3, 2, 3]: the two 3s tie, the lower expert (1) first, then 3, then 2 (logit 2).
  const std::vector<float> logits{1, 3, 2, 3};
  std::vector<std::int32_t> ids(2);
  std::vector<float> w(2);
  // Renormalised over the two chosen: equal logits, so 1/2 each.
  ref::topk_softmax(logits, ids, w, 1, 4, 2, true);
  CHECK(ids == std::vector<std::int32_t>{1, 3});
  CHECK(w == std::vector<float>{0.5f, 0.5f});
  // Not renormalised: e^3 / (e^1 + 2 e^3 + e^2) = 1 / (e^-2 + 2 + e^-1) = 1 / 2.503214 = 0.399487.
  ref::topk_softmax(logits, ids, w, 1, 4, 2, false);
  CHECK(ids == std::vector<std::int32_t>{1, 3});
  CHECK(w[0] == Approx(0.399487).epsilon(1e-5));
  CHECK(w[1] == w[0]);
  // k = 3, renormalised: weights e^0, e^0, e^-1 over 2 + e^-1 = 2.367879: 0.422319, 0.422319, 0.155362.
  std::vector<std::int32_t> ids3(3);
  std::vector<float> w3(3);
  ref::topk_softmax(logits, ids3, w3, 1, 4, 3, true);
  CHECK(ids3 == std::vector<std::int32_t>{1, 3, 2});
  CHECK(w3[0] == Approx(0.422319).epsilon(1e-5));
  CHECK(w3[2] == Approx(0.155362).epsilon(1e-5));
  CHECK_THROWS_WITH(ref::topk_softmax(logits, ids, w, 1, 4, 9, true),
                    "kernels::topk_softmax: k must be in [1, 4], got 9");
}

TEST_CASE("reference permute and unpermute", "[quick]")
{
  // 3 tokens with one value each (10, 20, 30), k = 2, experts chosen [[2, 0], [1, 2], [0, 0]].
  // Slots t * k + j: 0 -> e2, 1 -> e0, 2 -> e1, 3 -> e2, 4 -> e0, 5 -> e0.
  // Expert 0 gets slots 1, 4, 5 (rows 0-2), expert 1 slot 2 (row 3), expert 2 slots 0, 3 (rows 4, 5).
  const auto x = bf16s({10, 20, 30});
  const std::vector<std::int32_t> ids{2, 0, 1, 2, 0, 0};
  std::vector<bf16_t> out(6);
  std::vector<std::int32_t> dest(6), offsets(4);
  ref::permute(x, ids, out, dest, offsets, 3, 1, 2, 0, 3);
  CHECK(offsets == std::vector<std::int32_t>{0, 3, 4, 6});
  CHECK(dest == std::vector<std::int32_t>{4, 0, 3, 5, 1, 2});
  CHECK(floats(out) == std::vector<float>{10, 30, 30, 20, 10, 20});

  // Unpermute with identity experts and weights [[0.25, 0.75], [0.5, 0.5], [1, 2]]:
  // token 0 = 0.25 * 10 + 0.75 * 10 = 10, token 1 = 20, token 2 = 30 + 2 * 30 = 90.
  const std::vector<float> w{0.25f, 0.75f, 0.5f, 0.5f, 1, 2};
  std::vector<bf16_t> back(3);
  ref::unpermute(out, dest, w, back, 3, 1, 2);
  CHECK(floats(back) == std::vector<float>{10, 20, 90});

  // The EP shard holding experts 1 and 2 (first_expert 1, experts 2): local 0 = e1, 1 = e2; the
  // e0 slots 1, 4, 5 are dropped. Local 0 gets slot 2 (row 0), local 1 slots 0, 3 (rows 1, 2).
  std::vector<std::int32_t> offsets2(3);
  ref::permute(x, ids, out, dest, offsets2, 3, 1, 2, 1, 2);
  CHECK(offsets2 == std::vector<std::int32_t>{0, 1, 3});
  CHECK(dest == std::vector<std::int32_t>{1, -1, 0, 2, -1, -1});
  CHECK(floats({out.begin(), out.begin() + 3}) == std::vector<float>{20, 10, 20});
  // Dropped slots add nothing: token 0 = 0.25 * 10, token 1 = 20, token 2 = 0.
  ref::unpermute(out, dest, w, back, 3, 1, 2);
  CHECK(floats(back) == std::vector<float>{2.5f, 20, 0});

  CHECK_THROWS_WITH(ref::unpermute(std::vector<bf16_t>(2), dest, w, back, 3, 1, 2),
                    Catch::Contains("past the last row of expert_out"));
}

TEST_CASE("reference embedding of a vocabulary shard", "[quick]")
{
  // Shard of ids 10..12 with rows [1, 2], [3, 4], [5, 6]: id 11 -> [3, 4], 12 -> [5, 6], 9 and 13 -> 0.
  std::vector<bf16_t> out(8);
  ref::embedding(std::vector<std::int32_t>{11, 9, 12, 13}, bf16s({1, 2, 3, 4, 5, 6}), out, 4, 2, 10, 3);
  CHECK(floats(out) == std::vector<float>{3, 4, 0, 0, 5, 6, 0, 0});
}

TEST_CASE("reference argmax", "[quick]")
{
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // Rows of 3: a tie (lowest column wins), NaN wins (the first one), all -inf (column 0), NaN last.
  const std::vector<float> x{5, 1, 5, nan, 1, nan, -inf, -inf, -inf, 1, 2, nan};
  std::vector<std::int32_t> idx(4);
  std::vector<float> val(4);
  ref::argmax(x, idx, val, 4, 3);
  CHECK(idx == std::vector<std::int32_t>{0, 0, 0, 2});
  CHECK(val[0] == 5);
  CHECK(std::isnan(val[1]));
  CHECK(val[2] == -inf);
  ref::argmax(x, idx, {}, 4, 3); // no values wanted
  CHECK(idx == std::vector<std::int32_t>{0, 0, 0, 2});
}
