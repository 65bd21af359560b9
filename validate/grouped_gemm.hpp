// GroupedGemm: one grouped expert GEMM, y_e = x_e w_e^T over each local expert's rows, run the way
// the schedule's engine option asks (engine.grouped_gemm):
//   per_expert  a loop of cuBLASLt GEMMs, one per expert with rows, planned by the GemmPlanner the
//               dense GEMMs use (what a loop of library calls costs: a launch per expert);
//   fused       kernels::grouped_gemm, one launch over all local experts, as serving engines run
//               their MoE kernels.
// Layout (both): x [total_rows, k] with expert e's rows at groups()[..].row0 (experts in order),
// w [experts, n, k], y [total_rows, n] bf16; bf16 or fp8 e4m3 operands (fp8 with the planner's
// per-tensor scales). Rows per expert are fixed at construction, as the replay's routing is.
// The executor's grouped_gemm ops and bench-ops both run through this class.
#pragma once
#include "kernels/kernels.hpp"
#include "validate/gemm_plan.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

namespace moesim::validate {

enum class GroupedImpl { per_expert, fused };
const char* to_string(GroupedImpl i);            // "per_expert", "fused"
GroupedImpl parse_grouped_impl(const std::string& s); // those names; throws std::invalid_argument

// Why `fused` cannot run this shape ("" when it can): the kernel's size rules (kernels.hpp).
std::string fused_refusal(int n, int k, bool fp8);

class GroupedGemm {
public:
  struct Group {
    int expert;      // local expert index
    long row0, rows; // its rows of x and y
  };

  // rows: whole rows per local expert (>= 0). per_expert plans every active expert's GEMM with the
  // alignment its offsets allow; fused uploads the row offsets (device memory this object owns).
  // Throws std::invalid_argument for a shape the implementation refuses (fused_refusal), and
  // std::runtime_error on a CUDA or cuBLAS failure. An FP8 per_expert plan that cuBLASLt refuses
  // leaves ok() false: the caller runs bf16 instead.
  GroupedGemm(GemmPlanner& planner, const std::vector<long>& rows, int n, int k, bool fp8, GroupedImpl impl);
  ~GroupedGemm();
  GroupedGemm(const GroupedGemm&) = delete;
  GroupedGemm& operator=(const GroupedGemm&) = delete;

  bool ok() const { return ok_; }
  // Why ok() is false: the first refused expert's rows and its plan's why ("" when ok).
  std::string why() const;
  // Enqueues the whole op on `stream`: never synchronises or allocates (graph-capturable).
  void launch(const void* w, const void* x, kernels::bf16_t* y, cudaStream_t stream) const;
  // Host API calls (kernel launches or cuBLASLt calls) one launch() makes.
  int launches() const;
  GroupedImpl impl() const { return impl_; }
  bool fp8() const { return fp8_; }
  int experts() const { return static_cast<int>(rows_.size()); }
  int n() const { return n_; }
  int k() const { return k_; }
  long total_rows() const { return total_; }
  const std::vector<Group>& groups() const { return groups_; } // experts with rows, in order
  // "fused (1 launch, tiles 16x128)" or "per_expert (12 cuBLASLt GEMMs)".
  std::string describe() const;

private:
  GemmPlanner& planner_;
  std::vector<long> rows_;
  int n_, k_;
  bool fp8_;
  GroupedImpl impl_;
  bool ok_ = true;
  long total_ = 0;
  std::vector<Group> groups_;
  std::vector<const GemmPlan*> plans_; // per_expert: one per group
  std::int32_t* offsets_ = nullptr;    // fused: [experts + 1] on the device
  kernels::GroupedGemmTiling tiling_{};
};

} // namespace moesim::validate
