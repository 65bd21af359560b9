// cuBLASLt GEMM plans for the op executor. Row-major y[m, n] = x[m, k] w[n, k]^T is column-major
// y^T = w^T x^T with w stored k x n (ld k) and transposed: the "TN" layout, which FP8 requires on
// Hopper. BF16 or FP8 e4m3 inputs (FP8 with per-tensor scales), BF16 or FP32 output, FP32
// accumulation; batch > 1 is strided-batched over per-head slices (x and y interleave the heads of a
// row: ld batch * k and batch * n; each head's weights follow the last's).
#pragma once
#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <tuple>

namespace moesim::validate {

struct GemmPlan {
  int m = 0, n = 0, k = 0, batch = 1;
  bool fp8 = false, out_f32 = false;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool found = false; // cuBLASLt offered an algorithm (FP8: one that also ran on a trial)
  GemmPlan() = default;
  GemmPlan(const GemmPlan&) = delete;
  GemmPlan& operator=(const GemmPlan&) = delete;
  ~GemmPlan();
};

// Largest power of two (<= 256) dividing every value: the pointer alignment a GEMM of offsets
// `values` (bytes) can count on.
int alignment_of(std::initializer_list<std::uint64_t> values);

// The FP8 per-tensor scales every FP8 plan reads: operands are drawn uniform in [-2, 2] as e4m3
// values and scaled by 0.5, so that the values they stand for lie in [-1, 1] like the bf16 ones,
// and the scale path is exercised.
constexpr float fp8_scale_w = 0.5f, fp8_scale_x = 0.5f;
constexpr std::size_t lt_workspace_bytes = 32u << 20; // what cuBLAS recommends for Hopper

// Owns the cuBLASLt handle and every plan made on the current device, one per (m, n, k, batch, fp8,
// out_f32, alignment). The workspace and the two FP8 scales are device buffers the caller allocates
// (and fills with fp8_scale_w, fp8_scale_x) before the first plan.
class GemmPlanner {
public:
  GemmPlanner();
  ~GemmPlanner();
  GemmPlanner(const GemmPlanner&) = delete;
  GemmPlanner& operator=(const GemmPlanner&) = delete;

  void set_buffers(const float* scales, void* workspace);
  // The plan for these sizes, made on first use (an FP8 plan is run once on scratch buffers first:
  // cuBLASLt's heuristic can offer an FP8 algorithm that cublasLtMatmul then refuses).
  GemmPlan* plan(long m, int n, int k, int batch, bool fp8, bool out_f32, int align);
  // Frees the trial runs' scratch buffers (before the executor plans its memory).
  void free_scratch();
  // Enqueues y = x w^T on `stream`.
  void run(const GemmPlan& p, const void* w, const void* x, void* y, cudaStream_t stream) const;

private:
  bool trial(const GemmPlan& p, int align);
  cublasLtHandle_t lt_ = nullptr;
  const float* scales_ = nullptr;
  void* workspace_ = nullptr;
  std::map<std::tuple<long, int, int, int, bool, bool, int>, std::unique_ptr<GemmPlan>> plans_;
  void* scratch_[3] = {nullptr, nullptr, nullptr};
  std::size_t scratch_bytes_[3] = {0, 0, 0};
};

} // namespace moesim::validate
