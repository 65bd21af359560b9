// bench-ops: what launching costs besides the kernels' own work.
//   graph_gap  the per-kernel gap inside a CUDA graph: a chain of N kernels of known work (each
//              fixed_work(1000 dependent FMAs), about 2 us) against one kernel doing N times that
//              work, both captured in a graph and timed the same way (bench_timer.hpp):
//              gap = (T_chain - T_one) / (N - 1), since both hold the same work and one graph
//              launch. The same difference launched from a stream (host enqueue hidden behind a GPU
//              wait) is the eager gap, kept in the run's side file. Points other than these plain
//              chains (GapPoint, op_bench_grid.hpp), each in a graph and from a stream, as records
//              with launch words and in the side file:
//              distinct=K  the chain cycles through K fixed_work variants (functions of identical
//                          work): gap_K = (T_chain_K - T_one) / (N - 1), a boundary between two
//                          different kernels, as every boundary of a real step is;
//              events=N    the chain (of its K variants) with an event record before and after each
//                          kernel, as the runner brackets every op (record_bracket_event):
//                          (T_chain_with_events - T_chain) / N, what a bracket adds per op; and the
//                          median span of one pair as its own events read it (the op's bracket);
//              kernels=0 events=N  N event pairs with nothing between (after one longer kernel,
//                          the same in both): (T_N - T_1) / (N - 1) per pair, and the median span
//                          of one pair.
//   host       the host time per API call (host_bench.hpp), GPU busy and idle, 1 .. N threads.
#include "core/stats.hpp"
#include "kernels/check.hpp"
#include "validate/host_bench.hpp"
#include "validate/op_bench_family.hpp"
#include "validate/spin.hpp"

#include <algorithm>
#include <vector>

