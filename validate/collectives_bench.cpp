#include "validate/collectives_bench.hpp"

#include "core/calibration.hpp" // busbw_factor
#include "core/error.hpp"
#include "core/nccl_tests.hpp"  // nccl_tests_binary
#include "kernels/check.hpp"
#include "validate/collectives_check.hpp"
#include "validate/nccl_env.hpp"
#include "validate/runner_plan.hpp" // median_index
#include "validate/spin.hpp"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <numeric>

namespace moesim::validate {

namespace {

constexpr std::size_t elem = 2; // bf16

// Device state of one rank; frees itself.
struct BenchRank {
  int device = 0;
  cudaStream_t stream = nullptr;
  ncclComm_t comm = nullptr;
  check::bf16_t* send = nullptr;
  check::bf16_t* recv = nullptr;
  unsigned long long* wrong = nullptr;
  std::vector<cudaEvent_t> before, after; // --timing events: one pair per timed call

  BenchRank() = default;
  BenchRank(const BenchRank&) = delete;
  BenchRank& operator=(const BenchRank&) = delete;
  ~BenchRank()
  {
    if (cudaSetDevice(device) != cudaSuccess)
      return;
    if (comm)
      ncclCommDestroy(comm);
    cudaFree(send);
    cudaFree(recv);
    cudaFree(wrong);
    for (cudaEvent_t e : before)
      cudaEventDestroy(e);
    for (cudaEvent_t e : after)
      cudaEventDestroy(e);
    if (stream)
      cudaStreamDestroy(stream);
  }
};

void* alloc_or_refuse(std::size_t bytes, int device, const char* what)
{
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, std::max<std::size_t>(bytes, 256));
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    throw InputError("command line", "-e",
                     std::string("the ") + what + " buffer of " + std::to_string(bytes) +
                         " bytes does not fit on GPU " + std::to_string(device),
                     "lower the largest size (-e)");
  }
  MOESIM_CHECK(e);
  return p;
}

// One launch of the collective on every rank, grouped (one thread, many devices).
void launch(OpKind op, const BenchShape& sh, std::vector<BenchRank>& ranks)
{
  const int n = static_cast<int>(ranks.size());
  MOESIM_CHECK(ncclGroupStart());
  for (int r = 0; r < n; r++) {
    BenchRank& b = ranks[r];
    switch (op) {
      case OpKind::all_reduce:
        MOESIM_CHECK(ncclAllReduce(b.send, b.recv, sh.count, ncclBfloat16, ncclSum, b.comm, b.stream));
        break;
      case OpKind::all_gather:
        MOESIM_CHECK(ncclAllGather(b.send, b.recv, sh.count, ncclBfloat16, b.comm, b.stream));
        break;
      case OpKind::reduce_scatter:
        MOESIM_CHECK(ncclReduceScatter(b.send, b.recv, sh.count, ncclBfloat16, ncclSum, b.comm, b.stream));
        break;
      case OpKind::all_to_all:
        for (int p = 0; p < n; p++) {
          MOESIM_CHECK(ncclSend(b.send + p * sh.count, sh.count, ncclBfloat16, p, b.comm, b.stream));
          MOESIM_CHECK(ncclRecv(b.recv + p * sh.count, sh.count, ncclBfloat16, p, b.comm, b.stream));
        }
        break;
      default: // sendrecv
        MOESIM_CHECK(ncclSend(b.send, sh.count, ncclBfloat16, (r + 1) % n, b.comm, b.stream));
        MOESIM_CHECK(ncclRecv(b.recv, sh.count, ncclBfloat16, (r - 1 + n) % n, b.comm, b.stream));
        break;
    }
  }
  MOESIM_CHECK(ncclGroupEnd());
}

void sync_all(std::vector<BenchRank>& ranks)
{
  for (BenchRank& b : ranks) {
    MOESIM_CHECK(cudaSetDevice(b.device));
    MOESIM_CHECK(cudaStreamSynchronize(b.stream));
  }
}

