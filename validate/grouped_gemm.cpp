#include "validate/grouped_gemm.hpp"

#include "kernels/check.hpp"

#include <algorithm>
#include <stdexcept>

namespace moesim::validate {

const char* to_string(GroupedImpl i)
{
  return i == GroupedImpl::fused ? "fused" : "per_expert";
}

GroupedImpl parse_grouped_impl(const std::string& s)
{
  if (s == "fused")
    return GroupedImpl::fused;
  if (s == "per_expert")
    return GroupedImpl::per_expert;
  throw std::invalid_argument("unknown grouped GEMM implementation '" + s + "' (use fused or per_expert)");
}

std::string fused_refusal(int n, int k, bool fp8)
{
  if (n % 2 != 0)
    return "the fused grouped GEMM needs an even n, got " + std::to_string(n);
  if ((static_cast<long>(k) * (fp8 ? 1 : 2)) % 16 != 0)
    return "the fused grouped GEMM needs k a multiple of " + std::string(fp8 ? "16" : "8") + ", got " + std::to_string(k);
  return "";
}

GroupedGemm::GroupedGemm(GemmPlanner& planner, const std::vector<long>& rows, int n, int k, bool fp8, GroupedImpl impl)
    : planner_(planner), rows_(rows), n_(n), k_(k), fp8_(fp8), impl_(impl)
{
  if (rows.empty() || n < 1 || k < 1)
    throw std::invalid_argument("GroupedGemm: needs at least one expert and n, k >= 1");
  for (std::size_t e = 0; e < rows.size(); e++) {
    if (rows[e] < 0)
      throw std::invalid_argument("GroupedGemm: expert " + std::to_string(e) + " has negative rows");
    if (rows[e] > 0)
      groups_.push_back({static_cast<int>(e), total_, rows[e]});
    total_ += rows[e];
  }
  if (impl == GroupedImpl::per_expert) {
    // Every expert's operands start rows * k (x), rows * n (y) and expert * n * k (w) elements in:
    // the plans are made for the alignment all of those share (every expert's, as the executor has
    // always planned them), so that one plan serves every expert.
    const std::uint64_t es = fp8 ? 1 : 2;
    int align = 256;
    long row0 = 0;
    for (std::size_t e = 0; e < rows.size(); e++) {
      align = std::min(align, alignment_of({std::uint64_t(row0) * k * es, std::uint64_t(row0) * n * 2,
                                            std::uint64_t(e) * n * k * es}));
      row0 += rows[e];
    }
    for (const Group& g : groups_) {
      const GemmPlan& p = planner_.plan(g.rows, n, k, 1, fp8, false, align);
      ok_ = ok_ && p.found;
      plans_.push_back(&p);
    }
    return;
  }
  if (const std::string why = fused_refusal(n, k, fp8); !why.empty())
    throw std::invalid_argument("GroupedGemm: " + why);
  if (total_ > INT32_MAX)
    throw std::invalid_argument("GroupedGemm: more than 2^31 rows");
  std::vector<std::int32_t> offsets(rows.size() + 1, 0);
  for (std::size_t e = 0; e < rows.size(); e++)
    offsets[e + 1] = static_cast<std::int32_t>(offsets[e] + rows[e]);
  MOESIM_CHECK(cudaMalloc(&offsets_, offsets.size() * sizeof(std::int32_t)));
  // Waited for: from pageable memory the copy may still be in flight when cudaMemcpy returns, and
  // launch() may run on a non-blocking stream that the legacy stream does not order.
  cudaError_t e = cudaMemcpy(offsets_, offsets.data(), offsets.size() * sizeof(std::int32_t), cudaMemcpyHostToDevice);
  if (e == cudaSuccess)
    e = cudaDeviceSynchronize();
  if (e != cudaSuccess) {
    (void)cudaFree(offsets_);
    offsets_ = nullptr;
    MOESIM_CHECK(e);
  }
  kernels::GroupedGemmArgs a;
  a.experts = experts(), a.n = n, a.k = k, a.total_rows = total_, a.fp8 = fp8;
  a.active_experts = static_cast<int>(groups_.size());
  tiling_ = kernels::grouped_gemm_tiling(a);
}

GroupedGemm::~GroupedGemm()
{
  if (offsets_)
    (void)cudaFree(offsets_);
}

std::string GroupedGemm::why() const
{
  for (std::size_t i = 0; i < plans_.size(); i++)
    if (!plans_[i]->found)
      return "expert " + std::to_string(groups_[i].expert) + " (" + std::to_string(groups_[i].rows) + " rows, align " +
             std::to_string(plans_[i]->align) + "): " + plans_[i]->why;
  return "";
}

int GroupedGemm::launches() const
{
  if (total_ == 0)
    return 0;
  return impl_ == GroupedImpl::fused ? 1 : static_cast<int>(groups_.size());
}

std::string GroupedGemm::describe() const
{
  if (impl_ == GroupedImpl::fused)
    return "fused (1 launch, " + std::to_string(tiling_.rows_per_tile) + "x" + std::to_string(tiling_.cols_per_tile) +
           " tiles, " + std::to_string(tiling_.blocks) + " blocks)";
  return "per_expert (" + std::to_string(groups_.size()) + " cuBLASLt GEMMs)";
}

void GroupedGemm::launch(const void* w, const void* x, kernels::bf16_t* y, cudaStream_t stream) const
{
  if (total_ == 0)
    return;
  if (impl_ == GroupedImpl::fused) {
    kernels::GroupedGemmArgs a;
    a.x = x, a.w = w, a.y = y, a.row_offsets = offsets_;
    a.experts = experts(), a.n = n_, a.k = k_, a.total_rows = total_, a.fp8 = fp8_;
    a.active_experts = static_cast<int>(groups_.size());
    a.scale_w = planner_.scale_w();
    a.scale_x = planner_.scale_x();
    kernels::grouped_gemm(a, stream);
    return;
  }
  const std::size_t es = fp8_ ? 1 : 2;
  const auto* wb = static_cast<const unsigned char*>(w);
  const auto* xb = static_cast<const unsigned char*>(x);
  auto* yb = reinterpret_cast<unsigned char*>(y);
  for (std::size_t i = 0; i < groups_.size(); i++) {
    const Group& g = groups_[i];
    planner_.run(*plans_[i], wb + std::size_t(g.expert) * n_ * k_ * es, xb + std::size_t(g.row0) * k_ * es,
                 yb + std::size_t(g.row0) * n_ * 2, stream);
  }
}

} // namespace moesim::validate
