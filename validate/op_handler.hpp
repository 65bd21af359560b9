// One handler per compute-op kind, behind a table (op_handlers.cpp), for the op executor
// (op_executor.hpp). Each lives in validate/ops/<kind>.cpp and has the same four functions:
//
//   check    no GPU: refuses (InputError, through OpSite::refuse) what no replay can run: sizes out
//            of range, head dims kernels::attention lacks, a top-k above kernels::max_top_k.
//            `moesim-validate --check-schedule` and the executor call the same function, so both
//            refuse with the same message.
//   resolve  the op's Config on this GPU: its sizes as whole numbers, cuBLASLt plans (GemmPlanner,
//            gemm_plan.hpp, the planner bench-ops times with), the implementation the schedule's
//            engine options ask for (grouped_gemm: fused or per expert), the math it
//            runs in (and any substitution), the shared buffers it needs and its pooled buffer
//            (weights, KV cache, embedding table). Ops with equal Config keys share one Config.
//   launch   enqueues its kernels on a stream; never synchronises or allocates (graph-capturable).
//   verify   runs once on fresh random inputs with outputs poisoned, and compares with the CPU
//            reference (kernels/reference.hpp) within the tolerance its precision allows.
//
// To add a compute-op kind: a file in validate/ops/ with these four functions, one line in the
// table in op_handlers.cpp, and one in validate/CMakeLists.txt.
#pragma once
#include "core/schedule.hpp"
#include "validate/buffers.hpp"
#include "validate/gemm_plan.hpp"
#include "validate/op_verify.hpp"

#include <cuda_runtime_api.h>

#include <memory>
#include <string>

namespace moesim::validate {

// Where a refusal points: the file ("schedule" when the schedule came from memory), the rank and
// the op: "FILE: rank R op NAME: what (fix: ...)".
struct OpSite {
  const Schedule& schedule;
  int rank = 0;
  const std::string& file;
  [[noreturn]] void refuse(const Op& op, const std::string& what, const std::string& fix) const;
};

// A compute op resolved for this GPU. Each handler derives its own.
struct Config {
  virtual ~Config() = default;
  OpKind kind = OpKind::gemm;
  std::string key;          // unique description (ops with equal keys share the Config)
  std::string info;         // the short one for OpRunInfo ("gemm m=8 n=4096 k=7168 fp8 e4m3")
  std::string math = "bf16";
  std::string substitution; // empty when run as scheduled, else what differs and why
  std::string impl;         // the implementation chosen where there are several (grouped_gemm: fused, per_expert)
  bool empty = false;       // nothing to launch (no row, no token)
  int launches = 0;         // kernel launches (cuBLAS calls count one each) of one launch()
};

// What resolve may use and fill.
struct ResolveContext {
  const OpSite& site;
  const cudaDeviceProp& prop;
  bool fp8_ok = false;
  GemmPlanner& gemm;
  BufferNeeds& needs;
  Pools& pools;
  RoutingDraw& routing;
  PoolUse pool; // out: the op's pooled buffer, if any
};

// What launch and verify use: the shared buffers, the GEMM planner and the op's pooled buffer.
struct RunContext {
  const SharedBuffers& buf;
  const GemmPlanner& gemm;
  void* pooled = nullptr;
};

struct OpHandler {
  void (*check)(const Op& op, const OpSite& site);
  std::unique_ptr<Config> (*resolve)(const Op& op, ResolveContext& ctx);
  void (*launch)(const Config& c, const RunContext& r, cudaStream_t stream);
  void (*verify)(const Config& c, const RunContext& r, Verifier& v);
};

// The handler of a compute-op kind; std::logic_error for other kinds.
const OpHandler& handler_for(OpKind kind);

// The op's shape must be its kind's struct (a schedule built in memory may hold anything).
void check_shape_fits(const Op& op, const OpSite& site);

// Pool users: the weights of a (layer, op) are shared by its microbatches; KV caches are not.
std::string weights_key(const Op& op);
std::string cache_key(const Op& op);

// The math a GEMM of weight dtype `dt` runs in, and why it differs where it does: FP8 when asked for,
// supported, and the shape and alignment allow it (cuBLASLt FP8: TN, 16-byte aligned pointers,
// leading dimensions multiples of 16), else BF16 with the reason in `subst`.
bool choose_fp8(Dtype dt, bool fp8_ok, bool out_f32, long n, long k, int align, std::string& subst);
// What a dtype substitution means for a reader ("" when the dtype runs as it is).
std::string dtype_note(Dtype d, bool fp8_ok);

} // namespace moesim::validate
