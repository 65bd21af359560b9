// `moesim schedule` reads what an engine's path choices need from the XML alone
// (platform_traits_from_xml, platform_gpus_from_xml) while `moesim run` reads it from the loaded
// SimGrid platform (platform_traits, Platform): both must build the same step, so on each kind of
// shipped machine the two agree. One platform per test case: one SimGrid engine per process.
#include "sim/platform_check.hpp"
#include "sim/simulation.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace moesim;

namespace {

// The XML's traits and GPUs against the loaded platform's; returns the XML's traits.
PlatformTraits same_traits(const std::string& name)
{
  const std::string file = std::string(MOESIM_SOURCE_DIR) + "/platforms/" + name + ".xml";
  const PlatformTraits x = platform_traits_from_xml(file);
  const std::vector<XmlGpu> gpus = platform_gpus_from_xml(file);
  Simulation sim(file);
  const PlatformTraits s = platform_traits(sim.platform());
  CHECK(x.gpus == s.gpus);
  CHECK(x.gpus_per_node == s.gpus_per_node);
  CHECK(x.nvlink == s.nvlink);
  CHECK(x.p2p == s.p2p);
  REQUIRE(static_cast<int>(gpus.size()) == sim.platform().gpus());
  for (int r = 0; r < sim.platform().gpus(); r++) {
    CHECK(gpus[r].name == "gpu" + std::to_string(r));
    CHECK(gpus[r].mem_bytes == sim.platform().gpu(r).mem_bytes);
  }
  return x;
}

} // namespace

TEST_CASE("platform traits from the XML: 4x H200 on NVSwitch", "[quick][sim][platform]")
{
  // One node of 4 GPUs, every pair over NVLink through the switch, peer access on.
  const PlatformTraits t = same_traits("nvswitch-4x-h200");
  CHECK(t.gpus == 4);
  CHECK(t.gpus_per_node == 4);
  CHECK(t.nvlink);
  CHECK(t.p2p);
  // nvidia-smi's 143771 MiB = 143771 x 1048576 = 150754820096 bytes per H200.
  CHECK(platform_gpus_from_xml(std::string(MOESIM_SOURCE_DIR) + "/platforms/nvswitch-4x-h200.xml")[3].mem_bytes ==
        150754820096.0);
}

TEST_CASE("platform traits from the XML: 4x H200 with peer access off", "[quick][sim][platform]")
{
  // NVLink is cabled but unused: every pair is staged through host memory, so neither NVLink nor P2P.
  const PlatformTraits t = same_traits("nvswitch-4x-h200-nop2p");
  CHECK(t.gpus == 4);
  CHECK_FALSE(t.nvlink);
  CHECK_FALSE(t.p2p);
}

TEST_CASE("platform traits from the XML: 4x RTX PRO 6000 on PCIe without P2P", "[quick][sim][platform]")
{
  // PCIe only, GPU to GPU through host DRAM: no NVLink, no P2P.
  const PlatformTraits t = same_traits("ws-4x-rtxpro6000-pcie5-nop2p");
  CHECK(t.gpus == 4);
  CHECK_FALSE(t.nvlink);
  CHECK_FALSE(t.p2p);
}

TEST_CASE("platform traits from the XML: 4 nodes of 8 H100 over InfiniBand", "[quick][sim][platform]")
{
  // moesim.gpus = 32 and moesim.gpus_per_node = 8; inside a node NVLink through NVSwitch (the
  // network between nodes does not count).
  const PlatformTraits t = same_traits("cluster-4x8-h100-ib400");
  CHECK(t.gpus == 32);
  CHECK(t.gpus_per_node == 8);
  CHECK(t.nvlink);
  CHECK(t.p2p);
}
