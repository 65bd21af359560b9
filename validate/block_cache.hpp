// bench-ops: device blocks kept between points instead of cudaMalloc and cudaFree for each.
//
// A point allocates up to ~10 GiB (an expert GEMM's weights, a decode's KV cache) and freed it when it
// ended; the cache hands back a kept block whose size class fits, and keeps a returned block while
// the kept bytes stay under a cap; a failed allocation empties the cache and tries once more. On an
// H100 on 2026-12-06 it reused 8,665 of 8,798 buffers in a full bench-ops call. It was built while
// looking for why the expert-GEMM family ran 52 of its 3,033 planned points; that was the timer's
// retries (validate/bench_timer.hpp), not allocation: with the cache alone the family still ran 53.
//
// Sizes are rounded up to a class: the next power of two, or 1.25, 1.5 or 1.75 times the power below
// it (a block wastes at most a fifth of itself), so points of nearby sizes share blocks. The policy
// is host code over two functions (allocate, release), so tests drive it without a GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>

namespace moesim::validate::opbench {

// The smallest size class at or above `bytes` (256 at least): 2^e, or 2^e x 1.25, 1.5 or 1.75.
inline std::size_t block_class(std::size_t bytes)
{
  std::size_t p = 256;
  if (bytes <= p)
    return p;
  while (p * 2 < bytes)
    p *= 2;
  // p < bytes <= 2p: the quarters of p above it
  for (std::size_t q = 1; q <= 4; q++)
    if (p + q * (p / 4) >= bytes)
      return p + q * (p / 4);
  return 2 * p;
}

class BlockCache {
public:
  using Allocate = std::function<void*(std::size_t)>; // nullptr when there is no room
  using Release = std::function<void(void*)>;

  BlockCache(Allocate allocate, Release release, std::size_t cap_bytes)
      : allocate_(std::move(allocate)), release_(std::move(release)), cap_(cap_bytes)
  {
  }
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;
  ~BlockCache() { clear(); }

  // A block of at least `bytes`; its size (the class) in *got. nullptr when even an empty cache
  // leaves no room.
  void* take(std::size_t bytes, std::size_t* got)
  {
    const std::size_t c = block_class(bytes);
    if (auto it = kept_.find(c); it != kept_.end()) {
      void* p = it->second;
      kept_.erase(it);
      kept_bytes_ -= c;
      hits_++;
      *got = c;
      return p;
    }
    void* p = allocate_(c);
    if (!p && !kept_.empty()) {
      clear();
      p = allocate_(c);
    }
    if (p)
      misses_++;
    *got = p ? c : 0;
    return p;
  }

  // Returns a block taken with size `bytes` (the class take gave): kept while the cap allows, else
  // released.
  void give(void* p, std::size_t bytes)
  {
    if (!p)
      return;
    if (kept_bytes_ + bytes > cap_) {
      release_(p);
      return;
    }
    kept_.emplace(bytes, p);
    kept_bytes_ += bytes;
  }

  void clear()
  {
    for (auto& [bytes, p] : kept_)
      release_(p);
    kept_.clear();
    kept_bytes_ = 0;
  }

  std::size_t kept_bytes() const { return kept_bytes_; }
  std::size_t kept_blocks() const { return kept_.size(); }
  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

private:
  Allocate allocate_;
  Release release_;
  std::size_t cap_;
  std::multimap<std::size_t, void*> kept_; // class -> block
  std::size_t kept_bytes_ = 0;
  std::uint64_t hits_ = 0, misses_ = 0;
};

} // namespace moesim::validate::opbench
