// OpExecutor: see op_executor.hpp for what each op runs. Layout of this file: small helpers, the
// cublasLt GEMM plans, the construction (resolve every compute op to a configuration, plan memory,
// allocate, fill, bind), launch, and verify (one check per distinct configuration).
#include "validate/op_executor.hpp"

#include "core/error.hpp"
#include "core/routing.hpp"
#include "kernels/check.hpp"
#include "kernels/kernels.hpp"
#include "kernels/reference.hpp"
#include "validate/gemm_plan.hpp"
#include "validate/grouped_gemm.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace moesim::validate {

using kernels::bf16_t;
namespace ref = kernels::ref;

// ------------------------------------------------------------------------------------------------
// GPU-free helpers

namespace detail {

std::vector<long> round_group_rows(const std::vector<double>& rows)
{
  return moesim::round_group_rows(rows);
}

std::string base_name(const std::string& op_name)
{
  std::string s = op_name;
  if (s.size() > 1 && s[0] == 'L' && std::isdigit(static_cast<unsigned char>(s[1]))) {
    const auto dot = s.find('.');
    if (dot != std::string::npos)
      s = s.substr(dot + 1);
  }
  const auto at = s.find("@mb");
  if (at != std::string::npos)
    s = s.substr(0, at);
  return s;
}

std::vector<long> plan_copies(const std::vector<double>& sizes, const std::vector<long>& users, double budget)
{
  const std::size_t n = sizes.size();
  double all = 0, one = 0;
  for (std::size_t i = 0; i < n; i++) {
    all += sizes[i] * users[i];
    one += sizes[i];
  }
  if (all <= budget)
    return users;
  if (one > budget)
    return {};
  // The same fraction of each class, at least one copy; then spend what is left on the classes with
  // the lowest fraction, one copy at a time.
  const double f = budget / all;
  std::vector<long> c(n);
  double used = 0;
  for (std::size_t i = 0; i < n; i++) {
    c[i] = std::clamp(static_cast<long>(std::floor(f * users[i])), 1L, std::max(1L, users[i]));
    used += c[i] * sizes[i];
  }
  for (bool added = true; added;) {
    added = false;
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return double(c[a]) / std::max(1L, users[a]) < double(c[b]) / std::max(1L, users[b]);
    });
    for (std::size_t i : order)
      if (c[i] < users[i] && used + sizes[i] <= budget) {
        c[i]++;
        used += sizes[i];
        added = true;
      }
  }
  return c;
}

} // namespace detail

namespace {

constexpr float rms_eps = 1e-6f;
constexpr std::size_t scan_limit = 256u << 20;        // full poison scans up to this many bytes
constexpr float fp8_scale_w = GemmPlanner::fp8_scale_w, fp8_scale_x = GemmPlanner::fp8_scale_x;

long count(double x)
{
  return x > 0 ? static_cast<long>(std::llround(x)) : 0L;
}

std::string gib(double bytes)
{
  char s[32];
  std::snprintf(s, sizeof s, "%.2f GiB", bytes / double(1ull << 30));
  return s;
}

std::string fmt(double v)
{
  char s[32];
  std::snprintf(s, sizeof s, "%.6g", v);
  return s;
}

std::size_t align_up(std::size_t n, std::size_t a)
{
  return (n + a - 1) / a * a;
}

bool contains(const std::string& s, const char* part)
{
  return s.find(part) != std::string::npos;
}

bool bf16_nan(bf16_t b)
{
  return (b & 0x7fff) > 0x7f80;
}

[[noreturn]] void schedule_error(int rank, const Op& op, const std::string& what, const std::string& fix)
{
  throw InputError("schedule", "rank " + std::to_string(rank) + " op " + op.name, what, fix);
}

// ------------------------------------------------------------------------------------------------
// Configurations: what one compute op runs, resolved to integers. Ops with the same configuration
// share one (verify checks each once).

struct Config {
  std::string key;  // unique description (the map key)
  std::string info; // the short one for OpRunInfo
  OpKind kind = OpKind::gemm;
  bool empty = false; // nothing to launch (no row, no token)
  // gemm / grouped_gemm
  long m = 0;
  int n = 0, k = 0, batch = 1;
  bool fp8 = false, out_f32 = false;
  const GemmPlan* plan = nullptr;
  std::unique_ptr<GroupedGemm> grouped; // grouped_gemm: per_expert loop or fused kernel
  std::vector<GroupedGemm::Group> groups; // its experts with rows
  int experts = 0;
  // attention
  kernels::AttentionArgs attn{}; // sizes, strides and scale; pointers bound at launch
  int splits = 1;
  bool mla_latent = false; // K and V both inside one latent cache
  // elementwise and routing
  long rows = 0;
  int dim = 0;
  std::int64_t elems = 0;
  int tokens = 0, top_k = 0, all_experts = 0, first_expert = 0, local_experts = 0, hidden = 0;
  int table_rows = 0, first_id = 0, vocab = 0;
};

// A per-op buffer from a pool (weights, embedding table, KV cache).
struct PoolUse {
  int pool = -1;
  int user = -1; // index among the pool's users
};

struct Pool {
  std::string cls;   // base name, e.g. "attn.qkv", "attn.core"
  std::size_t bytes; // one copy
  bool kv = false;
  std::vector<std::string> users; // keys (op names without microbatch; KV: with)
  std::vector<void*> copies;
  std::string first_op;
  bool fp8 = false; // contents: e4m3 bytes (else bf16)
};

struct Bound {
  std::string name;
  bool compute = false;
  Config* cfg = nullptr;
  PoolUse use;
  void* w = nullptr; // the pooled buffer, once allocated
  OpRunInfo info;
};

} // namespace

struct OpExecutor::Impl {
  int rank = 0;
  std::uint64_t seed = 0;
  OpExecutorOptions options;
  cudaDeviceProp prop{};
  bool fp8_ok = false;
  std::unique_ptr<GemmPlanner> planner; // cuBLASLt: handle, workspace, FP8 scales, plans

  std::map<std::string, std::unique_ptr<Config>> configs;
  std::vector<Config*> config_order;
  std::vector<Bound> bound; // by op id
  std::vector<Pool> pools;
  std::map<std::string, int> pool_of_class;
  bool distinct = true;
  std::vector<std::string> notes;

  // Device memory
  std::vector<std::pair<void*, std::size_t>> allocations;
  std::size_t total_bytes = 0;
  // Sizes (elements) of the shared buffers, the largest any op needs.
  std::size_t n_act_in = 0, n_act_in2 = 0, n_act_out = 0, n_act_fp8 = 0, n_router = 0, n_sample = 0, n_topk = 0,
              n_ids = 0, n_embed_ids = 0, n_argmax = 0, n_norm = 0, n_offsets = 0, attn_ws_bytes = 0,
              comm_bytes = 0;
  bf16_t *act_in = nullptr, *act_in2 = nullptr, *act_out = nullptr, *norm_w = nullptr;
  std::uint8_t* act_fp8 = nullptr;
  float *router_logits = nullptr, *sample_logits = nullptr, *topk_w = nullptr, *fixed_w = nullptr,
        *argmax_val = nullptr;
  std::int32_t *topk_ids = nullptr, *fixed_ids = nullptr, *dest_row = nullptr, *offsets = nullptr,
               *embed_ids = nullptr, *argmax_idx = nullptr;
  void *attn_ws = nullptr, *send = nullptr, *recv = nullptr;
  // Routing draw for permute / unpermute (host copies, for the initial dest_row)
  int route_experts = 0, route_k = 0, route_first = 0, route_local = 0;
  int vocab = 0;

  ~Impl();
  void* alloc(std::size_t bytes, const std::string& what, const std::string& op_name, std::size_t free_bytes);
  const GemmPlan* gemm_plan(long m, int n, int k, int batch, bool fp8, bool out_f32, int align)
  {
    return &planner->plan(m, n, k, batch, fp8, out_f32, align);
  }
  Config* intern(std::unique_ptr<Config> c);
  const Bound& bound_for(const Op& op) const;
  void launch_bound(const Bound& b, cudaStream_t stream);
  void run_gemm(const GemmPlan& p, const void* w, const void* x, void* y, cudaStream_t stream) const
  {
    planner->run(p, w, x, y, stream);
  }
  kernels::AttentionArgs attention_args(const Config& c, const void* kv) const;
  void verify_one(const Bound& b, std::uint64_t vseed, cudaStream_t stream);
};

OpExecutor::Impl::~Impl()
{
  planner.reset();
  for (auto& [p, n] : allocations)
    cudaFree(p); // errors ignored: nothing to do about them in a destructor
}

void* OpExecutor::Impl::alloc(std::size_t bytes, const std::string& what, const std::string& op_name,
                              std::size_t free_bytes)
{
  bytes = align_up(std::max<std::size_t>(bytes, 256), 256);
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    throw InputError("schedule", "rank " + std::to_string(rank) + " op " + op_name,
                     "cudaMalloc of " + gib(double(bytes)) + " for " + what + " failed (" + gib(double(total_bytes)) +
                         " already held, " + gib(double(free_bytes)) + " free at the start)",
                     "run on a GPU with more memory, or a plan that shards the model over more GPUs");
  }
  MOESIM_CHECK(e);
  allocations.push_back({p, bytes});
  total_bytes += bytes;
  return p;
}

Config* OpExecutor::Impl::intern(std::unique_ptr<Config> c)
{
  auto [it, fresh] = configs.try_emplace(c->key, nullptr);
  if (fresh) {
    it->second = std::move(c);
    config_order.push_back(it->second.get());
  }
  return it->second.get();
}

// ------------------------------------------------------------------------------------------------
// Construction

