// Bad topologies: each gets an InputError naming the file and line, what is wrong and the fix.
#include "fixtures.hpp"

#include "core/error.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

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

TEST_CASE("The GPU limit of a topology is its loader's: 1,024, or 4,096 for platform build --zones", "[quick][topology]")
{
  // The shipped 4-node rail cluster with `nodes` nodes of 8 GPUs (`nodes:` is its line 5). Loading
  // reads the numbers only (no route is built), so 4,096 GPUs load in milliseconds.
  const auto cluster = [](int nodes) {
    std::ifstream in(std::string(MOESIM_SOURCE_DIR) + "/platforms/cluster-4x8-h100-ib400.yaml");
    std::stringstream text;
    text << in.rdbuf();
    std::string yaml = text.str();
    yaml.replace(yaml.find("\nnodes: 4\n"), 10, "\nnodes: " + std::to_string(nodes) + "\n");
    return yaml;
  };
  // 128 nodes x 8 GPUs = 1,024: at the default limit, loads.
  CHECK(load_topology(yaml_file("limit_128", cluster(128)), catalog()).total_gpus() == 1024);
  // 129 x 8 = 1,032 > 1,024: refused at `nodes`, naming the limit and who holds it.
  CHECK_THAT(error_of("limit_129", cluster(129)),
             Contains("limit_129.yaml:5: nodes: 129 nodes x 8 GPUs is more than the 1024 GPUs a platform may have"));
  // The zoned limit: 512 x 8 = 4,096 loads; 513 x 8 = 4,104 > 4,096 is refused, naming --zones.
  CHECK(load_topology(yaml_file("limit_512", cluster(512)), catalog(), zoned_limit).total_gpus() == 4096);
  try {
    load_topology(yaml_file("limit_513", cluster(513)), catalog(), zoned_limit);
    FAIL("513 nodes x 8 GPUs loaded under the zoned limit");
  } catch (const InputError& e) {
    CHECK_THAT(std::string(e.what()),
               Contains("limit_513.yaml:5: nodes: 513 nodes x 8 GPUs is more than the 4096 GPUs platform build --zones takes"));
    CHECK_THAT(e.fix(), Contains("at most 4096 GPUs"));
  }
}
