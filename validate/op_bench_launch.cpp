// bench-ops: what launching costs besides the kernels' own work.
//   graph_gap  the per-kernel gap inside a CUDA graph: a chain of N kernels of known work (each
//              fixed_work(1000 dependent FMAs), about 2 us) against one kernel doing N times that
//              work, both captured in a graph and timed the same way (bench_timer.hpp):
//              gap = (T_chain - T_one) / (N - 1), since both hold the same work and one graph
//              launch. The same difference launched from a stream (host enqueue hidden behind a GPU
//              wait) is the eager gap, kept in the run's side file.
//   host       the host time per API call (host_bench.hpp), GPU busy and idle, 1 .. N threads.
#include "kernels/check.hpp"
#include "validate/host_bench.hpp"
#include "validate/op_bench_family.hpp"
#include "validate/spin.hpp"

namespace moesim::validate::opbench {

namespace {

constexpr int work_iters = 1000;

} // namespace

void bench_gap(BenchContext& ctx, const GapPoint& p)
{
  const int n = p.kernels;
  if (n < 2)
    throw std::invalid_argument("bench-ops: graph_gap needs chains of at least 2 kernels");
  DevMem sink(256);
  float* s_ptr = sink.as<float>();
  const Timing chain = ctx.timer.time(1, n, [&](int, cudaStream_t s) {
    for (int i = 0; i < n; i++)
      fixed_work(s, work_iters, s_ptr);
  });
  const Timing one = ctx.timer.time(1, 1, [&](int, cudaStream_t s) { fixed_work(s, work_iters * n, s_ptr); });
  const double graph_gap = (chain.graph_seconds - one.graph_seconds) / (n - 1);
  const double stream_gap = (chain.seconds - one.seconds) / (n - 1);
  ctx.stream_gaps.push_back({{"kernels", n},
                             {"stream_gap_seconds", stream_gap},
                             {"graph_gap_seconds", graph_gap},
                             {"kernel_seconds", one.graph_seconds / n},
                             {"chain_graph_seconds", chain.graph_seconds},
                             {"one_graph_seconds", one.graph_seconds},
                             {"chain_stream_seconds", chain.seconds},
                             {"one_stream_seconds", one.seconds}});
  if (!(graph_gap > 0)) // within the noise of the two spans: no record (the format wants a positive gap)
    return;
  ctx.extras.push_back({{"record", ctx.records.size()}, {"point", describe(p)}, {"kernel_seconds", one.graph_seconds / n}});
  ctx.records.push_back(gap_record(n, graph_gap));
}

void bench_host(BenchContext& ctx, const HostPoint& p)
{
  for (const HostCost& c : measure_host_costs(p.threads, ctx.rates.gpus, 200)) {
    ctx.extras.push_back({{"record", ctx.records.size()}, {"point", describe(p)}, {"gpus", ctx.rates.gpus}});
    ctx.records.push_back(host_record(c.api, c.busy, c.threads, c.seconds));
  }
}

} // namespace moesim::validate::opbench
