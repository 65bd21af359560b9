// The command lines of `moesim-validate run` and `moesim-validate bench-collectives`, parsed into
// typed structs (no GPU needed). Errors are InputError naming "command line", the option and the fix.
#pragma once
#include "core/schedule.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace moesim::validate {

// moesim-validate run SCHEDULE.json --out TIMELINE.json [--graph] [--iters N] [--warmup N] [--seed S]
//                                   [--platform NAME]
struct RunOptions {
  std::string schedule;   // the JSON `moesim schedule` wrote
  std::string out;        // where the measured Timeline goes
  bool graph = false;     // capture the step in a CUDA graph per rank and time graph launches
  int iters = 10;         // timed iterations (the median one is reported)
  int warmup = 3;         // untimed iterations first
  std::uint64_t seed = 1; // inputs and weights of the compute ops
  std::string platform;   // the Timeline's platform; empty: "<N>x <device name>"
};

// The collectives bench-collectives measures, as OpKinds: all_reduce, all_gather, reduce_scatter,
// all_to_all, and send for nccl-tests' sendrecv (rank r sends to r+1 and receives from r-1).
const char* bench_op_name(OpKind op);    // "all_reduce", ..., "sendrecv"
OpKind parse_bench_op(const std::string& s); // those names (and nccl-tests' "alltoall"); throws InputError

// How bench-collectives times a size (collectives_bench.hpp says what each one measures):
//   host    the host clock over `iters` back-to-back launches, divided by iters (nccl-tests' way;
//           small calls then include the host's launch cost)
//   events  CUDA events around every call, queued behind a GPU-side wait so that the host's launch
//           cost stays out of the time
enum class BenchTiming { host, events };
const char* bench_timing_name(BenchTiming t);            // "host", "events"
BenchTiming parse_bench_timing(const std::string& s);    // those names; throws InputError naming --timing
// --timing events keeps 2 CUDA events per GPU per iteration and waits 30 us per GPU per iteration
// on the GPU: -n is capped at this.
constexpr int max_event_iters = 10000;

// moesim-validate bench-collectives --op OP [-b MIN] [-e MAX] [-f FACTOR] [-g GPUS] [-n ITERS]
//                                   [-w WARMUP] [--timing host|events] [--json FILE]
// As nccl-tests: sizes from -b to -e multiplied by -f, with K, M, G suffixes (powers of 1024).
struct BenchOptions {
  OpKind op = OpKind::all_reduce;
  std::size_t min_bytes = 1024;
  std::size_t max_bytes = 256u << 20;
  std::size_t factor = 2;
  int gpus = 1;
  int iters = 20;
  int warmup = 5;
  BenchTiming timing = BenchTiming::host;
  std::string json; // empty: no JSON
};

// The whole number after args[i] (advancing i), from lo to hi, for the bench modes' counts
// (--iters, -g, ...). Throws InputError naming "command line" and args[i]: "'x' is not a whole number
// from lo to hi", or "needs a value".
int count_option(const std::vector<std::string>& args, std::size_t& i, int lo, int hi);
// "--shard I/N" after args[i] (advancing i): {I, N} with 1 <= I <= N. Throws InputError naming
// "command line" and --shard: "'x' is not I/N with 1 <= I <= N".
std::pair<int, int> shard_option(const std::vector<std::string>& args, std::size_t& i);

// Both take the arguments after the mode word ("run" / "bench-collectives").
RunOptions parse_run_options(const std::vector<std::string>& args);
BenchOptions parse_bench_options(const std::vector<std::string>& args);

// "1K" -> 1024, "256M" -> 268435456, "1G", "4096"; throws InputError naming `option`.
std::size_t parse_size(const std::string& s, const std::string& option);
// min, min*f, min*f^2, ... up to max (inclusive), as nccl-tests steps.
std::vector<std::size_t> bench_sizes(const BenchOptions& o);
// "1K", "256M", "3000": the largest suffix that divides the size exactly.
std::string format_size(std::size_t bytes);

} // namespace moesim::validate