// Known inputs, poisoned outputs, one launch, then the device counts what is wrong.
std::size_t check_once(OpKind op, const BenchShape& sh, std::vector<BenchRank>& ranks)
{
  const int n = static_cast<int>(ranks.size());
  const int m = check::pattern_modulus(n);
  for (int r = 0; r < n; r++) {
    BenchRank& b = ranks[r];
    MOESIM_CHECK(cudaSetDevice(b.device));
    if (op == OpKind::all_to_all)
      check::fill_chunks(b.send, sh.count, n, r, m, b.stream);
    else
      check::fill_rank(b.send, sh.send_elements, r, m, b.stream);
    MOESIM_CHECK(cudaMemsetAsync(b.recv, 0xff, sh.recv_elements * elem, b.stream)); // NaN
    MOESIM_CHECK(cudaMemsetAsync(b.wrong, 0, sizeof *b.wrong, b.stream));
  }
  sync_all(ranks);
  launch(op, sh, ranks);
  std::size_t wrong = 0;
  for (int r = 0; r < n; r++) {
    BenchRank& b = ranks[r];
    MOESIM_CHECK(cudaSetDevice(b.device));
    switch (op) {
      case OpKind::all_reduce: check::check_sum(b.recv, sh.count, 0, n, m, b.wrong, b.stream); break;
      case OpKind::reduce_scatter: check::check_sum(b.recv, sh.count, r * sh.count, n, m, b.wrong, b.stream); break;
      case OpKind::all_gather: check::check_gather(b.recv, sh.count, n, m, b.wrong, b.stream); break;
      case OpKind::all_to_all: check::check_chunks(b.recv, sh.count, n, r, m, b.wrong, b.stream); break;
      default: check::check_copy(b.recv, sh.count, (r - 1 + n) % n, m, b.wrong, b.stream); break;
    }
    unsigned long long w = 0;
    MOESIM_CHECK(cudaMemcpyAsync(&w, b.wrong, sizeof w, cudaMemcpyDeviceToHost, b.stream));
    MOESIM_CHECK(cudaStreamSynchronize(b.stream));
    wrong += static_cast<std::size_t>(w);
  }
  return wrong;
}

double seconds_since(std::chrono::steady_clock::time_point t0)
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// --timing host: the host clock over `iters` launches back to back, divided by iters.
double time_host(const BenchOptions& o, const BenchShape& sh, std::vector<BenchRank>& ranks)
{
  sync_all(ranks);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < o.iters; i++)
    launch(o.op, sh, ranks);
  sync_all(ranks);
  return seconds_since(t0) / o.iters;
}

// --timing events (collectives_bench.hpp): every call between events, queued behind a GPU-side
// wait. When the host took longer to queue than the wait lasted, the first calls may have waited
// for their launch: the size runs again with a longer wait, twice at most, then goes with a note.
double time_events(const BenchOptions& o, const BenchShape& sh, std::vector<BenchRank>& ranks, std::FILE* out)
{
  const std::size_t n = ranks.size();
  double spin = events_spin_seconds(static_cast<int>(n), o.iters);
  for (int attempt = 0;; attempt++) {
    sync_all(ranks);
    const auto t0 = std::chrono::steady_clock::now();
    for (BenchRank& b : ranks) {
      MOESIM_CHECK(cudaSetDevice(b.device));
      spin_gpu(b.stream, spin);
    }
    for (int i = 0; i < o.iters; i++) {
      for (BenchRank& b : ranks) {
        MOESIM_CHECK(cudaSetDevice(b.device));
        MOESIM_CHECK(cudaEventRecord(b.before[i], b.stream));
      }
      launch(o.op, sh, ranks);
      for (BenchRank& b : ranks) {
        MOESIM_CHECK(cudaSetDevice(b.device));
        MOESIM_CHECK(cudaEventRecord(b.after[i], b.stream));
      }
    }
    const double queued = seconds_since(t0);
    sync_all(ranks);
    if (queued < spin)
      break;
    if (attempt == 2) {
      std::fprintf(out,
                   "# note: %zu B: queuing %d calls took the host %.2f ms, longer than the GPU's wait of %.2f ms: "
                   "the first calls may include launch cost\n",
                   sh.bytes, o.iters, queued * 1e3, spin * 1e3);
      break;
    }
    spin = 2 * queued + 2e-3;
  }
  std::vector<std::vector<double>> spans(static_cast<std::size_t>(o.iters), std::vector<double>(n));
  for (std::size_t g = 0; g < n; g++) {
    BenchRank& b = ranks[g];
    MOESIM_CHECK(cudaSetDevice(b.device));
    for (int i = 0; i < o.iters; i++) {
      float ms = 0;
      MOESIM_CHECK(cudaEventElapsedTime(&ms, b.before[i], b.after[i]));
      spans[i][g] = static_cast<double>(ms) * 1e-3;
    }
  }
  return events_call_seconds(spans);
}

