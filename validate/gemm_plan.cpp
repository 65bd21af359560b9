#include "validate/gemm_plan.hpp"

#include "kernels/check.hpp"

#include <stdexcept>
#include <string>

namespace moesim::validate {

namespace {

void make_layout(cublasLtMatrixLayout_t* l, cudaDataType_t t, std::uint64_t rows, std::uint64_t cols, std::int64_t ld,
                 int batch, std::int64_t stride)
{
  MOESIM_CHECK(cublasLtMatrixLayoutCreate(l, t, rows, cols, ld));
  if (batch > 1) {
    const std::int32_t bc = batch;
    MOESIM_CHECK(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &bc, sizeof bc));
    MOESIM_CHECK(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride));
  }
}

} // namespace

int alignment_of(std::initializer_list<std::uint64_t> byte_offsets)
{
  int a = 256;
  for (std::uint64_t v : byte_offsets)
    while (a > 1 && v % a != 0)
      a /= 2;
  return a;
}

GemmPlan::~GemmPlan()
{
  if (a_)
    cublasLtMatrixLayoutDestroy(a_);
  if (b_)
    cublasLtMatrixLayoutDestroy(b_);
  if (d_)
    cublasLtMatrixLayoutDestroy(d_);
  if (desc_)
    cublasLtMatmulDescDestroy(desc_);
}

GemmPlanner::GemmPlanner()
{
  MOESIM_CHECK(cublasLtCreate(&lt_));
  try {
    MOESIM_CHECK(cudaMalloc(&workspace_, workspace_bytes));
    MOESIM_CHECK(cudaMalloc(reinterpret_cast<void**>(&scales_), 2 * scale_slot_bytes));
    MOESIM_CHECK(cudaMemcpy(scales_ + scale_offset_bytes(0), &fp8_scale_w, sizeof(float), cudaMemcpyHostToDevice));
    MOESIM_CHECK(cudaMemcpy(scales_ + scale_offset_bytes(1), &fp8_scale_x, sizeof(float), cudaMemcpyHostToDevice));
  } catch (...) {
    (void)cudaFree(workspace_);
    (void)cudaFree(scales_);
    cublasLtDestroy(lt_);
    throw;
  }
}

GemmPlanner::~GemmPlanner()
{
  plans_.clear();
  free_scratch();
  (void)cudaFree(workspace_);
  (void)cudaFree(scales_);
  if (lt_)
    cublasLtDestroy(lt_);
}

std::size_t GemmPlanner::device_bytes() const
{
  return workspace_bytes + 2 * scale_slot_bytes + scratch_bytes_[0] + scratch_bytes_[1] + scratch_bytes_[2];
}

void GemmPlanner::free_scratch()
{
  for (int i = 0; i < 3; i++) {
    if (scratch_[i])
      (void)cudaFree(scratch_[i]);
    scratch_[i] = nullptr;
    scratch_bytes_[i] = 0;
  }
}

