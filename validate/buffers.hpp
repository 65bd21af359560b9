// The device memory of one OpExecutor (op_executor.hpp):
//   shared buffers  activations in and out, router and sampling logits, routing ids and weights,
//                   norm weights, workspaces, the send and receive buffers of communication ops:
//                   one of each, sized by the largest op that uses it (ops run one at a time);
//   pools           per-op buffers (weights, KV caches, embedding tables), one per (layer, op) when
//                   they fit, else rotating among fewer copies (plan_copies).
// Every allocation is counted, and an out-of-memory failure is an InputError naming the op.
#pragma once
#include "core/schedule.hpp"
#include "kernels/kernels.hpp"

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace moesim::validate {

using kernels::bf16_t;

// What each shared buffer must hold (elements, or bytes where named so): the most any op asks for.
struct BufferNeeds {
  std::size_t act_in = 0, act_in2 = 0, act_out = 0, act_fp8 = 0, router = 0, sample = 0, topk = 0, ids = 0,
              embed_ids = 0, argmax = 0, norm = 0, offsets = 0, attn_ws_bytes = 0, comm_bytes = 0;
  // The op with the largest buffer (for the out-of-memory message).
  std::string biggest_op;
  double biggest_bytes = 0;
  void need(std::size_t& slot, std::size_t elems, std::size_t elem_bytes, const Op& op);
};

// The shared buffers, once allocated.
struct SharedBuffers {
  bf16_t *act_in = nullptr, *act_in2 = nullptr, *act_out = nullptr, *norm_w = nullptr;
  std::uint8_t* act_fp8 = nullptr;
  float *router_logits = nullptr, *sample_logits = nullptr, *topk_w = nullptr, *fixed_w = nullptr,
        *argmax_val = nullptr;
  std::int32_t *topk_ids = nullptr, *fixed_ids = nullptr, *dest_row = nullptr, *offsets = nullptr,
               *embed_ids = nullptr, *argmax_idx = nullptr;
  void *attn_ws = nullptr, *send = nullptr, *recv = nullptr;
  std::size_t attn_ws_bytes = 0, comm_bytes = 0;
};

// The routing every permute / unpermute of the rank reads: each token's `k` distinct experts out
// of `experts`, a fixed draw; slots of experts [first, first + local) are kept.
struct RoutingDraw {
  int experts = 0, k = 0, first = 0, local = 0;
};

// A per-op buffer: which pool, and which of its users the op is.
struct PoolUse {
  int pool = -1;
  int user = -1;
};

struct Pool {
  std::string cls;                // the ops' label ("attn.qkv", "attn.core", "embed")
  std::size_t bytes = 0;          // one copy
  bool kv = false;                // a KV cache (else weights)
  bool fp8 = false;               // contents: e4m3 bytes (else bf16)
  std::vector<std::string> users; // one per (layer, op); KV caches per microbatch too
  std::vector<void*> copies;
  std::string first_op;
};

class Pools {
public:
  // The buffer `key` of class `cls` (bytes, kv, fp8 make the class's identity too).
  PoolUse use(const std::string& cls, const std::string& key, std::size_t bytes, bool kv, bool fp8, const Op& op,
              BufferNeeds& needs);
  std::vector<Pool>& all() { return pools_; }
  const std::vector<Pool>& all() const { return pools_; }
  void* buffer(const PoolUse& u) const;

private:
  std::vector<Pool> pools_; // in order of first use
  std::map<std::string, int> index_; // class identity -> pool
};

// Counts every cudaMalloc and frees them all at the end.
class DeviceMemory {
public:
  DeviceMemory(int rank, std::string file) : rank_(rank), file_(std::move(file)) {}
  ~DeviceMemory();
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  // At least 256 bytes, a multiple of 256. Out of memory: InputError naming `op_name`, `what`, the
  // bytes held and `free_bytes` (free at the start).
  void* alloc(std::size_t bytes, const std::string& what, const std::string& op_name, std::size_t free_bytes);
  std::size_t total_bytes() const { return total_; }
  // Device memory held elsewhere for this executor (the GEMM planner's workspace and scales): it
  // counts towards total_bytes and the memory limit, and is not freed here.
  void count_held(std::size_t bytes) { total_ += bytes; }
  [[noreturn]] void refuse(const std::string& op_name, const std::string& what, const std::string& fix) const;

private:
  int rank_;
  std::string file_;
  std::vector<std::pair<void*, std::size_t>> allocations_;
  std::size_t total_ = 0;
};

struct MemoryPlanOptions {
  std::size_t memory_limit = 0; // 0: the GPU's (10% kept free)
  std::size_t l2_bytes = 0;     // for the note on rotating working sets
  std::uint64_t seed = 0;
  int vocab = 0;                // token ids drawn for embedding lookups
};

// Plans (distinct or rotating pools), allocates and fills the shared buffers and the pools, binds
// nothing. Returns the notes on the layout (first: the memory line). Fills: weights, caches and
// activations uniform in [-1, 1] (fp8: [-2, 2], scaled by 0.5), norm weights in [0.5, 1.5], logits
// in [-4, 4] (router) and [-10, 10] (sampling); the routing draw, its weights (summing to 1 per
// token) and the rows permute gives them, so that unpermute reads valid rows before permute runs.
std::vector<std::string> allocate_and_fill(DeviceMemory& mem, const BufferNeeds& needs, Pools& pools,
                                           const RoutingDraw& routing, const MemoryPlanOptions& o,
                                           SharedBuffers& out, bool& distinct);

std::size_t align_up(std::size_t n, std::size_t a);
std::string gib(double bytes);

namespace detail {
// Copies per buffer class so that the classes fit in `budget` bytes: as many as there are users when
// everything fits, else about the same fraction of each class (at least one copy). `sizes[i]` bytes a
// copy, `users[i]` buffers of the class. Returns an empty vector when one copy of each does not fit.
std::vector<long> plan_copies(const std::vector<double>& sizes, const std::vector<long>& users, double budget);
} // namespace detail

} // namespace moesim::validate