std::string hostname()
{
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0)
    return "host";
  return buf;
}

} // namespace

BenchShape bench_shape(OpKind op, std::size_t bytes, int ranks)
{
  return nccl_tests_shape(op, bytes, ranks, elem);
}

double events_spin_seconds(int gpus, int iters)
{
  return 2e-3 + 30e-6 * std::max(1, gpus) * std::max(0, iters);
}

double events_call_seconds(const std::vector<std::vector<double>>& spans)
{
  if (spans.empty())
    throw std::invalid_argument("events_call_seconds: no calls");
  std::vector<double> calls;
  calls.reserve(spans.size());
  for (const std::vector<double>& call : spans) {
    if (call.empty())
      throw std::invalid_argument("events_call_seconds: a call on no GPU");
    calls.push_back(*std::min_element(call.begin(), call.end()));
  }
  return calls[median_index(calls)];
}

double BenchRow::algbw() const
{
  return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0.0;
}

double busbw(OpKind op, int ranks, const BenchRow& r)
{
  return r.algbw() * busbw_factor(op, ranks);
}

std::string bench_header(OpKind op, int ranks, const BenchOptions& o, const SystemInfo& sys)
{
  std::string s;
  char buf[512];
  s += "# Collective test starting: " + nccl_tests_binary(op) + "\n";
  s += "# moesim-validate bench-collectives --op " + std::string(bench_op_name(op)) + " (nccl-tests layout, bf16, "
       "out-of-place; timing: " + bench_timing_name(o.timing) +
       (o.timing == BenchTiming::events
            ? ": GPU time per call from CUDA events, all calls queued behind a GPU wait, no host launch cost; "
              "time = median over calls of the minimum over GPUs of end - start)\n"
            : ": time = host clock over iters back-to-back launches / iters)\n");
  std::snprintf(buf, sizeof buf,
                "# nThread 1 nGpus %d minBytes %zu maxBytes %zu step: %zu(factor) warmup iters: %d iters: %d "
                "validation: 1 graph: 0\n",
                ranks, o.min_bytes, o.max_bytes, o.factor, o.warmup, o.iters);
  s += buf;
  s += "# nccl-library=" + nccl_version_string(sys.nccl_version) + " cuda-runtime=" +
       cuda_version_string(sys.runtime_version) + " driver=" + sys.driver_build + " (CUDA " +
       cuda_version_string(sys.driver_cuda_version) + ")\n";
  s += "# " + describe_nccl_env() + "\n#\n# Using devices\n";
  const std::string host = hostname();
  for (int r = 0; r < ranks && r < static_cast<int>(sys.devices.size()); r++) {
    const DeviceInfo& d = sys.devices[r];
    std::snprintf(buf, sizeof buf, "#  Rank %2d Group  0 Pid %6d on %10s device %2d [%s] %s\n", r,
                  static_cast<int>(getpid()), host.c_str(), d.index, d.pci_bus_id.c_str(), d.name.c_str());
    s += buf;
  }
  s += "#\n";
  std::snprintf(buf, sizeof buf, "# %10s  %12s  %8s  %6s  %6s           out-of-place\n", "", "", "", "", "");
  s += buf;
  std::snprintf(buf, sizeof buf, "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s\n", "size", "count", "type", "redop",
                "root", "time", "algbw", "busbw", "#wrong");
  s += buf;
  std::snprintf(buf, sizeof buf, "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)", "(elements)", "", "", "",
                "(us)", "(GB/s)", "(GB/s)", "");
  s += buf;
  return s;
}

