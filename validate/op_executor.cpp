// OpExecutor: resolves every compute op of the rank through its kind's handler (op_handler.hpp),
// interns equal configurations, plans and fills device memory (buffers.hpp), then launches and
// verifies through the same handlers.
#include "validate/op_executor.hpp"

#include "core/error.hpp"
#include "kernels/check.hpp"
#include "validate/buffers.hpp"
#include "validate/gemm_plan.hpp"
#include "validate/op_check.hpp"
#include "validate/op_handler.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace moesim::validate {

namespace {

// One op of the rank, bound to its configuration and its pooled buffer.
struct Bound {
  std::string name;
  bool compute = false;
  const OpHandler* handler = nullptr;
  Config* cfg = nullptr;
  PoolUse use;
  void* w = nullptr; // the pooled buffer, once allocated
  std::string label; // op_label: its class in the notes
  OpRunInfo info;
};

} // namespace

struct OpExecutor::Impl {
  Impl(int rank, const OpExecutorOptions& o) : rank(rank), options(o), mem(rank, o.file) {}
  int rank = 0;
  std::uint64_t seed = 0;
  OpExecutorOptions options;
  cudaDeviceProp prop{};
  bool fp8_ok = false;
  DeviceMemory mem;  // freed last
  GemmPlanner gemm;  // cuBLASLt: handle, workspace, FP8 scales, plans
  BufferNeeds needs;
  SharedBuffers buf;
  Pools pools;
  RoutingDraw routing;
  std::map<std::string, std::unique_ptr<Config>> configs;
  std::vector<Config*> config_order;
  std::vector<Bound> bound; // by op id
  bool distinct = true;
  std::vector<std::string> notes;

  Config* intern(std::unique_ptr<Config> c)
  {
    auto [it, fresh] = configs.try_emplace(c->key, nullptr);
    if (fresh) {
      it->second = std::move(c);
      config_order.push_back(it->second.get());
    }
    return it->second.get();
  }
  const Bound& bound_for(const Op& op) const;
  RunContext context(const Bound& b) const { return {buf, gemm, b.w}; }
  void resolve_all(const Schedule& s);
  void add_notes();
};

OpExecutor::OpExecutor(const Schedule& s, int rank, std::uint64_t seed)
    : OpExecutor(s, rank, seed, OpExecutorOptions{})
{
}

OpExecutor::OpExecutor(const Schedule& s, int rank, std::uint64_t seed, const OpExecutorOptions& options)
{
  if (rank < 0 || rank >= static_cast<int>(s.ranks.size()))
    throw std::invalid_argument("OpExecutor: rank " + std::to_string(rank) + " is not in the schedule (" +
                                std::to_string(s.ranks.size()) + " ranks)");
  impl_ = std::make_unique<Impl>(rank, options);
  Impl& I = *impl_;
  I.seed = seed;
  int device = 0;
  MOESIM_CHECK(cudaGetDevice(&device));
  MOESIM_CHECK(cudaGetDeviceProperties(&I.prop, device));
  I.fp8_ok = I.prop.major > 8 || (I.prop.major == 8 && I.prop.minor >= 9);
  std::size_t free_bytes = 0, total_mem = 0;
  MOESIM_CHECK(cudaMemGetInfo(&free_bytes, &total_mem));
  I.resolve_all(s);
  // The planner's workspace and FP8 scales count towards the memory this executor holds.
  I.gemm.free_scratch();
  I.mem.count_held(I.gemm.device_bytes());
  MemoryPlanOptions mo;
  mo.memory_limit = options.memory_limit;
  mo.l2_bytes = static_cast<std::size_t>(I.prop.l2CacheSize);
  mo.seed = seed;
  mo.vocab = std::max(1, s.facts.vocab);
  const std::vector<std::string> memory_notes =
      allocate_and_fill(I.mem, I.needs, I.pools, I.routing, mo, I.buf, I.distinct);
  I.notes.insert(I.notes.begin(), memory_notes.begin(), memory_notes.end());
  for (Bound& b : I.bound)
    b.w = I.pools.buffer(b.use);
  I.add_notes();
}

OpExecutor::~OpExecutor() = default;

// Every op's configuration (and checks) in schedule order, the shared buffers' sizes, the pools.
void OpExecutor::Impl::resolve_all(const Schedule& s)
{
  const std::vector<Op>& ops = s.ranks[rank].ops;
  const OpSite site{s, rank, options.file};
  bound.resize(ops.size());
  for (std::size_t idx = 0; idx < ops.size(); idx++) {
    const Op& op = ops[idx];
    Bound& b = bound[idx];
    b.name = op.name;
    if (op.id != static_cast<int>(idx))
      site.refuse(op, "has id " + std::to_string(op.id) + " at position " + std::to_string(idx),
                  "write the schedule with `moesim schedule` (ids are positions)");
    if (op.is_comm()) {
      double bytes = op.comm_bytes;
      if (op.kind == OpKind::all_to_all) {
        bytes = std::max(bytes, op.peer_bytes.sum());
      }
      needs.comm_bytes = std::max(needs.comm_bytes, static_cast<std::size_t>(std::ceil(std::max(0.0, bytes))));
      continue;
    }
    if (op_class(op.kind) != OpClass::compute)
      continue;
    check_op(s, rank, op, options.file);
    b.compute = true;
    b.handler = &handler_for(op.kind);
    b.label = op_label(op.family, op.role);
    ResolveContext ctx{site, prop, fp8_ok, gemm, needs, pools, routing, PoolUse{}};
    std::unique_ptr<Config> c = b.handler->resolve(op, ctx);
    b.use = ctx.pool;
    b.info.math = c->math;
    b.info.substitution = c->substitution;
    b.info.launches = c->launches;
    b.cfg = intern(std::move(c));
    b.info.config = b.cfg->info;
  }
}

