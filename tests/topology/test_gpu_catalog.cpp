// platforms/gpus.yaml carries what the transfer of measured op times scales by, for every GPU.
#include "fixtures.hpp"

#include "core/error.hpp"
#include "topology/gpu_catalog.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;
using Catch::Matchers::Contains;

TEST_CASE("every catalogue GPU has SMs, a boost clock and an L2 for the transfer", "[quick][topology][transfer]")
{
  const GpuCatalog& c = catalog();
  for (const std::string& key : c.names()) {
    INFO(key);
    const TransferGpu g = transfer_gpu(*c.find(key), c.file());
    CHECK(g.sms > 0);
    CHECK(g.clock_hz > 0);
    CHECK(g.l2_bytes > 0);
  }
  // H100 SXM5: 132 SMs at 1980 MHz, 50 MiB = 52428800 B of L2, 989.4e12 bf16 FLOP/s; the bf16 rate
  // per SM is 989.4e12 / 132 = 7.4955e12 FLOP/s. No FP4: nvfp4 runs at the bf16 rate.
  const TransferGpu h = transfer_gpu(*c.find("h100-sxm5-80gb"), c.file());
  CHECK(h.sms == 132);
  CHECK(h.clock_hz == 1980e6);
  CHECK(h.l2_bytes == 52428800);
  CHECK(h.peak(Dtype::nvfp4) == Approx(989.4e12));
  CHECK(h.name == "NVIDIA H100 80GB HBM3");
  // Found by key or by the nvidia-smi name the measurement files carry.
  CHECK(find_gpu(c, "NVIDIA H200") == c.find("h200-sxm-141gb"));
  CHECK(find_gpu(c, "NVIDIA H300") == nullptr);
}

TEST_CASE("a GPU spec without the transfer numbers cannot be a transfer target", "[quick][topology][transfer]")
{
  GpuModel m = *catalog().find("h200-sxm-141gb");
  m.sms = 0;
  CHECK_THROWS_WITH(transfer_gpu(m, "gpus.yaml"), Contains("gpus.yaml: gpus.h200-sxm-141gb") && Contains("SM count"));
}
