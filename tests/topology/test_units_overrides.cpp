// Quantities read the way SimGrid reads them, and what-if overrides applied to a topology.
#include "fixtures.hpp"

#include "core/error.hpp"
#include "topology/units.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;
using Catch::Matchers::Contains;

TEST_CASE("quantities keep number and unit, and compute values as SimGrid does", "[quick][topology]")
{
  // SimGrid: strtod(number) x factor, factor built by repeated x1000 from the base (bits: 0.125).
  const Quantity nic = parse_quantity("400Gbps", Dimension::bandwidth);
  CHECK(nic.value() == 400 * (0.125 * 1000 * 1000 * 1000)); // 50 GB/s
  CHECK(nic.text() == "400Gbps");
  CHECK(parse_quantity("249.6GBps", Dimension::bandwidth).value() == 249.6 * 1e9);
  CHECK(parse_quantity("3.35TBps", Dimension::bandwidth).plain() == "3.35e12");
  CHECK(parse_quantity("81559MiB", Dimension::size).plain() == "85520809984");
  CHECK(parse_quantity("2us", Dimension::time).plain() == "2e-6");
  CHECK(Quantity{989.4, "Tf"}.text() == "989.4Tf");
  CHECK(Quantity{989.4, "Tf"}.plain() == "989.4e12");
  // A bare number is refused (it used to be read as B/s); only 0 may go without a unit.
  CHECK_THROWS_WITH(parse_quantity("53", Dimension::bandwidth), Contains("has no unit") && Contains("GBps"));
  CHECK(parse_quantity("0", Dimension::time).unit == "s");
  // Values that are infinite, overflow, are negative or above the dimension's largest are refused.
  CHECK_THROWS_WITH(parse_quantity("1e300PBps", Dimension::bandwidth), Contains("more than 1e+16 Bps"));
  CHECK_THROWS_AS(parse_quantity("inf", Dimension::bandwidth), std::invalid_argument);
  CHECK_THROWS_AS(parse_quantity("nanGBps", Dimension::bandwidth), std::invalid_argument);
  CHECK_THROWS_WITH(parse_quantity("-5GBps", Dimension::bandwidth), Contains("negative"));
  CHECK_THROWS_WITH(parse_quantity("2s", Dimension::time), Contains("more than 1 s"));
  CHECK_THROWS_WITH(parse_quantity("53 GB/s", Dimension::bandwidth), Contains("unknown unit 'GB/s'") && Contains("GBps"));
  CHECK_THROWS_AS(parse_quantity("fast", Dimension::bandwidth), std::invalid_argument);
}

TEST_CASE("link.<class>.bandwidth sets the GPU-side link and scales the class's other links", "[quick][topology]")
{
  Topology t = topo("ovr_pcie", R"(description: x
gpu: h100-sxm5-80gb
gpus: 2
pcie:
  gpu_link: 50GBps
  switches: [{name: sw0, parent: cpu0, uplink: 25GBps}]
  gpus_at: [sw0, sw0]
)");
  apply_override(t, {"link.pcie.bandwidth", "100GBps"}, "--set");
  CHECK(t.gpu_link.text() == "100GBps");
  CHECK(t.switches[0].uplink.value() == Approx(50e9)); // 25 x 100/50
  CHECK_FALSE(apply_override(t, {"link.nic.bandwidth", "800Gbps"}, "--set")); // no network: nothing to change
  CHECK_FALSE(t.network.has_value());
  apply_override(t, {"gpu.flops", "1978.8Tf"}, "--set");
  CHECK(t.gpu.flops.at(Dtype::bf16).text() == "1978.8Tf");
  CHECK(t.gpu.flops.at(Dtype::fp8).value() == Approx(2 * 1978.9e12)); // scales with bf16
  apply_override(t, {"gpu.flops.fp8", "3000Tf"}, "--set");
  CHECK(t.gpu.flops.at(Dtype::fp8).value() == Approx(3000e12));
  CHECK(apply_override(t, {"link.pcie.latency", "1us"}, "--set"));
  CHECK(t.latency.at("pcie").value() == Approx(1e-6));
  // A class the machine lacks: nothing is set, and the caller is told.
  CHECK_FALSE(apply_override(t, {"link.nvlink.latency", "1us"}, "--set"));
  CHECK_FALSE(t.latency.count("nvlink"));
}

TEST_CASE("p2p=off reroutes through host memory, bad keys and values are refused", "[quick][topology]")
{
  const std::string y = "description: x\ngpu: h100-sxm5-80gb\ngpus: 2\nhost: {memory: 100GBps}\npcie: {gpu_link: 50GBps}\n";
  CHECK(routed("ovr_p2p_on", y).route(0, 1).kind == "phb");
  CHECK(routed("ovr_p2p_off", y, {{"p2p", "off"}}).route(0, 1).kind == "staged");
  Topology t = topo("ovr_bad", y);
  CHECK_THROWS_WITH(apply_override(t, {"link.pcie.bandwith", "1GBps"}, "--set"),
                    Contains("--set: link.pcie.bandwith: unknown key") && Contains("link.<class>.bandwidth"));
  CHECK_THROWS_WITH(apply_override(t, {"link.pcie.bandwidth", "0GBps"}, "--set"), Contains("must be positive"));
  CHECK_THROWS_WITH(apply_override(t, {"p2p", "maybe"}, "--set"), Contains("not on or off"));
  CHECK_THROWS_AS(parse_override("p2p", "--set"), InputError);
  CHECK(override_number({"link.pcie.bandwidth", "128GBps"}, "--sweep").value() == Approx(128e9));
  CHECK_FALSE(override_number({"p2p", "on"}, "--sweep").has_value());
}
