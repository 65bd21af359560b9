#include "validate/host_bench.hpp"

#include "core/error.hpp"
#include "core/stats.hpp"
#include "kernels/check.hpp"
#include "validate/options.hpp"
#include "validate/spin.hpp"

#include <cuda_runtime_api.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <barrier>
#include <exception>
#include <mutex>
#include <thread>

namespace moesim::validate {

namespace {

const char* const where = "command line";

} // namespace

HostBenchOptions parse_host_bench_options(const std::vector<std::string>& args)
{
  HostBenchOptions o;
  for (std::size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "-g" || a == "--gpus")
      o.gpus = count_option(args, i, 1, 64);
    else if (a == "-n" || a == "--reps")
      o.reps = count_option(args, i, 10, 100000);
    else if (a == "--json") {
      if (i + 1 >= args.size())
        throw InputError(where, a, "needs a value", "write --json FILE");
      o.json = args[++i];
    } else
      throw InputError(where, a, "unknown option", "use -g GPUS, -n REPS and --json FILE");
  }
  return o;
}

std::vector<int> host_bench_threads(int gpus)
{
  std::vector<int> t;
  for (int k = 1; k < gpus; k *= 2)
    t.push_back(k);
  t.push_back(gpus);
  return t;
}

std::vector<HostCostRow> run_host_bench(const HostBenchOptions& o, std::FILE* out)
{
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess)
    devices = 0;
  if (devices < o.gpus)
    throw InputError(where, "-g", std::to_string(o.gpus) + " GPUs asked for, " + std::to_string(devices) + " visible",
                     "pass -g " + std::to_string(std::max(devices, 1)) + " or run on a machine with more GPUs");
  std::fprintf(out, "# moesim-validate bench-host: host costs per call, %d repetitions, median per thread then over "
                    "threads (thread i drives GPU i; all threads at once)\n",
               o.reps);
  std::fprintf(out, "%8s %16s %16s %16s %10s\n", "threads", "launch busy us", "launch idle us", "event record us",
               "sync us");
  std::vector<HostCostRow> rows;
  for (int threads : host_bench_threads(o.gpus)) {
    std::vector<HostCostRow> per(threads);
    std::barrier sync_point(threads);
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto body = [&](int g) {
      try {
        MOESIM_CHECK(cudaSetDevice(g));
        cudaStream_t s = nullptr;
        MOESIM_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
        cudaEvent_t ev = nullptr;
        MOESIM_CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
        void* dev = nullptr;
        void* pinned = nullptr;
        MOESIM_CHECK(cudaMalloc(&dev, 64));
        MOESIM_CHECK(cudaMallocHost(&pinned, 64));
        spin_gpu(s, 0); // warm: the first launch loads the module
        MOESIM_CHECK(cudaStreamSynchronize(s));
        std::vector<double> busy, idle, rec, sync;
        // Busy: launches queued behind a wait long enough for all of them.
        sync_point.arrive_and_wait();
        spin_gpu(s, 2e-3 + o.reps * 50e-6);
        for (int i = 0; i < o.reps; i++) {
          const double t0 = host_now();
          flush_l2(dev, 64, s); // an almost empty kernel (reads 64 bytes)
          busy.push_back(host_now() - t0);
        }
        MOESIM_CHECK(cudaStreamSynchronize(s));
        // Idle: the stream drained before each launch.
        sync_point.arrive_and_wait();
        for (int i = 0; i < o.reps; i++) {
          MOESIM_CHECK(cudaStreamSynchronize(s));
          const double t0 = host_now();
          flush_l2(dev, 64, s);
          idle.push_back(host_now() - t0);
        }
        MOESIM_CHECK(cudaStreamSynchronize(s));
        // Event records behind a wait.
        sync_point.arrive_and_wait();
        spin_gpu(s, 2e-3 + o.reps * 20e-6);
        for (int i = 0; i < o.reps; i++) {
          const double t0 = host_now();
          MOESIM_CHECK(cudaEventRecord(ev, s));
          rec.push_back(host_now() - t0);
        }
        MOESIM_CHECK(cudaStreamSynchronize(s));
        // Sync round trips, GPU idle.
        sync_point.arrive_and_wait();
        for (int i = 0; i < o.reps; i++) {
          const double t0 = host_now();
          MOESIM_CHECK(cudaMemcpyAsync(pinned, dev, 64, cudaMemcpyDeviceToHost, s));
          MOESIM_CHECK(cudaStreamSynchronize(s));
          sync.push_back(host_now() - t0);
        }
        per[g] = {threads, median(busy), median(idle), median(rec), median(sync)};
        (void)cudaFreeHost(pinned);
        (void)cudaFree(dev);
        (void)cudaEventDestroy(ev);
        (void)cudaStreamDestroy(s);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure)
          failure = std::current_exception();
        sync_point.arrive_and_drop(); // the others must not wait for this thread
      }
    };
    std::vector<std::thread> pool;
    for (int g = 0; g < threads; g++)
      pool.emplace_back(body, g);
    for (auto& t : pool)
      t.join();
    if (failure)
      std::rethrow_exception(failure);
    HostCostRow r;
    r.threads = threads;
    std::vector<double> a, b, c, d;
    for (const HostCostRow& p : per)
      a.push_back(p.launch_busy_s), b.push_back(p.launch_idle_s), c.push_back(p.event_record_s), d.push_back(p.sync_s);
    r.launch_busy_s = median(a), r.launch_idle_s = median(b), r.event_record_s = median(c), r.sync_s = median(d);
    std::fprintf(out, "%8d %16.2f %16.2f %16.2f %10.2f\n", threads, r.launch_busy_s * 1e6, r.launch_idle_s * 1e6,
                 r.event_record_s * 1e6, r.sync_s * 1e6);
    std::fflush(out);
    rows.push_back(r);
  }
  return rows;
}

nlohmann::json host_bench_json(const HostBenchOptions& o, const std::vector<HostCostRow>& rows, const SystemInfo& sys)
{
  nlohmann::json r = nlohmann::json::array();
  for (const HostCostRow& x : rows)
    r.push_back({{"threads", x.threads},
                 {"launch_busy_s", x.launch_busy_s},
                 {"launch_idle_s", x.launch_idle_s},
                 {"event_record_s", x.event_record_s},
                 {"sync_s", x.sync_s}});
  return {{"tool", "moesim-validate bench-host"}, {"reps", o.reps}, {"system", to_json(sys)}, {"rows", r}};
}

} // namespace moesim::validate