std::string bench_row(OpKind op, int ranks, const BenchRow& r)
{
  const bool reduce = op == OpKind::all_reduce || op == OpKind::reduce_scatter;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%12zu  %12zu  %8s  %6s  %6d  %7.2f  %6.2f  %6.2f  %6zu\n", r.bytes, r.count,
                "bfloat16", reduce ? "sum" : "none", -1, r.seconds * 1e6, r.algbw(), busbw(op, ranks, r), r.wrong);
  return buf;
}

std::string bench_footer(OpKind op, int ranks, const std::vector<BenchRow>& rows)
{
  std::size_t wrong = 0;
  double bus = 0;
  for (const BenchRow& r : rows) {
    wrong += r.wrong;
    bus += busbw(op, ranks, r);
  }
  char buf[256];
  std::string s;
  std::snprintf(buf, sizeof buf, "# Out of bounds values : %zu %s\n", wrong, wrong ? "FAILED" : "OK");
  s += buf;
  std::snprintf(buf, sizeof buf, "# Avg bus bandwidth    : %g \n#\n", rows.empty() ? 0.0 : bus / rows.size());
  s += buf;
  return s;
}

nlohmann::json bench_json(const BenchOptions& o, const std::vector<BenchRow>& rows, const SystemInfo& sys)
{
  const bool reduce = o.op == OpKind::all_reduce || o.op == OpKind::reduce_scatter;
  nlohmann::json devices = nlohmann::json::array();
  for (int r = 0; r < o.gpus && r < static_cast<int>(sys.devices.size()); r++)
    devices.push_back({{"rank", r}, {"device", sys.devices[r].index}, {"device_info", sys.devices[r].name},
                       {"pci_bus_id", sys.devices[r].pci_bus_id}});
  nlohmann::json results = nlohmann::json::array();
  for (const BenchRow& r : rows)
    results.push_back({{"size", r.bytes},
                       {"count", r.count},
                       {"type", "bfloat16"},
                       {"redop", reduce ? "sum" : "none"},
                       {"root", -1},
                       {"out_of_place",
                        {{"time", r.seconds * 1e6},
                         {"algbw", r.algbw()},
                         {"busbw", busbw(o.op, o.gpus, r)},
                         {"wrong", r.wrong}}},
                       {"in_place", nullptr}});
  nlohmann::json j;
  // nccl-tests' -J layout (core/nccl_tests.cpp reads args[0], devices, results, nccl_version) ...
  j["args"] = {nccl_tests_binary(o.op), "-b", std::to_string(o.min_bytes), "-e", std::to_string(o.max_bytes), "-f",
               std::to_string(o.factor), "-g", std::to_string(o.gpus), "-n", std::to_string(o.iters), "-w",
               std::to_string(o.warmup)};
  j["nccl_version"] = sys.nccl_version;
  j["devices"] = std::move(devices);
  j["results"] = std::move(results);
  std::size_t wrong = 0;
  double bus = 0;
  for (const BenchRow& r : rows)
    wrong += r.wrong, bus += busbw(o.op, o.gpus, r);
  j["out_of_bounds"] = wrong;
  j["timing"] = bench_timing_name(o.timing);
  j["avg_busbw"] = rows.empty() ? 0.0 : bus / rows.size();
  // ... and what moesim adds: which tool, the machine, the NCCL environment.
  j["moesim"] = {{"tool", "moesim-validate bench-collectives"},
                 {"op", bench_op_name(o.op)},
                 {"dtype", "bf16"},
                 {"ranks", o.gpus},
                 {"system", to_json(sys)},
                 {"nccl_env", nccl_env_json()}};
  return j;
}

