// Hostile input, class by class (issue 12): every bad input is answered by one line naming the file
// (and line), the key and the fix, with exit code 2; nothing crashes, hangs or prints "internal
// error"; no output is partly written, no special file replaced, no temporary file left behind.
// Commands that could hang run under `timeout`, so a hang fails the test (exit 124) instead of the suite.
#include "cli_run.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

const std::string src = MOESIM_SOURCE_DIR;

// One quick scenario (tp2 on the 2-GPU H100 box, batch 1).
std::string small_study(const std::string& extra = "", const std::string& plans = "[tp2]",
                        const std::string& platform = "nvswitch-2x-h100", const std::string& model = "qwen3-30b-a3b")
{
  return "name: small\nmodel: " + model + "\nplatforms: [" + platform +
         "]\nphase: decode\nbatch: [1]\ncontext: 128\nplans: " + plans + "\n" + extra;
}
const std::string quick = "run default --plan tp4 --batch 1 --platform nvswitch-4x-h200 ";

// The usage-error promise without an output file to look for.
void expect_one_line_error(const Run& r)
{
  INFO("stderr: " << r.err);
  CHECK(r.code == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_THAT(r.err, Contains("moesim: error: ") && Contains("(fix: "));
  CHECK_THAT(r.err, !Contains("internal error"));
  CHECK(r.out.empty()); // nothing written on stdout either
}

bool stays_fifo(const fs::path& p)
{
  return fs::is_fifo(fs::symlink_status(p));
}

std::string xml_with(const std::string& from, const std::string& to, int count = 1)
{
  std::string xml = slurp(src + "/platforms/nvswitch-2x-h100.xml");
  for (int i = 0; i < count; i++) {
    const auto at = xml.find(from);
    REQUIRE(at != std::string::npos);
    xml.replace(at, from.size(), to);
  }
  return xml;
}

// Runs the small study on a hand-written variant of nvswitch-2x-h100.xml.
Run run_on_xml(const fs::path& d, const std::string& xml)
{
  write(d, "p.xml", xml);
  return moesim("run " + write(d, "s.yaml", small_study("", "[tp2]", (d / "p.xml").string())).string() + " -j 1");
}

} // namespace

// ---- class 1: special files are written in place or refused, never replaced ----

TEST_CASE("a FIFO output with a reader is written through, and stays a FIFO", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-fifo");
  REQUIRE(mkfifo((d / "f").c_str(), 0600) == 0);
  // The reader copies what arrives into got.json; moesim must write into the FIFO, not replace it.
  Run r = shell("(cat " + (d / "f").string() + " > " + (d / "got.json").string() + " &) ; timeout 60 {moesim} " + quick +
                "--json " + (d / "f").string() + " >/dev/null; rc=$?; sleep 0.5; exit $rc");
  CHECK(r.code == 0);
  CHECK(stays_fifo(d / "f"));
  CHECK_THAT(slurp(d / "got.json"), Contains("\"results\""));
}

TEST_CASE("a FIFO output without a reader is refused in one line, not replaced and no hang", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-fifo-noreader");
  REQUIRE(mkfifo((d / "f").c_str(), 0600) == 0);
  Run r = shell("timeout 60 {moesim} " + quick + "--json " + (d / "f").string());
  expect_one_line_error(r);
  CHECK_THAT(r.err, Contains("--json") && Contains("FIFO"));
  CHECK(stays_fifo(d / "f"));
}

