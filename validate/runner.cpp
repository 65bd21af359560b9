#include "validate/runner.hpp"

#include "core/error.hpp"
#include "kernels/check.hpp"
#include "kernels/reference.hpp" // float_to_bf16
#include "validate/op_check.hpp"
#include "validate/op_executor.hpp"
#include "validate/spin.hpp"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

namespace moesim::validate {

namespace {

constexpr std::size_t elem = 2;                    // bf16
constexpr std::size_t max_count_copy = 64 * 1024;  // bytes a host_sync copies at most
constexpr std::size_t default_count_copy = 64;     // without an all-to-all before it

// Thrown in a rank thread that stops because another rank failed.
struct Aborted {};

// What the rank threads share.
struct Shared {
  explicit Shared(int n) : barrier(n) {}
  std::barrier<> barrier;
  std::atomic<bool> failed{false};
  bool trace = false; // MOESIM_VALIDATE_TRACE set: every rank says where it is, on stderr
  double t0 = host_now();
  std::mutex mutex;
  std::exception_ptr error; // the first failure

  void fail(std::exception_ptr e)
  {
    std::lock_guard lock(mutex);
    if (!error)
      error = std::move(e);
    failed = true;
  }
};

class RankRun {
public:
  RankRun(const Schedule& s, const std::string& file, const CommPlan& plan, const std::vector<CommCall>& calls,
          int rank, const RunConfig& cfg, const std::vector<ncclUniqueId>& ids, Shared& shared)
      : s_(s), file_(file), plan_(plan), calls_(calls), ops_(s.ranks[rank].ops), rank_(rank), cfg_(cfg), ids_(ids),
        shared_(shared)
  {
  }
  RankRun(const RankRun&) = delete;
  RankRun& operator=(const RankRun&) = delete;
  ~RankRun() { release(); }

  // The thread's body: never throws; failures go to Shared.
  void run() noexcept
  {
    try {
      setup();
      trace("op executor ready, %.0f MiB", device_bytes / (1 << 20));
      sync_point();
      init_comms();
      trace("%zu communicators", plan_.rank_comms[rank_].size());
      sync_point();
      verify();
      trace("verified");
      if (cfg_.graph)
        measure_graph();
      else
        measure_eager();
      trace("measured");
      sync_point();
      destroy_graphs_and_comms(); // every rank together
      trace("done");
      return;
    } catch (const Aborted&) {
    } catch (...) {
      shared_.fail(std::current_exception());
    }
    abort_comms();
    shared_.barrier.arrive_and_drop();
  }

  std::vector<RankTimes> timed;        // steps with per-op events (eager records, graph event nodes)
  std::vector<RankTimes> timed_plain;  // the same steps without them: what an engine's step costs
  double device_bytes = 0;
  std::string executor_notes;

private:
  const Schedule& s_;
  const std::string& file_;
  const CommPlan& plan_;
  const std::vector<CommCall>& calls_;
  const std::vector<Op>& ops_;
  const int rank_;
  const RunConfig& cfg_;
  const std::vector<ncclUniqueId>& ids_;
  Shared& shared_;

  std::unique_ptr<OpExecutor> exec_;
  std::vector<cudaStream_t> streams_;
  std::vector<ncclComm_t> comms_; // by CommPlan index; null where this rank is no member
  std::vector<cudaEvent_t> before_, after_;       // per op: eager timing, and dependencies
  std::vector<cudaEvent_t> gbefore_, gafter_;     // per op: event record nodes in the graph
  std::vector<cudaEvent_t> done_;                 // per stream: its last work
  std::vector<bool> waited_on_;                   // per op: another stream's op depends on it
  cudaEvent_t start_ = nullptr, fork_ = nullptr;
  std::vector<void*> owned_;                      // device buffers this class allocated
  void* coll_send_ = nullptr;
  void* coll_recv_ = nullptr;
  void* p2p_send_ = nullptr;
  void* p2p_recv_ = nullptr;
  void* check_buf_ = nullptr;                     // the communicator check's 2 x 128 elements
  void* host_counts_ = nullptr;                   // pinned
  std::vector<std::size_t> count_copy_;           // per op: bytes a host_sync copies
  cudaGraphExec_t graph_plain_ = nullptr, graph_events_ = nullptr;

