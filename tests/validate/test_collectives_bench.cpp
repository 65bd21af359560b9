// bench-collectives' two timings (--timing host|events). [quick]: the option, its refusals, the
// events arithmetic and what the table and the JSON say about the timing, read back by the
// nccl-tests reader. [gpu]: every collective timed with events on 1 and 2 GPUs.
#include "tests/temp_dir.hpp"
#include "core/error.hpp"
#include "core/nccl_tests.hpp"
#include "tests/kernels/gpu_test.hpp"
#include "validate/collectives_bench.hpp"
#include "validate/options.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

using namespace moesim;
using namespace moesim::validate;

namespace {

std::string refusal(const std::function<void()>& f)
{
  try {
    f();
  } catch (const InputError& e) {
    CHECK(e.file() == "command line");
    CHECK(!e.fix().empty());
    return e.what();
  }
  return "accepted";
}

// moesim-validate's combined output and exit status.
std::pair<int, std::string> run_validate(const std::string& args)
{
  std::string out;
  FILE* p = popen((std::string("'") + MOESIM_VALIDATE_EXE + "' " + args + " 2>&1").c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p))
    out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

SystemInfo two_h100()
{
  SystemInfo sys;
  sys.nccl_version = 22809;
  sys.runtime_version = 13000;
  for (int i = 0; i < 2; i++)
    sys.devices.push_back({i, "NVIDIA H100 80GB HBM3", 9, 0, 80LL << 30, 132, "0000:1" + std::to_string(i) + ":00.0"});
  sys.device_count = 2;
  return sys;
}

} // namespace

TEST_CASE("bench --timing: host by default, events on request, refusals name the fix", "[quick]")
{
  CHECK(parse_bench_options({"--op", "all_reduce"}).timing == BenchTiming::host);
  CHECK(parse_bench_options({"--op", "all_reduce", "--timing", "host"}).timing == BenchTiming::host);
  const BenchOptions e = parse_bench_options({"--timing", "events", "--op", "all_to_all", "-n", "7"});
  CHECK(e.timing == BenchTiming::events);
  CHECK(e.iters == 7);
  CHECK(bench_timing_name(BenchTiming::events) == std::string("events"));
  CHECK(parse_bench_timing("host") == BenchTiming::host);

  auto bad = [](std::vector<std::string> a) { return refusal([&] { parse_bench_options(a); }); };
  CHECK_THAT(bad({"--op", "all_reduce", "--timing", "gpu"}),
             Catch::StartsWith("command line: --timing: unknown timing 'gpu'") && Catch::Contains("fix: use host") &&
                 Catch::Contains("events"));
  CHECK_THAT(bad({"--op", "all_reduce", "--timing"}), Catch::StartsWith("command line: --timing: needs a value"));
  CHECK_THAT(bad({"--op", "all_reduce", "--timing", "Events"}), Catch::Contains("unknown timing 'Events'"));
  // Events keep two CUDA events per GPU per call: -n is capped, host timing is not.
  CHECK_THAT(bad({"--op", "all_reduce", "--timing", "events", "-n", "10001"}),
             Catch::StartsWith("command line: -n: 10001 iterations are too many for --timing events") &&
                 Catch::Contains("at most 10000"));
  CHECK(parse_bench_options({"--op", "all_reduce", "--timing", "events", "-n", "10000"}).iters == 10000);
  CHECK(parse_bench_options({"--op", "all_reduce", "-n", "10001"}).iters == 10001);

  // Through the command line: exit 2 and the one line, before any GPU work.
  const auto [status, output] = run_validate("bench-collectives --op all_reduce --timing bogus");
  CHECK(status == 2);
  CHECK_THAT(output, Catch::Contains("moesim-validate: error: command line: --timing: unknown timing 'bogus'"));
}