TEST_CASE("a character device output is written in place, never replaced", "[quick][cli][robust]")
{
  // A private copy of /dev/null (major 1, minor 3) so that nothing of the system is at stake.
  fs::path d = scratch("robust-chardev");
  if (mknod((d / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    WARN("cannot create a device node here (not root): checked with a FIFO only");
    return;
  }
  Run r = moesim(quick + "--json " + (d / "null").string() + " --csv " + (d / "r.csv").string());
  CHECK(r.code == 0);
  CHECK(fs::is_character_file(fs::symlink_status(d / "null")));
  CHECK(fs::exists(d / "r.csv"));
}

TEST_CASE("a symlink output is written through to its target and stays a symlink", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-symlink");
  fs::create_directories(d / "real");
  fs::create_symlink(d / "real" / "r.json", d / "link.json");
  Run r = moesim(quick + "--json " + (d / "link.json").string());
  CHECK(r.code == 0);
  CHECK(fs::is_symlink(d / "link.json"));
  CHECK_THAT(slurp(d / "real" / "r.json"), Contains("\"results\""));
  // A link whose target folder does not exist is refused before anything runs.
  fs::create_symlink(d / "nowhere" / "x.json", d / "dangling.json");
  Run bad = moesim(quick + "--json " + (d / "dangling.json").string());
  expect_one_line_error(bad);
  CHECK(fs::is_symlink(d / "dangling.json"));
}

// ---- class 2: non-finite values never reach a solver (no hang) ----

TEST_CASE("a bandwidth that overflows to infinity is refused, not solved forever", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-inf");
  Run set = shell("timeout 60 {moesim} run default --set link.nvlink.bandwidth=1e300PBps");
  expect_one_line_error(set);
  CHECK_THAT(set.err, Contains("--set") && Contains("link.nvlink.bandwidth"));
  std::string yaml = slurp(src + "/platforms/nvswitch-2x-h100.yaml");
  yaml.replace(yaml.find("switch: 450GBps"), 15, "switch: 1e300PBps");
  Run show = shell("timeout 60 {moesim} platform show " + write(d, "t.yaml", yaml).string());
  expect_one_line_error(show);
  CHECK_THAT(show.err, Contains("t.yaml:") && Contains("nvlink.switch"));
}

TEST_CASE("a YAML file yaml-cpp's parser would loop on is refused in one line", "[quick][cli][robust]")
{
  // Found by fuzz_calibration: past a `,` in block context yaml-cpp returns empty documents forever.
  // The first document of this file ends at line 7 (tests/core/test_yaml_guard.cpp derives it).
  const std::string found = src + "/tests/data/fuzz/yaml-hang-1261-bytes.yaml";
  Run r = shell("timeout 20 {moesim} run default --plan tp4 --batch 1 --platform nvswitch-4x-h200 --calibration " + found);
  expect_one_line_error(r);
  CHECK_THAT(r.err, Contains("yaml-hang-1261-bytes.yaml:7:") && Contains("first YAML document"));
}

// ---- class 3: no crash on extreme routing skew ----

TEST_CASE("Zipf routing with a huge or infinite exponent is refused or runs, never crashes", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-zipf");
  for (const char* s : {"400", "inf", "1e9"}) {
    INFO("s = " << s);
    Run r = moesim("run " +
                   write(d, "s.yaml", small_study(std::string("routing: {kind: zipf, s: ") + s + ", seed: 1}\n")).string());
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("routing.s"));
  }
  // The largest exponent accepted runs (every token still reaches top_k distinct experts).
  Run ok = moesim("run " + write(d, "s.yaml", small_study("routing: {kind: zipf, s: 100, seed: 1}\n")).string());
  CHECK(ok.code == 0);
}

// ---- class 4: input SimGrid would abort on is refused before SimGrid sees it ----

TEST_CASE("platform XML SimGrid aborts on is one line naming the file", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-simgrid");
  const std::string nest = [] {
    std::string n;
    for (int i = 0; i < 3000; i++)
      n += "<zone id=\"z" + std::to_string(i) + "\" routing=\"Full\">";
    for (int i = 0; i < 3000; i++)
      n += "</zone>";
    return n;
  }();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"routing=\"Full\"", "routing=\"Bogus\""},
      {"<!-- GPUs -->", nest},
      {"<link id=\"nvlink_gpu1\"", "<link id=\"nvlink_gpu0\" bandwidth=\"1GBps\" latency=\"0\"/><link id=\"nvlink_gpu1\""},
      {"<host id=\"gpu0\" speed=\"989.4Tf\"", "<host id=\"gpu0\" core=\"0\" speed=\"989.4Tf\""},
      {"speed=\"989.4Tf\"", "speed=\"inf\""},
      {"bandwidth=\"450GBps\"", "bandwidth=\"1e400GBps\""},
      {"<platform version=\"4.1\">", "<platform>"},
      {"<route src=\"gpu0\" dst=\"gpu1\" symmetrical=\"YES\">",
       "<route src=\"gpu0\" dst=\"gpu1\"><link_ctn id=\"nvlink_gpu0\" direction=\"UP\"/></route><route src=\"gpu0\" dst=\"gpu1\" symmetrical=\"YES\">"},
  };
  for (const auto& [from, to] : cases) {
    INFO("replacing " << from << " with " << to.substr(0, 120));
    Run r = run_on_xml(d, xml_with(from, to));
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("p.xml"));
  }
}

TEST_CASE("an infinite engine time is refused before SimGrid sees it", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-engine-inf");
  Run r = moesim("run " + write(d, "s.yaml", small_study("engine: {launch_us: inf}\n")).string());
  expect_one_line_error(r);
  CHECK_THAT(r.err, Contains("s.yaml:") && Contains("engine.launch_us"));
}

// ---- class 5: all outputs of a run are written together, or none ----

TEST_CASE("one unwritable output leaves no other output behind", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-partial");
  Run r = moesim(quick + "--json " + (d / "ok.json").string() + " --csv /proc/x.csv");
  expect_one_line_error(r);
  CHECK_FALSE(fs::exists(d / "ok.json"));
  CHECK(fs::is_empty(d));
}

TEST_CASE("an output path that is a folder is refused by every writer, and nothing is left", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-dir");
  const std::string dir = (d / "out").string();
  fs::create_directories(dir);
  const std::string data = src + "/tests/data/";
  const std::vector<std::string> commands = {
      quick + "--json " + dir,
      quick + "--csv " + dir,
      quick + "--trace " + dir,
      quick + "--timeline " + dir,
      "run default --plan tp4 --platform nvswitch-4x-h200 --batch 1 --sweep link.nvlink.bandwidth=100GBps,200GBps --csv " + dir,
      "run default --plan tp4 --platform nvswitch-4x-h200 --batch 1 --sweep link.nvlink.bandwidth=100GBps,200GBps --svg " + dir,
      quick + "--html " + dir,
      "schedule default --plan tp4 --batch 1 -o " + dir,
      "platform build nvswitch-2x-h100 -o " + dir,
      "platform show nvswitch-2x-h100 --svg " + dir,
      "calibrate --nccl-tests " + data + "nccl_tests_all_reduce_synthetic.txt --platform x -o " + dir,
  };
  for (const std::string& c : commands) {
    INFO(c);
    Run r = moesim(c);
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("is a folder"));
    CHECK(fs::is_directory(dir));
    CHECK(fs::is_empty(dir));
    // Nothing beside it either (no out.tmp).
    CHECK(std::distance(fs::directory_iterator(d), fs::directory_iterator()) == 1);
  }
}