const GemmPlan& GemmPlanner::plan(long m, int n, int k, int batch, bool fp8, bool out_f32, int align)
{
  if (m < 1 || n < 1 || k < 1 || batch < 1)
    throw std::invalid_argument("GemmPlanner::plan: m, n, k and batch must be >= 1, got m=" + std::to_string(m) +
                                " n=" + std::to_string(n) + " k=" + std::to_string(k) + " batch=" + std::to_string(batch));
  auto& slot = plans_[{m, n, k, batch, fp8, out_f32, align}];
  if (slot)
    return *slot;
  auto p = std::make_unique<GemmPlan>();
  p->m = m, p->n = n, p->k = k, p->batch = batch, p->fp8 = fp8, p->out_f32 = out_f32, p->align = align;
  MOESIM_CHECK(cublasLtMatmulDescCreate(&p->desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  MOESIM_CHECK(cublasLtMatmulDescSetAttribute(p->desc_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  MOESIM_CHECK(cublasLtMatmulDescSetAttribute(p->desc_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  if (fp8) {
    // Each on its own 256-byte slot. x's scale once sat 4 bytes past w's: the one pointer that broke
    // the 16-byte rule, while every FP8 plan of every m (1 to 512) that the heuristic offered was then
    // refused by cublasLtMatmul on H200 (cuBLAS 13.0; the heuristic never sees pointers).
    const float* sw = scale_w();
    const float* sx = scale_x();
    MOESIM_CHECK(cublasLtMatmulDescSetAttribute(p->desc_, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sw, sizeof sw));
    MOESIM_CHECK(cublasLtMatmulDescSetAttribute(p->desc_, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sx, sizeof sx));
  }
  const cudaDataType_t in = fp8 ? CUDA_R_8F_E4M3 : CUDA_R_16BF, out = out_f32 ? CUDA_R_32F : CUDA_R_16BF;
  make_layout(&p->a_, in, k, n, k, batch, std::int64_t(n) * k);
  make_layout(&p->b_, in, k, m, std::int64_t(batch) * k, batch, k);
  make_layout(&p->d_, out, n, m, std::int64_t(batch) * n, batch, n);
  cublasLtMatmulPreference_t pref = nullptr;
  MOESIM_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const std::uint64_t ws = workspace_bytes;
  const std::uint32_t al = static_cast<std::uint32_t>(align);
  cublasLtMatmulHeuristicResult_t res[fp8_candidates] = {};
  int found = 0;
  cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    if (st == CUBLAS_STATUS_SUCCESS)
      st = cublasLtMatmulPreferenceSetAttribute(pref, attr, &al, sizeof al);
  if (st == CUBLAS_STATUS_SUCCESS)
    st = cublasLtMatmulAlgoGetHeuristic(lt_, p->desc_, p->a_, p->b_, p->d_, p->d_, pref, fp8 ? fp8_candidates : 1, res,
                                        &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED)
    MOESIM_CHECK(st);
  if (st != CUBLAS_STATUS_SUCCESS || found == 0) {
    p->why = std::string("heuristic: ") + (st != CUBLAS_STATUS_SUCCESS ? cublasGetStatusName(st) : "no algorithm");
  } else if (!fp8) {
    p->algo_ = res[0].algo;
    p->found = res[0].state == CUBLAS_STATUS_SUCCESS;
    if (!p->found)
      p->why = std::string("heuristic: ") + cublasGetStatusName(res[0].state);
  } else {
    // The first offered algorithm that runs on operands of exactly the planned alignment.
    std::string refused;
    for (int i = 0; i < found && !p->found; i++) {
      const cublasStatus_t t = res[i].state == CUBLAS_STATUS_SUCCESS ? trial(*p, res[i].algo) : res[i].state;
      if (t == CUBLAS_STATUS_SUCCESS) {
        p->algo_ = res[i].algo;
        p->found = true;
      } else if (refused.find(cublasGetStatusName(t)) == std::string::npos) {
        refused += std::string(refused.empty() ? "" : ", ") + cublasGetStatusName(t);
      }
    }
    if (!p->found)
      p->why = "trial: " + std::to_string(found) + " algorithm(s) refused (" + refused + ")";
  }
  slot = std::move(p);
  return *slot;
}

// Runs `algo` for the plan once on scratch buffers whose pointers have exactly the alignment the plan
// was made for (seen on H200 with cuBLAS 13.0: an FP8 algorithm offered and then refused). Returns
// cublasLtMatmul's status; CUBLAS_STATUS_ALLOC_FAILED when there is no room for the scratch.
cublasStatus_t GemmPlanner::trial(const GemmPlan& p, const cublasLtMatmulAlgo_t& algo)
{
  const std::size_t es = p.fp8 ? 1 : 2;
  const std::size_t need[3] = {std::size_t(p.batch) * p.n * p.k * es + 256, std::size_t(p.batch) * p.m * p.k * es + 256,
                               std::size_t(p.batch) * p.m * p.n * (p.out_f32 ? 4 : 2) + 256};
  for (int i = 0; i < 3; i++)
    if (scratch_bytes_[i] < need[i]) {
      if (scratch_[i])
        MOESIM_CHECK(cudaFree(scratch_[i]));
      scratch_[i] = nullptr;
      scratch_bytes_[i] = 0;
      if (cudaMalloc(&scratch_[i], need[i]) != cudaSuccess) {
        (void)cudaGetLastError();
        return CUBLAS_STATUS_ALLOC_FAILED; // no room to try: the caller takes BF16
      }
      scratch_bytes_[i] = need[i];
    }
  const std::size_t off = p.align < 256 ? static_cast<std::size_t>(p.align) : 0;
  auto at = [&](int i) { return static_cast<void*>(static_cast<unsigned char*>(scratch_[i]) + off); };
  static const float one = 1.0f, zero = 0.0f;
  const cublasStatus_t st = cublasLtMatmul(lt_, p.desc_, &one, at(0), p.a_, at(1), p.b_, &zero, at(2), p.d_, at(2), p.d_,
                                           &algo, workspace_, workspace_bytes, nullptr);
  if (st != CUBLAS_STATUS_SUCCESS)
    return st;
  MOESIM_CHECK(cudaStreamSynchronize(nullptr));
  return CUBLAS_STATUS_SUCCESS;
}

void GemmPlanner::run(const GemmPlan& p, const void* w, const void* x, void* y, cudaStream_t stream) const
{
  // Constants with static storage: valid whenever cuBLASLt reads them, also under graph capture.
  static const float one = 1.0f, zero = 0.0f;
  MOESIM_CHECK(cublasLtMatmul(lt_, p.desc_, &one, w, p.a_, x, p.b_, &zero, y, p.d_, y, p.d_, &p.algo_, workspace_,
                              workspace_bytes, stream));
}

} // namespace moesim::validate
