// What the bench-ops families share (internal to validate/op_bench*.cpp): the context a point is
// measured in, device memory that frees itself, and the checks against the CPU reference. One
// handler per family (op_bench_compute.cpp, op_bench_attention.cpp, op_bench_launch.cpp), each
// verifying its point and then appending its records.
#pragma once
#include "core/routing.hpp" // Rng
#include "validate/bench_timer.hpp"
#include "validate/gemm_plan.hpp"
#include "validate/op_bench_grid.hpp"
#include "validate/op_bench_record.hpp"

#include <cuda_runtime_api.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace moesim::validate::opbench {

// A point whose output differs from the CPU reference: not timed, reported, the exit status 1.
struct VerifyFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A point this device or library cannot run (cuBLASLt has no FP8 algorithm for the shape, ...):
// not timed, reported as skipped.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct BenchContext {
  BenchTimer& timer;
  GemmPlanner& planner;
  const DeviceRates& rates;
  std::uint64_t seed = 1;
  nlohmann::json records = nlohmann::json::array(); // moesim-op-bench-1 records
  nlohmann::json extras = nlohmann::json::array();  // per record, what the format has no key for
  nlohmann::json stream_gaps = nlohmann::json::array();
  std::uint64_t next_seed() { return seed = seed * 6364136223846793005ULL + 1442695040888963407ULL; }
  // Appends the stream and graph records of `t` made by make(Measured), with `extra` (kernels per
  // op, implementation details) beside each in extras.
  template <class Make>
  void add_timed(const Timing& t, Make make, const nlohmann::json& extra)
  {
    for (bool graph : {false, true}) {
      const Measured m{graph, graph ? t.graph_seconds : t.seconds, t.reps, graph ? t.graph_spread : t.spread};
      nlohmann::json e = extra;
      e["record"] = records.size();
      if (!graph && t.spin_retries)
        e["spin_retries"] = t.spin_retries;
      if (!graph)
        e["host_seconds_per_instance"] = t.host_seconds;
      records.push_back(make(m));
      extras.push_back(std::move(e));
    }
  }
};

// Device bytes (a block of validate/block_cache.hpp, kept for later points when this one ends);
// filled with 0xff bytes (bf16 NaN, int -1) when asked.
class DevMem {
public:
  explicit DevMem(std::size_t bytes, bool poison = false);
  ~DevMem();
  DevMem(const DevMem&) = delete;
  DevMem& operator=(const DevMem&) = delete;
  DevMem(DevMem&& o) noexcept : p_(o.p_), bytes_(o.bytes_), block_(o.block_) { o.p_ = nullptr; }
  void* get() const { return p_; }
  template <class T>
  T* as() const
  {
    return static_cast<T*>(p_);
  }
  std::size_t bytes() const { return bytes_; }

private:
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
  std::size_t block_ = 0; // the block's size (its class), which the cache takes back
};

// Frees the blocks kept between points (before the CUDA context goes); says how many were reused.
std::string release_kept_blocks();

template <class T>
std::vector<T> download(const void* p, std::size_t n)
{
  std::vector<T> v(n);
  if (n) {
    const cudaError_t e = cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost);
    if (e != cudaSuccess)
      throw std::runtime_error(std::string("bench-ops: copying results back failed: ") + cudaGetErrorString(e));
  }
  return v;
}

// Up to `want` indices in [0, n): the first, the last and seeded others, ascending.
std::vector<long> sample_indices(long n, int want, Rng& rng);

// The worst element of a check; throws VerifyFailure naming `what` when any element is outside its
// tolerance.
struct Check {
  explicit Check(std::string w) : what(std::move(w)) {}
  std::string what;
  long bad = 0, compared = 0;
  double worst = 0;
  std::string first;
  void add(double got, double want, double tol, const std::string& at);
  void finish() const;
};

// Rows `rows` and columns `cols` of y = scale * x w^T against double-precision products of the
// operands as the device holds them: x [*, k] (row r at x + r * k elements), w [n, k] (one matrix),
// y [*, n] bf16 or fp32, bf16 or e4m3 operands; tolerance ref::gemm_tolerance.
void check_gemm(Check& c, const void* x, const void* w, const void* y, bool y_f32, int n, int k, bool fp8, double scale,
                const std::vector<long>& rows, const std::vector<long>& cols);

// Kernel launches (graph kernel nodes) one call of `launch` enqueues, counted by capturing it on the
// timer's stream: a cuBLASLt GEMM that splits k is 2, a per-expert loop one per expert.
int count_kernels(BenchContext& ctx, const std::function<void(cudaStream_t)>& launch);

void bench_gemm(BenchContext& ctx, const GemmPoint& p);
void bench_grouped(BenchContext& ctx, const GroupedPoint& p);
void bench_small(BenchContext& ctx, const SmallPoint& p);
void bench_attention(BenchContext& ctx, const AttnPoint& p);
void bench_gap(BenchContext& ctx, const GapPoint& p);
void bench_host(BenchContext& ctx, const HostPoint& p);

} // namespace moesim::validate::opbench