TEST_CASE("diff --json into a folder is refused and writes nothing", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-diff-dir");
  const std::string t = (d / "t.json").string();
  REQUIRE(moesim(quick + "--timeline " + t).code == 0);
  fs::create_directories(d / "out");
  Run r = moesim("diff " + t + " " + t + " --json " + (d / "out").string());
  expect_one_line_error(r);
  CHECK(r.out.empty());
  CHECK(fs::is_empty(d / "out"));
}

// ---- class 6: integers too large for their type are refused, not wrapped ----

TEST_CASE("plan degrees that overflow are refused with the limit", "[quick][cli][robust]")
{
  for (const char* plan : {"ep999999999999", "tp65536xep65536", "tp4:mb99999999999", "dp2147483647xtp2"}) {
    INFO(plan);
    Run r = moesim(std::string("run default --plan ") + plan);
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("--plan"));
  }
  fs::path d = scratch("robust-plan-map");
  Run map = moesim("run " + write(d, "s.yaml", small_study("", "\n  - {name: big, attn_tp: 65536, ep: 65536, moe_tp: 1}")).string());
  expect_one_line_error(map);
  CHECK_THAT(map.err, Contains("s.yaml:8"));
}

// ---- class 7: nonsense is refused, not run ----

TEST_CASE("a PP steady-state step count outside 0 or 3-64 is refused", "[quick][cli][robust]")
{
  // 1 or 2 steps leave none to measure after the 2 warm-up steps; 65 is over the limit of 64.
  fs::path d = scratch("robust-pp-steady");
  for (const std::string v : {"1", "2", "-1", "65", "2.5", "many"}) {
    INFO(v);
    Run r = moesim("run " + write(d, "s.yaml", small_study("pp_steady_steps: " + v + "\n", "[pp2]")).string() +
                   " --json " + (d / "r.json").string());
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("s.yaml:") && Contains("pp_steady_steps"));
    CHECK_FALSE(fs::exists(d / "r.json"));
  }
}

TEST_CASE("impossible numbers in a study are refused", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-nonsense");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"engine: {launch_us: nan}\n", "engine.launch_us"},
      {"engine: {launch_us: 1e300}\n", "engine.launch_us"},
      {"gpu_memory_utilization: nan\n", "gpu_memory_utilization"},
  };
  for (const auto& [extra, key] : cases) {
    INFO(extra);
    Run r = moesim("run " + write(d, "s.yaml", small_study(extra)).string());
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("s.yaml:") && Contains(key));
  }
  // Empty lists.
  std::string text = small_study();
  text.replace(text.find("[nvswitch-2x-h100]"), 18, "[]");
  Run np = moesim("run " + write(d, "s.yaml", text).string());
  expect_one_line_error(np);
  CHECK_THAT(np.err, Contains("platforms"));
  text = small_study();
  text.replace(text.find("batch: [1]"), 10, "batch: []");
  Run nb = moesim("run " + write(d, "s.yaml", text).string());
  expect_one_line_error(nb);
  CHECK_THAT(nb.err, Contains("batch"));
  // A key given twice: neither silently wins.
  Run dup = moesim("run " + write(d, "s.yaml", small_study("context: 4096\n")).string());
  expect_one_line_error(dup);
  CHECK_THAT(dup.err, Contains("s.yaml:8") && Contains("context") && Contains("twice"));
  // More microbatches than sequences.
  Run mb = moesim("run default --platform nvswitch-4x-h200 --plan tp2xpp2:mb8 --batch 4");
  expect_one_line_error(mb);
  CHECK_THAT(mb.err, Contains("microbatches"));
  // schedule --batch 0 is not "the study's batch".
  fs::path out = d / "sched.json";
  Run b0 = moesim("schedule default --plan tp4 --batch 0 -o " + out.string());
  expect_usage_error(b0, out);
}

TEST_CASE("impossible numbers in a topology or GPU spec are refused", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-topo-nonsense");
  const std::string base = slurp(src + "/platforms/nvswitch-2x-h100.yaml");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"switch: 450GBps", "switch: 450"},               // no unit: not silently B/s
      {"switch: 450GBps", "switch: inf"},
      {"gpu: h100-sxm5-80gb", "gpu: {name: x, memory: 80GB, mem_bw: 3TBps, tflops: {bf16: inf}}"},
      {"gpu: h100-sxm5-80gb", "gpu: {name: x, memory: 80GB, mem_bw: 3TBps, tflops: {bf16: 900}, flops_eff: 7}"},
  };
  for (const auto& [from, to] : cases) {
    INFO(to);
    std::string yaml = base;
    REQUIRE(yaml.find(from) != std::string::npos);
    yaml.replace(yaml.find(from), from.size(), to);
    Run r = moesim("platform show " + write(d, "t.yaml", yaml).string());
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("t.yaml:"));
  }
  Run os = moesim("platform show cluster-4x8-h100-ib400 --set network.oversubscription=inf");
  expect_one_line_error(os);
  Run nounit = moesim("run default --set link.pcie.bandwidth=128");
  expect_one_line_error(nounit);
  CHECK_THAT(nounit.err, Contains("unit"));
}

TEST_CASE("impossible numbers in platform XML are refused", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-xml-nonsense");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"bandwidth=\"450GBps\"", "bandwidth=\"0GBps\""},
      {"bandwidth=\"450GBps\"", "bandwidth=\"-5GBps\""},
      {"bandwidth=\"450GBps\"", "bandwidth=\"450\""},
      {"latency=\"0\" sharing", "latency=\"-1s\" sharing"},
      {"latency=\"0\" sharing", "latency=\"nan\" sharing"},
      {"<prop id=\"flops_eff\" value=\"0.75\"/>", "<prop id=\"flops_eff\" value=\"7\"/>"},
      {"<prop id=\"moesim.gpus\" value=\"2\"/>", "<prop id=\"moesim.gpus\" value=\"3.7\"/>"},
      {"<prop id=\"mem_bw\" value=\"3.35e12\"/>", "<prop id=\"mem_bw\" value=\"inf\"/>"},
  };
  for (const auto& [from, to] : cases) {
    INFO(to);
    Run r = run_on_xml(d, xml_with(from, to));
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("p.xml"));
  }
}

