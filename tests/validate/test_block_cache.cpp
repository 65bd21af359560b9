// bench-ops' device block cache (validate/block_cache.hpp), driven by a host allocator that records
// what it was asked for, so the policy is checked without a GPU.
#include "validate/block_cache.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <vector>

using moesim::validate::opbench::block_class;
using moesim::validate::opbench::BlockCache;

namespace {

struct Heap {
  std::vector<std::size_t> allocated;
  std::map<void*, std::size_t> sizes;
  int released = 0;
  std::size_t room = std::size_t(-1); // allocations above this fail (nullptr)
  std::size_t live = 0;
  BlockCache cache(std::size_t cap)
  {
    return BlockCache(
        [this](std::size_t b) -> void* {
          if (live + b > room)
            return nullptr;
          allocated.push_back(b);
          live += b;
          void* p = std::malloc(8); // stands for b device bytes; the cache never touches them
          sizes[p] = b;
          return p;
        },
        [this](void* p) {
          released++;
          live -= sizes.at(p);
          sizes.erase(p);
          std::free(p);
        },
        cap);
  }
};

} // namespace

TEST_CASE("block classes are 256 bytes at least, then powers of two and their quarters", "[quick][block_cache]")
{
  CHECK(block_class(0) == 256);
  CHECK(block_class(256) == 256);
  // 257 lies in (256, 512]: classes 320, 384, 448, 512; 257 <= 320.
  CHECK(block_class(257) == 320);
  CHECK(block_class(384) == 384);
  CHECK(block_class(385) == 448);
  CHECK(block_class(449) == 512);
  // An 8 GiB expert-weight buffer is its own class; 8 GiB + 1 byte takes 10 GiB (8 x 1.25).
  const std::size_t gib = std::size_t(1) << 30;
  CHECK(block_class(8 * gib) == 8 * gib);
  CHECK(block_class(8 * gib + 1) == 10 * gib);
  // No class wastes more than a fifth of itself: bytes just above a class boundary p(1 + q/4) take
  // the next quarter, p(1 + (q+1)/4), and (p/4) / (p(1 + 1/4)) = 1/5 is the worst ratio.
  for (std::size_t b = 300; b < (1u << 22); b = b * 17 / 16 + 1) {
    const std::size_t c = block_class(b);
    CHECK(c >= b);
    CHECK(double(c - b) <= 0.2 * double(c) + 1e-9);
  }
}

TEST_CASE("a given-back block is handed out again for the same class, not allocated twice", "[quick][block_cache]")
{
  Heap h;
  BlockCache c = h.cache(std::size_t(1) << 40);
  std::size_t got = 0;
  void* a = c.take(1000, &got); // class of 1000: (512, 1024] -> 640, 768, 896, 1024 -> 1024
  REQUIRE(a);
  CHECK(got == 1024);
  c.give(a, got);
  CHECK(c.kept_bytes() == 1024);
  std::size_t got2 = 0;
  void* b = c.take(900, &got2); // 900 is also class 1024: the kept block comes back
  CHECK(b == a);
  CHECK(got2 == 1024);
  CHECK(h.allocated == std::vector<std::size_t>{1024});
  CHECK(c.hits() == 1);
  CHECK(c.misses() == 1);
  std::size_t got3 = 0;
  void* d = c.take(600, &got3); // class 640: a new block
  CHECK(d != b);
  CHECK(h.allocated == std::vector<std::size_t>{1024, 640});
  c.give(b, got2);
  c.give(d, got3);
  c.clear();
  CHECK(h.released == 2);
  CHECK(c.kept_bytes() == 0);
}

TEST_CASE("blocks past the cap are released, and a failed allocation empties the cache and retries", "[quick][block_cache]")
{
  Heap h;
  BlockCache c = h.cache(2048); // keeps at most 2048 bytes
  std::size_t g1 = 0, g2 = 0, g3 = 0;
  void* a = c.take(1024, &g1);
  void* b = c.take(1024, &g2);
  void* d = c.take(512, &g3);
  c.give(a, g1); // kept: 1024
  c.give(b, g2); // kept: 2048
  c.give(d, g3); // 2048 + 512 > 2048: released at once
  CHECK(c.kept_bytes() == 2048);
  CHECK(c.kept_blocks() == 2);
  CHECK(h.released == 1);

  // 2048 bytes live (1024 + 1024 + 512 allocated, the 512 released: the cache's two blocks) and room
  // for 3000: a 2048-byte class does not fit beside the kept 2048 (4096 > 3000), fits once they go.
  CHECK(h.live == 2048);
  h.room = 3000;
  std::size_t g4 = 0;
  void* e = c.take(2000, &g4); // class 2048
  REQUIRE(e);
  CHECK(g4 == 2048);
  CHECK(h.released == 3);       // both kept blocks were released to make room
  CHECK(c.kept_bytes() == 0);
  c.give(e, g4);
}
