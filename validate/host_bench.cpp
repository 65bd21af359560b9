#include "validate/host_bench.hpp"

#include "core/error.hpp"
#include "core/stats.hpp"
#include "kernels/check.hpp"
#include "kernels/kernels.hpp"
#include "validate/gemm_plan.hpp"
#include "validate/op_bench.hpp"
#include "validate/op_bench_record.hpp"
#include "validate/options.hpp"
#include "validate/spin.hpp"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <barrier>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace moesim::validate {

namespace {

const char* const where = "command line";

// One thread's resources: a stream on its GPU, and something to call for every API.
class HostCaller {
public:
  explicit HostCaller(int device)
  {
    MOESIM_CHECK(cudaSetDevice(device));
    MOESIM_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    MOESIM_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
    MOESIM_CHECK(cudaMalloc(&dev_, 4096));
    MOESIM_CHECK(cudaMemset(dev_, 1, 4096));
    MOESIM_CHECK(cudaMallocHost(&pinned_, 64));
    planner_ = std::make_unique<GemmPlanner>();
    MOESIM_CHECK(cudaMalloc(&gemm_, (256 * 256 + 2 * 8 * 256) * 2));
    kernels::fill_uniform_bf16(static_cast<kernels::bf16_t*>(gemm_), 256 * 256 + 2 * 8 * 256, -1, 1, 7, stream_);
    plan_ = &planner_->plan(8, 256, 256, 1, false, false, 256);
    if (!plan_->found)
      throw std::runtime_error("bench-host: cuBLASLt has no algorithm for an 8 x 256 x 256 bf16 GEMM");
    ncclUniqueId id;
    MOESIM_CHECK(ncclGetUniqueId(&id));
    MOESIM_CHECK(ncclCommInitRank(&comm_, 1, id, 0));
    MOESIM_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    try {
      flush_l2(dev_, 64, stream_);
    } catch (...) {
      abandon_capture(stream_);
      throw;
    }
    graph_ = finish_capture(stream_);
    MOESIM_CHECK(cudaStreamSynchronize(stream_));
  }
  ~HostCaller()
  {
    if (comm_)
      (void)ncclCommDestroy(comm_);
    if (graph_)
      (void)cudaGraphExecDestroy(graph_);
    planner_.reset();
    (void)cudaFree(gemm_);
    (void)cudaFreeHost(pinned_);
    (void)cudaFree(dev_);
    (void)cudaEventDestroy(event_);
    (void)cudaStreamDestroy(stream_);
  }
  HostCaller(const HostCaller&) = delete;
  HostCaller& operator=(const HostCaller&) = delete;

  cudaStream_t stream() const { return stream_; }

  void call(const std::string& api)
  {
    const auto* w = static_cast<const kernels::bf16_t*>(gemm_);
    if (api == "kernel_launch")
      flush_l2(dev_, 64, stream_);
    else if (api == "cublaslt_call")
      planner_->run(*plan_, w, w + 256 * 256, const_cast<kernels::bf16_t*>(w) + 256 * 256 + 8 * 256, stream_);
    else if (api == "nccl_call")
      MOESIM_CHECK(ncclAllReduce(static_cast<char*>(dev_) + 1024, static_cast<char*>(dev_) + 2048, 256, ncclFloat,
                                 ncclSum, comm_, stream_));
    else if (api == "event_record")
      MOESIM_CHECK(cudaEventRecord(event_, stream_));
    else if (api == "sync") {
      MOESIM_CHECK(cudaMemcpyAsync(pinned_, dev_, 64, cudaMemcpyDeviceToHost, stream_));
      MOESIM_CHECK(cudaStreamSynchronize(stream_));
    } else if (api == "graph_launch")
      MOESIM_CHECK(cudaGraphLaunch(graph_, stream_));
    else
      throw std::logic_error("bench-host: no call for " + api);
  }

private:
  cudaStream_t stream_ = nullptr;
  cudaEvent_t event_ = nullptr;
  void* dev_ = nullptr;
  void* pinned_ = nullptr;
  void* gemm_ = nullptr;
  std::unique_ptr<GemmPlanner> planner_;
  const GemmPlan* plan_ = nullptr;
  ncclComm_t comm_ = nullptr;
  cudaGraphExec_t graph_ = nullptr;
};

} // namespace

HostBenchOptions parse_host_bench_options(const std::vector<std::string>& args)
{
  HostBenchOptions o;
  for (std::size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "-g" || a == "--gpus")
      o.gpus = count_option(args, i, 1, 64);
    else if (a == "-t" || a == "--threads")
      o.threads = count_option(args, i, 1, 256);
    else if (a == "-n" || a == "--reps")
      o.reps = count_option(args, i, 10, 100000);
    else if (a == "--json") {
      if (i + 1 >= args.size())
        throw InputError(where, a, "needs a value", "write --json FILE");
      o.json = args[++i];
    } else
      throw InputError(where, a, "unknown option", "use -g GPUS, -t THREADS, -n REPS and --json FILE");
  }
  return o;
}