  void trace(const char* format, ...)
  {
    if (!shared_.trace)
      return;
    char buf[256];
    va_list ap;
    va_start(ap, format);
    std::vsnprintf(buf, sizeof buf, format, ap);
    va_end(ap);
    std::fprintf(stderr, "[%9.3f s] rank %d: %s\n", host_now() - shared_.t0, rank_, buf);
  }

  void sync_point()
  {
    shared_.barrier.arrive_and_wait();
    if (shared_.failed)
      throw Aborted{};
  }

  // Waits for a stream by polling, so that a failure elsewhere can stop the wait.
  void wait_stream(cudaStream_t st)
  {
    for (;;) {
      const cudaError_t e = cudaStreamQuery(st);
      if (e == cudaSuccess)
        return;
      if (e != cudaErrorNotReady)
        MOESIM_CHECK(e);
      if (shared_.failed)
        throw Aborted{};
      std::this_thread::yield();
    }
  }

  void* device_alloc(std::size_t bytes, const std::string& what)
  {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, std::max<std::size_t>(bytes, 256));
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      std::size_t free = 0, total = 0;
      (void)cudaMemGetInfo(&free, &total);
      throw InputError(file_, "ranks[" + std::to_string(rank_) + "]",
                       "the " + what + " (" + std::to_string(bytes) + " bytes) does not fit on GPU " +
                           std::to_string(rank_) + " (" + std::to_string(free >> 20) + " MiB free of " +
                           std::to_string(total >> 20) + " MiB after the op executor's " +
                           std::to_string(static_cast<std::size_t>(device_bytes) >> 20) + " MiB)",
                       "schedule a smaller batch or a plan with more GPUs");
    }
    MOESIM_CHECK(e);
    owned_.push_back(p);
    return p;
  }

  void setup()
  {
    MOESIM_CHECK(cudaSetDevice(rank_));
    OpExecutorOptions options;
    options.file = file_;
    exec_ = std::make_unique<OpExecutor>(s_, rank_, cfg_.seed, options);
    device_bytes = static_cast<double>(exec_->device_bytes());
    executor_notes = exec_->notes();

    int streams = 1;
    for (const Op& op : ops_)
      streams = std::max(streams, op.stream + 1);
    streams_.assign(static_cast<std::size_t>(streams), nullptr);
    for (cudaStream_t& st : streams_)
      MOESIM_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    auto events = [&](std::vector<cudaEvent_t>& v, std::size_t n) {
      v.assign(n, nullptr);
      for (cudaEvent_t& e : v)
        MOESIM_CHECK(cudaEventCreate(&e));
    };
    events(before_, ops_.size());
    events(after_, ops_.size());
    if (cfg_.graph) {
      events(gbefore_, ops_.size());
      events(gafter_, ops_.size());
    }
    events(done_, streams_.size());
    MOESIM_CHECK(cudaEventCreate(&start_));
    MOESIM_CHECK(cudaEventCreateWithFlags(&fork_, cudaEventDisableTiming));

    // Buffers: collectives use the executor's when they are large enough; sends and receives
    // (pipeline stream) get their own, since they run beside the collectives.
    std::size_t coll = 0, p2p_send = 0, p2p_recv = 0;
    count_copy_.assign(ops_.size(), 0);
    std::size_t last_a2a_recv = 0;
    bool seen_a2a = false;
    for (std::size_t i = 0; i < ops_.size(); i++) {
      const CommCall& c = calls_[i];
      if (ops_[i].kind == OpKind::send)
        p2p_send = std::max(p2p_send, c.send_elements * elem);
      else if (ops_[i].kind == OpKind::recv)
        p2p_recv = std::max(p2p_recv, c.recv_elements * elem);
      else if (c.comm >= 0)
        coll = std::max({coll, c.send_elements * elem, c.recv_elements * elem});
      if (ops_[i].kind == OpKind::all_to_all)
        last_a2a_recv = c.recv_elements * elem, seen_a2a = true;
      if (ops_[i].kind == OpKind::host_sync)
        count_copy_[i] = std::max<std::size_t>(
            1, std::min(max_count_copy, seen_a2a ? last_a2a_recv : default_count_copy));
    }
    if (exec_->comm_buffer_bytes() >= coll && exec_->send_buffer() && exec_->recv_buffer()) {
      coll_send_ = exec_->send_buffer();
      coll_recv_ = exec_->recv_buffer();
    } else {
      coll_send_ = device_alloc(coll, "collective send buffer");
      coll_recv_ = device_alloc(coll, "collective receive buffer");
    }
    p2p_send_ = device_alloc(p2p_send, "pipeline send buffer");
    p2p_recv_ = device_alloc(p2p_recv, "pipeline receive buffer");
    check_buf_ = device_alloc(2 * 128 * elem, "communicator check buffer");
    MOESIM_CHECK(cudaMallocHost(&host_counts_, max_count_copy));
  }

