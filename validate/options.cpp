#include "validate/options.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <limits>

namespace moesim::validate {

namespace {

const char* const where = "command line";

[[noreturn]] void bad(const std::string& option, const std::string& what, const std::string& fix)
{
  throw InputError(where, option, what, fix);
}

// The value after `args[i]`, advancing i.
const std::string& value_of(const std::vector<std::string>& args, std::size_t& i)
{
  if (i + 1 >= args.size())
    bad(args[i], "needs a value", "write " + args[i] + " VALUE");
  return args[++i];
}

long long parse_integer(const std::string& s, const std::string& option, long long lo, long long hi)
{
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size())
    bad(option, "'" + s + "' is not an integer", "write a whole number");
  if (v < lo || v > hi)
    bad(option, std::to_string(v) + " is out of range",
        "pick a value from " + std::to_string(lo) + " to " + std::to_string(hi));
  return v;
}

} // namespace

int count_option(const std::vector<std::string>& args, std::size_t& i, int lo, int hi)
{
  const std::string option = args[i];
  const std::string& v = value_of(args, i);
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || n < lo || n > hi)
    bad(option, "'" + v + "' is not a whole number from " + std::to_string(lo) + " to " + std::to_string(hi),
        "write e.g. " + option + " " + std::to_string(std::max(lo, 3)));
  return static_cast<int>(n);
}

std::pair<int, int> shard_option(const std::vector<std::string>& args, std::size_t& i)
{
  const std::string v = i + 1 < args.size() ? args[i + 1] : "";
  const auto slash = v.find('/');
  int n = 0, k = 0;
  try {
    if (slash != std::string::npos) {
      std::size_t u1 = 0, u2 = 0;
      k = std::stoi(v.substr(0, slash), &u1);
      n = std::stoi(v.substr(slash + 1), &u2);
      if (u1 != slash || u2 != v.size() - slash - 1)
        n = 0;
    }
  } catch (const std::exception&) {
    n = 0;
  }
  if (n < 1 || k < 1 || k > n)
    throw InputError("command line", "--shard", "'" + v + "' is not I/N with 1 <= I <= N", "write e.g. --shard 2/4");
  i++;
  return {k, n};
}

const char* bench_op_name(OpKind op)
{
  return op == OpKind::send ? "sendrecv" : to_string(op);
}

OpKind parse_bench_op(const std::string& s)
{
  for (OpKind op : {OpKind::all_reduce, OpKind::all_gather, OpKind::reduce_scatter, OpKind::all_to_all, OpKind::send})
    if (s == bench_op_name(op))
      return op;
  if (s == "alltoall")
    return OpKind::all_to_all;
  bad("--op", "unknown collective '" + s + "'", "use all_reduce, all_gather, reduce_scatter, all_to_all or sendrecv");
}

const char* bench_timing_name(BenchTiming t)
{
  return t == BenchTiming::events ? "events" : "host";
}

BenchTiming parse_bench_timing(const std::string& s)
{
  for (BenchTiming t : {BenchTiming::host, BenchTiming::events})
    if (s == bench_timing_name(t))
      return t;
  bad("--timing", "unknown timing '" + s + "'",
      "use host (the host clock over all launches, as nccl-tests) or events (CUDA events per call, "
      "without the host's launch cost)");
}

std::size_t parse_size(const std::string& s, const std::string& option)
{
  if (s.empty())
    bad(option, "empty size", "write a byte count such as 1K, 256M or 4096");
  std::size_t scale = 1;
  std::string digits = s;
  switch (s.back()) {
    case 'K': case 'k': scale = std::size_t(1) << 10; break;
    case 'M': case 'm': scale = std::size_t(1) << 20; break;
    case 'G': case 'g': scale = std::size_t(1) << 30; break;
    default: break;
  }
  if (scale != 1)
    digits.pop_back();
  const long long max = std::numeric_limits<long long>::max() / static_cast<long long>(scale);
  return static_cast<std::size_t>(parse_integer(digits, option, 0, max)) * scale;
}