// ---- class 8: a what-if that changes nothing is not reported as applied ----

TEST_CASE("a what-if on something no platform has is refused", "[quick][cli][robust]")
{
  for (const char* set : {"link.nic.bandwidth=800Gbps", "pxn=off", "gpudirect=off", "network.oversubscription=2",
                          "link.cpu_interconnect.bandwidth=100GBps", "link.nic.latency=1us"}) {
    INFO(set);
    Run r = moesim(std::string("run default --platform nvswitch-4x-h200 --set ") + set);
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("--set") && Contains("changes nothing"));
  }
  Run sw = moesim("run default --platform nvswitch-4x-h200 --sweep link.nic.bandwidth=100Gbps,200Gbps");
  expect_one_line_error(sw);
  CHECK_THAT(sw.err, Contains("--sweep"));
  // On a study mixing platforms the what-if applies where it can, and the report says where not.
  Run mixed = moesim("run default --plan tp4 --batch 1 --set link.nvlink.bandwidth=300GBps");
  CHECK(mixed.code == 0);
  CHECK_THAT(mixed.out, Contains("no effect on ws-4x-rtxpro6000-pcie5-nop2p"));
}

TEST_CASE("calibrate --op that contradicts the log is refused", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-calibrate-op");
  const fs::path out = d / "c.yaml";
  Run r = moesim("calibrate --nccl-tests " + src + "/tests/data/nccl_tests_all_reduce_synthetic.txt --op alltoall --platform x -o " +
                 out.string());
  expect_usage_error(r, out);
  CHECK_THAT(r.err, Contains("all_reduce") && Contains("--op"));
}

// ---- class 9: huge inputs are refused in time, with the limit ----

TEST_CASE("huge inputs are refused within seconds, naming the limit", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-huge");
  std::string yaml = slurp(src + "/platforms/cluster-4x8-h100-ib400.yaml");
  yaml.replace(yaml.find("nodes: 4"), 8, "nodes: 4096");
  Run big = shell("timeout 20 {moesim} platform build " + write(d, "big.yaml", yaml).string() + " -o " + (d / "big.xml").string());
  expect_usage_error(big, d / "big.xml");
  // 4,096 nodes x 8 GPUs = 32,768 GPUs, above limits::gpus (1,024).
  CHECK_THAT(big.err, Contains("1024"));
  // --zones takes up to limits::zoned_gpus (4,096); 513 nodes x 8 = 4,104 GPUs is one over by a
  // node, refused before anything is routed (a whole 4,096-GPU build takes ~22 s, so the in-limit
  // side is the loader's test).
  std::string over = slurp(src + "/platforms/cluster-4x8-h100-ib400.yaml");
  over.replace(over.find("nodes: 4"), 8, "nodes: 513");
  Run zoned = shell("timeout 20 {moesim} platform build --zones " + write(d, "over.yaml", over).string() + " -o " +
                    (d / "over.xml").string());
  expect_usage_error(zoned, d / "over.xml");
  CHECK_THAT(zoned.err, Contains("over.yaml:5: nodes") && Contains("4096 GPUs platform build --zones takes"));
  // The same file without --zones is refused at the per-pair limit.
  Run flat = shell("timeout 20 {moesim} platform build " + (d / "over.yaml").string() + " -o " + (d / "over.xml").string());
  expect_usage_error(flat, d / "over.xml");
  CHECK_THAT(flat.err, Contains("1024 GPUs a platform may have"));
  // platform show holds its routes per rail: the same 4,096 as --zones.
  Run show = shell("timeout 20 {moesim} platform show " + (d / "over.yaml").string());
  expect_one_line_error(show);
  CHECK_THAT(show.err, Contains("over.yaml:5: nodes") && Contains("4096 GPUs platform show takes"));
  std::string wide = slurp(src + "/platforms/nvswitch-2x-h100.yaml");
  wide.replace(wide.find("gpus: 2"), 7, "gpus: 1024\nnodes: 4096");
  Run w = shell("timeout 20 {moesim} platform show " + write(d, "wide.yaml", wide).string());
  expect_one_line_error(w);
  // A 100,000-layer model.
  std::string model = slurp(src + "/workloads/models/qwen3-30b-a3b.yaml");
  const auto at = model.find("\nlayers: ");
  REQUIRE(at != std::string::npos);
  model.replace(at, model.find('\n', at + 1) - at, "\nlayers: 100000");
  write(d, "m.yaml", model);
  Run layers = shell("timeout 20 {moesim} run " +
                     write(d, "s.yaml", small_study("", "[tp2]", "nvswitch-2x-h100", (d / "m.yaml").string())).string());
  expect_one_line_error(layers);
  CHECK_THAT(layers.err, Contains("m.yaml:") && Contains("layers"));
  // Zipf routing draws every token: 64 x 32768 prompt tokens x top 8 of 128 experts x 48 layers
  // = 1.0e11 steps, above the 1e10 limit.
  Run draws = shell("timeout 20 {moesim} run " +
                    write(d, "z.yaml", "name: z\nmodel: qwen3-30b-a3b\nplatforms: [nvswitch-2x-h100]\nphase: prefill\n"
                                       "batch: [64]\ncontext: 0\nprompt: 32768\nrouting: {kind: zipf, s: 1, seed: 1}\n"
                                       "plans: [tp2]\n").string());
  expect_one_line_error(draws);
  CHECK_THAT(draws.err, Contains("z.yaml:5") && Contains("uniform"));
  // nccl-tests sizes.
  Run inf = shell("timeout 20 {moesim} nccl-tests --platform nvswitch-4x-h100 -b 8 -e inf");
  expect_one_line_error(inf);
  Run fine = shell("timeout 20 {moesim} nccl-tests --platform nvswitch-4x-h100 -b 8 -e 256M -f 1.0000001");
  expect_one_line_error(fine);
  CHECK_THAT(fine.err, Contains("-f"));
  // 10,000 sweep values.
  std::string values;
  for (int i = 1; i <= 10000; i++)
    values += (i > 1 ? "," : "") + std::to_string(i) + "GBps";
  Run sweep = shell("timeout 20 {moesim} run default --sweep link.pcie.bandwidth=" + values);
  expect_one_line_error(sweep);
  CHECK_THAT(sweep.err, Contains("--sweep"));
}