  void init_comms()
  {
    comms_.assign(plan_.comms.size(), nullptr);
    MOESIM_CHECK(ncclGroupStart());
    for (int c : plan_.rank_comms[rank_]) {
      const std::vector<int>& members = plan_.comms[c].ranks;
      const int me = static_cast<int>(std::find(members.begin(), members.end(), rank_) - members.begin());
      MOESIM_CHECK(ncclCommInitRank(&comms_[c], static_cast<int>(members.size()), ids_[c], me));
    }
    MOESIM_CHECK(ncclGroupEnd());
  }

  // The executor's kernels against their references, then one all-reduce of known values on every
  // communicator (in the plan's order, the same on every member).
  void verify()
  {
    exec_->verify(streams_[0]);
    wait_stream(streams_[0]);
    constexpr std::size_t n = 128;
    auto* send = static_cast<kernels::bf16_t*>(check_buf_);
    kernels::bf16_t* recv = send + n;
    for (int c : plan_.rank_comms[rank_]) {
      const std::vector<int>& members = plan_.comms[c].ranks;
      const int me = static_cast<int>(std::find(members.begin(), members.end(), rank_) - members.begin());
      std::vector<kernels::bf16_t> host(n, kernels::ref::float_to_bf16(static_cast<float>(me + 1)));
      MOESIM_CHECK(cudaMemcpyAsync(send, host.data(), n * elem, cudaMemcpyHostToDevice, streams_[0]));
      MOESIM_CHECK(ncclAllReduce(send, recv, n, ncclBfloat16, ncclSum, comms_[c], streams_[0]));
      MOESIM_CHECK(cudaMemcpyAsync(host.data(), recv, n * elem, cudaMemcpyDeviceToHost, streams_[0]));
      wait_stream(streams_[0]);
      const std::size_t k = members.size();
      const float want = static_cast<float>(k * (k + 1) / 2); // exact in bf16 up to 22 members
      for (std::size_t i = 0; i < n; i++)
        if (kernels::ref::bf16_to_float(host[i]) != want)
          throw std::runtime_error("communicator " + std::to_string(c) + " (" + plan_.comms[c].kind + ", ranks " +
                                   join(members) + "): an all-reduce of known values gave " +
                                   std::to_string(kernels::ref::bf16_to_float(host[i])) + " at element " +
                                   std::to_string(i) + " on rank " + std::to_string(rank_) + ", expected " +
                                   std::to_string(want));
    }
  }