// What differs from the schedule, and what a reader of the timings should know.
void OpExecutor::Impl::add_notes()
{
  std::map<std::string, std::vector<std::string>> subst; // substitution -> op classes
  int per_expert = 0, fused = 0, max_groups = 0;
  for (const Bound& b : bound) {
    if (!b.compute)
      continue;
    if (!b.info.substitution.empty()) {
      auto& v = subst[b.info.substitution];
      if (std::find(v.begin(), v.end(), b.label) == v.end())
        v.push_back(b.label);
    }
    if (b.cfg->kind == OpKind::grouped_gemm) {
      (b.cfg->impl == "fused" ? fused : per_expert)++;
      max_groups = std::max(max_groups, b.cfg->launches);
    }
  }
  for (const auto& [what, classes] : subst) {
    std::string list;
    for (const auto& c : classes)
      list += (list.empty() ? "" : ", ") + c;
    notes.push_back("substitution: " + list + ": " + what);
  }
  if (per_expert > 0)
    notes.push_back(std::to_string(per_expert) + " grouped expert GEMMs run as one cuBLASLt GEMM per expert with "
                    "rows (engine.grouped_gemm per_expert, or a shape the fused kernel refuses; up to " +
                    std::to_string(max_groups) + " launches per op)");
  if (fused > 0)
    notes.push_back(std::to_string(fused) + " grouped expert GEMMs run as one fused kernel over the local experts "
                    "(kernels::grouped_gemm, mma.sync; engine.grouped_gemm fused)");
  notes.push_back("attention: kernels::attention (mma.sync flash attention; decode splits the keys across "
                  "blocks): GQA decode runs near the memory bandwidth, but MLA decode with many heads and prefill "
                  "are compute-bound at a fraction of FlashMLA's / FlashAttention-3's rate (kernels/attention.cu "
                  "has the measurements): their timings are pessimistic; the new token's K/V and the prompt's K/V "
                  "are taken as already in the cache");
  if (needs.act_fp8 > 0)
    notes.push_back("fp8 GEMMs read fp8 activations prepared once (no per-op quantisation kernel) with per-tensor "
                    "scales, not DeepSeek's 128x128 block scales");
  notes.push_back("device memory held: " + gib(double(mem.total_bytes())));
}

const Bound& OpExecutor::Impl::bound_for(const Op& op) const
{
  if (op.id < 0 || op.id >= static_cast<int>(bound.size()) || bound[op.id].name != op.name)
    throw std::invalid_argument("OpExecutor: op " + op.name + " (id " + std::to_string(op.id) +
                                ") is not an op of rank " + std::to_string(rank) + "'s schedule");
  if (!bound[op.id].compute)
    throw std::invalid_argument("OpExecutor: op " + op.name + " is not a compute op");
  return bound[op.id];
}

void OpExecutor::launch(const Op& op, cudaStream_t stream)
{
  const Bound& b = impl_->bound_for(op);
  try {
    b.handler->launch(*b.cfg, impl_->context(b), stream);
  } catch (const std::exception& e) {
    throw std::runtime_error("OpExecutor: op " + b.name + " (" + b.cfg->info + "): " + e.what());
  }
}

void OpExecutor::verify(cudaStream_t stream)
{
  Impl& I = *impl_;
  std::uint64_t round = 0;
  for (const Config* c : I.config_order) {
    const Bound* first = nullptr;
    for (const Bound& b : I.bound)
      if (b.cfg == c) {
        first = &b;
        break;
      }
    if (!first)
      continue;
    try {
      Verifier v(first->name, c->info, first->info.math, I.seed ^ (0xd1b54a32d192ed03ULL * ++round), stream);
      first->handler->verify(*c, I.context(*first), v);
    } catch (const std::exception& e) {
      const std::string what = e.what();
      if (what.rfind("OpExecutor::verify", 0) == 0)
        throw;
      throw std::runtime_error("OpExecutor::verify: op " + first->name + " (" + c->info + "): " + what);
    }
  }
  MOESIM_CHECK(cudaStreamSynchronize(stream));
}

void* OpExecutor::send_buffer() const
{
  return impl_->buf.send;
}
void* OpExecutor::recv_buffer() const
{
  return impl_->buf.recv;
}
std::size_t OpExecutor::comm_buffer_bytes() const
{
  return impl_->buf.comm_bytes;
}
std::size_t OpExecutor::device_bytes() const
{
  return impl_->mem.total_bytes();
}
const OpRunInfo& OpExecutor::info(const Op& op) const
{
  return impl_->bound_for(op).info;
}
bool OpExecutor::fp8_supported() const
{
  return impl_->fp8_ok;
}
bool OpExecutor::distinct_weights() const
{
  return impl_->distinct;
}
std::string OpExecutor::notes() const
{
  std::string s;
  for (const auto& n : impl_->notes)
    s += n + "\n";
  return s;
}

} // namespace moesim::validate
