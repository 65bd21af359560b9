#include "validate/bench_timer.hpp"

#include "core/stats.hpp"
#include "kernels/check.hpp"
#include "validate/spin.hpp"

#include <algorithm>
#include <cmath>

namespace moesim::validate {

double quantile(std::vector<double> v, double p)
{
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  const double idx = std::clamp(p, 0.0, 1.0) * double(v.size() - 1);
  return v[static_cast<std::size_t>(std::llround(idx))];
}

double spread_of(const std::vector<double>& v)
{
  const double m = median(v);
  if (!(m > 0))
    return 0;
  return (quantile(v, 0.9) - quantile(v, 0.1)) / m;
}

BenchTimer::BenchTimer(int iters, int warmup) : iters_(iters), warmup_(warmup)
{
  int device = 0;
  MOESIM_CHECK(cudaGetDevice(&device));
  MOESIM_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  cudaDeviceProp prop{};
  MOESIM_CHECK(cudaGetDeviceProperties(&prop, device));
  flush_bytes_ = std::max<std::size_t>(2 * static_cast<std::size_t>(prop.l2CacheSize), 8u << 20);
  MOESIM_CHECK(cudaMalloc(&flush_, flush_bytes_));
  MOESIM_CHECK(cudaMemset(flush_, 1, flush_bytes_)); // flush_l2's reads never see its sink value
  MOESIM_CHECK(cudaDeviceSynchronize());              // the legacy stream does not order stream_
  const int n = iters + warmup;
  before_.resize(n), after_.resize(n);
  for (int i = 0; i < n; i++) {
    MOESIM_CHECK(cudaEventCreate(&before_[i]));
    MOESIM_CHECK(cudaEventCreate(&after_[i]));
  }
  MOESIM_CHECK(cudaEventCreate(&spun_));
}

BenchTimer::~BenchTimer()
{
  for (cudaEvent_t e : before_)
    (void)cudaEventDestroy(e);
  for (cudaEvent_t e : after_)
    (void)cudaEventDestroy(e);
  (void)cudaEventDestroy(spun_);
  (void)cudaFree(flush_);
  (void)cudaStreamDestroy(stream_);
}

Timing BenchTimer::time(int instances, int launches, const std::function<void(int, cudaStream_t)>& launch, bool graph)
{
  const int n = iters_ + warmup_;
  const int k = std::max(1, instances);
  // One wait for all repetitions where their entries fit the launch queue, else one per repetition
  // (wait_per_rep): the host must be able to queue everything the wait holds back.
  const bool each = wait_per_rep(n, k, launches);
  double wait = each ? 1e-3 + k * 25e-6 * std::max(1, launches) : 1e-3 + n * (60e-6 + k * 25e-6 * std::max(1, launches));
  Timing t;
  t.reps = iters_;
  double last_enqueue = 0; // host seconds the previous attempt took to queue its repetitions
  for (int attempt = 0;; attempt++) {
    std::vector<double> host(n);
    bool caught_up = false; // the GPU finished a wait before the queue behind it was full
    auto waited = [&] {
      const cudaError_t q = cudaEventQuery(spun_);
      if (q != cudaSuccess && q != cudaErrorNotReady)
        MOESIM_CHECK(q);
      caught_up = caught_up || q == cudaSuccess;
    };
    if (!each) {
      spin_gpu(stream_, wait);
      MOESIM_CHECK(cudaEventRecord(spun_, stream_));
    }
    for (int i = 0; i < n; i++) {
      if (each) {
        spin_gpu(stream_, wait);
        MOESIM_CHECK(cudaEventRecord(spun_, stream_));
      }
      flush_l2(flush_, flush_bytes_, stream_);
      MOESIM_CHECK(cudaEventRecord(before_[i], stream_));
      const double h0 = host_now();
      for (int j = 0; j < k; j++)
        launch(j, stream_);
      host[i] = (host_now() - h0) / k;
      MOESIM_CHECK(cudaEventRecord(after_[i], stream_));
      if (each)
        waited();
    }
    if (!each)
      waited();
    MOESIM_CHECK(cudaStreamSynchronize(stream_));
    // A host that queues slowly catches up with a longer wait; one held up by the GPU (a full queue,
    // a library call that synchronises) takes as long as the wait, whatever it is: its enqueue time
    // grows with the wait, and waiting longer again only costs time (on an H100 on 2026-12-06, FP8
    // per-expert loops of a few experts retried 4 times, 7 s a point).
    double enqueue = 0;
    for (double h : host)
      enqueue += h * k;
    const bool held_up = attempt > 0 && enqueue >= 3 * last_enqueue;
    last_enqueue = enqueue;
    if (caught_up && attempt < 4 && !held_up) {
      wait *= 4;
      t.spin_retries++;
      continue;
    }
    std::vector<double> gpu;
    for (int i = warmup_; i < n; i++) {
      float ms = 0;
      MOESIM_CHECK(cudaEventElapsedTime(&ms, before_[i], after_[i]));
      gpu.push_back(ms * 1e-3 / k);
    }
    t.seconds = median(gpu);
    t.spread = spread_of(gpu);
    t.host_seconds = median(std::vector<double>(host.begin() + warmup_, host.end()));
    break;
  }
  if (!graph)
    return t;
  // The same instances as one CUDA graph, as an engine with graphs runs them: small kernels
  // follow each other faster there. The graph's own launch latency is not the instances': it is
  // taken off the span (at most half of it, should the latency have been measured high).
  MOESIM_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  try {
    for (int j = 0; j < k; j++)
      launch(j, stream_);
  } catch (...) {
    abandon_capture(stream_);
    throw;
  }
  cudaGraphExec_t exec = finish_capture(stream_);
  spin_gpu(stream_, 1e-3 + n * 100e-6);
  for (int i = 0; i < n; i++) {
    flush_l2(flush_, flush_bytes_, stream_);
    MOESIM_CHECK(cudaEventRecord(before_[i], stream_));
    MOESIM_CHECK(cudaGraphLaunch(exec, stream_));
    MOESIM_CHECK(cudaEventRecord(after_[i], stream_));
  }
  const cudaError_t synced = cudaStreamSynchronize(stream_);
  (void)cudaGraphExecDestroy(exec);
  MOESIM_CHECK(synced);
  std::vector<double> gpu;
  for (int i = warmup_; i < n; i++) {
    float ms = 0;
    MOESIM_CHECK(cudaEventElapsedTime(&ms, before_[i], after_[i]));
    const double span = ms * 1e-3;
    gpu.push_back(std::max(span / 2, span - graph_s_) / k);
  }
  t.graph_seconds = median(gpu);
  t.graph_spread = spread_of(gpu);
  return t;
}

double BenchTimer::sync_seconds()
{
  void* pinned = nullptr;
  MOESIM_CHECK(cudaMallocHost(&pinned, 64));
  std::vector<double> v;
  for (int i = 0; i < 50; i++) {
    const double h0 = host_now();
    MOESIM_CHECK(cudaMemcpyAsync(pinned, flush_, 64, cudaMemcpyDeviceToHost, stream_));
    MOESIM_CHECK(cudaStreamSynchronize(stream_));
    v.push_back(host_now() - h0);
  }
  (void)cudaFreeHost(pinned);
  return median(std::vector<double>(v.begin() + 5, v.end()));
}

double BenchTimer::event_record_seconds()
{
  std::vector<double> v;
  for (int b = 0; b < 20; b++) {
    spin_gpu(stream_, 2e-3);
    const double h0 = host_now();
    for (int i = 0; i < 200; i++)
      MOESIM_CHECK(cudaEventRecord(before_[i % before_.size()], stream_));
    v.push_back((host_now() - h0) / 200);
    MOESIM_CHECK(cudaStreamSynchronize(stream_));
  }
  return median(v);
}

double BenchTimer::graph_launch_seconds()
{
  cudaEvent_t first = nullptr, start = nullptr;
  MOESIM_CHECK(cudaEventCreate(&first));
  MOESIM_CHECK(cudaEventCreate(&start));
  MOESIM_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  MOESIM_CHECK(cudaEventRecordWithFlags(first, stream_, cudaEventRecordExternal));
  MOESIM_CHECK(cudaMemsetAsync(flush_, 0, 256, stream_));
  cudaGraphExec_t exec = finish_capture(stream_);
  std::vector<double> v;
  for (int i = 0; i < 50; i++) {
    MOESIM_CHECK(cudaStreamSynchronize(stream_));
    MOESIM_CHECK(cudaEventRecord(start, stream_));
    MOESIM_CHECK(cudaGraphLaunch(exec, stream_));
    MOESIM_CHECK(cudaStreamSynchronize(stream_));
    float ms = 0;
    MOESIM_CHECK(cudaEventElapsedTime(&ms, start, first));
    v.push_back(ms * 1e-3);
  }
  (void)cudaGraphExecDestroy(exec);
  (void)cudaEventDestroy(first);
  (void)cudaEventDestroy(start);
  graph_s_ = median(std::vector<double>(v.begin() + 5, v.end()));
  return graph_s_;
}

} // namespace moesim::validate