namespace moesim::validate::opbench {

namespace {

constexpr int work_iters = 1000;
constexpr int lead_iters = 10 * work_iters; // the kernel before a point of event pairs alone
static_assert(kFixedWorkVariants >= kGapDistinctMost, "a distinct=K point needs K fixed_work variants");

// The events of `pairs` brackets, created as the runner creates its own (cudaEventCreate's default
// flags); each pair's span read after the last time they were recorded.
class Brackets {
public:
  explicit Brackets(int pairs) : before_(static_cast<std::size_t>(pairs)), after_(static_cast<std::size_t>(pairs))
  {
    for (std::vector<cudaEvent_t>* v : {&before_, &after_})
      for (cudaEvent_t& e : *v)
        MOESIM_CHECK(cudaEventCreate(&e));
  }
  ~Brackets()
  {
    for (std::vector<cudaEvent_t>* v : {&before_, &after_})
      for (cudaEvent_t e : *v)
        if (e)
          (void)cudaEventDestroy(e);
  }
  Brackets(const Brackets&) = delete;
  Brackets& operator=(const Brackets&) = delete;
  cudaEvent_t before(int i) const { return before_[static_cast<std::size_t>(i)]; }
  cudaEvent_t after(int i) const { return after_[static_cast<std::size_t>(i)]; }
  // The median over the pairs of after - before, seconds.
  double median_span() const
  {
    std::vector<double> v;
    for (std::size_t i = 0; i < before_.size(); i++) {
      float ms = 0;
      MOESIM_CHECK(cudaEventElapsedTime(&ms, before_[i], after_[i]));
      v.push_back(ms * 1e-3);
    }
    return median(v);
  }

private:
  std::vector<cudaEvent_t> before_, after_;
};

bool capturing(cudaStream_t s)
{
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  MOESIM_CHECK(cudaStreamIsCapturing(s, &st));
  return st == cudaStreamCaptureStatusActive;
}

// The point's chain on `s`: kernels cycling through `distinct` variants, each between the events of
// one pair of `ev` where given; with no kernels, ev's pairs with nothing between.
void enqueue(cudaStream_t s, const GapPoint& p, const Brackets* ev, int pairs, float* sink)
{
  const bool graph = ev && capturing(s);
  const int n = std::max(p.kernels, ev ? pairs : 0);
  for (int i = 0; i < n; i++) {
    if (ev)
      record_bracket_event(ev->before(i), s, graph);
    if (p.kernels > 0)
      fixed_work(s, work_iters, sink, i % p.distinct);
    if (ev)
      record_bracket_event(ev->after(i), s, graph);
  }
}

// The graph and stream records of a figure (where positive: the format wants a positive time).
void add_records(BenchContext& ctx, const GapPoint& p, double graph_s, double stream_s, const nlohmann::json& extra)
{
  for (bool graph : {true, false}) {
    const double t = graph ? graph_s : stream_s;
    if (!(t > 0)) // within the noise of the two spans
      continue;
    nlohmann::json e = extra;
    e["record"] = ctx.records.size();
    e["point"] = describe(p);
    ctx.extras.push_back(std::move(e));
    ctx.records.push_back(gap_record(p, graph, t));
  }
}

// A point other than a plain chain (op_bench_launch.cpp's header says what each measures).
void bench_boundary(BenchContext& ctx, const GapPoint& p)
{
  DevMem sink(256);
  float* s_ptr = sink.as<float>();
  nlohmann::json side = {{"point", describe(p)}, {"kernels", p.kernels}, {"distinct", p.distinct}, {"events", p.events}};
  if (p.kernels == 0) { // event pairs alone: N against 1
    // Both after one kernel of 10 x the work (about 20 us), so that neither graph's span is so short
    // that the timer's floor (half the span, bench_timer.hpp) replaces its launch latency's removal.
    const int n = p.events;
    Brackets one_pair(1), pairs(n);
    const GapPoint none{0, 1, 0};
    auto lead_then = [&](Brackets& b, int k) {
      return [&none, s_ptr, brackets = &b, k](int, cudaStream_t s) {
        fixed_work(s, lead_iters, s_ptr);
        enqueue(s, none, brackets, k, s_ptr);
      };
    };
    const Timing one = ctx.timer.time(1, 3, lead_then(one_pair, 1));
    const Timing all = ctx.timer.time(1, 1 + 2 * n, lead_then(pairs, n));
    const double span_graph = pairs.median_span(); // the last graph replay's
    spin_gpu(ctx.timer.stream(), 1e-3);
    lead_then(pairs, n)(0, ctx.timer.stream());
    MOESIM_CHECK(cudaStreamSynchronize(ctx.timer.stream()));
    const double span_stream = pairs.median_span();
    const double graph_s = (all.graph_seconds - one.graph_seconds) / (n - 1);
    const double stream_s = (all.seconds - one.seconds) / (n - 1);
    side.update(nlohmann::json{{"pair_graph_seconds", graph_s},
                               {"pair_stream_seconds", stream_s},
                               {"pair_span_graph_seconds", span_graph},
                               {"pair_span_stream_seconds", span_stream},
                               {"pairs_graph_seconds", all.graph_seconds},
                               {"one_pair_graph_seconds", one.graph_seconds},
                               {"pairs_stream_seconds", all.seconds},
                               {"one_pair_stream_seconds", one.seconds}});
    ctx.stream_gaps.push_back(side);
    add_records(ctx, p, graph_s, stream_s, {{"pair_span_graph_seconds", span_graph}, {"pair_span_stream_seconds", span_stream}});
    return;
  }
  const int n = p.kernels;
  const GapPoint bare{n, p.distinct, 0};
  const Timing chain = ctx.timer.time(1, n, [&](int, cudaStream_t s) { enqueue(s, bare, nullptr, 0, s_ptr); });
  const Timing one = ctx.timer.time(1, 1, [&](int, cudaStream_t s) { fixed_work(s, work_iters * n, s_ptr); });
  const double kernel_s = one.graph_seconds / n;
  side.update(nlohmann::json{{"stream_gap_seconds", (chain.seconds - one.seconds) / (n - 1)},
                             {"graph_gap_seconds", (chain.graph_seconds - one.graph_seconds) / (n - 1)},
                             {"kernel_seconds", kernel_s},
                             {"chain_graph_seconds", chain.graph_seconds},
                             {"one_graph_seconds", one.graph_seconds},
                             {"chain_stream_seconds", chain.seconds},
                             {"one_stream_seconds", one.seconds}});
  if (p.events == 0) { // a distinct chain: the gap per boundary
    ctx.stream_gaps.push_back(side);
    add_records(ctx, p, side["graph_gap_seconds"].get<double>(), side["stream_gap_seconds"].get<double>(),
                {{"kernel_seconds", kernel_s}});
    return;
  }
  Brackets ev(n);
  const Timing with = ctx.timer.time(1, 3 * n, [&](int, cudaStream_t s) { enqueue(s, bare, &ev, n, s_ptr); });
  const double span_graph = ev.median_span(); // the last graph replay's
  spin_gpu(ctx.timer.stream(), 1e-3);
  enqueue(ctx.timer.stream(), bare, &ev, n, s_ptr);
  MOESIM_CHECK(cudaStreamSynchronize(ctx.timer.stream()));
  const double span_stream = ev.median_span();
  const double graph_s = (with.graph_seconds - chain.graph_seconds) / n;
  const double stream_s = (with.seconds - chain.seconds) / n;
  side.update(nlohmann::json{{"bracket_graph_seconds", graph_s},
                             {"bracket_stream_seconds", stream_s},
                             {"pair_span_graph_seconds", span_graph},
                             {"pair_span_stream_seconds", span_stream},
                             {"chain_events_graph_seconds", with.graph_seconds},
                             {"chain_events_stream_seconds", with.seconds}});
  ctx.stream_gaps.push_back(side);
  add_records(ctx, p, graph_s, stream_s,
              {{"kernel_seconds", kernel_s}, {"pair_span_graph_seconds", span_graph}, {"pair_span_stream_seconds", span_stream}});
}

} // namespace

void bench_gap(BenchContext& ctx, const GapPoint& p)
{
  check_gap_point(p);
  if (!p.plain())
    return bench_boundary(ctx, p);
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
