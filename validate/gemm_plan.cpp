#include "validate/gemm_plan.hpp"

#include "kernels/check.hpp"

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

GemmPlan::~GemmPlan()
{
  if (a)
    cublasLtMatrixLayoutDestroy(a);
  if (b)
    cublasLtMatrixLayoutDestroy(b);
  if (d)
    cublasLtMatrixLayoutDestroy(d);
  if (desc)
    cublasLtMatmulDescDestroy(desc);
}

int alignment_of(std::initializer_list<std::uint64_t> values)
{
  int a = 256;
  for (std::uint64_t v : values)
    while (a > 1 && v % a != 0)
      a /= 2;
  return a;
}

GemmPlanner::GemmPlanner()
{
  MOESIM_CHECK(cublasLtCreate(&lt_));
}

GemmPlanner::~GemmPlanner()
{
  plans_.clear();
  free_scratch();
  if (lt_)
    cublasLtDestroy(lt_);
}

void GemmPlanner::set_buffers(const float* scales, void* workspace)
{
  scales_ = scales;
  workspace_ = workspace;
}

GemmPlan* GemmPlanner::plan(long m, int n, int k, int batch, bool fp8, bool out_f32, int align)
{
  auto& slot = plans_[{m, n, k, batch, fp8, out_f32, align}];
  if (slot)
    return slot.get();
  auto p = std::make_unique<GemmPlan>();
  p->m = static_cast<int>(m), p->n = n, p->k = k, p->batch = batch, p->fp8 = fp8, p->out_f32 = out_f32;
  MOESIM_CHECK(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  MOESIM_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  MOESIM_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  if (fp8) {
    const float* sw = scales_;
    const float* sx = scales_ + 1;
    MOESIM_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sw, sizeof sw));
    MOESIM_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sx, sizeof sx));
  }
  const cudaDataType_t in = fp8 ? CUDA_R_8F_E4M3 : CUDA_R_16BF, out = out_f32 ? CUDA_R_32F : CUDA_R_16BF;
  make_layout(&p->a, in, k, n, k, batch, std::int64_t(n) * k);
  make_layout(&p->b, in, k, m, std::int64_t(batch) * k, batch, k);
  make_layout(&p->d, out, n, m, std::int64_t(batch) * n, batch, n);
  cublasLtMatmulPreference_t pref = nullptr;
  MOESIM_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const std::uint64_t ws = lt_workspace_bytes;
  const std::uint32_t al = static_cast<std::uint32_t>(align);
  MOESIM_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
  for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    MOESIM_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &al, sizeof al));
  cublasLtMatmulHeuristicResult_t res{};
  int found = 0;
  const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt_, p->desc, p->a, p->b, p->d, p->d, pref, 1, &res, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st == CUBLAS_STATUS_SUCCESS && found > 0 && res.state == CUBLAS_STATUS_SUCCESS) {
    p->algo = res.algo;
    p->found = !fp8 || trial(*p, align);
  } else if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED) {
    MOESIM_CHECK(st);
  }
  slot = std::move(p);
  return slot.get();
}

void GemmPlanner::free_scratch()
{
  for (int i = 0; i < 3; i++) {
    if (scratch_[i])
      cudaFree(scratch_[i]);
    scratch_[i] = nullptr;
    scratch_bytes_[i] = 0;
  }
}

// cuBLASLt's heuristic can offer an FP8 algorithm that cublasLtMatmul then refuses
// (CUBLAS_STATUS_NOT_SUPPORTED, seen on H200 with cuBLAS 13.0 for some shapes): run the plan once on
// scratch buffers whose pointers have exactly the alignment the plan was made for.
bool GemmPlanner::trial(const GemmPlan& p, int align)
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
        return false; // no room to try: take BF16
      }
      scratch_bytes_[i] = need[i];
    }
  const std::size_t off = align < 256 ? static_cast<std::size_t>(align) : 0;
  auto at = [&](int i) { return static_cast<void*>(static_cast<unsigned char*>(scratch_[i]) + off); };
  static const float one = 1.0f, zero = 0.0f;
  const cublasStatus_t st = cublasLtMatmul(lt_, p.desc, &one, at(0), p.a, at(1), p.b, &zero, at(2), p.d, at(2), p.d,
                                           &p.algo, workspace_, lt_workspace_bytes, nullptr);
  if (st != CUBLAS_STATUS_SUCCESS)
    return false;
  MOESIM_CHECK(cudaStreamSynchronize(nullptr));
  return true;
}

void GemmPlanner::run(const GemmPlan& p, const void* w, const void* x, void* y, cudaStream_t stream) const
{
  static const float one = 1.0f, zero = 0.0f;
  MOESIM_CHECK(cublasLtMatmul(lt_, p.desc, &one, w, p.a, x, p.b, &zero, y, p.d, y, p.d, &p.algo, workspace_,
                              lt_workspace_bytes, stream));
}

} // namespace moesim::validate
