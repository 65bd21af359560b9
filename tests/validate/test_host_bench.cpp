// bench-host: its command line and thread counts without a GPU; on a GPU, that every cost is
// measured and plausible.
#include "core/error.hpp"
#include "tests/kernels/gpu_test.hpp"
#include "validate/host_bench.hpp"

#include <catch2/catch.hpp>

#include <cstdio>

using namespace moesim;
using namespace moesim::validate;

TEST_CASE("bench-host command line and thread counts", "[quick]")
{
  const HostBenchOptions o = parse_host_bench_options({"-g", "4", "-n", "50", "--json", "h.json"});
  CHECK(o.gpus == 4);
  CHECK(o.reps == 50);
  CHECK(o.json == "h.json");
  CHECK(parse_host_bench_options({}).gpus == 1);
  CHECK_THROWS_AS(parse_host_bench_options({"-g", "0"}), InputError);
  CHECK_THROWS_AS(parse_host_bench_options({"-n", "5"}), InputError); // at least 10 repetitions
  CHECK_THROWS_AS(parse_host_bench_options({"--frob"}), InputError);
  // 1, 2, 4, ... below the GPU count, then the count itself
  CHECK(host_bench_threads(1) == std::vector<int>{1});
  CHECK(host_bench_threads(4) == std::vector<int>{1, 2, 4});
  CHECK(host_bench_threads(6) == std::vector<int>{1, 2, 4, 6});
  CHECK(host_bench_threads(8) == std::vector<int>{1, 2, 4, 8});
}

TEST_CASE("bench-host measures every cost on a GPU", "[gpu]")
{
  test::require_gpu();
  HostBenchOptions o;
  o.reps = 20;
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  const auto rows = run_host_bench(o, out);
  std::fclose(out);
  REQUIRE(rows.size() == 1);
  // Every call costs the host something, and none a millisecond.
  for (double t : {rows[0].launch_busy_s, rows[0].launch_idle_s, rows[0].event_record_s, rows[0].sync_s}) {
    CHECK(t > 0);
    CHECK(t < 1e-3);
  }
  CHECK_THROWS_AS(run_host_bench(HostBenchOptions{1000, 20, ""}, stdout), InputError);
}