namespace {

// What the schedule tells about the model, read off the ops (the schedule carries no model).
struct ModelFacts {
  int hidden = 0, vocab = 0, experts = 0, top_k = 0;
};

ModelFacts model_facts(const Schedule& s, int rank)
{
  ModelFacts f;
  auto scan = [&](const RankSchedule& rs) {
    for (const Op& op : rs.ops) {
      const std::string base = detail::base_name(op.name);
      const auto& sh = op.shape;
      if (!f.hidden) {
        if (op.kind == OpKind::embedding && sh.size() >= 2)
          f.hidden = static_cast<int>(count(sh[1]));
        else if ((op.kind == OpKind::permute || op.kind == OpKind::unpermute) && sh.size() >= 3)
          f.hidden = static_cast<int>(count(sh[2]));
        else if (op.kind == OpKind::gemm && sh.size() >= 3 &&
                 (base == "attn.o" || base == "ffn.down" || base == "moe.shared.down"))
          f.hidden = static_cast<int>(count(sh[1]));
      }
      if (!f.vocab && op.kind == OpKind::sample && sh.size() >= 2)
        f.vocab = static_cast<int>(count(sh[1]));
      if (!f.experts && op.kind == OpKind::topk && sh.size() >= 3) {
        f.experts = static_cast<int>(count(sh[1]));
        f.top_k = static_cast<int>(count(sh[2]));
      }
    }
  };
  scan(s.ranks[rank]);
  for (const RankSchedule& rs : s.ranks)
    scan(rs);
  if (!f.vocab) // no sample op anywhere: the LM head's columns times the vocab shards
    for (const RankSchedule& rs : s.ranks)
      for (const Op& op : rs.ops)
        if (!f.vocab && op.kind == OpKind::gemm && detail::base_name(op.name) == "head.lm_head" && op.shape.size() >= 3)
          f.vocab = static_cast<int>(count(op.shape[1])) * std::max(1, s.layout.plan.attn_tp);
  return f;
}

std::string dtype_note(Dtype d, bool fp8_ok)
{
  switch (d) {
    case Dtype::nvfp4:
    case Dtype::mxfp4:
      return std::string(to_string(d)) + " weights run as bf16: Hopper has no FP4 tensor cores (3.6x the bytes)";
    case Dtype::fp8:
      return fp8_ok ? "" : "fp8 GEMM needs compute capability 8.9+: ran bf16 (2x the weight bytes)";
    case Dtype::fp16:
    case Dtype::fp32:
      return std::string(to_string(d)) + " math run as bf16";
    default:
      return "";
  }
}

} // namespace

OpExecutor::OpExecutor(const Schedule& s, int rank, std::uint64_t seed)
    : OpExecutor(s, rank, seed, OpExecutorOptions{})
{
}

