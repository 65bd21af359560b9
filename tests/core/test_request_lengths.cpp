// Request lengths (core/request_lengths): the samplers' moments within tolerances derived from N
// draws, clipping, determinism and separate input/output streams, the list cycled, and each bad
// spec or lengths file refused naming the flag or file:line.
#include "core/error.hpp"
#include "core/request_lengths.hpp"
#include "tests/refusal.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

using namespace moesim;

namespace {

ServeLengths drawn(const LengthDist& in, const LengthDist& out, std::uint64_t seed = 1)
{
  ServeLengths l;
  l.input = in;
  l.output = out;
  l.seed = seed;
  return l;
}

LengthDist fixed(int v)
{
  LengthDist d;
  d.value = v;
  return d;
}

LengthDist uniform(int lo, int hi)
{
  LengthDist d;
  d.kind = LengthKind::uniform;
  d.min = lo, d.max = hi;
  return d;
}

LengthDist lognormal(double mean, double sigma, int lo, int hi)
{
  LengthDist d;
  d.kind = LengthKind::lognormal;
  d.mean = mean, d.sigma = sigma, d.min = lo, d.max = hi;
  return d;
}

} // namespace

TEST_CASE("Uniform lengths: every value in [min, max], mean (min + max) / 2", "[quick][serving]")
{
  // 100,000 draws of uniform {1, 100}: mean 50.5, variance (100^2 - 1) / 12 = 833.25, so the
  // sample mean's standard error is sqrt(833.25 / 1e5) = 0.091; 5 standard errors: 0.46.
  const int n = 100'000;
  const RequestLengths r = draw_request_lengths(drawn(uniform(1, 100), fixed(7)), n);
  REQUIRE(r.input.size() == static_cast<size_t>(n));
  CHECK(r.min_input == 1);
  CHECK(r.max_input == 100);
  CHECK(std::abs(r.mean_input - 50.5) < 0.46);
  // The fixed output draws nothing: every request 7 tokens.
  CHECK(r.min_output == 7);
  CHECK(r.max_output == 7);
  CHECK(r.max_total == 107);
}

TEST_CASE("Lognormal lengths: the mean is the given mean, the median exp(mu)", "[quick][serving]")
{
  // mean 300, sigma 0.8, clipped to [1, 10^7] (a draw above 10^7 is z > 12.4 sigma: never).
  // mu = ln 300 - 0.32, median exp(mu) = 300 e^-0.32 = 217.84. Variance (e^0.64 - 1) 300^2 =
  // 80,684, sd 284.05; over 200,000 draws the mean's standard error is 284.05 / 447.2 = 0.635, 5 of
  // them 3.2, plus at most 0.5 from rounding to whole tokens: 3.7. The median's standard error is
  // 1 / (2 f(m) sqrt(n)) with f(m) = 1 / (m sigma sqrt(2 pi)) = 1 / 436.8: 436.8 / 894.4 = 0.49;
  // 5 of them plus rounding's 0.5: 3.0.
  const int n = 200'000;
  const RequestLengths r = draw_request_lengths(drawn(fixed(1), lognormal(300, 0.8, 1, 10'000'000)), n);
  CHECK(std::abs(r.mean_output - 300) < 3.7);
  std::vector<int> v = r.output;
  std::nth_element(v.begin(), v.begin() + n / 2, v.end());
  CHECK(std::abs(v[n / 2] - 300 * std::exp(-0.32)) < 3.0);
  // From a published mean and median: sigma = sqrt(2 ln(mean / median)) = sqrt(2 x 0.32) = 0.8.
  CHECK(lognormal_sigma_from_median(300, 300 * std::exp(-0.32)) == Approx(0.8).epsilon(1e-12));
  // sigma 0 is the mean itself: every draw exp(ln 300) = 300.
  const RequestLengths z = draw_request_lengths(drawn(lognormal(300, 0, 1, 1000), fixed(1)), 100);
  CHECK(z.min_input == 300);
  CHECK(z.max_input == 300);
}

