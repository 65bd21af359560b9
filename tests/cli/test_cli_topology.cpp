// The topology commands as a user meets them: `platform build` and `show`, topology YAMLs in `run`,
// what-ifs with --set and --sweep, and bad topologies answered by one line naming the file, the
// line and the fix, exit code 2, nothing written.
#include "cli_run.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

const std::string src = MOESIM_SOURCE_DIR;

} // namespace

TEST_CASE("platform build writes the committed XML", "[quick][cli][topology]")
{
  fs::path d = scratch("build");
  Run r = moesim("platform build " + src + "/platforms/ws-4x-rtxpro6000-pcie5-nop2p.yaml -o " + (d / "p.xml").string());
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK(slurp(d / "p.xml") == slurp(src + "/platforms/ws-4x-rtxpro6000-pcie5-nop2p.xml"));
  // A name under platforms/ works too, and - writes to stdout.
  Run s = moesim("platform build hgx-8x-h100 -o -");
  REQUIRE(s.code == 0);
  CHECK(s.out == slurp(src + "/platforms/hgx-8x-h100.xml"));
  // With a what-if: the same machine without P2P stages through host memory.
  Run w = moesim("platform build hgx-8x-h100 --set p2p=off -o -");
  REQUIRE(w.code == 0);
  CHECK_THAT(w.out, Contains("<link_ctn id=\"dram_cpu0\"/><link_ctn id=\"dram_cpu0\"/>") &&
                        Contains("<prop id=\"moesim.p2p\" value=\"no\"/>"));
}

TEST_CASE("platform show tells routes, injection, bisection and draws the machine", "[quick][cli][topology]")
{
  fs::path d = scratch("show");
  Run r = moesim("platform show cluster-4x8-h100-ib400 --svg " + (d / "c.svg").string());
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Contains("GPUs: 32x NVIDIA H100 80GB HBM3"));
  CHECK_THAT(r.out, Contains("nic                  32  400Gbps"));
  CHECK_THAT(r.out, Contains("gpu0 -> gpu9: PXN: NVLink to gpu1, its NIC on rail 1, bottleneck 50 GB/s (the reverse differs)"));
  CHECK_THAT(r.out, Contains("[pcie_gpu0 UP, n0_nic0 UP, n1_nic0 DOWN, pcie_gpu8 DOWN]"));
  // 7 NVLink peers and 21 PXN peers share gpu0's 450 GB/s NVLink, 3 same-rail peers its NIC: 450 + 50.
  CHECK_THAT(r.out, Contains("Per-GPU injection bandwidth (one GPU sending to every other at once): 500 GB/s (every GPU)"));
  CHECK_THAT(r.out, Contains("to other nodes only: 400 GB/s"));
  // Two nodes against two: 16 NICs of 50 GB/s.
  CHECK_THAT(r.out, Contains("Bisection bandwidth: 800 GB/s per direction"));
  CHECK_THAT(r.out, Contains("Drawing:") && Contains("|- sw0") && Contains("rail-optimised"));
  const std::string svg = slurp(d / "c.svg");
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK_THAT(svg, Contains(">nic7<") && Contains("NVSwitch"));
}

TEST_CASE("platform show takes a cluster past the 1,024 GPUs of a route per pair", "[quick][cli][topology]")
{
  // 256 nodes x 8 H100 = 2,048 GPUs, over the 1,024 of a route per GPU pair: show holds its routes
  // per rail (4.2 million pairs; ~1.5 s of CPU).
  fs::path d = scratch("show-2048");
  std::string yaml = slurp(src + "/platforms/cluster-4x8-h100-ib400.yaml");
  yaml.replace(yaml.find("nodes: 4"), 8, "nodes: 256");
  const fs::path file = d / "wide.yaml";
  std::ofstream(file) << yaml;
  Run r = moesim("platform show " + file.string());
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Contains("256 nodes x 8 GPUs = 2048 GPUs"));
  // Ordered pairs: 2,048 GPUs x 7 peers of their node over NVLink = 14,336; x 255 other nodes on
  // the sender's rail = 522,240; x 255 nodes x 7 other rails through a PXN peer = 3,655,680 (in all
  // 2,048 x 2,047 = 4,192,256); every PXN route differs from its reverse (another peer forwards it).
  CHECK_THAT(r.out, Contains("ordered pairs by kind: nvlink 14336 pxn 3655680 rail 522240; 3655680 differ from their reverse"));
  // As at 32 GPUs: 450 GB/s of NVLink and the own NIC's 50 GB/s; off the node the 8 NICs of the
  // GPUs it forwards through.
  CHECK_THAT(r.out, Contains("Per-GPU injection bandwidth (one GPU sending to every other at once): 500 GB/s (every GPU)"));
  CHECK_THAT(r.out, Contains("to other nodes only: 400 GB/s"));
  // 128 nodes against 128: 1,024 NICs of 50 GB/s.
  CHECK_THAT(r.out, Contains("Bisection bandwidth: 51.2 TB/s per direction"));
}

