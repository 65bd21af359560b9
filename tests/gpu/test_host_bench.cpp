// bench-host: its command line, thread counts and JSON without a GPU; on a GPU, that every API's
// cost is measured, plausible, and written as moesim-op-bench-1 host records.
#include "core/error.hpp"
#include "tests/gpu/gpu_test.hpp"
#include "validate/host_bench.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <set>

using namespace moesim;
using namespace moesim::validate;

TEST_CASE("bench-host command line and thread counts", "[quick]")
{
  const HostBenchOptions o = parse_host_bench_options({"-g", "4", "-t", "8", "-n", "50", "--json", "h.json"});
  CHECK(o.gpus == 4);
  CHECK(o.threads == 8);
  CHECK(o.reps == 50);
  CHECK(o.json == "h.json");
  CHECK(parse_host_bench_options({}).gpus == 1);
  CHECK(parse_host_bench_options({}).threads == 0); // as many as GPUs
  CHECK_THROWS_AS(parse_host_bench_options({"-g", "0"}), InputError);
  CHECK_THROWS_AS(parse_host_bench_options({"-n", "5"}), InputError); // at least 10 repetitions
  CHECK_THROWS_AS(parse_host_bench_options({"--frob"}), InputError);
  // 1, 2, 4, ... below the largest count, then the count itself
  CHECK(host_bench_threads(1) == std::vector<int>{1});
  CHECK(host_bench_threads(4) == std::vector<int>{1, 2, 4});
  CHECK(host_bench_threads(6) == std::vector<int>{1, 2, 4, 6});
  CHECK(host_bench_threads(8) == std::vector<int>{1, 2, 4, 8});
  // The APIs the op-bench format names, each once.
  const std::set<std::string> apis(host_apis().begin(), host_apis().end());
  CHECK(apis == std::set<std::string>{"kernel_launch", "cublaslt_call", "nccl_call", "event_record", "sync",
                                      "graph_launch"});
  CHECK(host_apis().size() == 6);
}

TEST_CASE("bench-host measures every API on a GPU", "[gpu]")
{
  test::require_gpu();
  HostBenchOptions o;
  o.reps = 20;
  o.threads = 2; // two threads share the first GPU: 1 and 2 threads measured
  std::FILE* out = std::tmpfile();
  REQUIRE(out);
  const auto rows = run_host_bench(o, out);
  std::fclose(out);
  // 6 APIs idle and 5 busy (sync is idle only), for 1 and 2 threads.
  REQUIRE(rows.size() == 22);
  // Every call costs the host something, and none a millisecond.
  for (const HostCost& c : rows) {
    INFO(c.api << (c.busy ? " busy" : " idle") << " threads " << c.threads);
    CHECK(c.seconds > 0);
    CHECK(c.seconds < 1e-3);
  }
  const nlohmann::json j = host_bench_json(o, rows, query_system_info());
  CHECK(j["format"] == "moesim-op-bench-1");
  CHECK(j["records"].size() == 22);
  CHECK(j["records"][0]["op"] == "host");
  HostBenchOptions too_many;
  too_many.gpus = 1000;
  CHECK_THROWS_AS(run_host_bench(too_many, stdout), InputError);
}
