// GemmPlanner: the cuBLASLt GEMMs of the harness, planned one way for everyone who runs or times
// them (the op executor's replay, the per-expert loop of grouped GEMMs, and bench-ops), so that what
// a bench measures is exactly what a replay runs: the same heuristic query (first result, 32 MiB
// workspace, pointer alignment), the same FP8 per-tensor scales, the same trial run of FP8 plans.
//
// The GEMM is row-major y[m, n] = x[m, k] w[n, k]^T, `batch` times (x and y rows interleave the
// batch: x [m, batch, k], y [m, batch, n]; w [batch, n, k]), which in cuBLAS's column-major terms is
// y^T = w^T x^T with w stored k x n and transposed: the "TN" layout that FP8 requires on Hopper.
// bf16 or fp8 e4m3 operands (fp8: A and B scale pointers, scale_w() and scale_x()), fp32 accumulation,
// bf16 output or fp32 (out_f32: the router's logits).
//
// cuBLASLt's FP8 rule (cuBLAS documentation, cublasLtMatmul, "To use FP8 kernels, the following set of
// requirements must be satisfied", as quoted by NVIDIA in NVIDIA/CUDALibrarySamples issues #172 and
// #242): A transposed and B not (TN), compute type 32F, scale type 32F, and every pointer and
// matrix dimension 16-byte aligned. cuBLASLt checks the pointers only in cublasLtMatmul, not in the
// heuristic: so each scale lives on a slot of its own (scale_offset_bytes), never at a float's
// offset from the other, and the trial run uses pointers of exactly the planned alignment.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

namespace moesim::validate {

// One planned GEMM shape. `found` is false when cuBLASLt offered no algorithm (or, for FP8, offered
// one that then refused to run): the caller falls back to BF16 or refuses the shape.
class GemmPlan {
public:
  GemmPlan() = default;
  GemmPlan(const GemmPlan&) = delete;
  GemmPlan& operator=(const GemmPlan&) = delete;
  ~GemmPlan();

  long m = 0;
  int n = 0, k = 0, batch = 1;
  bool fp8 = false, out_f32 = false;
  int align = 256; // the pointer alignment (bytes) the algorithm was chosen for
  bool found = false;
  // Why found is false: the heuristic's answer, or each offered algorithm's status in the trial
  // run ("heuristic: CUBLAS_STATUS_NOT_SUPPORTED", "trial: 4 algorithms refused (CUBLAS_STATUS_...)").
  std::string why;

private:
  friend class GemmPlanner;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, d_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
};

class GemmPlanner {
public:
  static constexpr std::size_t workspace_bytes = 32u << 20; // what cuBLAS recommends for Hopper
  // FP8 operands are drawn uniform in [-2, 2] as e4m3 values with these per-tensor scales, so that
  // the values they stand for lie in [-1, 1] like the bf16 ones, and the scale path is exercised.
  static constexpr float fp8_scale_w = 0.5f, fp8_scale_x = 0.5f;
  static constexpr int fp8_candidates = 8;
  // Byte offset of scale `which` (0: w's, 1: x's) in the planner's scale buffer: one 256-byte slot
  // each, so each scale pointer has cudaMalloc's alignment (16 bytes is cuBLASLt's FP8 minimum).
  static constexpr std::size_t scale_slot_bytes = 256;
  static constexpr std::size_t scale_offset_bytes(int which) { return std::size_t(which) * scale_slot_bytes; }

  // On the current device: a cuBLASLt handle, the workspace and the two FP8 scales (device memory).
  GemmPlanner();
  ~GemmPlanner();
  GemmPlanner(const GemmPlanner&) = delete;
  GemmPlanner& operator=(const GemmPlanner&) = delete;

  // The plan for this shape, made once and kept (the same arguments give the same plan). FP8 plans
  // are run once on scratch buffers first (cuBLASLt's heuristic can offer an FP8 algorithm that
  // cublasLtMatmul then refuses): of the heuristic's first `fp8_candidates` algorithms the first that
  // runs is kept, and found is false (with why) if none does. BF16 takes the heuristic's first. Throws std::runtime_error on a
  // cuBLASLt failure other than "not supported". m >= 1, n, k, batch >= 1.
  const GemmPlan& plan(long m, int n, int k, int batch, bool fp8, bool out_f32, int align);

  // Enqueues y = x w^T (times the scales for FP8) on `stream`; never synchronises or allocates, so
  // it can be captured in a CUDA graph. Pointers must have at least the plan's alignment.
  void run(const GemmPlan& p, const void* w, const void* x, void* y, cudaStream_t stream) const;

  // Frees the scratch buffers of the FP8 trial runs (before the caller plans its memory).
  void free_scratch();
  // Device memory held: workspace, scales and (until free_scratch) scratch.
  std::size_t device_bytes() const;
  // The FP8 per-tensor scales (device memory, each 256-byte aligned): w's and x's.
  const float* scale_w() const { return scale_at(0); }
  const float* scale_x() const { return scale_at(1); }
  int plans() const { return static_cast<int>(plans_.size()); }

private:
  cublasStatus_t trial(const GemmPlan& p, const cublasLtMatmulAlgo_t& algo); // ALLOC_FAILED: no room to try
  const float* scale_at(int which) const
  {
    return reinterpret_cast<const float*>(scales_ + scale_offset_bytes(which));
  }
  cublasLtHandle_t lt_ = nullptr;
  void* workspace_ = nullptr;
  unsigned char* scales_ = nullptr; // [2 * scale_slot_bytes]
  void* scratch_[3] = {nullptr, nullptr, nullptr};
  std::size_t scratch_bytes_[3] = {0, 0, 0};
  std::map<std::tuple<long, int, int, int, bool, bool, int>, std::unique_ptr<GemmPlan>> plans_;
};

// The largest power of two (at most 256) dividing every value: the pointer alignment a GEMM whose
// operands start at these byte offsets can count on.
int alignment_of(std::initializer_list<std::uint64_t> byte_offsets);

} // namespace moesim::validate