// ---- class 10: messages say the user's input, in one line, with the fix ----

TEST_CASE("command-line parse errors are one line with the fix", "[quick][cli][robust]")
{
  for (const char* args : {"run --frobnicate", "run default -j 0", "run default -j x", "schedule default",
                           "nccl-tests --platform nvswitch-4x-h100 -f abc", "diff"}) {
    INFO(args);
    Run r = moesim(args);
    expect_one_line_error(r);
    CHECK(r.err.size() < 400);
  }
}

TEST_CASE("errors name the flag and the user's file, not a temporary one", "[quick][cli][robust]")
{
  Run sw = moesim("run default --plan tp4 --batch 1 --sweep gpu.mem_bytes=1e300PB,80GB");
  expect_one_line_error(sw);
  CHECK_THAT(sw.err, Contains("--sweep") && !Contains("--set"));
  Run set = moesim("run default --set gpu.mem_bytes=1e300PB");
  expect_one_line_error(set);
  CHECK_THAT(set.err, Contains("--set") && !Contains("moesim-platforms") && !Contains("/tmp/"));
  fs::path d = scratch("robust-names");
  // Unknown model and platform names point at the study's line.
  Run m = moesim("run " + write(d, "s.yaml", small_study("", "[tp2]", "nvswitch-2x-h100", "qwen9")).string());
  expect_one_line_error(m);
  CHECK_THAT(m.err, Contains("s.yaml:2") && Contains("qwen9"));
  Run p = moesim("run " + write(d, "s.yaml", small_study("", "[tp2]", "nosuchbox")).string());
  expect_one_line_error(p);
  CHECK_THAT(p.err, Contains("s.yaml:3") && Contains("nosuchbox"));
  Run pf = moesim("run default --platform nosuchbox");
  expect_one_line_error(pf);
  CHECK_THAT(pf.err, Contains("--platform") && Contains("nosuchbox"));
  // A plan map that does not fit the platform: the line of the plan.
  Run plan = moesim("run " + write(d, "s.yaml", small_study("", "\n  - {name: odd, attn_tp: 4, moe_tp: 4}")).string());
  expect_one_line_error(plan);
  CHECK_THAT(plan.err, Contains("s.yaml:8"));
  // A scalar plan too.
  Run scalar = moesim("run " + write(d, "s.yaml", small_study("", "[tp4]")).string());
  expect_one_line_error(scalar);
  CHECK_THAT(scalar.err, Contains("s.yaml:7"));
  // An integer out of range says the range, not "expected an integer".
  std::string text = small_study();
  text.replace(text.find("context: 128"), 12, "context: 1e12");
  Run ctx = moesim("run " + write(d, "s.yaml", text).string());
  expect_one_line_error(ctx);
  CHECK_THAT(ctx.err, Contains("context") && Contains("at most"));
}

// ---- class 11: temporary folders are removed on every exit path, signals included ----

TEST_CASE("a run ended by SIGTERM, SIGINT, SIGHUP or SIGABRT leaves no temporary files and no outputs", "[quick][cli][robust]")
{
  for (const char* sig : {"TERM", "INT", "HUP", "ABRT"}) { // ABRT: as a library's abort() would
    INFO("SIG" << sig);
    fs::path d = scratch(std::string("robust-signal-") + sig);
    fs::create_directories(d / "tmp");
    // A sweep over generated platforms runs long enough (several seconds) to be interrupted. A
    // shell starts background jobs with SIGINT ignored (and moesim keeps an ignored signal
    // ignored, as nohup expects), so env restores its default first.
    Run r = shell("env --default-signal=INT TMPDIR=" + (d / "tmp").string() + " {moesim} run default --set gpu.flops_eff=0.7 --sweep " +
                  "link.pcie.bandwidth=8GBps,16GBps,32GBps,64GBps,128GBps,256GBps,512GBps,1TBps -j 1 --csv " +
                  (d / "o.csv").string() + " >/dev/null & pid=$!; sleep 1.5; kill -" + sig +
                  " $pid; wait $pid; echo rc=$?");
    CHECK_THAT(r.out, !Contains("rc=0"));
    sleep(1);
    CHECK(fs::is_empty(d / "tmp"));
    CHECK_FALSE(fs::exists(d / "o.csv"));
  }
}