TEST_CASE("bench --timing events: the GPU wait and the per-call time", "[quick]")
{
  // 2 ms + 30 us x 4 GPUs x 20 calls = 2 + 2.4 = 4.4 ms.
  CHECK(events_spin_seconds(4, 20) == Approx(4.4e-3));
  CHECK(events_spin_seconds(1, 0) == Approx(2e-3));

  // Three calls on two GPUs, spans (end - start) in us on each GPU's own clock:
  //   call 0: GPU 0 arrived first and waited 7 us for GPU 1: {19, 12} -> min 12
  //   call 1: {10, 11} -> min 10
  //   call 2: {30, 31} (a slow outlier) -> min 30
  // Minima 12, 10, 30; their median is 12.
  const std::vector<std::vector<double>> spans = {{19e-6, 12e-6}, {10e-6, 11e-6}, {30e-6, 31e-6}};
  CHECK(events_call_seconds(spans) == Approx(12e-6));
  // An even count takes the lower of the middle two: minima 10, 12 -> 10.
  CHECK(events_call_seconds({{19e-6, 12e-6}, {10e-6, 11e-6}}) == Approx(10e-6));
  CHECK(events_call_seconds({{5e-6}}) == Approx(5e-6)); // one GPU
  CHECK_THROWS_AS(events_call_seconds({}), std::invalid_argument);
  CHECK_THROWS_AS(events_call_seconds({{}}), std::invalid_argument);
}

TEST_CASE("bench output names its timing and still reads back as an nccl-tests log", "[quick]")
{
  test::TempDir dir("moesim_test_collectives_bench");
  const SystemInfo sys = two_h100();
  const std::vector<BenchRow> rows = {{1024, 512, 8e-6, 0}, {2048, 1024, 9e-6, 0}};
  for (const char* timing : {"host", "events"}) {
    INFO(timing);
    const BenchOptions o =
        parse_bench_options({"--op", "all_reduce", "-b", "1K", "-e", "2K", "-g", "2", "--timing", timing});
    std::string text = bench_header(o.op, 2, o, sys);
    CHECK_THAT(text, Catch::Contains(std::string("out-of-place; timing: ") + timing + ":"));
    for (const BenchRow& r : rows)
      text += bench_row(o.op, 2, r);
    text += bench_footer(o.op, 2, rows);
    // The timing is said in '#' lines only: every line that is not a comment is a row.
    std::size_t row_lines = 0, pos = 0;
    while (pos < text.size()) {
      const std::size_t eol = text.find('\n', pos);
      if (text[pos] != '#')
        row_lines++;
      pos = eol == std::string::npos ? text.size() : eol + 1;
    }
    CHECK(row_lines == 2);

    const NcclTestsLog log = parse_nccl_tests_log(dir.write(std::string("ar.") + timing + ".txt", text));
    CHECK(log.kind == OpKind::all_reduce);
    CHECK(log.ranks == 2);
    REQUIRE(log.rows.size() == 2);
    CHECK(log.rows[0].seconds == Approx(8e-6));

    const nlohmann::json j = bench_json(o, rows, sys);
    CHECK(j.at("timing") == timing);
    const NcclTestsLog jl = parse_nccl_tests_log(dir.write(std::string("ar.") + timing + ".json", j.dump()));
    REQUIRE(jl.rows.size() == 2);
    CHECK(jl.rows[1].seconds == Approx(9e-6));
  }
}

TEST_CASE("bench-collectives --timing events: every collective is correct and timed", "[gpu]")
{
  test::require_gpu();
  int gpus = 0;
  MOESIM_CHECK(cudaGetDeviceCount(&gpus));
  const int n = std::min(gpus, 2);
  for (OpKind op : {OpKind::all_reduce, OpKind::all_gather, OpKind::reduce_scatter, OpKind::all_to_all, OpKind::send}) {
    BenchOptions o;
    o.op = op;
    o.gpus = n;
    o.min_bytes = 1024;
    o.max_bytes = 4 << 20;
    o.factor = 16;
    o.iters = 5;
    o.warmup = 1;
    o.timing = BenchTiming::events;
    std::FILE* out = std::tmpfile();
    REQUIRE(out);
    const std::vector<BenchRow> rows = run_collectives_bench(o, out);
    std::fclose(out);
    INFO(bench_op_name(op) << " on " << n << " GPUs");
    CHECK(rows.size() == 4); // 1K, 16K, 256K, 4M
    for (const BenchRow& r : rows) {
      CHECK(r.wrong == 0);
      CHECK(r.seconds > 0);
      CHECK(r.seconds < 0.1); // a call, not the GPU wait before them
    }
  }
}
