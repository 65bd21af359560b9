#include "validate/buffers.hpp"

#include "core/error.hpp"
#include "core/routing.hpp"
#include "kernels/check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

namespace moesim::validate {

std::size_t align_up(std::size_t n, std::size_t a)
{
  return (n + a - 1) / a * a;
}

std::string gib(double bytes)
{
  char s[32];
  std::snprintf(s, sizeof s, "%.2f GiB", bytes / double(1ull << 30));
  return s;
}

namespace {

std::string fmt(double v)
{
  char s[32];
  std::snprintf(s, sizeof s, "%.6g", v);
  return s;
}

} // namespace

namespace detail {

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

void BufferNeeds::need(std::size_t& slot, std::size_t elems, std::size_t elem_bytes, const Op& op)
{
  slot = std::max(slot, elems);
  if (double(elems) * elem_bytes > biggest_bytes)
    biggest_bytes = double(elems) * elem_bytes, biggest_op = op.name;
}

PoolUse Pools::use(const std::string& cls, const std::string& key, std::size_t bytes, bool kv, bool fp8, const Op& op,
                   BufferNeeds& needs)
{
  const std::string id = cls + "|" + std::to_string(bytes) + (fp8 ? "|fp8" : "");
  auto [it, fresh] = index_.try_emplace(id, static_cast<int>(pools_.size()));
  if (fresh) {
    Pool p;
    p.cls = cls, p.bytes = bytes, p.kv = kv, p.first_op = op.name, p.fp8 = fp8;
    pools_.push_back(std::move(p));
  }
  Pool& p = pools_[it->second];
  auto u = std::find(p.users.begin(), p.users.end(), key);
  if (u == p.users.end()) {
    p.users.push_back(key);
    u = p.users.end() - 1;
  }
  if (double(bytes) > needs.biggest_bytes)
    needs.biggest_bytes = double(bytes), needs.biggest_op = op.name;
  return {it->second, static_cast<int>(u - p.users.begin())};
}

void* Pools::buffer(const PoolUse& u) const
{
  if (u.pool < 0)
    return nullptr;
  const Pool& p = pools_[u.pool];
  return p.copies[u.user % p.copies.size()];
}

DeviceMemory::~DeviceMemory()
{
  for (auto& [p, n] : allocations_)
    cudaFree(p); // errors ignored: nothing to do about them in a destructor
}

void DeviceMemory::refuse(const std::string& op_name, const std::string& what, const std::string& fix) const
{
  throw InputError(file_, "rank " + std::to_string(rank_) + " op " + op_name, what, fix);
}

void* DeviceMemory::alloc(std::size_t bytes, const std::string& what, const std::string& op_name, std::size_t free_bytes)
{
  bytes = align_up(std::max<std::size_t>(bytes, 256), 256);
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    refuse(op_name,
           "cudaMalloc of " + gib(double(bytes)) + " for " + what + " failed (" + gib(double(total_)) +
               " already held, " + gib(double(free_bytes)) + " free at the start)",
           "run on a GPU with more memory, or a plan that shards the model over more GPUs");
  }
  MOESIM_CHECK(e);
  allocations_.push_back({p, bytes});
  total_ += bytes;
  return p;
}

namespace {

// The routing draw (each token picks k distinct experts), its weights (summing to 1) and the rows
// permute gives the kept slots (a stable counting sort by local expert, as kernels::permute places
// them; -1 for dropped slots). `slots` = tokens * k.
void draw_routing(const RoutingDraw& r, std::size_t slots, Rng& rng, std::vector<std::int32_t>& ids,
                  std::vector<float>& weights, std::vector<std::int32_t>& dest)
{
  if (r.k <= 0)
    return;
  for (std::size_t t = 0; t * r.k < slots; t++) {
    float sum = 0;
    for (int j = 0; j < r.k; j++) {
      std::int32_t e;
      bool taken;
      do {
        e = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(r.experts));
        taken = false;
        for (int q = 0; q < j; q++)
          taken |= ids[t * r.k + q] == e;
      } while (taken);
      ids[t * r.k + j] = e;
      weights[t * r.k + j] = 0.05f + static_cast<float>(rng.uniform());
      sum += weights[t * r.k + j];
    }
    for (int j = 0; j < r.k; j++)
      weights[t * r.k + j] /= sum;
  }
  std::vector<std::int32_t> next(r.local + 1, 0);
  for (std::size_t a = 0; a < slots; a++) {
    const long e = ids[a] - r.first;
    if (e >= 0 && e < r.local)
      next[e + 1]++;
  }
  for (int e = 0; e < r.local; e++)
    next[e + 1] += next[e];
  for (std::size_t a = 0; a < slots; a++) {
    const long e = ids[a] - r.first;
    if (e >= 0 && e < r.local)
      dest[a] = next[e]++;
  }
}

} // namespace

