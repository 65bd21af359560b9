// nccl-tests' sizes (core/nccl_tests_shape.hpp), each expected number derived from nccl-tests
// 2.19.6's rule: count = size / 2 (bf16); all_gather, reduce_scatter and alltoall give each rank
// (or peer) count / n elements rounded down to 8 (16 bytes).
#include "core/error.hpp"
#include "core/nccl_tests_shape.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

TEST_CASE("nccl-tests shapes: 1 KiB over 3 ranks", "[quick][nccl-tests]")
{
  // 1024 B = 512 elements. all_reduce and sendrecv send them whole: size 1024, count 512.
  for (OpKind op : {OpKind::all_reduce, OpKind::send}) {
    const NcclTestsShape s = nccl_tests_shape(op, 1024, 3);
    CHECK((s.bytes == 1024 && s.count == 512 && s.send_elements == 512 && s.recv_elements == 512));
  }
  // 512 / 3 = 170, rounded down to a multiple of 8: 168 per rank. all_gather receives 3 x 168 = 504
  // elements (1008 B), reduce_scatter sends them, alltoall does both with 168 per peer.
  NcclTestsShape s = nccl_tests_shape(OpKind::all_gather, 1024, 3);
  CHECK((s.bytes == 1008 && s.count == 168 && s.send_elements == 168 && s.recv_elements == 504));
  s = nccl_tests_shape(OpKind::reduce_scatter, 1024, 3);
  CHECK((s.bytes == 1008 && s.count == 168 && s.send_elements == 504 && s.recv_elements == 168));
  s = nccl_tests_shape(OpKind::all_to_all, 1024, 3);
  CHECK((s.bytes == 1008 && s.count == 168 && s.send_elements == 504 && s.recv_elements == 504));
}

TEST_CASE("nccl-tests shapes: sizes too small for a rank, odd sizes, one rank", "[quick][nccl-tests]")
{
  // alltoall 32 B over 4: 16 elements, 4 per peer, rounded down to 8: 0. Nothing runs (nccl-tests
  // prints a 0-byte row), and the shape is all zeros.
  const NcclTestsShape none = nccl_tests_shape(OpKind::all_to_all, 32, 4);
  CHECK((none.bytes == 0 && none.count == 0 && none.send_elements == 0 && none.recv_elements == 0));
  // 64 B over 4: 32 elements, 8 per peer: the first size that runs, 64 B (the real 4x H200 log's
  // first non-zero alltoall row, tests/data/nccl_tests_alltoall_4xh200.json, is 64 B too).
  CHECK(nccl_tests_shape(OpKind::all_to_all, 64, 4).bytes == 64);
  // all_reduce 1001 B: 500 whole elements, 1000 B.
  CHECK(nccl_tests_shape(OpKind::all_reduce, 1001, 4).bytes == 1000);
  // One rank: all_gather 1000 B = 500 elements, rounded down to 496; size 992.
  CHECK(nccl_tests_shape(OpKind::all_gather, 1000, 1).bytes == 992);
  CHECK_THROWS_AS(nccl_tests_shape(OpKind::gemm, 1024, 2), std::invalid_argument);
  CHECK_THROWS_AS(nccl_tests_shape(OpKind::all_reduce, 1024, 0), std::invalid_argument);
}

TEST_CASE("nccl-tests sizes: -b/-e as nccl-tests reads them, and the steps", "[quick][nccl-tests]")
{
  CHECK(parse_nccl_tests_size("8", "-b") == 8);
  CHECK(parse_nccl_tests_size("1K", "-b") == 1024);
  CHECK(parse_nccl_tests_size("64k", "-b") == 65536);
  CHECK(parse_nccl_tests_size("256M", "-e") == 268435456);
  CHECK(parse_nccl_tests_size("1G", "-e") == 1073741824);
  CHECK(parse_nccl_tests_size("0.5K", "-b") == 512);  // decimals are read, then truncated:
  CHECK(parse_nccl_tests_size("1.9", "-b") == 1);
  for (const char* bad : {"", "K", "12Q", "-8", "1KB", "abc"})
    CHECK_THROWS_WITH(parse_nccl_tests_size(bad, "-b"), Catch::Contains("-b: cannot read size"));
  // 8 .. 256 with factor 2: 8, 16, 32, 64, 128, 256. 1K .. 64K with factor 4: 1K, 4K, 16K, 64K.
  CHECK(nccl_tests_sizes(8, 256, 2) == std::vector<std::size_t>{8, 16, 32, 64, 128, 256});
  CHECK(nccl_tests_sizes(1024, 65536, 4) == std::vector<std::size_t>{1024, 4096, 16384, 65536});
  CHECK(nccl_tests_sizes(1024, 1000, 2).empty());
  CHECK(nccl_tests_sizes(1024, 1024, 2) == std::vector<std::size_t>{1024});
  // The largest size_t step does not overflow: 2^62 x 2 is the last one.
  CHECK(nccl_tests_sizes(std::size_t(1) << 62, ~std::size_t(0), 2).size() == 2);
}