std::vector<BenchRow> run_collectives_bench(const BenchOptions& o, std::FILE* out)
{
  const SystemInfo sys = query_system_info();
  if (sys.device_count < o.gpus)
    throw InputError("command line", "-g",
                     std::to_string(o.gpus) + " GPUs asked for but " + std::to_string(sys.device_count) +
                         " visible" + (sys.no_device.empty() ? "" : " (" + sys.no_device + ")"),
                     "lower -g or run on a machine with more GPUs (check CUDA_VISIBLE_DEVICES)");
  const int n = o.gpus;
  const std::vector<std::size_t> sizes = bench_sizes(o);
  std::size_t send_max = 0, recv_max = 0;
  for (std::size_t s : sizes) {
    const BenchShape sh = bench_shape(o.op, s, n);
    send_max = std::max(send_max, sh.send_elements);
    recv_max = std::max(recv_max, sh.recv_elements);
  }

  std::vector<BenchRank> ranks(static_cast<std::size_t>(n));
  std::vector<int> devs(static_cast<std::size_t>(n));
  std::iota(devs.begin(), devs.end(), 0);
  for (int r = 0; r < n; r++) {
    BenchRank& b = ranks[r];
    b.device = r;
    MOESIM_CHECK(cudaSetDevice(r));
    MOESIM_CHECK(cudaStreamCreateWithFlags(&b.stream, cudaStreamNonBlocking));
    if (o.timing == BenchTiming::events) {
      b.before.resize(static_cast<std::size_t>(o.iters));
      b.after.resize(static_cast<std::size_t>(o.iters));
      for (int i = 0; i < o.iters; i++) {
        MOESIM_CHECK(cudaEventCreate(&b.before[i]));
        MOESIM_CHECK(cudaEventCreate(&b.after[i]));
      }
    }
    b.send = static_cast<check::bf16_t*>(alloc_or_refuse(send_max * elem, r, "send"));
    b.recv = static_cast<check::bf16_t*>(alloc_or_refuse(recv_max * elem, r, "receive"));
    b.wrong = static_cast<unsigned long long*>(alloc_or_refuse(sizeof(unsigned long long), r, "counter"));
  }
  std::vector<ncclComm_t> comms(static_cast<std::size_t>(n));
  MOESIM_CHECK(ncclCommInitAll(comms.data(), n, devs.data()));
  for (int r = 0; r < n; r++)
    ranks[r].comm = comms[r];

  std::fputs(bench_header(o.op, n, o, sys).c_str(), out);
  std::fflush(out);
  std::vector<BenchRow> rows;
  for (std::size_t s : sizes) {
    const BenchShape sh = bench_shape(o.op, s, n);
    if (sh.count == 0)
      continue; // too small to give every rank an element (nccl-tests prints a 0-byte row; no time to fit)
    BenchRow row;
    row.bytes = sh.bytes;
    row.count = sh.count;
    row.wrong = check_once(o.op, sh, ranks);
    for (int i = 0; i < o.warmup; i++)
      launch(o.op, sh, ranks);
    row.seconds = o.timing == BenchTiming::events ? time_events(o, sh, ranks, out) : time_host(o, sh, ranks);
    rows.push_back(row);
    std::fputs(bench_row(o.op, n, row).c_str(), out);
    std::fflush(out);
  }
  std::fputs(bench_footer(o.op, n, rows).c_str(), out);
  std::fflush(out);
  return rows;
}

} // namespace moesim::validate