std::string format_size(std::size_t bytes)
{
  static const char suffix[] = {'G', 'M', 'K'};
  for (int i = 0; i < 3; i++) {
    const std::size_t unit = std::size_t(1) << (10 * (3 - i));
    if (bytes >= unit && bytes % unit == 0)
      return std::to_string(bytes / unit) + suffix[i];
  }
  return std::to_string(bytes);
}

std::vector<std::size_t> bench_sizes(const BenchOptions& o)
{
  std::vector<std::size_t> sizes;
  for (std::size_t s = o.min_bytes; s <= o.max_bytes; s *= o.factor) {
    sizes.push_back(s);
    if (s > o.max_bytes / o.factor)
      break; // the next one would overflow or pass max
  }
  return sizes;
}

RunOptions parse_run_options(const std::vector<std::string>& args)
{
  RunOptions o;
  for (std::size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--out" || a == "-o")
      o.out = value_of(args, i);
    else if (a == "--graph")
      o.graph = true;
    else if (a == "--iters")
      o.iters = static_cast<int>(parse_integer(value_of(args, i), a, 1, 100000));
    else if (a == "--warmup")
      o.warmup = static_cast<int>(parse_integer(value_of(args, i), a, 0, 100000));
    else if (a == "--seed")
      o.seed = static_cast<std::uint64_t>(
          parse_integer(value_of(args, i), a, 0, std::numeric_limits<long long>::max()));
    else if (a == "--platform")
      o.platform = value_of(args, i);
    else if (!a.empty() && a[0] == '-')
      bad(a, "unknown option", "see moesim-validate --help");
    else if (o.schedule.empty())
      o.schedule = a;
    else
      bad(a, "a second schedule file", "run one schedule at a time");
  }
  if (o.schedule.empty())
    bad("SCHEDULE", "no schedule file given", "pass the JSON written by `moesim schedule`");
  if (o.out.empty())
    bad("--out", "is required", "name the timeline JSON to write, e.g. --out timeline.json");
  return o;
}

BenchOptions parse_bench_options(const std::vector<std::string>& args)
{
  BenchOptions o;
  bool have_op = false;
  for (std::size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--op")
      o.op = parse_bench_op(value_of(args, i)), have_op = true;
    else if (a == "-b" || a == "--minbytes")
      o.min_bytes = parse_size(value_of(args, i), a);
    else if (a == "-e" || a == "--maxbytes")
      o.max_bytes = parse_size(value_of(args, i), a);
    else if (a == "-f" || a == "--stepfactor")
      o.factor = static_cast<std::size_t>(parse_integer(value_of(args, i), a, 2, 1 << 20));
    else if (a == "-g" || a == "--gpus")
      o.gpus = static_cast<int>(parse_integer(value_of(args, i), a, 1, 1024));
    else if (a == "-n" || a == "--iters")
      o.iters = static_cast<int>(parse_integer(value_of(args, i), a, 1, 1000000));
    else if (a == "-w" || a == "--warmup")
      o.warmup = static_cast<int>(parse_integer(value_of(args, i), a, 0, 1000000));
    else if (a == "--timing")
      o.timing = parse_bench_timing(value_of(args, i));
    else if (a == "--json")
      o.json = value_of(args, i);
    else
      bad(a, "unknown argument", "see moesim-validate --help");
  }
  if (!have_op)
    bad("--op", "is required", "pick all_reduce, all_gather, reduce_scatter, all_to_all or sendrecv");
  if (o.min_bytes == 0)
    bad("-b", "the smallest size must be at least 1 byte", "write e.g. -b 1K");
  if (o.max_bytes < o.min_bytes)
    bad("-e", format_size(o.max_bytes) + " is below -b " + format_size(o.min_bytes), "make -e at least -b");
  if (o.timing == BenchTiming::events && o.iters > max_event_iters)
    bad("-n", std::to_string(o.iters) + " iterations are too many for --timing events (2 CUDA events per GPU per "
        "iteration, all queued at once)",
        "use at most " + std::to_string(max_event_iters) + " iterations, or --timing host");
  return o;
}

} // namespace moesim::validate
