// `moesim-validate bench-collectives`: the calibration micro-benchmark. One collective over
// sizes on the first N GPUs, one thread driving all of them through one NCCL communicator (as
// nccl-tests -g N), bf16 data. Every size is first run once on known values and checked on the
// device (#wrong, as nccl-tests counts it), then timed: warm-up launches, then `iters` launches
// timed by the host clock and divided by iters. The table is in nccl-tests' layout (size, count,
// type, redop, root, time, algbw, busbw, #wrong; out-of-place only) so that core/nccl_tests.hpp
// reads it, and --json writes nccl-tests' -J layout plus the machine and the NCCL environment.
#pragma once
#include "core/schedule.hpp"
#include "validate/device_info.hpp"
#include "validate/options.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace moesim::validate {

// nccl-tests' shapes for a requested size, in bf16 elements:
//   all_reduce     count = size / 2; send = recv = count
//   all_gather     count = size / 2 / n per rank; send = count, recv = n x count
//   reduce_scatter count = size / 2 / n per rank; send = n x count, recv = count
//   all_to_all     count = per peer, size / 2 / n rounded down to 16 bytes; send = recv = n x count
//   sendrecv       count = size / 2; send = recv = count (rank r sends to r + 1, receives from r - 1)
// bytes is the "size" column after that rounding (0 when the size is too small to run).
struct BenchShape {
  std::size_t bytes = 0;
  std::size_t count = 0;
  std::size_t send_elements = 0, recv_elements = 0;
};
BenchShape bench_shape(OpKind op, std::size_t bytes, int ranks);

struct BenchRow {
  std::size_t bytes = 0;
  std::size_t count = 0;
  double seconds = 0;    // per launch
  std::size_t wrong = 0; // elements wrong over all ranks
  double algbw() const;  // GB/s (1e9 B/s), as nccl-tests
};
double busbw(OpKind op, int ranks, const BenchRow& r);

// The table's parts, in nccl-tests' layout.
std::string bench_header(OpKind op, int ranks, const BenchOptions& o, const SystemInfo& sys);
std::string bench_row(OpKind op, int ranks, const BenchRow& r);
std::string bench_footer(OpKind op, int ranks, const std::vector<BenchRow>& rows);
nlohmann::json bench_json(const BenchOptions& o, const std::vector<BenchRow>& rows, const SystemInfo& sys);

// Runs the benchmark, printing the table to `out` row by row. Throws InputError when fewer than
// o.gpus devices are visible or the buffers do not fit.
std::vector<BenchRow> run_collectives_bench(const BenchOptions& o, std::FILE* out);

} // namespace moesim::validate
