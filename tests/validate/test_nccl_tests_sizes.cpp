// Both users of nccl-tests' size rule agree: the harness (moesim-validate bench-collectives: its
// options, bench_sizes and bench_shape) and the simulator (moesim nccl-tests: the schedule
// pipeline/nccl_tests_run.hpp builds) give the same sizes and counts for every collective and
// -g 1..8, from the same command line. Needs no GPU; built where both the harness (CUDA) and the
// simulator (SimGrid) are.
#include "pipeline/nccl_tests_run.hpp"
#include "validate/collectives_bench.hpp"
#include "validate/options.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace moesim;

TEST_CASE("nccl-tests sizes: the harness and the simulator give the same rows for every op and -g 1..8", "[quick]")
{
  struct Range {
    const char *b, *e, *f;
  };
  // nccl-tests' default sweep, an odd start (rows that are not powers of two), and decimals.
  const std::vector<Range> ranges = {{"8", "256M", "2"}, {"1000", "10M", "3"}, {"0.5K", "64K", "4"}};
  for (const char* op : {"all_reduce", "all_gather", "reduce_scatter", "alltoall", "sendrecv"})
    for (int g = 1; g <= 8; g++)
      for (const Range& r : ranges) {
        INFO(op << " -g " << g << " -b " << r.b << " -e " << r.e << " -f " << r.f);
        // The harness, from its command line.
        const validate::BenchOptions o = validate::parse_bench_options(
            {"--op", op, "-b", r.b, "-e", r.e, "-f", r.f, "-g", std::to_string(g)});
        std::vector<std::pair<std::size_t, std::size_t>> harness; // (size column, count column)
        for (std::size_t s : validate::bench_sizes(o)) {
          const validate::BenchShape sh = validate::bench_shape(o.op, s, g);
          if (sh.count > 0) // run_collectives_bench times only these
            harness.push_back({sh.bytes, sh.count});
        }
        // The simulator, from the same numbers.
        const std::vector<std::size_t> sizes =
            nccl_tests_sizes(parse_nccl_tests_size(r.b, "-b"), parse_nccl_tests_size(r.e, "-e"), std::stoul(r.f));
        const NcclTestsSchedule ns = nccl_tests_schedule(nccl_tests_op(op), sizes, g, 8);
        std::vector<std::pair<std::size_t, std::size_t>> simulator;
        for (const NcclTestsTableRow& row : ns.rows)
          simulator.push_back({static_cast<std::size_t>(row.bytes), static_cast<std::size_t>(row.count)});
        CHECK(harness == simulator);
        CHECK(!harness.empty());
      }
}