std::vector<int> host_bench_threads(int most)
{
  std::vector<int> t;
  for (int k = 1; k < most; k *= 2)
    t.push_back(k);
  t.push_back(most);
  return t;
}

const std::vector<std::string>& host_apis()
{
  static const std::vector<std::string> apis = {"kernel_launch", "cublaslt_call", "nccl_call",
                                                "event_record",  "sync",          "graph_launch"};
  return apis;
}

std::vector<HostCost> measure_host_costs(int threads, int gpus, int reps)
{
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess)
    devices = 0;
  if (devices < gpus)
    throw InputError(where, "-g", std::to_string(gpus) + " GPUs asked for, " + std::to_string(devices) + " visible",
                     "pass -g " + std::to_string(std::max(devices, 1)) + " or run on a machine with more GPUs");
  using Key = std::pair<std::string, bool>; // api, busy
  std::vector<std::map<Key, double>> per(static_cast<std::size_t>(threads));
  std::barrier sync_point(threads);
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto body = [&](int t) {
    try {
      HostCaller c(t % gpus);
      for (const std::string& api : host_apis())
        c.call(api); // warm: modules, NCCL's first enqueue
      MOESIM_CHECK(cudaStreamSynchronize(c.stream()));
      for (const std::string& api : host_apis())
        for (bool busy : {true, false}) {
          if (busy && api == "sync")
            continue;
          std::vector<double> v;
          v.reserve(static_cast<std::size_t>(reps));
          sync_point.arrive_and_wait();
          if (busy) // long enough for every call to queue behind it
            spin_gpu(c.stream(), 2e-3 + reps * 50e-6);
          for (int i = 0; i < reps; i++) {
            if (!busy)
              MOESIM_CHECK(cudaStreamSynchronize(c.stream()));
            const double t0 = host_now();
            c.call(api);
            v.push_back(host_now() - t0);
          }
          MOESIM_CHECK(cudaStreamSynchronize(c.stream()));
          per[static_cast<std::size_t>(t)][{api, busy}] = median(v);
        }
    } catch (...) {
      std::lock_guard lock(failure_mutex);
      if (!failure)
        failure = std::current_exception();
      sync_point.arrive_and_drop(); // the others must not wait for this thread
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++)
    pool.emplace_back(body, t);
  for (auto& th : pool)
    th.join();
  if (failure)
    std::rethrow_exception(failure);
  std::vector<HostCost> out;
  for (const std::string& api : host_apis())
    for (bool busy : {true, false}) {
      if (busy && api == "sync")
        continue;
      std::vector<double> v;
      for (const auto& m : per)
        v.push_back(m.at({api, busy}));
      out.push_back({api, busy, threads, median(v)});
    }
  return out;
}

std::vector<HostCost> run_host_bench(const HostBenchOptions& o, std::FILE* out)
{
  const int most = o.threads > 0 ? o.threads : o.gpus;
  std::fprintf(out, "# moesim-validate bench-host: host time per call, %d repetitions, median per thread then over "
                    "threads (thread i drives GPU i %% %d; all threads at once)\n",
               o.reps, o.gpus);
  std::fprintf(out, "%8s %-14s %12s %12s\n", "threads", "api", "busy us", "idle us");
  std::vector<HostCost> rows;
  for (int threads : host_bench_threads(most)) {
    const std::vector<HostCost> r = measure_host_costs(threads, o.gpus, o.reps);
    for (const std::string& api : host_apis()) {
      double busy = -1, idle = -1;
      for (const HostCost& c : r)
        if (c.api == api)
          (c.busy ? busy : idle) = c.seconds;
      char b[32] = "-";
      if (busy >= 0)
        std::snprintf(b, sizeof b, "%.2f", busy * 1e6);
      std::fprintf(out, "%8d %-14s %12s %12.2f\n", threads, api.c_str(), b, idle * 1e6);
    }
    std::fflush(out);
    rows.insert(rows.end(), r.begin(), r.end());
  }
  return rows;
}

nlohmann::json host_bench_json(const HostBenchOptions&, const std::vector<HostCost>& rows, const SystemInfo& sys)
{
  nlohmann::json records = nlohmann::json::array();
  for (const HostCost& c : rows)
    records.push_back(opbench::host_record(c.api, c.busy, c.threads, c.seconds));
  return opbench::op_bench_document("moesim-validate bench-host", op_bench_system(sys), records);
}

} // namespace moesim::validate