TEST_CASE("a bad topology is one line naming file, line and fix, and nothing is written", "[quick][cli][topology]")
{
  fs::path d = scratch("bad");
  const std::string head = "description: x\ngpu: h100-sxm5-80gb\ngpus: 2\n";
  struct Case {
    std::string yaml, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"description: x\ngpu: h900\ngpus: 2\n", "t.yaml:2: gpu: unknown GPU model 'h900'"},
           {head + "pcie: {gpu_link: 0GBps}\n", "t.yaml:4: pcie.gpu_link: a link with no bandwidth"},
           {head + "pcie: {gpu_link: 53GBps, gpus_at: [cpu0, sw1]}\n", "t.yaml:4: pcie.gpus_at: dangling reference 'sw1'"},
           {head + "nodes: 2\npcie: {gpu_link: 53GBps}\n", "t.yaml:4: network: gpu2 (node 1) has no path to gpu0"},
           {head + "nodes: 2\npcie: {gpu_link: 53GBps}\nnetwork: {nic: 400Gbps, nics_at: [cpu0], rails: 2}\n",
            "network.rails: rails: 2 but 1 NICs per node"},
       }) {
    INFO(c.yaml);
    fs::path y = write(d, "t.yaml", c.yaml);
    Run r = moesim("platform build " + y.string() + " -o " + (d / "t.xml").string());
    expect_usage_error(r, d / "t.xml");
    CHECK_THAT(r.err, Contains(c.expect));
  }
}

TEST_CASE("run takes a topology YAML and simulates what its XML simulates", "[quick][cli][topology]")
{
  const std::string sel = " --plan tp4,ep4 --batch 1 -j 2";
  Run by_name = moesim("run default --platform ws-4x-rtxpro6000-pcie5-nop2p" + sel);
  Run by_yaml = moesim("run default --platform " + src + "/platforms/ws-4x-rtxpro6000-pcie5-nop2p.yaml" + sel);
  REQUIRE(by_name.code == 0);
  REQUIRE(by_yaml.code == 0);
  CHECK(by_yaml.out == by_name.out);
  // A study may name a platform that exists only as a YAML.
  fs::path d = scratch("yamlonly");
  write(d, "my-box.yaml", slurp(src + "/platforms/nvswitch-4x-h200.yaml"));
  Run r = moesim("run default --platform " + (d / "my-box.yaml").string() + " --plan tp4 --batch 1");
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Contains("my-box: 4x NVIDIA H200"));
}

TEST_CASE("what-ifs with --set rerun on a modified platform and say so", "[quick][cli][topology]")
{
  const std::string sel = " --platform ws-4x-rtxpro6000-pcie5-nop2p --plan ep4 --batch 1";
  Run base = moesim("run default" + sel);
  Run fast = moesim("run default" + sel + " --set link.host_memory.bandwidth=1TBps --set link.pcie.bandwidth=128GBps");
  REQUIRE(base.code == 0);
  REQUIRE(fast.code == 0);
  CHECK(fast.out.rfind("what-if (--set): link.host_memory.bandwidth=1TBps, link.pcie.bandwidth=128GBps\n", 0) == 0);
  CHECK(fast.out != base.out);
  // The same machine with P2P on is the p2p platform, number for number.
  Run on = moesim("run default --platform ws-4x-rtxpro6000-pcie5-nop2p --plan tp4 --batch 1 --set p2p=on");
  Run p2p = moesim("run default --platform ws-4x-rtxpro6000-pcie5-p2p --plan tp4 --batch 1");
  REQUIRE(on.code == 0);
  auto row = [](const std::string& out) { return out.substr(out.find("      1  tp4"), 60); };
  CHECK(row(on.out) == row(p2p.out));

  Run bad = moesim("run default" + sel + " --set link.pcie.bandwith=1GBps");
  expect_usage_error(bad, "/nonexistent");
  CHECK_THAT(bad.err, Contains("link.pcie.bandwith: unknown key") && Contains("gpu.mem_bw") && Contains("p2p"));
  // A hand-written XML has no topology to edit.
  fs::path d = scratch("setxml");
  fs::copy_file(src + "/platforms/nvswitch-2x-h100.xml", d / "hand.xml");
  Run xml = moesim("run default --platform " + (d / "hand.xml").string() + " --plan tp2 --batch 1 --set p2p=off");
  expect_usage_error(xml, "/nonexistent");
  CHECK_THAT(xml.err, Contains("hand.xml: --set") && Contains("topology YAML"));
}