OpExecutor::OpExecutor(const Schedule& s, int rank, std::uint64_t seed, const OpExecutorOptions& options)
    : impl_(std::make_unique<Impl>())
{
  Impl& I = *impl_;
  if (rank < 0 || rank >= static_cast<int>(s.ranks.size()))
    throw std::invalid_argument("OpExecutor: rank " + std::to_string(rank) + " is not in the schedule (" +
                                std::to_string(s.ranks.size()) + " ranks)");
  I.rank = rank;
  I.seed = seed;
  I.options = options;
  int device = 0;
  MOESIM_CHECK(cudaGetDevice(&device));
  MOESIM_CHECK(cudaGetDeviceProperties(&I.prop, device));
  I.fp8_ok = I.prop.major > 8 || (I.prop.major == 8 && I.prop.minor >= 9);
  std::size_t free_bytes = 0, total_mem = 0;
  MOESIM_CHECK(cudaMemGetInfo(&free_bytes, &total_mem));
  // The FP8 scales and the cuBLASLt workspace exist before the GEMM plans that use them; they count
  // towards the memory this executor holds.
  I.planner = std::make_unique<GemmPlanner>();
  I.total_bytes += GemmPlanner::workspace_bytes + 256;

  const std::vector<Op>& ops = s.ranks[rank].ops;
  const ModelFacts facts = model_facts(s, rank);
  const Layout& L = s.layout;
  const bool a2a = L.plan.expert_comm == ExpertComm::all_to_all;
  const int tp_index = rank < static_cast<int>(L.ranks.size()) ? L.ranks[rank].attn_tp : 0;
  const int ep_index = rank < static_cast<int>(L.ranks.size()) ? L.ranks[rank].ep : 0;
  I.vocab = facts.vocab > 0 ? facts.vocab : 32768;
  if (facts.vocab <= 0)
    I.notes.push_back("vocabulary size not in the schedule (no sample or LM-head op): embedding table of 32768 rows");

  // Largest needs of the shared buffers, and the op that sets each (for the out-of-memory message).
  std::string biggest_op;
  double biggest_bytes = 0;
  auto need = [&](std::size_t& slot, std::size_t elems, std::size_t elem_bytes, const Op& op) {
    slot = std::max(slot, elems);
    if (double(elems) * elem_bytes > biggest_bytes)
      biggest_bytes = double(elems) * elem_bytes, biggest_op = op.name;
  };
  auto use_pool = [&](const std::string& cls, const std::string& key, std::size_t bytes, bool kv, bool fp8,
                      const Op& op) -> PoolUse {
    const std::string id = cls + "|" + std::to_string(bytes) + (fp8 ? "|fp8" : "");
    auto [it, fresh] = I.pool_of_class.try_emplace(id, static_cast<int>(I.pools.size()));
    if (fresh) {
      Pool p;
      p.cls = cls, p.bytes = bytes, p.kv = kv, p.first_op = op.name, p.fp8 = fp8;
      I.pools.push_back(std::move(p));
    }
    Pool& p = I.pools[it->second];
    auto u = std::find(p.users.begin(), p.users.end(), key);
    if (u == p.users.end()) {
      p.users.push_back(key);
      u = p.users.end() - 1;
    }
    if (double(bytes) > biggest_bytes)
      biggest_bytes = double(bytes), biggest_op = op.name;
    return {it->second, static_cast<int>(u - p.users.begin())};
  };

  // Context from earlier ops that elementwise ops take their row width from.
  long last_gemm_m = 0;
  int last_up_n = 0;
  long last_up_rows = -1;
  std::size_t max_route_tokens = 0, max_embed_tokens = 0;

  I.bound.resize(ops.size());
  for (std::size_t idx = 0; idx < ops.size(); idx++) {
    const Op& op = ops[idx];
    Bound& b = I.bound[idx];
    b.name = op.name;
    if (op.id != static_cast<int>(idx))
      schedule_error(rank, op, "has id " + std::to_string(op.id) + " at position " + std::to_string(idx),
                     "write the schedule with `moesim schedule` (ids are positions)");
    if (op.is_comm()) {
      double bytes = op.comm_bytes;
      if (op.kind == OpKind::all_to_all) {
        double sum = 0;
        for (double pb : op.peer_bytes)
          sum += pb;
        bytes = std::max(bytes, sum);
      }
      I.comm_bytes = std::max(I.comm_bytes, static_cast<std::size_t>(std::ceil(std::max(0.0, bytes))));
      continue;
    }
    if (op_class(op.kind) != OpClass::compute)
      continue;
    b.compute = true;
    const auto& sh = op.shape;
    const std::string base = detail::base_name(op.name);
    const std::string key = op.name.substr(0, op.name.find("@mb")); // weights: shared by microbatches
    auto c = std::make_unique<Config>();
    c->kind = op.kind;
    std::string subst;
    std::string math = "bf16";
    auto need_shape = [&](std::size_t n, const char* what) {
      if (sh.size() != n)
        schedule_error(rank, op, std::string(to_string(op.kind)) + " shape must be " + what + ", got " +
                                     std::to_string(sh.size()) + " numbers",
                       "write the schedule with `moesim schedule`");
    };
    // Math for a GEMM of weight dtype `dt`: FP8 when asked for, supported, and the shape and
    // alignment allow it (cuBLASLt FP8: TN, 16-byte aligned pointers, leading dimensions multiples
    // of 16), else BF16 with the reason.
    auto choose_fp8 = [&](Dtype dt, bool out_f32, int n, int k, int align) {
      subst = dtype_note(dt, I.fp8_ok);
      if (dt != Dtype::fp8 || !I.fp8_ok)
        return false;
      if (out_f32) {
        subst = "router GEMM run in bf16 with fp32 logits (weights " + std::string(to_string(dt)) + ")";
        return false;
      }
      if (n % 16 != 0 || k % 16 != 0 || align < 16) {
        subst = "fp8 GEMM needs n and k multiples of 16 and 16-byte alignment: ran bf16";
        return false;
      }
      return true;
    };

    switch (op.kind) {
      case OpKind::gemm:
      case OpKind::router: {
        if (sh.size() != 3 && sh.size() != 4)
          need_shape(3, "{m, n, k} or {m, n, k, batch}");
        c->m = count(sh[0]);
        c->n = static_cast<int>(count(sh[1]));
        c->k = static_cast<int>(count(sh[2]));
        c->batch = sh.size() == 4 ? static_cast<int>(count(sh[3])) : 1;
        c->out_f32 = base == "moe.router" || op.kind == OpKind::router;
        if (c->n <= 0 || c->k <= 0 || c->batch <= 0)
          schedule_error(rank, op, "gemm with n, k or batch 0", "write the schedule with `moesim schedule`");
        // Batched: each head's slice starts k (x), n (y) and n * k (w) elements after the last.
        const int es_guess = op.dtype == Dtype::fp8 ? 1 : 2;
        const int align = c->batch > 1 ? alignment_of({std::uint64_t(c->k) * es_guess, std::uint64_t(c->n) * 2,
                                                       std::uint64_t(c->n) * c->k * es_guess})
                                       : 256;
        c->fp8 = choose_fp8(op.dtype, c->out_f32, c->n, c->k, align);
        if (c->fp8 && c->m > 0) {
          c->plan = I.gemm_plan(c->m, c->n, c->k, c->batch, true, false, align);
          if (!c->plan->found) {
            c->fp8 = false;
            subst = "cuBLASLt has no FP8 algorithm for this shape: ran bf16";
          }
        }
        const int es = c->fp8 ? 1 : 2;
        const int align_final = c->batch > 1 ? alignment_of({std::uint64_t(c->k) * es, std::uint64_t(c->n) * 2,
                                                             std::uint64_t(c->n) * c->k * es})
                                             : 256;
        if (!c->fp8 && c->m > 0) {
          c->plan = I.gemm_plan(c->m, c->n, c->k, c->batch, false, c->out_f32, align_final);
          if (!c->plan->found)
            schedule_error(rank, op,
                           "cuBLASLt found no BF16 algorithm for m=" + std::to_string(c->m) + " n=" +
                               std::to_string(c->n) + " k=" + std::to_string(c->k),
                           "report this shape");
        }
        math = c->fp8 ? "fp8 e4m3" : "bf16";
        c->empty = c->m == 0;
        const std::size_t x_elems = std::size_t(c->m) * c->batch * c->k;
        if (c->fp8)
          need(I.n_act_fp8, x_elems, 1, op);
        else
          need(I.n_act_in, x_elems, 2, op);
        if (c->out_f32)
          need(I.n_router, std::size_t(c->m) * c->n, 4, op);
        else
          need(I.n_act_out, std::size_t(c->m) * c->batch * c->n, 2, op);
        b.use = use_pool(base, key, std::size_t(c->batch) * c->n * c->k * es, false, c->fp8, op);
        c->key = "gemm m=" + std::to_string(c->m) + " n=" + std::to_string(c->n) + " k=" + std::to_string(c->k) +
                 (c->batch > 1 ? " batch=" + std::to_string(c->batch) : "") + " " + math +
                 (c->out_f32 ? " fp32-out" : "");
        c->info = c->key;
        b.info.launches = c->empty ? 0 : 1;
        last_gemm_m = c->m;
        if (base.size() >= 3 && base.compare(base.size() - 3, 3, ".up") == 0)
          last_up_n = c->n, last_up_rows = c->m;
        break;
      }
      case OpKind::grouped_gemm: {
        need_shape(4, "{experts, rows, n, k}");
        c->experts = static_cast<int>(count(sh[0]));
        c->n = static_cast<int>(count(sh[2]));
        c->k = static_cast<int>(count(sh[3]));
        if (c->experts <= 0 || c->n <= 0 || c->k <= 0)
          schedule_error(rank, op, "grouped_gemm with no expert, n or k", "write the schedule with `moesim schedule`");
        std::vector<double> gr = op.group_rows;
        if (gr.empty())
          gr.assign(c->experts, std::max(0.0, sh[1]) / c->experts); // older schedules: spread evenly
        if (static_cast<int>(gr.size()) != c->experts)
          schedule_error(rank, op,
                         "group_rows has " + std::to_string(gr.size()) + " entries for " + std::to_string(c->experts) +
                             " experts",
                         "write the schedule with `moesim schedule`");
        const std::vector<long> rows = detail::round_group_rows(gr);
        // FP8 for every expert's GEMM or none; offsets: rows * k (x), rows * n (y), expert * n * k (w).
        auto group_align = [&](int es) {
          int a = 256;
          long row0 = 0;
          for (int e = 0; e < c->experts; e++) {
            a = std::min(a, alignment_of({std::uint64_t(row0) * c->k * es, std::uint64_t(row0) * c->n * 2,
                                          std::uint64_t(e) * c->n * c->k * es}));
            row0 += rows[e];
          }
          return a;
        };
        c->fp8 = choose_fp8(op.dtype, false, c->n, c->k, group_align(1));
        // How the engine runs it (engine.grouped_gemm): one fused kernel over the local experts, or a
        // loop of one cuBLASLt GEMM per expert with rows. Minimal dispatch, until the executor has
        // one handler per op kind: GroupedGemm (validate/grouped_gemm.hpp) runs both.
        GroupedImpl impl = s.engine.grouped_gemm_per_expert ? GroupedImpl::per_expert : GroupedImpl::fused;
        if (impl == GroupedImpl::fused)
          if (const std::string why = fused_refusal(c->n, c->k, c->fp8); !why.empty()) {
            impl = GroupedImpl::per_expert;
            subst = why + ": ran one GEMM per expert";
          }
        for (int pass = 0; pass < 2; pass++) {
          c->grouped = std::make_unique<GroupedGemm>(*I.planner, rows, c->n, c->k, c->fp8, impl);
          if (c->grouped->ok())
            break;
          if (!c->fp8)
            schedule_error(rank, op, "cuBLASLt found no BF16 algorithm for an expert's GEMM (n=" +
                                         std::to_string(c->n) + " k=" + std::to_string(c->k) + ")",
                           "report this shape");
          c->fp8 = false;
          subst = "cuBLASLt has no FP8 algorithm for some expert's rows: ran bf16";
        }
        c->groups = c->grouped->groups();
        c->m = c->grouped->total_rows();
        math = c->fp8 ? "fp8 e4m3" : "bf16";
        const int es = c->fp8 ? 1 : 2;
        c->empty = c->groups.empty();
        if (c->fp8)
          need(I.n_act_fp8, std::size_t(c->m) * c->k, 1, op);
        else
          need(I.n_act_in, std::size_t(c->m) * c->k, 2, op);
        need(I.n_act_out, std::size_t(c->m) * c->n, 2, op);
        b.use = use_pool(base, key, std::size_t(c->experts) * c->n * c->k * es, false, c->fp8, op);
        std::string dist;
        for (long r : rows)
          dist += std::to_string(r) + ",";
        c->info = "grouped_gemm experts=" + std::to_string(c->experts) + " active=" + std::to_string(c->groups.size()) +
                  " rows=" + std::to_string(c->m) + " n=" + std::to_string(c->n) + " k=" + std::to_string(c->k) + " " +
                  math + " " + to_string(c->grouped->impl());
        c->key = c->info + " [" + dist + "]";
        b.info.launches = c->grouped->launches();
        if (base.size() >= 3 && base.compare(base.size() - 3, 3, ".up") == 0)
          last_up_n = c->n, last_up_rows = c->m;
        break;
      }
      case OpKind::attention_decode:
      case OpKind::attention_prefill: {
        const bool decode = op.kind == OpKind::attention_decode;
        need_shape(decode ? 5 : 6, decode ? (op.mla ? "{batch, heads, context, kv_lora, rope}"
                                                    : "{batch, q_heads, kv_heads, context, head_dim}")
                                          : (op.mla ? "{batch, heads, prompt, context, qk_dim, v_dim}"
                                                    : "{batch, q_heads, kv_heads, prompt, context, head_dim}"));
        kernels::AttentionArgs& a = c->attn;
        a.batch = static_cast<int>(count(sh[0]));
        if (decode && op.mla) {
          const int ctx = static_cast<int>(count(sh[2])), lat = static_cast<int>(count(sh[3])),
                    rope = static_cast<int>(count(sh[4]));
          a = kernels::attention_mla_decode(nullptr, nullptr, nullptr, a.batch, static_cast<int>(count(sh[1])), ctx,
                                            lat, rope, 1.0f);
          c->mla_latent = true;
        } else if (decode) {
          const int hd = static_cast<int>(count(sh[4]));
          a = kernels::attention_gqa(nullptr, nullptr, nullptr, nullptr, a.batch, 1, static_cast<int>(count(sh[1])),
                                     static_cast<int>(count(sh[2])), static_cast<int>(count(sh[3])), hd, hd, 1.0f);
        } else if (op.mla) {
          const int heads = static_cast<int>(count(sh[1])), S = static_cast<int>(count(sh[2]));
          a = kernels::attention_gqa(nullptr, nullptr, nullptr, nullptr, a.batch, S, heads, heads,
                                     S + static_cast<int>(count(sh[3])), static_cast<int>(count(sh[4])),
                                     static_cast<int>(count(sh[5])), 1.0f);
        } else {
          const int S = static_cast<int>(count(sh[3])), hd = static_cast<int>(count(sh[5]));
          a = kernels::attention_gqa(nullptr, nullptr, nullptr, nullptr, a.batch, S, static_cast<int>(count(sh[1])),
                                     static_cast<int>(count(sh[2])), S + static_cast<int>(count(sh[4])), hd, hd, 1.0f);
        }
        // The real softmax scale is 1/sqrt(qk head dim) (MLA decode: of nope + rope, which the absorbed
        // shape does not give); any scale costs the same.
        a.scale = 1.0f / std::sqrt(static_cast<float>(a.qk_dim));
        if (!kernels::attention_supported(a.qk_dim, a.v_dim))
          schedule_error(rank, op,
                         "attention head dims (qk " + std::to_string(a.qk_dim) + ", v " + std::to_string(a.v_dim) +
                             ") are not supported by kernels::attention",
                         "use head dims that are multiples of 16 from 16 to 576");
        try {
          c->splits = a.batch > 0 ? kernels::attention_splits(a, I.prop.multiProcessorCount) : 1;
        } catch (const std::invalid_argument& e) {
          schedule_error(rank, op, e.what(), "write the schedule with `moesim schedule`");
        }
        I.attn_ws_bytes = std::max(I.attn_ws_bytes, kernels::attention_workspace_bytes(a, c->splits));
        c->empty = a.batch == 0;
        const std::size_t rows = std::size_t(a.batch) * a.q_len * a.q_heads;
        need(I.n_act_in, rows * a.qk_dim, 2, op);
        need(I.n_act_out, rows * a.v_dim, 2, op);
        const std::size_t kv_bytes =
            c->mla_latent ? std::size_t(a.batch) * a.kv_len * a.qk_dim * 2
                          : std::size_t(a.batch) * a.kv_len * a.kv_heads * (a.qk_dim + a.v_dim) * 2;
        b.use = use_pool(base, op.name, kv_bytes, true, false, op); // KV: per layer and microbatch
        char s2[200];
        std::snprintf(s2, sizeof s2, "%s %s batch=%d q_len=%d q_heads=%d kv_heads=%d kv_len=%d qk=%d v=%d splits=%d",
                      to_string(op.kind), op.mla ? "mla" : "gqa", a.batch, a.q_len, a.q_heads, a.kv_heads, a.kv_len,
                      a.qk_dim, a.v_dim, c->splits);
        c->key = c->info = s2;
        b.info.launches = c->empty ? 0 : (c->splits > 1 ? 2 : 1);
        break;
      }
      case OpKind::topk: {
        need_shape(3, "{tokens, experts, k}");
        c->tokens = static_cast<int>(count(sh[0]));
        c->all_experts = static_cast<int>(count(sh[1]));
        c->top_k = static_cast<int>(count(sh[2]));
        if (c->top_k < 1 || c->top_k > std::min(c->all_experts, kernels::max_top_k))
          schedule_error(rank, op, "top-k " + std::to_string(c->top_k) + " of " + std::to_string(c->all_experts) +
                                       " experts is not supported (at most " + std::to_string(kernels::max_top_k) + ")",
                         "raise kernels::max_top_k");
        c->empty = c->tokens == 0;
        need(I.n_router, std::size_t(c->tokens) * c->all_experts, 4, op);
        need(I.n_topk, std::size_t(c->tokens) * c->top_k, 4, op);
        c->key = c->info = "topk tokens=" + std::to_string(c->tokens) + " experts=" + std::to_string(c->all_experts) +
                           " k=" + std::to_string(c->top_k);
        math = "fp32";
        b.info.launches = c->empty ? 0 : 1;
        break;
      }
      case OpKind::permute:
      case OpKind::unpermute: {
        need_shape(3, "{tokens, k, hidden}");
        c->tokens = static_cast<int>(count(sh[0]));
        c->top_k = static_cast<int>(count(sh[1]));
        c->hidden = static_cast<int>(count(sh[2]));
        if (c->top_k < 1 || c->top_k > kernels::max_top_k || c->hidden < 1)
          schedule_error(rank, op, "k must be in [1, " + std::to_string(kernels::max_top_k) + "] and hidden >= 1",
                         "write the schedule with `moesim schedule`");
        c->all_experts = facts.experts > 0 ? facts.experts : 1;
        if (a2a) { // sort every slot by expert for the dispatch all-to-all
          c->first_expert = 0;
          c->local_experts = c->all_experts;
        } else { // replicated tokens: keep this shard's experts, drop the other slots
          int local = 0;
          for (const Op& o : ops)
            if (o.kind == OpKind::grouped_gemm && !o.shape.empty())
              local = static_cast<int>(count(o.shape[0]));
          c->local_experts = local > 0 ? local : std::max(1, c->all_experts / std::max(1, L.plan.ep));
          c->first_expert = ep_index * c->local_experts;
        }
        if (c->all_experts < c->top_k)
          schedule_error(rank, op, "top-k " + std::to_string(c->top_k) + " exceeds the experts", "check the model");
        I.route_experts = c->all_experts, I.route_k = c->top_k;
        I.route_first = c->first_expert, I.route_local = c->local_experts;
        max_route_tokens = std::max(max_route_tokens, std::size_t(c->tokens));
        c->empty = c->tokens == 0;
        const std::size_t slots = std::size_t(c->tokens) * c->top_k;
        need(I.n_ids, slots, 4, op);
        need(I.n_offsets, std::size_t(c->local_experts) + 1, 4, op);
        if (op.kind == OpKind::permute) {
          need(I.n_act_in, std::size_t(c->tokens) * c->hidden, 2, op);
          need(I.n_act_out, slots * c->hidden, 2, op);
          b.info.launches = c->empty ? 0 : 2;
        } else {
          need(I.n_act_in, slots * c->hidden, 2, op);
          need(I.n_act_out, std::size_t(c->tokens) * c->hidden, 2, op);
          b.info.launches = c->empty ? 0 : 1;
        }
        c->key = c->info = std::string(to_string(op.kind)) + " tokens=" + std::to_string(c->tokens) +
                           " k=" + std::to_string(c->top_k) + " hidden=" + std::to_string(c->hidden) + " experts " +
                           std::to_string(c->first_expert) + ".." +
                           std::to_string(c->first_expert + c->local_experts - 1) + " of " +
                           std::to_string(c->all_experts);
        break;
      }
      case OpKind::silu_mul:
      case OpKind::rmsnorm:
      case OpKind::residual_add: {
        need_shape(1, "{elements}");
        const long n = count(sh[0]);
        c->elems = n;
        if (op.kind == OpKind::residual_add) {
          need(I.n_act_in, n, 2, op);
          need(I.n_act_in2, n, 2, op);
          need(I.n_act_out, n, 2, op);
          c->key = c->info = "residual_add n=" + std::to_string(n);
        } else {
          // Row width: silu_mul from the up GEMM before it (its n / 2); rmsnorm over the hidden size,
          // except q_norm / kv_norm, whose rows are the tokens of the GEMM before them.
          long dim = 0;
          if (op.kind == OpKind::silu_mul) {
            if (last_up_n >= 2 && last_up_rows >= 0)
              dim = last_up_n / 2;
          } else {
            const bool latent = contains(base, "q_norm") || contains(base, "kv_norm");
            if (latent && last_gemm_m > 0 && n % last_gemm_m == 0)
              dim = n / last_gemm_m;
            else if (facts.hidden > 0 && n % facts.hidden == 0)
              dim = facts.hidden;
            else if (last_gemm_m > 0 && n % last_gemm_m == 0)
              dim = n / last_gemm_m;
          }
          if (dim <= 0 && facts.hidden > 0 && n % facts.hidden == 0)
            dim = facts.hidden;
          if (dim <= 0)
            dim = std::max(1L, n); // one row
          c->dim = static_cast<int>(dim);
          c->rows = (n + dim / 2) / dim; // fractional expected rows round to the nearest
          c->elems = c->rows * dim;
          if (op.kind == OpKind::silu_mul) {
            need(I.n_act_in, std::size_t(c->rows) * 2 * dim, 2, op);
            need(I.n_act_out, std::size_t(c->rows) * dim, 2, op);
          } else {
            need(I.n_act_in, std::size_t(c->rows) * dim, 2, op);
            need(I.n_act_out, std::size_t(c->rows) * dim, 2, op);
            need(I.n_norm, std::size_t(dim), 2, op);
          }
          c->key = c->info = std::string(to_string(op.kind)) + " rows=" + std::to_string(c->rows) +
                             " dim=" + std::to_string(c->dim);
        }
        c->empty = c->elems == 0;
        b.info.launches = c->empty ? 0 : 1;
        break;
      }
      case OpKind::embedding: {
        need_shape(2, "{tokens, hidden}");
        c->tokens = static_cast<int>(count(sh[0]));
        c->hidden = static_cast<int>(count(sh[1]));
        if (c->hidden < 1)
          schedule_error(rank, op, "embedding with hidden 0", "write the schedule with `moesim schedule`");
        // Vocab-parallel over attention TP (embed.allreduce completes the lookup).
        const int tp = std::max(1, L.plan.attn_tp);
        c->vocab = I.vocab;
        c->table_rows = (I.vocab + tp - 1) / tp;
        c->first_id = std::min(tp_index, tp - 1) * c->table_rows;
        c->empty = c->tokens == 0;
        max_embed_tokens = std::max(max_embed_tokens, std::size_t(c->tokens));
        need(I.n_embed_ids, c->tokens, 4, op);
        need(I.n_act_out, std::size_t(c->tokens) * c->hidden, 2, op);
        b.use = use_pool("embed", key, std::size_t(c->table_rows) * c->hidden * 2, false, false, op);
        c->key = c->info = "embedding tokens=" + std::to_string(c->tokens) + " hidden=" + std::to_string(c->hidden) +
                           " table rows=" + std::to_string(c->table_rows);
        b.info.launches = c->empty ? 0 : 1;
        last_gemm_m = c->tokens;
        break;
      }
      case OpKind::sample: {
        need_shape(2, "{rows, vocab}");
        c->rows = count(sh[0]);
        c->vocab = static_cast<int>(count(sh[1]));
        if (c->vocab < 1)
          schedule_error(rank, op, "sample with vocab 0", "write the schedule with `moesim schedule`");
        c->empty = c->rows == 0;
        need(I.n_sample, std::size_t(c->rows) * c->vocab, 4, op);
        need(I.n_argmax, std::size_t(c->rows), 4, op);
        c->key = c->info = "sample (argmax) rows=" + std::to_string(c->rows) + " vocab=" + std::to_string(c->vocab);
        math = "fp32";
        b.info.launches = c->empty ? 0 : 1;
        break;
      }
      default:
        schedule_error(rank, op, std::string("compute op kind ") + to_string(op.kind) + " is not supported",
                       "extend validate/op_executor.cpp");
    }
    b.cfg = I.intern(std::move(c));
    b.info.config = b.cfg->info;
    b.info.math = math;
    b.info.substitution = subst;
  }

  // --------------------------------------------------------------------------------------------
  // Memory: the shared buffers first, then per-(layer, op) weights and KV caches, distinct when they
  // fit (leaving 10% of the GPU free), else rotating among copies.
  I.comm_bytes = align_up(std::max<std::size_t>(I.comm_bytes, 256), 256);
  const std::size_t fixed_bytes[] = {
      align_up(std::max<std::size_t>(I.n_act_in, 256) * 2, 256), align_up(std::max<std::size_t>(I.n_act_in2, 1) * 2, 256),
      align_up(std::max<std::size_t>(I.n_act_out, 256) * 2, 256), align_up(std::max<std::size_t>(I.n_act_fp8, 1), 256),
      align_up(std::max<std::size_t>(I.n_router, 1) * 4, 256),   align_up(std::max<std::size_t>(I.n_sample, 1) * 4, 256),
      2 * align_up(std::max<std::size_t>(I.n_topk, 1) * 4, 256), 3 * align_up(std::max<std::size_t>(I.n_ids, 1) * 4, 256),
      align_up(std::max<std::size_t>(I.n_offsets, 1) * 4, 256),  align_up(std::max<std::size_t>(I.n_embed_ids, 1) * 4, 256),
      2 * align_up(std::max<std::size_t>(I.n_argmax, 1) * 4, 256), align_up(std::max<std::size_t>(I.n_norm, 1) * 2, 256),
      align_up(std::max<std::size_t>(I.attn_ws_bytes, 1), 256), 2 * I.comm_bytes};
  double fixed = 0;
  for (std::size_t f : fixed_bytes)
    fixed += double(f);
  I.planner->free_scratch();
  MOESIM_CHECK(cudaMemGetInfo(&free_bytes, &total_mem));
  const double keep = 0.1 * double(total_mem);
  double avail = double(free_bytes) > keep ? double(free_bytes) - keep : 0.0;
  if (options.memory_limit > 0) // the limit counts what is held already (scales, cuBLASLt workspace)
    avail = std::min(avail, std::max(0.0, double(options.memory_limit) - double(I.total_bytes)));
  std::vector<double> sizes;
  std::vector<long> users;
  double pools_all = 0, pools_one = 0;
  for (const Pool& p : I.pools) {
    sizes.push_back(double(align_up(p.bytes, 256)));
    users.push_back(static_cast<long>(p.users.size()));
    pools_all += sizes.back() * users.back();
    pools_one += sizes.back();
  }
  const std::vector<long> copies = detail::plan_copies(sizes, users, avail - fixed);
  if (fixed > avail || copies.empty())
    throw InputError("schedule", "rank " + std::to_string(rank) + " op " + (biggest_op.empty() ? "?" : biggest_op),
                     "needs at least " + gib(double(I.total_bytes) + fixed + pools_one) +
                         " of device memory (one copy of each weight and KV cache " + gib(pools_one) +
                         ", activations, workspaces and comm buffers " + gib(double(I.total_bytes) + fixed) +
                         "; its largest buffer " + gib(biggest_bytes) + "), " + gib(double(free_bytes)) + " free, of which " +
                         gib(avail) + " usable (10% of the GPU kept free" +
                         (options.memory_limit ? ", executor limit " + gib(double(options.memory_limit)) : "") + ")",
                     "run on a GPU with more memory, or a plan that shards the model over more GPUs");
  I.distinct = copies == users;
  double working = 0;
  for (std::size_t i = 0; i < I.pools.size(); i++)
    working += sizes[i] * copies[i];
  {
    std::ostringstream n;
    if (I.distinct) {
      n << "memory: every (layer, op) has its own weights and KV cache: " << gib(pools_all) << " in " << I.pools.size()
        << " classes, plus " << gib(fixed + double(I.total_bytes)) << " of activations, workspaces and comm buffers";
    } else {
      n << "memory: distinct weights and KV caches would need " << gib(pools_all) << ", " << gib(avail - fixed)
        << " usable: each class rotates among copies (";
      bool first = true;
      for (std::size_t i = 0; i < I.pools.size(); i++)
        if (copies[i] < users[i]) {
          n << (first ? "" : ", ") << I.pools[i].cls << " " << copies[i] << " of " << users[i];
          first = false;
        }
      const double l2 = double(I.prop.l2CacheSize);
      n << "); rotating working set " << gib(working) << " = " << fmt(working / std::max(1.0, l2)) << "x the "
        << fmt(l2 / 1048576) << " MiB L2"
        << (working >= 4 * l2 ? "" : ": WARNING below 4x L2, reused buffers may hit in L2 and run fast");
    }
    I.notes.insert(I.notes.begin(), n.str());
  }

  // Allocate.
  auto alloc = [&](std::size_t bytes, const char* what) { return I.alloc(bytes, what, biggest_op, free_bytes); };
  I.act_in = static_cast<bf16_t*>(alloc(std::max<std::size_t>(I.n_act_in, 256) * 2, "input activations"));
  I.act_in2 = static_cast<bf16_t*>(alloc(std::max<std::size_t>(I.n_act_in2, 1) * 2, "residual inputs"));
  I.act_out = static_cast<bf16_t*>(alloc(std::max<std::size_t>(I.n_act_out, 256) * 2, "output activations"));
  I.act_fp8 = static_cast<std::uint8_t*>(alloc(std::max<std::size_t>(I.n_act_fp8, 1), "fp8 input activations"));
  I.router_logits = static_cast<float*>(alloc(std::max<std::size_t>(I.n_router, 1) * 4, "router logits"));
  I.sample_logits = static_cast<float*>(alloc(std::max<std::size_t>(I.n_sample, 1) * 4, "sampling logits"));
  I.topk_ids = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(I.n_topk, 1) * 4, "top-k ids"));
  I.topk_w = static_cast<float*>(alloc(std::max<std::size_t>(I.n_topk, 1) * 4, "top-k weights"));
  I.fixed_ids = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(I.n_ids, 1) * 4, "routing ids"));
  I.fixed_w = static_cast<float*>(alloc(std::max<std::size_t>(I.n_ids, 1) * 4, "routing weights"));
  I.dest_row = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(I.n_ids, 1) * 4, "permute rows"));
  I.offsets = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(I.n_offsets, 1) * 4, "expert offsets"));
  I.embed_ids = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(I.n_embed_ids, 1) * 4, "token ids"));
  I.argmax_idx = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(I.n_argmax, 1) * 4, "sampled ids"));
  I.argmax_val = static_cast<float*>(alloc(std::max<std::size_t>(I.n_argmax, 1) * 4, "sampled logits"));
  I.norm_w = static_cast<bf16_t*>(alloc(std::max<std::size_t>(I.n_norm, 1) * 2, "norm weights"));
  I.attn_ws = alloc(std::max<std::size_t>(I.attn_ws_bytes, 1), "attention workspace");
  I.send = alloc(I.comm_bytes, "send buffer");
  I.recv = alloc(I.comm_bytes, "receive buffer");
  for (std::size_t i = 0; i < I.pools.size(); i++) {
    Pool& p = I.pools[i];
    for (long c = 0; c < copies[i]; c++)
      p.copies.push_back(I.alloc(p.bytes, (p.kv ? "KV cache " : "weights ") + p.cls, p.first_op, free_bytes));
  }
  for (Bound& b : I.bound)
    if (b.use.pool >= 0) {
      const Pool& p = I.pools[b.use.pool];
      b.w = p.copies[b.use.user % p.copies.size()];
    }

  // Fill: weights, caches and activations uniform in [-1, 1] (fp8: [-2, 2] times the scale 0.5),
  // norm weights in [0.5, 1.5], logits in [-4, 4] (router) and [-10, 10] (sampling).
  cudaStream_t st = nullptr;
  std::uint64_t salt = seed * 0x9e3779b97f4a7c15ULL;
  auto next_seed = [&]() { return salt += 0x632be59bd9b4e019ULL; };
  kernels::fill_uniform_bf16(I.act_in, std::max<std::size_t>(I.n_act_in, 256), -1, 1, next_seed(), st);
  kernels::fill_uniform_bf16(I.act_in2, std::max<std::size_t>(I.n_act_in2, 1), -1, 1, next_seed(), st);
  kernels::fill_uniform_bf16(I.act_out, std::max<std::size_t>(I.n_act_out, 256), -1, 1, next_seed(), st);
  kernels::fill_uniform_fp8(I.act_fp8, std::max<std::size_t>(I.n_act_fp8, 1), -2, 2, next_seed(), st);
  kernels::fill_uniform_f32(I.router_logits, std::max<std::size_t>(I.n_router, 1), -4, 4, next_seed(), st);
  kernels::fill_uniform_f32(I.sample_logits, std::max<std::size_t>(I.n_sample, 1), -10, 10, next_seed(), st);
  kernels::fill_uniform_bf16(I.norm_w, std::max<std::size_t>(I.n_norm, 1), 0.5f, 1.5f, next_seed(), st);
  kernels::fill_uniform_bf16(static_cast<bf16_t*>(I.send), I.comm_bytes / 2, -1, 1, next_seed(), st);
  kernels::fill_uniform_bf16(static_cast<bf16_t*>(I.recv), I.comm_bytes / 2, -1, 1, next_seed(), st);
  MOESIM_CHECK(cudaMemsetAsync(I.attn_ws, 0, std::max<std::size_t>(I.attn_ws_bytes, 1), st));
  for (const Pool& p : I.pools)
    for (void* c : p.copies) {
      if (p.fp8)
        kernels::fill_uniform_fp8(static_cast<std::uint8_t*>(c), p.bytes, -2, 2, next_seed(), st);
      else
        kernels::fill_uniform_bf16(static_cast<bf16_t*>(c), p.bytes / 2, -1, 1, next_seed(), st);
    }
  // The routing draw (each token picks route_k distinct experts), its weights (summing to 1) and
  // the rows permute gives them, so that unpermute reads valid rows even before permute runs.
  Rng rng(seed ^ 0x5eed0f0e7e5ULL);
  const std::size_t slots = std::max<std::size_t>(I.n_ids, 1);
  std::vector<std::int32_t> ids(slots, 0), dest(slots, -1);
  std::vector<float> weights(slots, 0.0f);
  if (I.route_k > 0) {
    for (std::size_t t = 0; t * I.route_k < I.n_ids; t++) {
      float sum = 0;
      for (int j = 0; j < I.route_k; j++) {
        std::int32_t e;
        bool taken;
        do {
          e = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(I.route_experts));
          taken = false;
          for (int q = 0; q < j; q++)
            taken |= ids[t * I.route_k + q] == e;
        } while (taken);
        ids[t * I.route_k + j] = e;
        weights[t * I.route_k + j] = 0.05f + static_cast<float>(rng.uniform());
        sum += weights[t * I.route_k + j];
      }
      for (int j = 0; j < I.route_k; j++)
        weights[t * I.route_k + j] /= sum;
    }
    // Counting sort of the slots by local expert, stable (as kernels::permute places them).
    std::vector<std::int32_t> next(I.route_local + 1, 0);
    for (std::size_t a = 0; a < I.n_ids; a++) {
      const long e = ids[a] - I.route_first;
      if (e >= 0 && e < I.route_local)
        next[e + 1]++;
    }
    for (int e = 0; e < I.route_local; e++)
      next[e + 1] += next[e];
    for (std::size_t a = 0; a < I.n_ids; a++) {
      const long e = ids[a] - I.route_first;
      if (e >= 0 && e < I.route_local)
        dest[a] = next[e]++;
    }
  }
  std::vector<std::int32_t> tokens(std::max<std::size_t>(I.n_embed_ids, 1));
  for (auto& t : tokens)
    t = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(I.vocab));
  MOESIM_CHECK(cudaMemcpy(I.fixed_ids, ids.data(), slots * 4, cudaMemcpyHostToDevice));
  MOESIM_CHECK(cudaMemcpy(I.fixed_w, weights.data(), slots * 4, cudaMemcpyHostToDevice));
  MOESIM_CHECK(cudaMemcpy(I.dest_row, dest.data(), slots * 4, cudaMemcpyHostToDevice));
  MOESIM_CHECK(cudaMemcpy(I.embed_ids, tokens.data(), tokens.size() * 4, cudaMemcpyHostToDevice));
  MOESIM_CHECK(cudaMemset(I.offsets, 0, std::max<std::size_t>(I.n_offsets, 1) * 4));
  MOESIM_CHECK(cudaDeviceSynchronize());

  // Notes on what differs from the schedule.
  std::map<std::string, std::vector<std::string>> subst; // substitution -> op classes
  int per_expert = 0, fused = 0, max_groups = 0;
  for (std::size_t i = 0; i < ops.size(); i++) {
    const Bound& b = I.bound[i];
    if (!b.compute)
      continue;
    if (!b.info.substitution.empty()) {
      auto& v = subst[b.info.substitution];
      const std::string base = detail::base_name(b.name);
      if (std::find(v.begin(), v.end(), base) == v.end())
        v.push_back(base);
    }
    if (b.cfg->kind == OpKind::grouped_gemm) {
      (b.cfg->grouped->impl() == GroupedImpl::fused ? fused : per_expert)++;
      max_groups = std::max(max_groups, static_cast<int>(b.cfg->groups.size()));
    }
  }
  for (const auto& [what, classes] : subst) {
    std::string list;
    for (const auto& c : classes)
      list += (list.empty() ? "" : ", ") + c;
    I.notes.push_back("substitution: " + list + ": " + what);
  }
  if (per_expert > 0)
    I.notes.push_back(std::to_string(per_expert) + " grouped expert GEMMs run as one cuBLASLt GEMM per expert with "
                      "rows (engine.grouped_gemm per_expert, or a shape the fused kernel refuses; up to " +
                      std::to_string(max_groups) + " launches per op)");
  if (fused > 0)
    I.notes.push_back(std::to_string(fused) + " grouped expert GEMMs run as one fused kernel over the local experts "
                      "(kernels::grouped_gemm, mma.sync; engine.grouped_gemm fused)");
  I.notes.push_back("attention: kernels::attention (mma.sync flash attention; decode splits the keys across "
                    "blocks): GQA decode runs near the memory bandwidth, but MLA decode with many heads and prefill "
                    "are compute-bound at a fraction of FlashMLA's / FlashAttention-3's rate (kernels/attention.cu "
                    "has the measurements): their timings are pessimistic; the new token's K/V and the prompt's K/V "
                    "are taken as already in the cache");
  if (I.n_act_fp8 > 0)
    I.notes.push_back("fp8 GEMMs read fp8 activations prepared once (no per-op quantisation kernel) with per-tensor "
                      "scales, not DeepSeek's 128x128 block scales");
  I.notes.push_back("device memory held: " + gib(double(I.total_bytes)));
}