TEST_CASE("temporary files go under TMPDIR and are gone after an error", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-tmp-error");
  fs::create_directories(d / "tmp");
  // Generated platforms, then a scenario that fails on input after they exist.
  Run r = shell("TMPDIR=" + (d / "tmp").string() + " {moesim} run default --set gpu.mem_bytes=1GB");
  expect_one_line_error(r);
  CHECK(fs::is_empty(d / "tmp"));
}

// ---- class 12: diff and calibrate refuse impossible data ----

TEST_CASE("diff refuses timelines with impossible times", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-diff-data");
  const std::string t = (d / "t.json").string();
  REQUIRE(moesim(quick + "--timeline " + t).code == 0);
  const nlohmann::json good = nlohmann::json::parse(slurp(t));
  auto variant = [&](auto edit) {
    nlohmann::json j = good;
    edit(j);
    std::ofstream(d / "bad.json") << j.dump();
    return (d / "bad.json").string();
  };
  const std::vector<std::string> bad = {
      variant([](nlohmann::json& j) { j["step_time"] = 0; }), // would report "error 0.0%"
      variant([](nlohmann::json& j) { j["step_time"] = -1; }),
      variant([](nlohmann::json& j) { j["events"][0]["end"] = -1e-3; }),
      variant([](nlohmann::json& j) { j["events"][0]["start"] = j["events"][0]["end"].get<double>() + 1; }),
      variant([](nlohmann::json& j) { j["events"][0]["end"] = j["step_time"].get<double>() * 2; }),
  };
  for (const std::string& b : bad) {
    Run r = moesim("diff " + t + " " + b);
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("bad.json"));
  }
}

TEST_CASE("calibrate refuses nccl-tests rows with impossible times, naming the line", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-calibrate-data");
  const std::string log = slurp(src + "/tests/data/nccl_tests_all_reduce_synthetic.txt");
  // Replace the out-of-place time of the first data row.
  std::istringstream in(log);
  std::string line, first_row;
  int lineno = 0, row_line = 0;
  while (std::getline(in, line)) {
    lineno++;
    if (!line.empty() && line[0] != '#' && first_row.empty())
      first_row = line, row_line = lineno;
  }
  REQUIRE(!first_row.empty());
  for (const char* t : {"nan", "-5.00", "0"}) {
    INFO(t);
    std::istringstream w(first_row);
    std::string f[6];
    for (auto& x : f)
      w >> x;
    std::string row = first_row;
    const auto at = row.find(f[5], row.find(f[4]) + f[4].size());
    row.replace(at, f[5].size(), t);
    std::string text = log;
    text.replace(text.find(first_row), first_row.size(), row);
    const fs::path out = d / "c.yaml";
    Run r = moesim("calibrate --nccl-tests " + write(d, "l.txt", text).string() + " --platform x -o " + out.string());
    expect_usage_error(r, out);
    CHECK_THAT(r.err, Contains("l.txt:" + std::to_string(row_line)));
  }
}

// ---- the hostile-input sweep of 2026-12-06 (docs/robustness.md): what it found, class by class ----

TEST_CASE("a key given twice in a calibration's launch_us_by_op is refused, not first-wins", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-dupkey");
  // launch_us_by_op is a map the calibration loader iterated itself, so the rule that Fields keeps
  // (a key twice is refused) did not reach it: gemm 4 us was used and 5 us dropped, exit 0.
  const fs::path cal = write(d, "c.yaml", "platform: nvswitch-2x-h100\nmeasured_on: \"x\"\nsource: \"y\"\nhost:\n"
                                          "  launch_us_by_op:\n    gemm: 4\n    gemm: 5\n");
  Run r = moesim("run " + write(d, "s.yaml", small_study()).string() + " -j 1 --calibration " + cal.string());
  expect_one_line_error(r);
  // The second gemm is the file's 7th line, the first its 6th.
  CHECK_THAT(r.err, Contains("c.yaml:7: host.launch_us_by_op.gemm: given twice (first at line 6)"));
}

TEST_CASE("calibration numbers are finite and in range: host costs, kernel and collective points, efficiencies", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-calnum");
  const fs::path s = write(d, "s.yaml", small_study());
  const std::string head = "platform: nvswitch-2x-h100\nmeasured_on: \"x\"\nsource: \"y\"\n";
  // Each ran with exit 0 before: a 1e300 us launch gave a step of ~1e296 s; flops_eff 7 a GPU 7x
  // its peak; an infinite collective time passed the "positive" test.
  for (const auto& [body, key] : std::vector<std::pair<std::string, std::string>>{
           {"host:\n  sync_us: 1e300\n", "host.sync_us"},
           {"host:\n  launch_us_by_op: {rmsnorm: 99999999999999999999}\n", "host.launch_us_by_op.rmsnorm"},
           {"compute:\n  flops_eff: 7\n", "compute.flops_eff"},
           {"collectives:\n  - {op: all_reduce, ranks: 2, points: [[1024, .inf]]}\n", "collectives[].points"},
           {"kernels:\n  - {op: rmsnorm, dtype: bf16, shape: [0, 2048], vary: 0, points: [[1e300, 4e-6]]}\n", "kernels[].points"}}) {
    INFO(body);
    Run r = moesim("run " + s.string() + " -j 1 --calibration " + write(d, "c.yaml", head + body).string());
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("c.yaml:") && Contains(key));
  }
}