TEST_CASE("the PCIe bandwidth sweep of the default study: table, crossover sentences, CSV, SVG", "[slow][cli][topology]")
{
  fs::path d = scratch("sweep");
  Run r = moesim("run default --sweep link.pcie.bandwidth=32GBps,64GBps,128GBps --csv " + (d / "s.csv").string() +
                 " --svg " + (d / "s.svg").string());
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK_THAT(r.out, Contains("against link.pcie.bandwidth = 32GBps, 64GBps, 128GBps"));
  CHECK_THAT(r.out, Contains("ws-4x-rtxpro6000-pcie5-p2p, batch 1:"));
  CHECK_THAT(r.out, Contains("  plan          32GBps    64GBps   128GBps\n  tp4  "));
  // The seed case: on PCIe, EP=4 never catches TP=4, whatever the PCIe bandwidth.
  CHECK_THAT(r.out, Contains("ws-4x-rtxpro6000-pcie5-nop2p, batch 1:"));
  CHECK_THAT(r.out, Contains("  fastest: tp4 at every value\n"));
  CHECK_THAT(r.out, Contains("    ep4 never overtakes tp4: at best"));
  const std::string csv = slurp(d / "s.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 3 * 30);
  CHECK(csv.rfind("study,platform,batch,plan,key,value,value_si,", 0) == 0);
  CHECK_THAT(csv, Contains("default,ws-4x-rtxpro6000-pcie5-p2p,1,ep4,link.pcie.bandwidth,128GBps,1.28e+11,0,"));
  const std::string svg = slurp(d / "s.svg");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK_THAT(svg, Contains("<polyline") && Contains("nvswitch-4x-h200, batch 64"));
}

TEST_CASE("a sweep says where a plan overtakes the fastest one", "[quick][cli][topology]")
{
  // EP's all-to-alls pay the p2p alpha, TP's all-reduces do not: as the alpha grows, TP4 takes over.
  Run r = moesim("run default --platform ws-4x-rtxpro6000-pcie5-p2p --plan tp4,ep4 --batch 64 "
                 "--sweep nccl.p2p_alpha=0us,5us,14us");
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Contains("  fastest: ep4 at 0us, 5us; tp4 at 14us\n"));
  CHECK_THAT(r.out, Contains("tp4 overtakes ep4 between 5us and 14us, at about "));
}

TEST_CASE("bad sweeps are refused before anything runs", "[quick][cli][topology]")
{
  fs::path d = scratch("sweeperr");
  expect_usage_error(moesim("run default --sweep link.pcie.bandwidth=32GBps"), "/nonexistent");
  expect_usage_error(moesim("run default --sweep link.pcie.bw=1GBps,2GBps"), "/nonexistent");
  expect_usage_error(moesim("run default --sweep link.pcie.bandwidth=1GBps,fast"), "/nonexistent");
  Run j = moesim("run default --sweep p2p=on,off --json " + (d / "o.json").string());
  expect_usage_error(j, d / "o.json");
  CHECK_THAT(j.err, Contains("--json: not available with --sweep"));
  Run s = moesim("run default --svg " + (d / "o.svg").string());
  expect_usage_error(s, d / "o.svg");
}

TEST_CASE("list shows each platform once and not the GPU catalogue", "[quick][cli][topology]")
{
  Run r = moesim("list");
  REQUIRE(r.code == 0);
  const std::string line = r.out.substr(r.out.find("platforms:"), r.out.find('\n', r.out.find("platforms:")) - r.out.find("platforms:"));
  CHECK_THAT(line, Contains(" cluster-4x8-h100-ib400 ") && Contains(" ws-4x-rtxpro6000-pcie5-p2p"));
  CHECK_THAT(line, !Contains(" gpus "));
  // hgx-8x-h100.yaml and its generated .xml are one name (and hgx-8x-h100-nop2p another)
  const std::string name = " hgx-8x-h100 ";
  const std::string padded = line + " ";
  CHECK(padded.find(name) != std::string::npos);
  CHECK(padded.find(name) == padded.rfind(name));
}

TEST_CASE("the eight-gpu-boxes study runs on topology YAMLs with mixed routes", "[quick][cli][topology]")
{
  Run r = moesim("run eight-gpu-boxes --batch 1 --plan tp8,ep8");
  REQUIRE(r.code == 0);
  // On the PCIe server, pairs on different sockets stage through host memory and cross UPI.
  CHECK_THAT(r.out, Contains("server-8x-rtxpro6000-pcie-switches: 8x NVIDIA RTX PRO 6000 Blackwell Server Edition"));
  CHECK_THAT(r.out, Contains("cpu_interconnect"));
  CHECK_THAT(r.out, Contains("hgx-8x-b200: 8x NVIDIA B200"));
}

TEST_CASE("the p2p-off study: P2P off costs every all-reduce its hops through host memory", "[quick][cli][topology]")
{
  // TP8 at batch 1 on the PCIe server: with NCCL's default P2P (pairs under one switch) 4 of the 8
  // ring hops go through host memory, without P2P all 8. A 14 KiB all-reduce is LL: 14 steps, each
  // charged 0.917 us more per hop through host memory in proportion: (8 - 4) / 8 x 14 x 0.917 = 6.42 us
  // more fixed cost per call; the bytes move as fast (a ring phase ends with its slowest flow, and
  // both rings have hops through host memory, held to the receiver's read rate), and host memory
  // carries more.
  Run r = moesim("run p2p-off --plan tp8");
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Contains("tp8 at batch 1: ") && Contains("on server-8x-rtxpro6000-pcie-switches-nop2p vs ") &&
                        Contains("+6.42 us in fixed cost") && Contains("no change in moving the bytes") &&
                        Contains("host memory carries"));
}
