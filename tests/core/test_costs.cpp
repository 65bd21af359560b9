// Roofline and NCCL cost model: pure functions, expected numbers derived by hand.
#include "core/costs.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

namespace {
GpuSpec gpu()
{
  GpuSpec g;
  g.model = "test";
  g.mem_bw = 2e12;
  g.flops[Dtype::bf16] = 1e15;
  g.flops[Dtype::fp8] = 2e15;
  return g;
}
} // namespace

TEST_CASE("a decode GEMM is memory bound", "[quick][costs]")
{
  // y[1, 4096] = x[1, 4096] W[4096, 4096], bf16: bytes = 4096*4096*2 + 1*(4096+4096)*2 = 33570816,
  // flops = 2*4096*4096 = 33554432. Memory: 33570816 / 2e12 = 16.785408 us; math: 33.55 ns.
  const double t = roofline_seconds(gpu(), 2.0 * 4096 * 4096, 4096.0 * 4096 * 2 + 8192 * 2, Dtype::bf16, 1);
  CHECK(t == Approx(33570816 / 2e12).epsilon(1e-12));
}

TEST_CASE("a prefill GEMM is compute bound", "[quick][costs]")
{
  // m = n = k = 8192 bf16: flops = 2*8192^3 = 1099511627776 -> 1.099511627776 ms at 1e15;
  // bytes = 8192^2*2 + 8192*16384*2 = 402653184 -> 0.201 ms. The time is the math.
  const double f = 2.0 * 8192 * 8192 * 8192, b = 8192.0 * 8192 * 2 + 8192.0 * 16384 * 2;
  CHECK(roofline_seconds(gpu(), f, b, Dtype::bf16, 1) == Approx(f / 1e15).epsilon(1e-12));
  // FP8 has its own rate: half the time.
  CHECK(roofline_seconds(gpu(), f, b, Dtype::fp8, 1) == Approx(f / 2e15).epsilon(1e-12));
  // NVFP4 is not native on this GPU: the math runs at the bf16 rate.
  CHECK(roofline_seconds(gpu(), f, b, Dtype::nvfp4, 1) == Approx(f / 1e15).epsilon(1e-12));
}

TEST_CASE("efficiencies and kernel overhead enter the roofline", "[quick][costs]")
{
  // 3 kernels * 2 us + max(1e12 / (1e15 * 0.5), 1e9 / (2e12 * 0.8)) = 6 us + max(2 ms, 0.625 ms).
  GpuSpec g = gpu();
  g.flops_eff = 0.5;
  g.mem_bw_eff = 0.8;
  g.kernel_overhead = 2e-6;
  CHECK(roofline_seconds(g, 1e12, 1e9, Dtype::bf16, 3) == Approx(6e-6 + 2e-3).epsilon(1e-12));
}

TEST_CASE("storage cost of quantised formats includes their scales", "[quick][costs]")
{
  CHECK(bytes_per_element(Dtype::nvfp4) == 0.5625);    // 4 bits + an fp8 scale per 16
  CHECK(bytes_per_element(Dtype::mxfp4) == 0.53125);   // 4 bits + an e8m0 scale per 32
  CHECK(bytes_per_element(Dtype::fp8) == 1.0 + 4.0 / 16384);
  CHECK_THROWS_WITH(parse_dtype("int3"), Catch::Matchers::Contains("nvfp4"));
}

TEST_CASE("NCCL fixed costs follow tuning.cc", "[quick][costs]")
{
  NcclLatencies t;
  // 8 GPUs on NVLink, ring Simple all-reduce: 8.4 + 2*7*3.4 = 56 us (docs/simgrid-and-nccl.md's example).
  CHECK(nccl_alpha(t, OpKind::all_reduce, CollAlgo::ring, Proto::simple, 8, LinkClass::nvlink) == Approx(56e-6));
  // 4 GPUs on PCIe, ring LL all-gather: 6.6 + 3*1.0 = 9.6 us.
  CHECK(nccl_alpha(t, OpKind::all_gather, CollAlgo::ring, Proto::ll, 4, LinkClass::pci) == Approx(9.6e-6));
}

TEST_CASE("protocol choice: LL for small, Simple for large, no LL128 on PCIe", "[quick][costs]")
{
  NcclLatencies t;
  // 4 GPUs on PCIe at 50 GB/s, all-reduce of 1 MiB: per-rank wire bytes 1.5 MiB.
  //   LL:     6.6 + 6*1.0 = 12.6 us + 1.5*1048576*2/5e10 = 62.9 us -> 75.5 us
  //   Simple: 8.4 + 6*5.7 = 42.6 us + 1.5*1048576/5e10   = 31.5 us -> 74.1 us (chosen)
  CollChoice big = choose_collective(t, OpKind::all_reduce, 4, 1048576, LinkClass::pci, 5e10, 0);
  CHECK(big.proto == Proto::simple);
  CHECK(big.alpha == Approx(42.6e-6));
  // 64 KiB: LL 12.6 + 3.9 = 16.5 us beats Simple 42.6 + 2.0 us.
  CollChoice small = choose_collective(t, OpKind::all_reduce, 4, 65536, LinkClass::pci, 5e10, 0);
  CHECK(small.proto == Proto::ll);
  CHECK(small.wire_factor == 2.0);
  // On NVLink at 450 GB/s, 1 MiB: LL128 14 + 6*1.9 = 25.4 us + 1.5 MiB*16/15/4.5e11 = 3.73 us -> 29.1 us;
  // Simple 28.8 + 3.50 = 32.3 us; LL 10.2 + 6.99 = 17.2 us (chosen: latency dominates at this size).
  CollChoice nv = choose_collective(t, OpKind::all_reduce, 4, 1048576, LinkClass::nvlink, 4.5e11, 0);
  CHECK(nv.proto == Proto::ll);
  // All-to-all takes the p2p path: per-peer 8 KiB is LL, 1 MiB is Simple; alpha is the given one.
  CHECK(choose_collective(t, OpKind::all_to_all, 4, 3 * 8192, LinkClass::pci, 5e10, 7e-6).proto == Proto::ll);
  CollChoice a2a = choose_collective(t, OpKind::all_to_all, 4, 3 * 1048576, LinkClass::pci, 5e10, 7e-6);
  CHECK(a2a.proto == Proto::simple);
  CHECK(a2a.alpha == 7e-6);
  CHECK(a2a.algo == CollAlgo::direct);
}
