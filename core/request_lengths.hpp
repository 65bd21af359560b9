// Request lengths for serving: the input (prompt) and output tokens of each request of a serve
// workload, as one number (every request alike), a distribution drawn with a fixed seed, or an
// explicit list of (input, output) pairs. The draws use the project's own generator (core/routing's
// Rng, xoshiro256**) and transforms written here (no std::*_distribution, whose output differs
// between standard libraries), so the same workload gives the same lengths on every platform.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace moesim {

enum class LengthKind { fixed, uniform, lognormal };

struct LengthDist {
  LengthKind kind = LengthKind::fixed;
  int value = 1;       // fixed
  int min = 1;         // uniform: the range; lognormal: the clip (a draw outside reads as the bound)
  int max = 1;
  double mean = 0;     // lognormal: the mean of the unclipped distribution, in tokens
  double sigma = 0;    // lognormal: the standard deviation of ln(length)
  std::string describe() const; // "512", "uniform 200-8000", "lognormal mean 300 sigma 0.8 in 1-4096"
};

// A lognormal's sigma from its mean and median: mean = median x exp(sigma^2 / 2), so
// sigma = sqrt(2 ln(mean / median)). Throws std::invalid_argument unless 0 < median <= mean.
double lognormal_sigma_from_median(double mean, double median);

// Checks a distribution; throws InputError naming `file` and `key` (and saying the fix): a range
// with min > max or outside [1, max_tokens], a non-positive mean, a negative sigma.
void check_length_dist(const LengthDist& d, const std::string& file, const std::string& key, int max_tokens);

// Reads the command-line form: "N" (fixed), "uniform:MIN:MAX", "lognormal:MEAN:SIGMA:MIN:MAX" or
// "lognormal:MEAN:median=MEDIAN:MIN:MAX". Throws InputError naming `flag` on anything else.
LengthDist parse_length_spec(const std::string& text, const std::string& flag, int max_tokens);

// Reads a lengths file: one request a line, "input,output" in whole tokens; blank lines, lines
// starting with '#' and a first line "input,output" are skipped. Throws InputError naming
// "path:line" for a line that is not two whole numbers in [1, max_tokens], and for a file with none.
std::vector<std::pair<int, int>> read_lengths_file(const std::string& path, int max_tokens);

// Every request's lengths for a serve workload.
struct ServeLengths {
  LengthDist input, output;                 // both fixed: every request alike (no draws)
  std::vector<std::pair<int, int>> pairs;   // when not empty: request i takes pairs[i mod size]
  std::string pairs_file;                   // where the pairs came from, for the report
  std::uint64_t seed = 1;                   // of the draws (inputs and outputs use separate streams)
  bool varied() const;                      // anything but fixed lengths
  std::string describe() const;             // "input lognormal ..., output ...", or "lengths FILE"
};

struct RequestLengths {
  std::vector<int> input, output; // one per request
  double mean_input = 0, mean_output = 0;
  int min_input = 0, max_input = 0, min_output = 0, max_output = 0;
  int max_total = 0;              // the largest input + output of a request
};

// The lengths of `requests` requests: the list cycled, or inputs drawn from Rng(seed) and outputs
// from Rng(seed ^ output_stream) one per request in order. A uniform draw is min + floor(u (max -
// min + 1)); a lognormal one is exp(mu + sigma z) rounded to the nearest whole token and clipped,
// with mu = ln(mean) - sigma^2 / 2 and z = sqrt(-2 ln(1 - u1)) cos(2 pi u2) (Box-Muller, the cosine
// branch only: two uniforms a draw).
RequestLengths draw_request_lengths(const ServeLengths& l, int requests);
constexpr std::uint64_t output_stream = 0x6f75747075747321ULL; // "output!"

} // namespace moesim