OpExecutor::~OpExecutor() = default;

// ------------------------------------------------------------------------------------------------
// Launch

const Bound& OpExecutor::Impl::bound_for(const Op& op) const
{
  if (op.id < 0 || op.id >= static_cast<int>(bound.size()) || bound[op.id].name != op.name)
    throw std::invalid_argument("OpExecutor: op " + op.name + " (id " + std::to_string(op.id) +
                                ") is not an op of rank " + std::to_string(rank) + "'s schedule");
  if (!bound[op.id].compute)
    throw std::invalid_argument("OpExecutor: op " + op.name + " is not a compute op");
  return bound[op.id];
}

kernels::AttentionArgs OpExecutor::Impl::attention_args(const Config& c, const void* kv) const
{
  kernels::AttentionArgs a = c.attn;
  a.q = act_in;
  a.out = act_out;
  a.k = static_cast<const bf16_t*>(kv);
  a.v = c.mla_latent ? a.k : a.k + std::size_t(a.batch) * a.kv_len * a.kv_heads * a.qk_dim;
  return a;
}

void OpExecutor::Impl::launch_bound(const Bound& b, cudaStream_t stream)
{
  const Config& c = *b.cfg;
  if (c.empty)
    return;
  switch (c.kind) {
    case OpKind::gemm:
    case OpKind::router:
      run_gemm(*c.plan, b.w, c.fp8 ? static_cast<const void*>(act_fp8) : act_in,
               c.out_f32 ? static_cast<void*>(router_logits) : act_out, stream);
      break;
    case OpKind::grouped_gemm:
      c.grouped->launch(b.w, c.fp8 ? static_cast<const void*>(act_fp8) : act_in, act_out, stream);
      break;
    case OpKind::attention_decode:
    case OpKind::attention_prefill:
      kernels::attention(attention_args(c, b.w), c.splits, attn_ws, std::max<std::size_t>(attn_ws_bytes, 1), stream);
      break;
    case OpKind::topk:
      kernels::topk_softmax(router_logits, topk_ids, topk_w, c.tokens, c.all_experts, c.top_k, true, stream);
      break;
    case OpKind::permute:
      kernels::permute(act_in, fixed_ids, act_out, dest_row, offsets, c.tokens, c.hidden, c.top_k, c.first_expert,
                       c.local_experts, stream);
      break;
    case OpKind::unpermute:
      kernels::unpermute(act_in, dest_row, fixed_w, act_out, c.tokens, c.hidden, c.top_k, stream);
      break;
    case OpKind::silu_mul:
      kernels::silu_mul(act_in, act_out, static_cast<int>(c.rows), c.dim, stream);
      break;
    case OpKind::rmsnorm:
      kernels::rmsnorm(act_in, norm_w, act_out, static_cast<int>(c.rows), c.dim, rms_eps, stream);
      break;
    case OpKind::residual_add:
      kernels::residual_add(act_in, act_in2, act_out, c.elems, stream);
      break;
    case OpKind::embedding:
      kernels::embedding(embed_ids, static_cast<const bf16_t*>(b.w), act_out, c.tokens, c.hidden, c.first_id,
                         c.table_rows, stream);
      break;
    case OpKind::sample:
      kernels::argmax(sample_logits, argmax_idx, argmax_val, static_cast<int>(c.rows), c.vocab, stream);
      break;
    default:
      throw std::logic_error("OpExecutor: no launcher for " + std::string(to_string(c.kind)));
  }
}