  void launch_comm(const CommCall& c, cudaStream_t st)
  {
    ncclComm_t comm = comms_.at(c.comm);
    auto* send = static_cast<kernels::bf16_t*>(coll_send_);
    auto* recv = static_cast<kernels::bf16_t*>(coll_recv_);
    switch (c.kind) {
      case OpKind::all_reduce:
        MOESIM_CHECK(ncclAllReduce(send, recv, c.count, ncclBfloat16, ncclSum, comm, st));
        break;
      case OpKind::all_gather: MOESIM_CHECK(ncclAllGather(send, recv, c.count, ncclBfloat16, comm, st)); break;
      case OpKind::reduce_scatter:
        MOESIM_CHECK(ncclReduceScatter(send, recv, c.count, ncclBfloat16, ncclSum, comm, st));
        break;
      case OpKind::all_to_all: {
        MOESIM_CHECK(ncclGroupStart());
        std::size_t off = 0;
        for (const PeerCount& p : c.sends) {
          MOESIM_CHECK(ncclSend(send + off, p.count, ncclBfloat16, p.peer, comm, st));
          off += p.count;
        }
        off = 0;
        for (const PeerCount& p : c.recvs) {
          MOESIM_CHECK(ncclRecv(recv + off, p.count, ncclBfloat16, p.peer, comm, st));
          off += p.count;
        }
        MOESIM_CHECK(ncclGroupEnd());
        break;
      }
      case OpKind::send:
        MOESIM_CHECK(ncclSend(p2p_send_, c.count, ncclBfloat16, c.sends.at(0).peer, comm, st));
        break;
      case OpKind::recv:
        MOESIM_CHECK(ncclRecv(p2p_recv_, c.count, ncclBfloat16, c.recvs.at(0).peer, comm, st));
        break;
      default: throw std::logic_error(std::string("launch_comm: not a communication op: ") + to_string(c.kind));
    }
  }

  // Enqueues the step. `timing`: an event before and after every op (eager: records; graph capture:
  // record nodes); without it eager records only the events another stream waits on. host_sync
  // waits in eager; in a capture no op may be a host_sync.
  void enqueue_step(bool capturing, bool timing, std::vector<double>* host_wait)
  {
    if (waited_on_.empty()) {
      waited_on_.assign(ops_.size(), false);
      for (const Op& op : ops_)
        for (int d : op.deps)
          if (ops_[d].stream != op.stream)
            waited_on_[d] = true;
    }
    for (std::size_t i = 0; i < ops_.size(); i++) {
      const Op& op = ops_[i];
      cudaStream_t st = streams_.at(static_cast<std::size_t>(op.stream));
      for (int d : op.deps)
        if (ops_[d].stream != op.stream)
          MOESIM_CHECK(cudaStreamWaitEvent(st, after_[d], 0));
      if (timing) // the op's bracket, recorded as bench-ops' graph_gap events=N points record theirs
        record_bracket_event(capturing ? gbefore_[i] : before_[i], st, capturing);
      switch (op_class(op.kind)) {
        case OpClass::compute: exec_->launch(op, st); break;
        case OpClass::collective:
        case OpClass::p2p: launch_comm(calls_[i], st); break;
        case OpClass::host: {
          if (capturing)
            throw std::logic_error("host_sync inside a graph capture"); // refused before: check_graph_capturable
          MOESIM_CHECK(
              cudaMemcpyAsync(host_counts_, coll_recv_, count_copy_[i], cudaMemcpyDeviceToHost, st));
          const double t0 = host_now();
          wait_stream(st);
          (*host_wait)[i] = host_now() - t0;
          break;
        }
      }
      if (capturing || timing || waited_on_[i])
        MOESIM_CHECK(cudaEventRecord(after_[i], st)); // in a capture: a dependency only
      if (capturing && timing)
        record_bracket_event(gafter_[i], st, true);
    }
  }

  double elapsed(cudaEvent_t from, cudaEvent_t to)
  {
    float ms = 0;
    MOESIM_CHECK(cudaEventElapsedTime(&ms, from, to));
    return static_cast<double>(ms) * 1e-3;
  }

  // Every rank leaves the barrier idle; the host clock at the start event aligns the ranks.
  void begin_iteration(RankTimes& t)
  {
    sync_point();
    t.host_start = host_now();
    MOESIM_CHECK(cudaEventRecord(start_, streams_[0]));
  }

  void read_op_events(RankTimes& t, const std::vector<cudaEvent_t>& before, const std::vector<cudaEvent_t>& after)
  {
    t.start.resize(ops_.size());
    t.end.resize(ops_.size());
    for (std::size_t i = 0; i < ops_.size(); i++) {
      t.start[i] = elapsed(start_, before[i]);
      t.end[i] = elapsed(start_, after[i]);
    }
  }

