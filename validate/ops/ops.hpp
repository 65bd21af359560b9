// The compute-op handlers of the op executor, one file each (op_handler.hpp says what the four
// functions do); the table that maps op kinds to them is in validate/op_handlers.cpp.
#pragma once
#include "validate/grouped_gemm.hpp"
#include "validate/op_handler.hpp"

#include <memory>
#include <vector>

namespace moesim::validate::ops {

extern const OpHandler gemm;         // gemm.cpp
extern const OpHandler grouped_gemm; // grouped_gemm.cpp
extern const OpHandler attention;    // attention.cpp: attention_decode, attention_prefill
extern const OpHandler topk;         // topk.cpp
extern const OpHandler permute;      // permute.cpp
extern const OpHandler unpermute;    // permute.cpp
extern const OpHandler rmsnorm;      // rowwise.cpp
extern const OpHandler silu_mul;     // rowwise.cpp
extern const OpHandler residual_add; // residual_add.cpp
extern const OpHandler embedding;    // embedding.cpp
extern const OpHandler sample;       // sample.cpp

// What the GEMM handlers share (gemm.cpp): a GEMM, or a grouped expert GEMM run by GroupedGemm
// (validate/grouped_gemm.hpp: fused or per expert, as engine.grouped_gemm says), the class
// bench-ops times too.
struct GemmConfig : Config {
  long m = 0; // rows (grouped: over every expert)
  int n = 0, k = 0, batch = 1;
  bool fp8 = false, out_f32 = false;
  const GemmPlan* plan = nullptr;      // plain GEMM
  std::unique_ptr<GroupedGemm> grouped; // grouped expert GEMM
  int experts = 0;                      // grouped: local experts (weights [experts, n, k])
};
void launch_gemm(const Config& c, const RunContext& r, cudaStream_t stream);
void verify_gemm(const Config& c, const RunContext& r, Verifier& v);

} // namespace moesim::validate::ops
