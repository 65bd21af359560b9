// Bad topologies: each gets an InputError naming the file and line, what is wrong and the fix.
#include "fixtures.hpp"

#include "core/error.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;
using Catch::Matchers::Contains;

namespace {

const std::string base = "description: x\ngpu: h100-sxm5-80gb\ngpus: 2\n";

// The error's message for a topology that must fail to load or route.
std::string error_of(const std::string& name, const std::string& text)
{
  try {
    routed(name, text);
  } catch (const InputError& e) {
    CHECK_FALSE(e.fix().empty());
    return e.what();
  }
  FAIL("no error for " << name);
  return "";
}

} // namespace

TEST_CASE("An unknown GPU model lists the catalogue", "[quick][topology]")
{
  std::string m = error_of("bad_gpu", "description: x\ngpu: h900\ngpus: 2\n");
  CHECK_THAT(m, Contains("bad_gpu.yaml:2: gpu: unknown GPU model 'h900'") && Contains("h100-sxm5-80gb") &&
                    Contains("gpus.yaml"));
}

TEST_CASE("A link with no bandwidth", "[quick][topology]")
{
  CHECK_THAT(error_of("no_bw", base + "pcie:\n  gpu_link: 0GBps\n"),
             Contains("no_bw.yaml:5: pcie.gpu_link: a link with no bandwidth") && Contains("fix:"));
  CHECK_THAT(error_of("no_uplink", base + "pcie:\n  gpu_link: 53GBps\n  switches:\n    - {name: sw0, parent: cpu0}\n"),
             Contains("no_uplink.yaml:7: pcie.switches[].uplink: missing required key"));
  CHECK_THAT(error_of("bad_unit", base + "pcie: {gpu_link: 53 parsecs}\n"),
             Contains("bad_unit.yaml:4: pcie.gpu_link") && Contains("unknown unit"));
}

TEST_CASE("A dangling reference names the known attach points", "[quick][topology]")
{
  CHECK_THAT(error_of("dangling", base + "pcie:\n  gpu_link: 53GBps\n  gpus_at: [cpu0, sw9]\n"),
             Contains("dangling.yaml:6: pcie.gpus_at: dangling reference 'sw9'") && Contains("cpu0"));
  CHECK_THAT(error_of("dangling_parent",
                      base + "pcie:\n  gpu_link: 53GBps\n  switches:\n    - {name: sw0, parent: cpu3, uplink: 53GBps}\n"),
             Contains("dangling_parent.yaml:7: pcie.switches.sw0.parent: dangling reference 'cpu3'"));
  CHECK_THAT(error_of("loop", base + "pcie:\n  gpu_link: 53GBps\n  switches:\n    - {name: a, parent: b, uplink: 1GBps}\n"
                                     "    - {name: b, parent: a, uplink: 1GBps}\n"),
             Contains("loop.yaml:7") && Contains("loop"));
}

TEST_CASE("A rail count that does not match the NICs", "[quick][topology]")
{
  CHECK_THAT(error_of("rails", base + "nodes: 2\npcie: {gpu_link: 53GBps}\nnetwork:\n  nic: 400Gbps\n  nics_at: [cpu0, cpu0]\n"
                                      "  rails: 4\n"),
             Contains("rails.yaml:9: network.rails: rails: 4 but 2 NICs per node") && Contains("set rails: 2"));
}

TEST_CASE("A GPU with no path", "[quick][topology]")
{
  // Two nodes and no network.
  CHECK_THAT(error_of("no_network", base + "nodes: 2\npcie: {gpu_link: 53GBps}\n"),
             Contains("no_network.yaml:4: network: gpu2 (node 1) has no path to gpu0") && Contains("add a network"));
  // GPUs with neither PCIe nor NVLink.
  CHECK_THAT(error_of("islands", base), Contains("islands.yaml:3: pcie.gpu_link: gpu1 has no path to gpu0"));
  // Two sockets without an interconnect.
  CHECK_THAT(error_of("sockets", base + "host: {sockets: 2}\npcie: {gpu_link: 53GBps, gpus_at: [cpu0, cpu1]}\n"),
             Contains("host.interconnect") && Contains("not connected"));
  // Connected, but no route under the policy: staging needs host memory.
  CHECK_THAT(error_of("no_memory", base + "p2p: false\npcie: {gpu_link: 53GBps}\n"),
             Contains("no_memory.yaml:4: gpu0 -> gpu1: no route") && Contains("host.memory"));
}

TEST_CASE("Unknown keys and malformed values are refused with the line", "[quick][topology]")
{
  CHECK_THAT(error_of("unknown_key", base + "nvlinks: {switch: 450GBps}\n"),
             Contains("unknown_key.yaml:4: nvlinks: unknown key") && Contains("nvlink"));
  CHECK_THAT(error_of("both", base + "nvlink: {switch: 450GBps, mesh: 100GBps}\n"), Contains("exactly one of switch or mesh"));
  CHECK_THAT(error_of("pair", base + "nvlink: {mesh: 100GBps, pairs: [[0, 2]]}\n"),
             Contains("pair.yaml:4") && Contains("does not name two GPUs"));
}