  // `timing`: events around every op (the per-op times); else the step as an engine runs it.
  RankTimes eager_iteration(bool timing)
  {
    RankTimes t;
    t.host_wait.assign(ops_.size(), 0.0);
    begin_iteration(t);
    for (std::size_t k = 1; k < streams_.size(); k++)
      MOESIM_CHECK(cudaStreamWaitEvent(streams_[k], start_, 0));
    enqueue_step(false, timing, &t.host_wait);
    for (std::size_t k = 0; k < streams_.size(); k++)
      MOESIM_CHECK(cudaEventRecord(done_[k], streams_[k]));
    for (cudaStream_t st : streams_)
      wait_stream(st);
    if (timing)
      read_op_events(t, before_, after_);
    for (cudaEvent_t d : done_)
      t.last = std::max(t.last, elapsed(start_, d));
    return t;
  }

  // Each iteration runs the step twice: without per-op events (the step's time: two event records
  // per op cost the GPU about 4 us on an H200) and with them (the per-op times).
  void measure_eager()
  {
    for (int i = 0; i < cfg_.warmup + cfg_.iters; i++) {
      trace("eager iteration %d", i);
      RankTimes plain = eager_iteration(false);
      RankTimes events = eager_iteration(true);
      if (i >= cfg_.warmup) {
        timed_plain.push_back(std::move(plain));
        timed.push_back(std::move(events));
      }
    }
  }

  cudaGraphExec_t capture(bool timing)
  {
    cudaStream_t s0 = streams_[0];
    MOESIM_CHECK(cudaStreamBeginCapture(s0, cudaStreamCaptureModeThreadLocal));
    try {
      MOESIM_CHECK(cudaEventRecord(fork_, s0));
      for (std::size_t k = 1; k < streams_.size(); k++)
        MOESIM_CHECK(cudaStreamWaitEvent(streams_[k], fork_, 0));
      enqueue_step(true, timing, nullptr);
      for (std::size_t k = 1; k < streams_.size(); k++) {
        MOESIM_CHECK(cudaEventRecord(done_[k], streams_[k]));
        MOESIM_CHECK(cudaStreamWaitEvent(s0, done_[k], 0));
      }
    } catch (...) {
      abandon_capture(s0); // or nothing on these streams (NCCL's abort included) works again
      throw;
    }
    return finish_capture(s0);
  }

  RankTimes graph_iteration(cudaGraphExec_t g, bool timing)
  {
    RankTimes t;
    begin_iteration(t);
    MOESIM_CHECK(cudaGraphLaunch(g, streams_[0]));
    MOESIM_CHECK(cudaEventRecord(done_[0], streams_[0]));
    wait_stream(streams_[0]);
    t.last = elapsed(start_, done_[0]);
    if (timing) {
      read_op_events(t, gbefore_, gafter_);
      t.host_wait.assign(ops_.size(), 0.0);
    }
    return t;
  }

  void measure_graph()
  {
    // One eager step first: NCCL connects peers at their first use (NCCL_RUNTIME_CONNECT), which
    // it cannot do inside a capture ("operation not permitted when stream is capturing").
    trace("eager step before the capture");
    (void)eager_iteration(true);
    // Every rank captures at the same point of its NCCL call sequence (capture is collective in
    // effect: the captured calls run when the graphs are launched, on every member together).
    graph_plain_ = capture(false);
    trace("captured the plain graph");
    sync_point();
    graph_events_ = capture(true);
    trace("captured the graph with event nodes");
    sync_point();
    for (int i = 0; i < cfg_.warmup + cfg_.iters; i++) {
      trace("graph iteration %d", i);
      RankTimes plain = graph_iteration(graph_plain_, false);
      RankTimes events = graph_iteration(graph_events_, true);
      if (i >= cfg_.warmup) {
        timed_plain.push_back(std::move(plain));
        timed.push_back(std::move(events));
      }
    }
  }

  // Graphs hold NCCL work of the communicators: they go first.
  void destroy_graphs_and_comms()
  {
    for (cudaGraphExec_t* g : {&graph_plain_, &graph_events_})
      if (*g) {
        MOESIM_CHECK(cudaGraphExecDestroy(*g));
        *g = nullptr;
      }
    for (ncclComm_t& c : comms_)
      if (c) {
        MOESIM_CHECK(ncclCommDestroy(c));
        c = nullptr;
      }
  }