TEST_CASE("a plan with a trailing or doubled separator is refused, not read as the plan before it", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-plansep");
  const fs::path s = write(d, "s.yaml", small_study());
  // getline drops an empty last field: "tp2x" ran as tp2, "tp2:" and "tp2::a2a" as tp2 and tp2:a2a.
  for (const char* plan : {"tp2x", "tp2:", "tp2::a2a", "tp2xx"}) {
    INFO(plan);
    Run r = moesim("run " + s.string() + " -j 1 --plan " + plan);
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("--plan") && Contains(plan));
  }
  CHECK(moesim("run " + s.string() + " -j 1 --plan tp2:allreduce").code == 0);
}

TEST_CASE("serve and search refuse counts out of range in time, not by running out of memory", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-serve");
  const fs::path s = write(d, "s.yaml", small_study("engine: vllm-0.11\n"));
  // 2^31-1 requests ended in std::bad_alloc ("internal error", exit 1); 10^6 take ~2 s.
  Run many = shell("timeout 20 {moesim} serve " + s.string() + " --requests 2147483647 --input 64 --output 8");
  expect_one_line_error(many);
  CHECK_THAT(many.err, Contains("--requests") && Contains("1000000"));
  // A prompt past the context limit (16,777,216 tokens).
  Run longp = shell("timeout 20 {moesim} serve " + s.string() + " --requests 1 --input 16777217 --output 8");
  expect_one_line_error(longp);
  CHECK_THAT(longp.err, Contains("--input") && Contains("16777216"));
  // search's zipf:S had no upper bound (a study's routing.s has 100); 0 and negatives for --gpus and
  // --prompt were read as "not given".
  const std::string search = "timeout 20 {moesim} search --model qwen3-30b-a3b --platform nvswitch-2x-h100 -j 1 --batch 1 ";
  for (const auto& [args, flag] : std::vector<std::pair<std::string, std::string>>{
           {"--routing zipf:400", "--routing"}, {"--gpus 0", "--gpus"}, {"--prompt -1", "--prompt"},
           {"--phase prefill --prompt 0", "--prompt"}}) {
    INFO(args);
    Run r = shell(search + args);
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains(flag));
  }
  // A batch size given twice was searched twice, each of its candidates listed twice.
  Run twice = shell("timeout 20 {moesim} search --model qwen3-30b-a3b --platform nvswitch-2x-h100 -j 1 --batch 1,1");
  expect_one_line_error(twice);
  CHECK_THAT(twice.err, Contains("--batch") && Contains("given twice"));
}

TEST_CASE("model import writes its output as every other writer: folder refused, symlink followed", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-import");
  const fs::path cfg = write(d, "config.json",
                             R"({"architectures": ["MixtralForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32,
                                 "vocab_size": 32000, "num_attention_heads": 32, "num_key_value_heads": 8,
                                 "num_local_experts": 8, "num_experts_per_tok": 2, "intermediate_size": 14336,
                                 "tie_word_embeddings": false, "torch_dtype": "bfloat16"})");
  // A folder: "internal error: cannot rename", and out.tmp left beside it.
  fs::create_directories(d / "out");
  Run dir = moesim("model import " + cfg.string() + " -o " + (d / "out").string());
  expect_one_line_error(dir);
  CHECK_THAT(dir.err, Contains("is a folder"));
  CHECK(fs::is_empty(d / "out"));
  CHECK_FALSE(fs::exists(d / "out.tmp"));
  // A symlink was replaced by a regular file; now its target is written and the link stays.
  fs::create_symlink("target.yaml", d / "link.yaml");
  Run link = moesim("model import " + cfg.string() + " --name m -o " + (d / "link.yaml").string());
  CHECK(link.code == 0);
  CHECK(fs::is_symlink(d / "link.yaml"));
  CHECK_THAT(slurp(d / "target.yaml"), Contains("hidden: 4096"));
}

TEST_CASE("an output flag given an empty path is refused, not taken as no flag", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-empty-out");
  const fs::path s = write(d, "s.yaml", small_study());
  // `--json "$OUT"` with OUT unset ran and wrote nothing, exit 0.
  for (const char* flag : {"--json", "--csv", "--trace", "--html", "--timeline"}) {
    INFO(flag);
    Run r = shell("{moesim} run " + s.string() + " -j 1 " + flag + " ''");
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains(flag) && Contains("an empty path"));
  }
  Run sched = shell("{moesim} schedule " + s.string() + " --plan tp2 -o ''");
  expect_one_line_error(sched);
  CHECK_THAT(sched.err, Contains("--output"));
}

TEST_CASE("JSON inputs with a number past double's range, and devices, are input errors in every reader", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-json");
  const std::string t = (d / "t.json").string();
  REQUIRE(moesim("run " + write(d, "s.yaml", small_study()).string() + " -j 1 --timeline " + t).code == 0);
  // diff and calibrate --op-bench caught only nlohmann's parse_error, and 1e400 is its out_of_range.
  std::string text = slurp(t);
  const auto at = text.find("\"step_time\":");
  REQUIRE(at != std::string::npos);
  text.insert(at + 12, "1e400,\"x\":");
  Run diff = moesim("diff " + t + " " + write(d, "big.json", text).string());
  expect_one_line_error(diff);
  CHECK_THAT(diff.err, Contains("big.json") && Contains("malformed JSON"));
  Run ob = moesim("calibrate --platform x --op-bench " + write(d, "ob.json", "{\"format\": 1e400}").string() + " -o " +
                  (d / "c.yaml").string());
  expect_usage_error(ob, d / "c.yaml");
  CHECK_THAT(ob.err, Contains("ob.json"));
  // transfer and search --merge read their files whole with no limit: /dev/zero never ended.
  Run tr = shell("timeout 20 {moesim} transfer /dev/zero --to h100-sxm5-80gb -o " + (d / "pred.json").string());
  expect_one_line_error(tr);
  CHECK_THAT(tr.err, Contains("/dev/zero"));
  Run merge = shell("timeout 20 {moesim} search --merge /dev/zero");
  expect_one_line_error(merge);
  CHECK_THAT(merge.err, Contains("/dev/zero"));
}