TEST_CASE("Lognormal lengths are clipped to [min, max]", "[quick][serving]")
{
  // mean 300, sigma 2 (median 300 e^-2 = 40.6) clipped to [50, 400]: P(X < 50) = Phi((ln 50 - mu) /
  // 2) = Phi(0.104) = 0.54 and P(X > 400) = 1 - Phi((ln 400 - mu) / 2) = 1 - Phi(1.144) = 0.126, so
  // of 10,000 draws about 5,400 read 50 and 1,260 read 400 (each well over 1,000), none outside.
  const RequestLengths r = draw_request_lengths(drawn(lognormal(300, 2, 50, 400), fixed(1)), 10'000);
  CHECK(r.min_input == 50);
  CHECK(r.max_input == 400);
  const auto at_min = std::count(r.input.begin(), r.input.end(), 50);
  const auto at_max = std::count(r.input.begin(), r.input.end(), 400);
  // Binomial sd sqrt(10^4 x 0.54 x 0.46) = 50 and sqrt(10^4 x 0.126 x 0.874) = 33: 5 sd each.
  CHECK(std::abs(at_min - 5400) < 250);
  CHECK(std::abs(at_max - 1260) < 170);
}

TEST_CASE("Length draws are deterministic, seeded, and inputs and outputs use separate streams", "[quick][serving]")
{
  const ServeLengths a = drawn(uniform(1, 1000), lognormal(300, 1, 1, 4096), 7);
  const RequestLengths x = draw_request_lengths(a, 1000), y = draw_request_lengths(a, 1000);
  CHECK(x.input == y.input);
  CHECK(x.output == y.output);
  // Another seed, other lengths.
  CHECK(draw_request_lengths(drawn(uniform(1, 1000), fixed(1), 8), 1000).input != x.input);
  // The inputs do not depend on the output's distribution (its own stream).
  CHECK(draw_request_lengths(drawn(uniform(1, 1000), uniform(5, 6), 7), 1000).input == x.input);
  // A pin across platforms (no std::*_distribution: xoshiro256** seeded by splitmix64, then the
  // transform written out): the first uniform {1, 1000} inputs at seed 1, 1 + floor(1000 u), from
  // an independent Python transcription of the two generators (64-bit arithmetic masked):
  // 703, 521, 575. A change here changes every drawn workload.
  const RequestLengths p = draw_request_lengths(drawn(uniform(1, 1000), fixed(1), 1), 3);
  INFO(p.input[0] << " " << p.input[1] << " " << p.input[2]);
  CHECK(p.input == std::vector<int>{703, 521, 575});
}

TEST_CASE("A list of lengths is cycled over the requests", "[quick][serving]")
{
  ServeLengths l;
  l.pairs = {{10, 1}, {20, 2}};
  // 5 requests take pairs 0, 1, 0, 1, 0: inputs 10 20 10 20 10 (mean 70 / 5 = 14), outputs mean 7 / 5.
  const RequestLengths r = draw_request_lengths(l, 5);
  CHECK(r.input == std::vector<int>{10, 20, 10, 20, 10});
  CHECK(r.output == std::vector<int>{1, 2, 1, 2, 1});
  CHECK(r.mean_input == Approx(14));
  CHECK(r.mean_output == Approx(1.4));
  CHECK(r.max_total == 22);
}

TEST_CASE("Length specs on the command line: good forms and each bad one", "[quick][serving]")
{
  const int max = 1'000'000;
  CHECK(parse_length_spec("512", "--input-dist", max).value == 512);
  const LengthDist u = parse_length_spec("uniform:200:8000", "--input-dist", max);
  CHECK(u.kind == LengthKind::uniform);
  CHECK(u.min == 200);
  CHECK(u.max == 8000);
  const LengthDist l = parse_length_spec("lognormal:300:0.8:1:4096", "--output-dist", max);
  CHECK(l.kind == LengthKind::lognormal);
  CHECK(l.sigma == 0.8);
  // From a median: sqrt(2 ln(300 / 200)) = sqrt(0.8109) = 0.9005.
  CHECK(parse_length_spec("lognormal:300:median=200:1:4096", "--output-dist", max).sigma ==
        Approx(std::sqrt(2 * std::log(1.5))).epsilon(1e-12));
  auto refused = [&](const std::string& spec, const std::string& says) {
    const std::string m = test::refusal([&] { (void)parse_length_spec(spec, "--output-dist", max); });
    INFO(m);
    CHECK(m.find("--output-dist") != std::string::npos);
    CHECK(m.find(says) != std::string::npos);
    CHECK(m.find("fix:") != std::string::npos);
  };
  refused("lognormal:300:-1:1:4096", "sigma -1 is negative");
  refused("uniform:8000:200", "min 8000 is above max 200");
  refused("uniform:1.5:7", "MIN and MAX must be whole numbers");
  refused("lognormal:0:1:1:10", "mean 0 is not positive");
  refused("lognormal:300:median=400:1:4096", "at most the mean");
  refused("normal:300:20", "is not a length or a distribution");
  refused("0", "is not a whole number of tokens");
  refused("uniform:1:2000000", "MIN and MAX must be whole numbers of tokens");
}

TEST_CASE("A lengths file skips a header and comments, and names each bad line by file:line", "[quick][serving]")
{
  test::TempDir dir{"lengths"};
  const int max = 100'000;
  const std::string good = dir.write("good.csv", "input,output\n# from the log\n120,30\n\n4000,700\r\n");
  const auto pairs = read_lengths_file(good, max);
  REQUIRE(pairs.size() == 2);
  CHECK(pairs[0] == std::pair{120, 30});
  CHECK(pairs[1] == std::pair{4000, 700});
  auto refused = [&](const std::string& text, const std::string& place, const std::string& says) {
    const std::string f = dir.write("bad.csv", text);
    const std::string m = test::refusal([&] { (void)read_lengths_file(f, max); });
    INFO(m);
    CHECK(m.find(f + place) != std::string::npos);
    CHECK(m.find(says) != std::string::npos);
    CHECK(m.find("fix:") != std::string::npos);
  };
  refused("input,output\n10,5\n12,x\n", ":3", "is not two whole numbers");
  refused("10,5.5\n", ":1", "is not two whole numbers");
  refused("10,5,3\n", ":1", "is not two whole numbers");
  refused("10,0\n", ":1", "outside [1, 100000]");
  refused("10,200000\n", ":1", "outside [1, 100000]");
  refused("# nothing\n\n", "", "holds no request");
  refused("", "", "holds no request");
}