  // A failure: stop this rank's NCCL kernels, so that neither it nor its peers wait forever.
  void abort_comms() noexcept
  {
    if (cudaSetDevice(rank_) != cudaSuccess)
      return;
    for (ncclComm_t& c : comms_)
      if (c) {
        (void)ncclCommAbort(c);
        c = nullptr;
      }
  }

  void release() noexcept
  {
    if (cudaSetDevice(rank_) != cudaSuccess)
      return;
    // After a success the graphs and communicators are gone already; after a failure the
    // communicators were aborted, and graphs that held their work are left alone.
    for (cudaStream_t st : streams_)
      if (st)
        (void)cudaStreamSynchronize(st);
    for (auto* v : {&before_, &after_, &gbefore_, &gafter_, &done_})
      for (cudaEvent_t e : *v)
        if (e)
          (void)cudaEventDestroy(e);
    for (cudaEvent_t e : {start_, fork_})
      if (e)
        (void)cudaEventDestroy(e);
    for (void* p : owned_)
      (void)cudaFree(p);
    if (host_counts_)
      (void)cudaFreeHost(host_counts_);
    exec_.reset();
    for (cudaStream_t st : streams_)
      if (st)
        (void)cudaStreamDestroy(st);
    (void)cudaGetLastError();
  }
};

} // namespace

Measurement run_schedule(const Schedule& s, const std::string& file, const RunConfig& cfg)
{
  // What --check-schedule refuses, refused here with the same message before any GPU is touched.
  check_replayable(s, file, cfg.graph);
  const CommPlan plan = plan_communicators(s, file);
  const std::vector<std::vector<CommCall>> calls = plan_comm_calls(s, plan, file);
  int visible = 0;
  if (cudaGetDeviceCount(&visible) != cudaSuccess) {
    (void)cudaGetLastError();
    visible = 0;
  }
  check_gpu_count(s, visible, file);

  std::vector<ncclUniqueId> ids(plan.comms.size());
  for (ncclUniqueId& id : ids)
    MOESIM_CHECK(ncclGetUniqueId(&id));

  const int world = s.layout.world;
  Shared shared(world);
  shared.trace = std::getenv("MOESIM_VALIDATE_TRACE") != nullptr;
  std::vector<std::unique_ptr<RankRun>> ranks;
  for (int r = 0; r < world; r++)
    ranks.push_back(std::make_unique<RankRun>(s, file, plan, calls[r], r, cfg, ids, shared));
  {
    std::vector<std::jthread> threads;
    for (int r = 0; r < world; r++)
      threads.emplace_back([&ranks, r] { ranks[r]->run(); });
  }
  std::vector<double> device_bytes;
  std::vector<std::string> notes;
  for (const auto& r : ranks) {
    device_bytes.push_back(r->device_bytes);
    notes.push_back(r->executor_notes);
  }
  // Iteration i of every rank, in rank order.
  auto gather = [&](std::vector<RankTimes> RankRun::*member) {
    std::vector<IterationTimes> iters;
    if (shared.error)
      return iters;
    const std::size_t n = (ranks[0].get()->*member).size();
    for (std::size_t i = 0; i < n; i++) {
      IterationTimes it;
      for (const auto& r : ranks)
        it.push_back(std::move((r.get()->*member).at(i)));
      iters.push_back(std::move(it));
    }
    return iters;
  };
  const std::vector<IterationTimes> timed = gather(&RankRun::timed);
  const std::vector<IterationTimes> plain = gather(&RankRun::timed_plain);
  ranks.clear(); // frees every GPU's resources before a failure is reported
  if (shared.error)
    std::rethrow_exception(shared.error);
  Measurement m = cfg.graph ? graph_measurement(s, calls, plan, plain, timed) : eager_measurement(s, calls, plan, plain, timed);
  m.device_bytes = std::move(device_bytes);
  m.executor_notes = std::move(notes);
  return m;
}

} // namespace moesim::validate
