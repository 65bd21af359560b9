// `moesim-validate bench-collectives`: the calibration micro-benchmark. One collective over
// sizes on the first N GPUs, one thread driving all of them through one NCCL communicator (as
// nccl-tests -g N), bf16 data. Every size is first run once on known values and checked on the
// device (#wrong, as nccl-tests counts it), then warmed up and timed `iters` times, in one of two
// ways (--timing):
//   host    nccl-tests' way: `iters` launches back to back timed by the host clock, divided by
//           iters. A small call then costs what the host takes to launch it on every GPU, which
//           the simulator charges separately (launch_us): calibrating from it over-predicts
//           collectives inside a step.
//   events  the GPU time of one call once all ranks have arrived, without the host's launch
//           cost. The host first queues on every GPU a wait (spin.hpp) long enough to queue all
//           `iters` calls behind it (events_spin_seconds; a size whose queuing outlasted the
//           wait is run again with a longer one), then each call between a CUDA event before and
//           one after it on every GPU's stream. The GPUs so run the calls back to back and never
//           wait for the host. Events of different GPUs cannot be compared, so GPU g gives
//           span[g] = end[g] - start[g] on its own clock, and a call's time is the minimum over
//           GPUs of span[g]; the row is the median over the calls (events_call_seconds). Why the
//           minimum: the simulator starts a collective when its last member arrives and charges
//           the time before that to the others as waiting. The last rank to arrive waits for
//           nobody, so its span is the call from "all arrived" to its end: max end - max start
//           over the GPUs, up to the spread of the ranks' finishes (about one hop's latency).
//           The maximum would add the ranks' arrival skew (max end - min start), and a span
//           includes the GPU-side start of the kernel but never a host launch.
// The table is in nccl-tests' layout (size, count, type, redop, root, time, algbw, busbw, #wrong;
// out-of-place only) so that core/nccl_tests.hpp reads it; its header's second line names the
// timing. --json writes nccl-tests' -J layout plus "timing", the machine and the NCCL environment.
#pragma once
#include "core/nccl_tests_shape.hpp"
#include "core/schedule.hpp"
#include "validate/device_info.hpp"
#include "validate/options.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace moesim::validate {

// nccl-tests' shape of a requested size on `ranks` ranks, in bf16 elements: the one rule in
// core/nccl_tests_shape.hpp, which `moesim nccl-tests` uses too. bytes is the "size" column after
// rounding (0 when the size is too small to run).
using BenchShape = NcclTestsShape;
BenchShape bench_shape(OpKind op, std::size_t bytes, int ranks);

struct BenchRow {
  std::size_t bytes = 0;
  std::size_t count = 0;
  double seconds = 0;    // per call (host: per launch; events: see above)
  std::size_t wrong = 0; // elements wrong over all ranks
  double algbw() const;  // GB/s (1e9 B/s), as nccl-tests
};
double busbw(OpKind op, int ranks, const BenchRow& r);

// --timing events. The GPU-side wait before `iters` calls on `gpus` GPUs: 2 ms, plus 30 us per GPU
// per call for the host to queue them (a grouped NCCL launch and two event records per GPU).
double events_spin_seconds(int gpus, int iters);
// One row's time from spans[i][g] = end - start of call i on GPU g (seconds, each on its GPU's own
// clock): the median over calls (the lower one of an even count) of the minimum over GPUs.
// Throws std::invalid_argument when there are no calls or a call has no GPUs.
double events_call_seconds(const std::vector<std::vector<double>>& spans);

// The table's parts, in nccl-tests' layout.
std::string bench_header(OpKind op, int ranks, const BenchOptions& o, const SystemInfo& sys);
std::string bench_row(OpKind op, int ranks, const BenchRow& r);
std::string bench_footer(OpKind op, int ranks, const std::vector<BenchRow>& rows);
nlohmann::json bench_json(const BenchOptions& o, const std::vector<BenchRow>& rows, const SystemInfo& sys);

// Runs the benchmark, printing the table to `out` row by row. Throws InputError when fewer than
// o.gpus devices are visible or the buffers do not fit.
std::vector<BenchRow> run_collectives_bench(const BenchOptions& o, std::FILE* out);

} // namespace moesim::validate