TEST_CASE("an nccl-tests row edited into non-numbers or a fractional size is refused, not skipped", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-nccl-row");
  const std::string log = slurp(src + "/tests/data/nccl_tests_all_reduce_synthetic.txt");
  // The first row of the synthetic log, line 14: size 1024, time 20.01 us, algbw 0.05, busbw 0.08.
  const std::string row = "        1024           256     float     sum      -1    20.01    0.05    0.08";
  REQUIRE(log.find(row) != std::string::npos);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"20.01    0.05", "20.01     nan"}, {"0.05    0.08", "0.05     abc"}, {"        1024  ", "      1024.5  "}}) {
    INFO(to);
    std::string edited = row;
    edited.replace(edited.find(from), from.size(), to);
    std::string text = log;
    text.replace(text.find(row), row.size(), edited);
    const fs::path out = d / "c.yaml";
    Run r = moesim("calibrate --nccl-tests " + write(d, "l.txt", text).string() + " --platform x -o " + out.string());
    expect_usage_error(r, out);
    CHECK_THAT(r.err, Contains("l.txt:14"));
  }
}

TEST_CASE("an XML compute capability out of range is refused, not cast to int", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-xml-sm");
  // static_cast<int>(1e300) is undefined; "sm" now has gpus.yaml's rule: a whole number, 30 to 999.
  for (const char* sm : {"1e300", "99999999999999999999", "1000", "90.5"}) {
    INFO(sm);
    Run r = run_on_xml(d, xml_with("<prop id=\"sm\" value=\"90\"/>", std::string("<prop id=\"sm\" value=\"") + sm + "\"/>", 2));
    expect_one_line_error(r);
    CHECK_THAT(r.err, Contains("p.xml") && Contains("sm"));
  }
}

TEST_CASE("published rows: an empty list and counts out of range are refused", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-published");
  const std::string row = "rows:\n  - id: r\n    category: pcie\n    source: \"s\"\n    date: \"d\"\n    engine: vllm-0.11\n"
                          "    engine_version: \"v\"\n    model: qwen3-30b-a3b\n    platform: nvswitch-2x-h100\n"
                          "    interconnect: \"i\"\n    plan: tp2\n    workload: {kind: decode, batch: 1, context: CTX}\n"
                          "    metric: tok_s_user\n    measured: 49\n";
  auto with = [&](const std::string& ctx) {
    std::string t = row;
    t.replace(t.find("CTX"), 3, ctx);
    return write(d, "p.yaml", t).string();
  };
  const fs::path out = d / "out.md";
  REQUIRE(moesim("published " + with("2048") + " -o " + out.string()).code == 0);
  fs::remove(out);
  // A negative context ran (exit 0); past limits::context (16,777,216) too.
  for (const char* ctx : {"-5", "16777217"}) {
    INFO(ctx);
    Run r = moesim("published " + with(ctx) + " -o " + out.string());
    expect_usage_error(r, out);
    CHECK_THAT(r.err, Contains("p.yaml:12") && Contains("context"));
  }
  // No rows at all wrote an empty table, exit 0.
  Run none = moesim("published " + write(d, "none.yaml", "rows: []\n").string() + " -o " + out.string());
  expect_usage_error(none, out);
  CHECK_THAT(none.err, Contains("none.yaml") && Contains("rows"));
}

TEST_CASE("an output that is one of the command's inputs is refused, and the input is left as it was", "[quick][cli][robust]")
{
  fs::path d = scratch("robust-sweep-out-is-in");
  const std::string study = small_study();
  const fs::path s = write(d, "s.yaml", study);
  // `run s.yaml --json s.yaml` replaced the study with the results, exit 0; so did every writer.
  Run same = moesim("run " + s.string() + " -j 1 --json " + s.string());
  expect_one_line_error(same);
  CHECK_THAT(same.err, Contains("--json") && Contains("is also an input"));
  CHECK(slurp(s) == study);
  // The same file by another name (a symlink) is the same file.
  fs::create_symlink("s.yaml", d / "link.yaml");
  Run link = moesim("run " + s.string() + " -j 1 --csv " + (d / "link.yaml").string());
  expect_one_line_error(link);
  CHECK(slurp(s) == study);
  CHECK(fs::is_symlink(d / "link.yaml"));
  // diff, calibrate and model import the same way.
  const std::string t = (d / "t.json").string();
  REQUIRE(moesim("run " + s.string() + " -j 1 --timeline " + t).code == 0);
  const std::string timeline = slurp(t);
  Run diff = moesim("diff " + t + " " + t + " --json " + t);
  expect_one_line_error(diff);
  CHECK(slurp(t) == timeline);
  const std::string log = slurp(src + "/tests/data/nccl_tests_all_reduce_synthetic.txt");
  const fs::path l = write(d, "l.txt", log);
  Run cal = moesim("calibrate --nccl-tests " + l.string() + " --platform x -o " + l.string());
  expect_one_line_error(cal);
  CHECK(slurp(l) == log);
  const fs::path cfg = write(d, "config.json", "{}");
  Run imp = moesim("model import " + cfg.string() + " -o " + cfg.string());
  expect_one_line_error(imp);
  CHECK(slurp(cfg) == "{}");
}
