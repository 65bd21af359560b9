// `moesim nccl-tests` (pipeline/nccl_tests_run.hpp): the schedule it simulates has nccl-tests'
// sizes and counts from core's one rule, and each size's time is read back by (rank, op id).
#include "core/error.hpp"
#include "core/nccl_tests_shape.hpp"
#include "pipeline/nccl_tests_run.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace moesim;

TEST_CASE("nccl-tests schedule: rows and ops carry core's shapes for every op and 1..8 ranks", "[quick][pipeline]")
{
  const std::vector<std::size_t> sizes = nccl_tests_sizes(8, 1 << 20, 2);
  for (OpKind op : {OpKind::all_reduce, OpKind::all_gather, OpKind::reduce_scatter, OpKind::all_to_all, OpKind::send})
    for (int g = 1; g <= 8; g++) {
      INFO(to_string(op) << " on " << g << " ranks");
      const NcclTestsSchedule ns = nccl_tests_schedule(op, sizes, g, 8);
      size_t row = 0;
      for (std::size_t size : sizes) {
        const NcclTestsShape sh = nccl_tests_shape(op, size, g);
        if (sh.bytes == 0)
          continue; // nothing runs
        REQUIRE(row < ns.rows.size());
        CHECK(ns.rows[row].bytes == static_cast<double>(sh.bytes));
        CHECK(ns.rows[row].count == static_cast<double>(sh.count));
        row++;
      }
      CHECK(row == ns.rows.size());
      // Every op of every rank maps to a row, and carries that row's bytes: the size column for
      // all_reduce, all_gather (output), reduce_scatter (input) and sendrecv; for alltoall, count
      // elements of 2 bytes to each of the g - 1 others.
      for (int r = 0; r < 8; r++) {
        const auto& ops = ns.schedule.ranks[r].ops;
        REQUIRE(ns.row_of_op[r].size() == ops.size());
        CHECK(ops.size() == (r < g ? ns.rows.size() * (op == OpKind::send ? 2 : 1) : 0));
        for (size_t i = 0; i < ops.size(); i++) {
          const NcclTestsTableRow& tr = ns.rows[ns.row_of_op[r][i]];
          CHECK(ops[i].id == static_cast<int>(i));
          if (op == OpKind::all_to_all) {
            CHECK(ops[i].comm_bytes == tr.count * 2 * (g - 1));
            CHECK(ops[i].peer_bytes[r] == 0);
          } else {
            CHECK(ops[i].comm_bytes == tr.bytes);
          }
        }
      }
    }
}

TEST_CASE("nccl-tests run: alltoall 1 KiB over 3 GPUs is nccl-tests' 1008 B", "[quick][pipeline]")
{
  // 512 elements / 3 = 170, rounded down to 8: 168 per peer, 3 x 168 x 2 B = 1008 B.
  NcclTestsRequest q;
  q.root = MOESIM_SOURCE_DIR;
  q.platform = "nvswitch-4x-h100";
  q.op = "alltoall";
  q.min_bytes = q.max_bytes = "1024";
  q.gpus = 3;
  const NcclTestsRun run = simulate_nccl_tests(q);
  REQUIRE(run.rows.size() == 1);
  CHECK(run.rows[0].bytes == 1008);
  CHECK(run.rows[0].count == 168);
  CHECK(run.rows[0].seconds > 0);
}

TEST_CASE("nccl-tests run: bad options are refused before simulating", "[quick][pipeline]")
{
  NcclTestsRequest q;
  q.root = MOESIM_SOURCE_DIR;
  q.platform = "nvswitch-4x-h100";
  auto refusal = [](const NcclTestsRequest& r) {
    try {
      simulate_nccl_tests(r);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  NcclTestsRequest bad = q;
  bad.gpus = 1;
  CHECK_THAT(refusal(bad), Catch::Contains("-g: needs between 2 and 4 GPUs, got 1"));
  bad = q;
  bad.factor = "1";
  CHECK_THAT(refusal(bad), Catch::Contains("-f: the step factor must be a whole number of at least 2, got '1'"));
  bad.factor = "1.0000001";
  CHECK_THAT(refusal(bad), Catch::Contains("got '1.0000001'"));
  bad = q;
  bad.min_bytes = "1MB";
  CHECK_THAT(refusal(bad), Catch::Contains("-b: cannot read size '1MB'"));
  bad = q;
  bad.op = "broadcast";
  CHECK_THAT(refusal(bad), Catch::Contains("--op: unknown nccl-tests collective 'broadcast'"));
  bad = q;
  bad.nccl_version = "2.27";
  CHECK_THAT(refusal(bad), Catch::Contains("--nccl-version: '2.27' is not an NCCL version"));
}

// 8 A100s, 4 MiB: 512 KiB to each of 7 peers. NCCL 2.29 sends it Simple, 37.914 us
// (tests/core/test_costs.cpp: 19.0355 us of latency and last chunk, 7 x 524288 B at 194.4 GB/s);
// 2.27.3, which NVIDIA's sweep ran (64.34 us measured), sends it LL on 4 channels a peer at 2.51 GB/s
// each: 10.295 + 52.2199 = 62.5149 us. Every pair is its own NVSwitch path, so the flows run at
// their rate. One simulation per test case (one SimGrid engine per process).
namespace {
NcclTestsRequest a100_alltoall_4m()
{
  NcclTestsRequest q;
  q.root = MOESIM_SOURCE_DIR;
  q.platform = "hgx-8x-a100";
  q.op = "alltoall";
  q.min_bytes = q.max_bytes = "4M";
  q.calibration = "none";
  return q;
}
} // namespace

TEST_CASE("nccl-tests run: an A100 all-to-all of 4 MiB is Simple under NCCL 2.29", "[quick][pipeline]")
{
  const NcclTestsRun run = simulate_nccl_tests(a100_alltoall_4m());
  REQUIRE(run.rows.size() == 1);
  CHECK(run.rows[0].seconds == Approx(37.9142e-6).epsilon(1e-3));
}

TEST_CASE("nccl-tests run: --nccl-version 2.27.3 sends an A100 all-to-all of 4 MiB with LL", "[quick][pipeline]")
{
  NcclTestsRequest q = a100_alltoall_4m();
  q.nccl_version = "2.27.3";
  const NcclTestsRun run = simulate_nccl_tests(q);
  REQUIRE(run.rows.size() == 1);
  CHECK(run.rows[0].seconds == Approx(62.5149e-6).epsilon(1e-3));
}