void OpExecutor::launch(const Op& op, cudaStream_t stream)
{
  const Bound& b = impl_->bound_for(op);
  try {
    impl_->launch_bound(b, stream);
  } catch (const std::exception& e) {
    throw std::runtime_error("OpExecutor: op " + b.name + " (" + b.cfg->info + "): " + e.what());
  }
}

void* OpExecutor::send_buffer() const
{
  return impl_->send;
}
void* OpExecutor::recv_buffer() const
{
  return impl_->recv;
}
std::size_t OpExecutor::comm_buffer_bytes() const
{
  return impl_->comm_bytes;
}
std::size_t OpExecutor::device_bytes() const
{
  return impl_->total_bytes;
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

// ------------------------------------------------------------------------------------------------
// Verify

namespace {

template <class T>
std::vector<T> download(const T* p, std::size_t n, cudaStream_t stream)
{
  std::vector<T> v(n);
  if (n) {
    MOESIM_CHECK(cudaMemcpyAsync(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost, stream));
    MOESIM_CHECK(cudaStreamSynchronize(stream));
  }
  return v;
}

void poison(void* p, std::size_t bytes, cudaStream_t stream)
{
  if (bytes)
    MOESIM_CHECK(cudaMemsetAsync(p, 0xff, bytes, stream));
}

// Up to `want` indices in [0, n): the first, the last and random others, ascending.
std::vector<long> sample(long n, int want, Rng& rng)
{
  std::vector<long> v;
  if (n <= 0)
    return v;
  if (n <= want) {
    v.resize(n);
    std::iota(v.begin(), v.end(), 0L);
    return v;
  }
  v = {0, n - 1};
  while (static_cast<int>(v.size()) < want) {
    const long i = static_cast<long>(rng.next() % static_cast<std::uint64_t>(n));
    if (std::find(v.begin(), v.end(), i) == v.end())
      v.push_back(i);
  }
  std::sort(v.begin(), v.end());
  return v;
}

// The worst element of one check, as a ratio |got - want| / tolerance (1 = at the tolerance).
struct Worst {
  double ratio = 0;
  long bad = 0, compared = 0;
  std::string where, got, want, tol;
  void add(double got_v, double want_v, double tolerance, const std::string& at)
  {
    compared++;
    const double d = std::fabs(got_v - want_v);
    const double r = std::isnan(d) ? INFINITY : (tolerance > 0 ? d / tolerance : (d == 0 ? 0 : INFINITY));
    if (!(d <= tolerance))
      bad++;
    if (r > ratio || (where.empty() && std::isnan(d))) {
      ratio = r;
      where = at;
      got = fmt(got_v);
      want = fmt(want_v);
      tol = fmt(tolerance);
    }
  }
  void exact(double got_v, double want_v, const std::string& at) { add(got_v, want_v, 0, at); }
};

[[noreturn]] void mismatch(const Bound& b, const std::string& what)
{
  throw std::runtime_error("OpExecutor::verify: op " + b.name + " (" + b.cfg->info + ", " + b.info.math + "): " + what);
}

void report(const Bound& b, const Worst& w)
{
  if (w.bad > 0)
    mismatch(b, std::to_string(w.bad) + " of " + std::to_string(w.compared) + " compared elements outside tolerance; worst " +
                    w.where + ": got " + w.got + ", want " + w.want + " (tolerance " + w.tol + ")");
}

// Every element written: no poison (bf16 0xffff is NaN) left in the first `n` outputs.
void scan_bf16(const Bound& b, const bf16_t* p, std::size_t n, cudaStream_t stream)
{
  if (n * 2 > scan_limit)
    return;
  const auto v = download(p, n, stream);
  for (std::size_t i = 0; i < n; i++)
    if (bf16_nan(v[i]))
      mismatch(b, "output element " + std::to_string(i) + " of " + std::to_string(n) + " was not written (poison left)");
}

float decode_in(const unsigned char* p, std::size_t i, bool fp8)
{
  if (fp8)
    return ref::fp8_e4m3_to_float(p[i]);
  bf16_t v;
  std::memcpy(&v, p + 2 * i, 2);
  return ref::bf16_to_float(v);
}

} // namespace

void OpExecutor::Impl::verify_one(const Bound& b, std::uint64_t vseed, cudaStream_t stream)
{
  const Config& c = *b.cfg;
  if (c.empty)
    return;
  Rng rng(vseed);
  std::uint64_t salt = vseed;
  auto next_seed = [&]() { return salt += 0x9e3779b97f4a7c15ULL; };
  auto sync = [&]() { MOESIM_CHECK(cudaStreamSynchronize(stream)); };

  switch (c.kind) {
    case OpKind::gemm:
    case OpKind::router:
    case OpKind::grouped_gemm: {
      // Tolerance: kernels/reference.cpp, gemm_tolerance, element by element; and, over the compared
      // elements together, ||gpu - ref|| / ||ref|| <= 2^-7: the bf16 output rounding alone gives at most
      // 2^-8 in that norm and the accumulation errors of random data are far smaller, so a 2x margin
      // catches a systematic error that each element's worst-case bound would let through.
      const bool grouped = c.kind == OpKind::grouped_gemm;
      const std::size_t es = c.fp8 ? 1 : 2;
      const long m = c.m;
      const int batch = grouped ? 1 : c.batch;
      const std::size_t x_elems = std::size_t(m) * batch * c.k;
      const std::size_t w_elems = std::size_t(grouped ? c.experts : batch) * c.n * c.k;
      if (c.fp8) {
        kernels::fill_uniform_fp8(act_fp8, x_elems, -2, 2, next_seed(), stream);
        kernels::fill_uniform_fp8(static_cast<std::uint8_t*>(b.w), w_elems, -2, 2, next_seed(), stream);
      } else {
        kernels::fill_uniform_bf16(act_in, x_elems, -1, 1, next_seed(), stream);
        kernels::fill_uniform_bf16(static_cast<bf16_t*>(b.w), w_elems, -1, 1, next_seed(), stream);
      }
      const std::size_t y_elems = std::size_t(m) * batch * c.n;
      poison(c.out_f32 ? static_cast<void*>(router_logits) : act_out, y_elems * (c.out_f32 ? 4 : 2), stream);
      launch_bound(b, stream);
      sync();
      if (!c.out_f32)
        scan_bf16(b, act_out, y_elems, stream);
      const double scale = c.fp8 ? double(fp8_scale_w) * fp8_scale_x : 1.0;
      const auto* xb = c.fp8 ? static_cast<const unsigned char*>(act_fp8) : reinterpret_cast<const unsigned char*>(act_in);
      const auto* wb = static_cast<const unsigned char*>(b.w);
      // (row of y, batch index, expert) triples to check, and the columns.
      struct Row {
        long r;
        int bi, expert;
      };
      std::vector<Row> rows;
      if (grouped) {
        std::vector<long> gs = sample(static_cast<long>(c.groups.size()), 16, rng);
        for (long gi : gs) {
          const auto& g = c.groups[gi];
          for (long r : sample(g.rows, 3, rng))
            rows.push_back({g.row0 + r, 0, g.expert});
        }
      } else {
        for (long bi : sample(batch, 2, rng))
          for (long r : sample(m, 12, rng))
            rows.push_back({r, static_cast<int>(bi), -1});
      }
      const std::vector<long> cols = sample(c.n, grouped ? 24 : 48, rng);
      Worst w;
      double err2 = 0, ref2 = 0;
      std::map<std::pair<int, long>, std::vector<float>> wcache; // (matrix, col) -> w row
      for (const Row& row : rows) {
        const std::size_t xoff = (std::size_t(row.r) * batch + row.bi) * c.k;
        std::vector<unsigned char> xraw(c.k * es);
        MOESIM_CHECK(cudaMemcpy(xraw.data(), xb + xoff * es, c.k * es, cudaMemcpyDeviceToHost));
        std::vector<float> x(c.k);
        for (int i = 0; i < c.k; i++)
          x[i] = decode_in(xraw.data(), i, c.fp8);
        const int mat = grouped ? row.expert : row.bi;
        const std::size_t yoff = (std::size_t(row.r) * batch + row.bi) * c.n;
        std::vector<double> y(c.n);
        if (c.out_f32) {
          const auto v = download(router_logits + yoff, c.n, stream);
          for (int i = 0; i < c.n; i++)
            y[i] = v[i];
        } else {
          const auto v = download(act_out + yoff, c.n, stream);
          for (int i = 0; i < c.n; i++)
            y[i] = ref::bf16_to_float(v[i]);
        }
        for (int i = 0; i < c.n; i++) // the whole row was written (poison is NaN)
          if (std::isnan(y[i]))
            mismatch(b, "output row " + std::to_string(row.r) + " column " + std::to_string(i) +
                            " was not written (poison left)");
        for (long col : cols) {
          auto& wr = wcache[{mat, col}];
          if (wr.empty()) {
            std::vector<unsigned char> raw(c.k * es);
            MOESIM_CHECK(cudaMemcpy(raw.data(), wb + (std::size_t(mat) * c.n + col) * c.k * es, c.k * es,
                                    cudaMemcpyDeviceToHost));
            wr.resize(c.k);
            for (int i = 0; i < c.k; i++)
              wr[i] = decode_in(raw.data(), i, c.fp8);
          }
          double want = 0, abs = 0;
          for (int i = 0; i < c.k; i++) {
            const double p = double(x[i]) * wr[i];
            want += p;
            abs += std::fabs(p);
          }
          want *= scale;
          abs *= scale;
          // fp32 logits are not rounded to bf16: the same bound is looser than needed there.
          const double tol = ref::gemm_tolerance(want, abs, c.k, c.fp8);
          w.add(y[col], want, tol,
                "[row " + std::to_string(row.r) + (batch > 1 ? ", head " + std::to_string(row.bi) : "") +
                    (grouped ? " (expert " + std::to_string(row.expert) + ")" : "") + ", col " + std::to_string(col) +
                    "]");
          err2 += (y[col] - want) * (y[col] - want);
          ref2 += want * want;
        }
      }
      report(b, w);
      if (ref2 > 0 && !(std::sqrt(err2 / ref2) <= 0x1p-7))
        mismatch(b, "relative error " + fmt(std::sqrt(err2 / ref2)) + " over " + std::to_string(w.compared) +
                        " elements exceeds 2^-7");
      break;
    }
    case OpKind::attention_decode:
    case OpKind::attention_prefill: {
      // Tolerance: kernels/reference.cpp, attention_tolerance (P rounded to bf16, score and
      // accumulation errors, bf16 output). q in [-3, 3] makes the softmax peaked enough that a wrong
      // key or value shows.
      const kernels::AttentionArgs a = attention_args(c, b.w);
      const std::size_t rows = std::size_t(a.batch) * a.q_len * a.q_heads;
      const std::size_t kv_elems =
          c.mla_latent ? std::size_t(a.batch) * a.kv_len * a.qk_dim
                       : std::size_t(a.batch) * a.kv_len * a.kv_heads * (a.qk_dim + a.v_dim);
      kernels::fill_uniform_bf16(act_in, rows * a.qk_dim, -3, 3, next_seed(), stream);
      kernels::fill_uniform_bf16(static_cast<bf16_t*>(b.w), kv_elems, -1, 1, next_seed(), stream);
      poison(act_out, rows * a.v_dim * 2, stream);
      launch_bound(b, stream);
      sync();
      scan_bf16(b, act_out, rows * a.v_dim, stream);
      ref::AttentionDims d;
      d.q_len = a.q_len, d.q_heads = a.q_heads, d.kv_heads = a.kv_heads, d.kv_len = a.kv_len;
      d.qk_dim = a.qk_dim, d.v_dim = a.v_dim, d.scale = a.scale;
      Worst w;
      for (long bi : sample(a.batch, 2, rng)) {
        const std::size_t kseq = std::size_t(a.kv_len) * a.kv_heads * a.qk_dim;
        const std::size_t vseq = std::size_t(a.kv_len) * a.kv_heads * a.v_dim;
        const auto kv = download(a.k + bi * a.k_batch_stride, kseq, stream);
        std::vector<bf16_t> vv;
        if (c.mla_latent) { // values: each latent row's first v_dim elements
          vv.resize(vseq);
          for (long j = 0; j < a.kv_len; j++)
            std::copy_n(kv.begin() + j * a.qk_dim, a.v_dim, vv.begin() + j * a.v_dim);
        } else {
          vv = download(a.v + bi * a.v_batch_stride, vseq, stream);
        }
        for (long i : sample(a.q_len, 6, rng))
          for (long h : sample(a.q_heads, a.q_len > 1 ? 6 : 12, rng)) {
            const std::size_t row = (std::size_t(bi) * a.q_len + i) * a.q_heads + h;
            const auto q = download(a.q + row * a.qk_dim, a.qk_dim, stream);
            const auto got = download(a.out + row * a.v_dim, a.v_dim, stream);
            std::vector<double> want(a.v_dim), abs(a.v_dim);
            const double eps = ref::attention_row(q, kv, vv, d, static_cast<int>(i), static_cast<int>(h), want, abs);
            for (int e = 0; e < a.v_dim; e++)
              w.add(ref::bf16_to_float(got[e]), want[e], ref::attention_tolerance(want[e], abs[e], eps, a.kv_len),
                    "[seq " + std::to_string(bi) + ", query " + std::to_string(i) + ", head " + std::to_string(h) +
                        ", dim " + std::to_string(e) + "]");
          }
      }
      report(b, w);
      break;
    }
    case OpKind::topk: {
      // Ids exact; weights within (experts + 16) * 2^-24 relative (tests/gpu/test_kernels.cpp).
      const std::size_t n = std::size_t(c.tokens) * c.all_experts, slots = std::size_t(c.tokens) * c.top_k;
      kernels::fill_uniform_f32(router_logits, n, -4, 4, next_seed(), stream);
      poison(topk_ids, slots * 4, stream);
      poison(topk_w, slots * 4, stream);
      launch_bound(b, stream);
      sync();
      Worst w;
      for (long t : sample(c.tokens, 64, rng)) {
        const auto l = download(router_logits + t * c.all_experts, c.all_experts, stream);
        const auto ids = download(topk_ids + t * c.top_k, c.top_k, stream);
        const auto wt = download(topk_w + t * c.top_k, c.top_k, stream);
        std::vector<std::int32_t> want_ids(c.top_k);
        std::vector<float> want_w(c.top_k);
        ref::topk_softmax(l, want_ids, want_w, 1, c.all_experts, c.top_k, true);
        for (int j = 0; j < c.top_k; j++) {
          const std::string at = "[token " + std::to_string(t) + ", choice " + std::to_string(j) + "]";
          w.exact(ids[j], want_ids[j], at + " id");
          w.add(wt[j], want_w[j], (c.all_experts + 16) * 0x1p-24 * std::fabs(want_w[j]), at + " weight");
        }
      }
      report(b, w);
      break;
    }
    case OpKind::permute: {
      // Integer placement and copies: exact.
      const std::size_t slots = std::size_t(c.tokens) * c.top_k;
      kernels::fill_uniform_bf16(act_in, std::size_t(c.tokens) * c.hidden, -1, 1, next_seed(), stream);
      poison(act_out, slots * c.hidden * 2, stream);
      poison(dest_row, slots * 4, stream);
      poison(offsets, std::size_t(c.local_experts + 1) * 4, stream);
      launch_bound(b, stream);
      sync();
      const auto ids = download(fixed_ids, slots, stream);
      const auto dest = download(dest_row, slots, stream);
      const auto off = download(offsets, c.local_experts + 1, stream);
      std::vector<bf16_t> zeros(c.tokens), rows(slots);
      std::vector<std::int32_t> want_dest(slots), want_off(c.local_experts + 1);
      ref::permute(zeros, ids, rows, want_dest, want_off, c.tokens, 1, c.top_k, c.first_expert, c.local_experts);
      Worst w;
      for (std::size_t a = 0; a < slots; a++)
        if (dest[a] != want_dest[a])
          w.exact(dest[a], want_dest[a], "[dest_row " + std::to_string(a) + "]");
      for (int e = 0; e <= c.local_experts; e++)
        w.exact(off[e], want_off[e], "[expert_offsets " + std::to_string(e) + "]");
      for (long a : sample(static_cast<long>(slots), 128, rng)) {
        if (want_dest[a] < 0)
          continue;
        const auto got = download(act_out + std::size_t(want_dest[a]) * c.hidden, c.hidden, stream);
        const auto x = download(act_in + std::size_t(a / c.top_k) * c.hidden, c.hidden, stream);
        for (int i = 0; i < c.hidden; i++)
          if (got[i] != x[i]) {
            w.exact(ref::bf16_to_float(got[i]), ref::bf16_to_float(x[i]),
                    "[slot " + std::to_string(a) + ", col " + std::to_string(i) + "]");
            break;
          }
      }
      report(b, w);
      break;
    }
    case OpKind::unpermute: {
      // Both sides accumulate the k products in slot order with fmaf and round once: exact.
      const std::size_t slots = std::size_t(c.tokens) * c.top_k;
      kernels::fill_uniform_bf16(act_in, slots * c.hidden, -1, 1, next_seed(), stream);
      poison(act_out, std::size_t(c.tokens) * c.hidden * 2, stream);
      launch_bound(b, stream);
      sync();
      scan_bf16(b, act_out, std::size_t(c.tokens) * c.hidden, stream);
      const auto dest = download(dest_row, slots, stream);
      const auto wts = download(fixed_w, slots, stream);
      Worst w;
      for (long t : sample(c.tokens, 64, rng)) {
        std::vector<bf16_t> eo(std::size_t(c.top_k) * c.hidden, 0);
        std::vector<std::int32_t> mini(c.top_k, -1);
        for (int j = 0; j < c.top_k; j++) {
          const std::int32_t r = dest[t * c.top_k + j];
          if (r < 0)
            continue;
          if (std::size_t(r) >= slots)
            mismatch(b, "dest_row[" + std::to_string(t * c.top_k + j) + "] = " + std::to_string(r) + " is out of range");
          const auto row = download(act_in + std::size_t(r) * c.hidden, c.hidden, stream);
          std::copy(row.begin(), row.end(), eo.begin() + std::size_t(j) * c.hidden);
          mini[j] = j;
        }
        std::vector<bf16_t> want(c.hidden);
        ref::unpermute(eo, mini, std::span<const float>(wts.data() + t * c.top_k, c.top_k), want, 1, c.hidden, c.top_k);
        const auto got = download(act_out + std::size_t(t) * c.hidden, c.hidden, stream);
        for (int i = 0; i < c.hidden; i++)
          if (got[i] != want[i]) {
            w.exact(ref::bf16_to_float(got[i]), ref::bf16_to_float(want[i]),
                    "[token " + std::to_string(t) + ", col " + std::to_string(i) + "]");
            break;
          }
      }
      report(b, w);
      break;
    }
    case OpKind::silu_mul:
    case OpKind::rmsnorm: {
      // 1 bf16 ulp: the two sides differ in fp32 by far less than 2^-9 relative (expf, or the order of
      // the sum of squares; tests/gpu/test_kernels.cpp derives it), so they round to the same or to
      // adjacent bf16 values.
      const bool silu = c.kind == OpKind::silu_mul;
      const std::size_t in_w = silu ? std::size_t(2) * c.dim : c.dim;
      kernels::fill_uniform_bf16(act_in, std::size_t(c.rows) * in_w, silu ? -8 : -4, silu ? 8 : 4, next_seed(), stream);
      if (!silu)
        kernels::fill_uniform_bf16(norm_w, c.dim, 0.5f, 1.5f, next_seed(), stream);
      poison(act_out, std::size_t(c.rows) * c.dim * 2, stream);
      launch_bound(b, stream);
      sync();
      scan_bf16(b, act_out, std::size_t(c.rows) * c.dim, stream);
      const auto nw = silu ? std::vector<bf16_t>() : download(norm_w, c.dim, stream);
      Worst w;
      for (long r : sample(c.rows, 32, rng)) {
        const auto in = download(act_in + std::size_t(r) * in_w, in_w, stream);
        const auto got = download(act_out + std::size_t(r) * c.dim, c.dim, stream);
        std::vector<bf16_t> want(c.dim);
        if (silu)
          ref::silu_mul(in, want, 1, c.dim);
        else
          ref::rmsnorm(in, nw, want, 1, c.dim, rms_eps);
        for (int i = 0; i < c.dim; i++) {
          // In ulps: adjacent bf16 values of the same sign differ by 1 in their bits.
          const long gi = (got[i] & 0x8000) ? -long(got[i] & 0x7fff) : long(got[i]);
          const long wi = (want[i] & 0x8000) ? -long(want[i] & 0x7fff) : long(want[i]);
          const double ulps = bf16_nan(got[i]) ? INFINITY : std::fabs(double(gi - wi));
          w.add(ulps, 0, 1, "[row " + std::to_string(r) + ", col " + std::to_string(i) + "] (ulps; got " +
                                fmt(ref::bf16_to_float(got[i])) + ", want " + fmt(ref::bf16_to_float(want[i])) + ")");
        }
      }
      report(b, w);
      break;
    }
    case OpKind::residual_add: {
      // The same fp32 addition and rounding: exact.
      kernels::fill_uniform_bf16(act_in, c.elems, -100, 100, next_seed(), stream);
      kernels::fill_uniform_bf16(act_in2, c.elems, -1, 1, next_seed(), stream);
      poison(act_out, std::size_t(c.elems) * 2, stream);
      launch_bound(b, stream);
      sync();
      scan_bf16(b, act_out, c.elems, stream);
      Worst w;
      const long window = std::min<long>(c.elems, 4096);
      for (long start : sample(c.elems - window + 1, 3, rng)) {
        const auto x = download(act_in + start, window, stream);
        const auto r = download(act_in2 + start, window, stream);
        const auto got = download(act_out + start, window, stream);
        std::vector<bf16_t> want(window);
        ref::residual_add(x, r, want);
        for (long i = 0; i < window; i++)
          if (got[i] != want[i]) {
            w.exact(ref::bf16_to_float(got[i]), ref::bf16_to_float(want[i]), "[" + std::to_string(start + i) + "]");
            break;
          }
      }
      report(b, w);
      break;
    }
    case OpKind::embedding: {
      // Copies: exact (zeros for ids outside this vocabulary shard).
      std::vector<std::int32_t> ids(c.tokens);
      for (auto& t : ids)
        t = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(c.vocab));
      MOESIM_CHECK(cudaMemcpyAsync(embed_ids, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice, stream));
      kernels::fill_uniform_bf16(static_cast<bf16_t*>(b.w), std::size_t(c.table_rows) * c.hidden, -1, 1, next_seed(),
                                 stream);
      poison(act_out, std::size_t(c.tokens) * c.hidden * 2, stream);
      launch_bound(b, stream);
      sync();
      scan_bf16(b, act_out, std::size_t(c.tokens) * c.hidden, stream);
      Worst w;
      for (long t : sample(c.tokens, 64, rng)) {
        const long row = long(ids[t]) - c.first_id;
        std::vector<bf16_t> want(c.hidden, 0);
        if (row >= 0 && row < c.table_rows)
          want = download(static_cast<const bf16_t*>(b.w) + std::size_t(row) * c.hidden, c.hidden, stream);
        const auto got = download(act_out + std::size_t(t) * c.hidden, c.hidden, stream);
        for (int i = 0; i < c.hidden; i++)
          if (got[i] != want[i]) {
            w.exact(ref::bf16_to_float(got[i]), ref::bf16_to_float(want[i]),
                    "[token " + std::to_string(t) + " (id " + std::to_string(ids[t]) + "), col " + std::to_string(i) + "]");
            break;
          }
      }
      report(b, w);
      break;
    }
    case OpKind::sample: {
      // Argmax: exact.
      kernels::fill_uniform_f32(sample_logits, std::size_t(c.rows) * c.vocab, -10, 10, next_seed(), stream);
      poison(argmax_idx, std::size_t(c.rows) * 4, stream);
      poison(argmax_val, std::size_t(c.rows) * 4, stream);
      launch_bound(b, stream);
      sync();
      const auto idx = download(argmax_idx, c.rows, stream);
      Worst w;
      for (long r = 0; r < c.rows; r++)
        if (idx[r] < 0 || idx[r] >= c.vocab)
          w.exact(idx[r], 0, "[row " + std::to_string(r) + "] index out of range");
      for (long r : sample(c.rows, 16, rng)) {
        const auto x = download(sample_logits + std::size_t(r) * c.vocab, c.vocab, stream);
        std::vector<std::int32_t> want(1);
        std::vector<float> want_v(1);
        ref::argmax(x, want, want_v, 1, c.vocab);
        const auto v = download(argmax_val + r, 1, stream);
        w.exact(idx[r], want[0], "[row " + std::to_string(r) + "] index");
        w.exact(v[0], want_v[0], "[row " + std::to_string(r) + "] value");
      }
      report(b, w);
      break;
    }
    default:
      throw std::logic_error("OpExecutor::verify: no check for " + std::string(to_string(c.kind)));
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
      I.verify_one(*first, I.seed ^ (0xd1b54a32d192ed03ULL * ++round), stream);
    } catch (const std::exception& e) {
      const std::string what = e.what();
      if (what.rfind("OpExecutor::verify", 0) == 0)
        throw;
      throw std::runtime_error("OpExecutor::verify: op " + first->name + " (" + c->info + "): " + what);
    }
  }
  MOESIM_CHECK(cudaStreamSynchronize(stream));
}

} // namespace moesim::validate
