// BenchTimer: how the harness times GPU work in isolation (bench-kernels, bench-ops), one method for
// both. On GPU 0's stream of its own:
//   stream  a GPU-side wait (spin.hpp) holds the stream while the host enqueues warmup + iters
//           repetitions, each a read-only L2 flush (twice the L2: clean lines, so no write-back falls
//           on the timed kernels), an event, every instance back to back (the same op with weights of
//           its own each, as layers run it), an event. The time per instance is the span over the
//           count. So the GPU's work is timed with weights cold and kernels queued back to back, as
//           in a real step, and not the host's launch cost nor an event pair per kernel. If the wait
//           ended before the host finished enqueueing, the batch is redone with a longer wait.
//   graph   the same instances captured in one CUDA graph, launched after the same flush; the
//           graph's own launch latency (graph_launch_seconds, measured once) is taken off the span.
// Each gives the median over the iters timed repetitions and their spread, (p90 - p10) / median.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <algorithm>
#include <vector>

namespace moesim::validate {

struct Timing {
  double seconds = 0;       // median GPU time per instance, launched from a stream
  double spread = 0;        // (p90 - p10) / median of the stream repetitions
  double graph_seconds = 0; // the same, the instances captured in one CUDA graph
  double graph_spread = 0;
  double host_seconds = 0;  // median host enqueue time per instance (stream repetitions)
  int reps = 0;             // timed repetitions behind each median
  int spin_retries = 0;     // times the GPU-side wait had to be lengthened
};

// The p-th quantile (0 <= p <= 1) of `v`: the sorted value at index round(p * (n - 1)); 0 for none.
double quantile(std::vector<double> v, double p);
// (quantile(0.9) - quantile(0.1)) / median; 0 when the median is 0 or there are no values.
double spread_of(const std::vector<double>& v);

// What BenchTimer::time holds back behind one GPU-side wait: with more queue entries than this (the
// driver's launch queue holds about a thousand), the host blocks on the full queue until the wait
// ends, so it can never get ahead and the wait is retried four times, 341 times the first wait in
// all (on an H100 on 2026-12-06, 29 s for a point of 16 x 16 per-expert GEMMs: the expert-GEMM
// family ran 53 of its 3,080 planned points). Past it, each repetition gets a wait of its own.
constexpr long kQueuedEntriesPerWait = 768;
// The entries one repetition queues: `instances` x `launches` calls, its L2 flush and two events.
inline long entries_per_rep(int instances, int launches)
{
  return long(std::max(1, instances)) * std::max(1, launches) + 3;
}
// True when `reps` repetitions do not fit behind one wait (each then waits on its own).
inline bool wait_per_rep(int reps, int instances, int launches)
{
  return long(reps) * entries_per_rep(instances, launches) > kQueuedEntriesPerWait;
}

class BenchTimer {
public:
  // On the current device: a non-blocking stream, the flush buffer and the events.
  BenchTimer(int iters, int warmup);
  ~BenchTimer();
  BenchTimer(const BenchTimer&) = delete;
  BenchTimer& operator=(const BenchTimer&) = delete;

  cudaStream_t stream() const { return stream_; }
  std::size_t flush_bytes() const { return flush_bytes_; }
  int iters() const { return iters_; }
  int warmup() const { return warmup_; }

  // Times `instances` calls launch(i, stream), i = 0 .. instances - 1, back to back, each enqueueing
  // `launches` host API calls (kernels or library calls: sizes the GPU-side wait). `graph` false
  // skips the graph measurement (graph_seconds stays 0). launch must neither synchronise nor
  // allocate (it is also captured).
  Timing time(int instances, int launches, const std::function<void(int, cudaStream_t)>& launch, bool graph = true);

  // Host round trip of a 64-byte device-to-host copy and a stream synchronise, GPU idle.
  double sync_seconds();
  // Host time of one cudaEventRecord while the GPU is busy: 200 records behind a GPU wait, the
  // median of 20 batches, per record.
  double event_record_seconds();
  // From an event recorded just before cudaGraphLaunch to the graph's first node, GPU idle: what a
  // graph launch adds before the step's first kernel. Also kept for time(): taken off graph spans.
  double graph_launch_seconds();

private:
  int iters_, warmup_;
  cudaStream_t stream_ = nullptr;
  void* flush_ = nullptr;
  std::size_t flush_bytes_ = 0;
  std::vector<cudaEvent_t> before_, after_;
  cudaEvent_t spun_ = nullptr;
  double graph_s_ = 0;
};

} // namespace moesim::validate