std::vector<std::string> allocate_and_fill(DeviceMemory& mem, const BufferNeeds& n, Pools& pools,
                                           const RoutingDraw& routing, const MemoryPlanOptions& o,
                                           SharedBuffers& b, bool& distinct)
{
  // The shared buffers first, then per-(layer, op) weights and KV caches, distinct when they fit
  // (leaving 10% of the GPU free), else rotating among copies.
  const std::size_t comm_bytes = align_up(std::max<std::size_t>(n.comm_bytes, 256), 256);
  const std::size_t fixed_bytes[] = {
      align_up(std::max<std::size_t>(n.act_in, 256) * 2, 256),  align_up(std::max<std::size_t>(n.act_in2, 1) * 2, 256),
      align_up(std::max<std::size_t>(n.act_out, 256) * 2, 256), align_up(std::max<std::size_t>(n.act_fp8, 1), 256),
      align_up(std::max<std::size_t>(n.router, 1) * 4, 256),    align_up(std::max<std::size_t>(n.sample, 1) * 4, 256),
      2 * align_up(std::max<std::size_t>(n.topk, 1) * 4, 256),  3 * align_up(std::max<std::size_t>(n.ids, 1) * 4, 256),
      align_up(std::max<std::size_t>(n.offsets, 1) * 4, 256),   align_up(std::max<std::size_t>(n.embed_ids, 1) * 4, 256),
      2 * align_up(std::max<std::size_t>(n.argmax, 1) * 4, 256), align_up(std::max<std::size_t>(n.norm, 1) * 2, 256),
      align_up(std::max<std::size_t>(n.attn_ws_bytes, 1), 256), 2 * comm_bytes};
  double fixed = 0;
  for (std::size_t f : fixed_bytes)
    fixed += double(f);
  std::size_t free_bytes = 0, total_mem = 0;
  MOESIM_CHECK(cudaMemGetInfo(&free_bytes, &total_mem));
  const double keep = 0.1 * double(total_mem);
  double avail = double(free_bytes) > keep ? double(free_bytes) - keep : 0.0;
  if (o.memory_limit > 0) // the limit counts what is held already (scales, cuBLASLt workspace)
    avail = std::min(avail, std::max(0.0, double(o.memory_limit) - double(mem.total_bytes())));
  std::vector<Pool>& all = pools.all();
  std::vector<double> sizes;
  std::vector<long> users;
  double pools_all = 0, pools_one = 0;
  for (const Pool& p : all) {
    sizes.push_back(double(align_up(p.bytes, 256)));
    users.push_back(static_cast<long>(p.users.size()));
    pools_all += sizes.back() * users.back();
    pools_one += sizes.back();
  }
  const std::vector<long> copies = detail::plan_copies(sizes, users, avail - fixed);
  if (fixed > avail || copies.empty())
    mem.refuse(n.biggest_op.empty() ? "?" : n.biggest_op,
               "needs at least " + gib(double(mem.total_bytes()) + fixed + pools_one) +
                   " of device memory (one copy of each weight and KV cache " + gib(pools_one) +
                   ", activations, workspaces and comm buffers " + gib(double(mem.total_bytes()) + fixed) +
                   "; its largest buffer " + gib(n.biggest_bytes) + "), " + gib(double(free_bytes)) + " free, of which " +
                   gib(avail) + " usable (10% of the GPU kept free" +
                   (o.memory_limit ? ", executor limit " + gib(double(o.memory_limit)) : "") + ")",
               "run on a GPU with more memory, or a plan that shards the model over more GPUs");
  distinct = copies == users;
  double working = 0;
  for (std::size_t i = 0; i < all.size(); i++)
    working += sizes[i] * copies[i];
  std::ostringstream note;
  if (distinct) {
    note << "memory: every (layer, op) has its own weights and KV cache: " << gib(pools_all) << " in " << all.size()
         << " classes, plus " << gib(fixed + double(mem.total_bytes())) << " of activations, workspaces and comm buffers";
  } else {
    note << "memory: distinct weights and KV caches would need " << gib(pools_all) << ", " << gib(avail - fixed)
         << " usable: each class rotates among copies (";
    bool first = true;
    for (std::size_t i = 0; i < all.size(); i++)
      if (copies[i] < users[i]) {
        note << (first ? "" : ", ") << all[i].cls << " " << copies[i] << " of " << users[i];
        first = false;
      }
    const double l2 = double(o.l2_bytes);
    note << "); rotating working set " << gib(working) << " = " << fmt(working / std::max(1.0, l2)) << "x the "
         << fmt(l2 / 1048576) << " MiB L2"
         << (working >= 4 * l2 ? "" : ": WARNING below 4x L2, reused buffers may hit in L2 and run fast");
  }

  // Allocate.
  auto alloc = [&](std::size_t bytes, const char* what) { return mem.alloc(bytes, what, n.biggest_op, free_bytes); };
  b.act_in = static_cast<bf16_t*>(alloc(std::max<std::size_t>(n.act_in, 256) * 2, "input activations"));
  b.act_in2 = static_cast<bf16_t*>(alloc(std::max<std::size_t>(n.act_in2, 1) * 2, "residual inputs"));
  b.act_out = static_cast<bf16_t*>(alloc(std::max<std::size_t>(n.act_out, 256) * 2, "output activations"));
  b.act_fp8 = static_cast<std::uint8_t*>(alloc(std::max<std::size_t>(n.act_fp8, 1), "fp8 input activations"));
  b.router_logits = static_cast<float*>(alloc(std::max<std::size_t>(n.router, 1) * 4, "router logits"));
  b.sample_logits = static_cast<float*>(alloc(std::max<std::size_t>(n.sample, 1) * 4, "sampling logits"));
  b.topk_ids = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(n.topk, 1) * 4, "top-k ids"));
  b.topk_w = static_cast<float*>(alloc(std::max<std::size_t>(n.topk, 1) * 4, "top-k weights"));
  b.fixed_ids = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(n.ids, 1) * 4, "routing ids"));
  b.fixed_w = static_cast<float*>(alloc(std::max<std::size_t>(n.ids, 1) * 4, "routing weights"));
  b.dest_row = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(n.ids, 1) * 4, "permute rows"));
  b.offsets = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(n.offsets, 1) * 4, "expert offsets"));
  b.embed_ids = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(n.embed_ids, 1) * 4, "token ids"));
  b.argmax_idx = static_cast<std::int32_t*>(alloc(std::max<std::size_t>(n.argmax, 1) * 4, "sampled ids"));
  b.argmax_val = static_cast<float*>(alloc(std::max<std::size_t>(n.argmax, 1) * 4, "sampled logits"));
  b.norm_w = static_cast<bf16_t*>(alloc(std::max<std::size_t>(n.norm, 1) * 2, "norm weights"));
  b.attn_ws = alloc(std::max<std::size_t>(n.attn_ws_bytes, 1), "attention workspace");
  b.attn_ws_bytes = n.attn_ws_bytes;
  b.send = alloc(comm_bytes, "send buffer");
  b.recv = alloc(comm_bytes, "receive buffer");
  b.comm_bytes = comm_bytes;
  for (std::size_t i = 0; i < all.size(); i++) {
    Pool& p = all[i];
    for (long c = 0; c < copies[i]; c++)
      p.copies.push_back(mem.alloc(p.bytes, (p.kv ? "KV cache " : "weights ") + p.cls, p.first_op, free_bytes));
  }

  // Fill.
  cudaStream_t st = nullptr;
  std::uint64_t salt = o.seed * 0x9e3779b97f4a7c15ULL;
  auto next_seed = [&]() { return salt += 0x632be59bd9b4e019ULL; };
  kernels::fill_uniform_bf16(b.act_in, std::max<std::size_t>(n.act_in, 256), -1, 1, next_seed(), st);
  kernels::fill_uniform_bf16(b.act_in2, std::max<std::size_t>(n.act_in2, 1), -1, 1, next_seed(), st);
  kernels::fill_uniform_bf16(b.act_out, std::max<std::size_t>(n.act_out, 256), -1, 1, next_seed(), st);
  kernels::fill_uniform_fp8(b.act_fp8, std::max<std::size_t>(n.act_fp8, 1), -2, 2, next_seed(), st);
  kernels::fill_uniform_f32(b.router_logits, std::max<std::size_t>(n.router, 1), -4, 4, next_seed(), st);
  kernels::fill_uniform_f32(b.sample_logits, std::max<std::size_t>(n.sample, 1), -10, 10, next_seed(), st);
  kernels::fill_uniform_bf16(b.norm_w, std::max<std::size_t>(n.norm, 1), 0.5f, 1.5f, next_seed(), st);
  kernels::fill_uniform_bf16(static_cast<bf16_t*>(b.send), comm_bytes / 2, -1, 1, next_seed(), st);
  kernels::fill_uniform_bf16(static_cast<bf16_t*>(b.recv), comm_bytes / 2, -1, 1, next_seed(), st);
  MOESIM_CHECK(cudaMemsetAsync(b.attn_ws, 0, std::max<std::size_t>(n.attn_ws_bytes, 1), st));
  for (const Pool& p : all)
    for (void* c : p.copies) {
      if (p.fp8)
        kernels::fill_uniform_fp8(static_cast<std::uint8_t*>(c), p.bytes, -2, 2, next_seed(), st);
      else
        kernels::fill_uniform_bf16(static_cast<bf16_t*>(c), p.bytes / 2, -1, 1, next_seed(), st);
    }
  Rng rng(o.seed ^ 0x5eed0f0e7e5ULL);
  const std::size_t slots = std::max<std::size_t>(n.ids, 1);
  std::vector<std::int32_t> ids(slots, 0), dest(slots, -1);
  std::vector<float> weights(slots, 0.0f);
  draw_routing(routing, n.ids, rng, ids, weights, dest);
  std::vector<std::int32_t> tokens(std::max<std::size_t>(n.embed_ids, 1));
  for (auto& t : tokens)
    t = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(o.vocab));
  MOESIM_CHECK(cudaMemcpy(b.fixed_ids, ids.data(), slots * 4, cudaMemcpyHostToDevice));
  MOESIM_CHECK(cudaMemcpy(b.fixed_w, weights.data(), slots * 4, cudaMemcpyHostToDevice));
  MOESIM_CHECK(cudaMemcpy(b.dest_row, dest.data(), slots * 4, cudaMemcpyHostToDevice));
  MOESIM_CHECK(cudaMemcpy(b.embed_ids, tokens.data(), tokens.size() * 4, cudaMemcpyHostToDevice));
  MOESIM_CHECK(cudaMemset(b.offsets, 0, std::max<std::size_t>(n.offsets, 1) * 4));
  MOESIM_CHECK(cudaDeviceSynchronize());
  return {note.str()};
}

} // namespace moesim::validate
