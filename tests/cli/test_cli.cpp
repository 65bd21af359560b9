// The moesim command line as a user meets it: the default study's pinned output, and bad input
// answered by one line naming the file, the key and the fix, exit code 2, nothing written.
#include "cli_run.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;
using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

// A small valid study to mutate.
std::string study_text(const std::string& extra = "", const std::string& plans = "[tp2]",
                       const std::string& platform = "nvswitch-2x-h100")
{
  return "name: small\nmodel: qwen3-30b-a3b\nplatforms: [" + platform +
         "]\nphase: decode\nbatch: [1]\ncontext: 128\nplans: " + plans + "\n" + extra;
}

} // namespace

TEST_CASE("the default study prints its pinned output", "[quick][cli]")
{
  Run r = moesim("");
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK(r.out == slurp(fs::path(MOESIM_SOURCE_DIR) / "tests/cli/expected/default.txt"));
}

TEST_CASE("the heap settings change no number: glibc's defaults print the same bytes", "[quick][cli]")
{
  // core/heap_tuning only changes where memory comes from; MOESIM_HEAP_DEFAULTS=1 leaves glibc's
  // defaults, and the default study and a Zipf-routed study must print what the tuned heap prints.
  const std::string skewed = "run skewed-routing --batch 64 -j 1";
  Run tuned = moesim(skewed), plain = shell("MOESIM_HEAP_DEFAULTS=1 {moesim} " + skewed);
  REQUIRE(tuned.code == 0);
  REQUIRE(plain.code == 0);
  CHECK(tuned.out == plain.out);
  Run def = shell("MOESIM_HEAP_DEFAULTS=1 {moesim}");
  REQUIRE(def.code == 0);
  CHECK(def.out == slurp(fs::path(MOESIM_SOURCE_DIR) / "tests/cli/expected/default.txt"));
}

TEST_CASE("the same input gives the same bytes out, whatever the parallelism", "[quick][cli]")
{
  fs::path d = scratch("determinism");
  Run a = moesim("run --json " + (d / "a.json").string() + " --csv " + (d / "a.csv").string() + " -j 1");
  Run b = moesim("run --json " + (d / "b.json").string() + " --csv " + (d / "b.csv").string() + " -j 3");
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  CHECK(a.out == b.out);
  CHECK(slurp(d / "a.json") == slurp(d / "b.json"));
  CHECK(slurp(d / "a.csv") == slurp(d / "b.csv"));
}

TEST_CASE("json, csv and trace carry every scenario", "[quick][cli]")
{
  fs::path d = scratch("outputs");
  Run r = moesim("run --plan tp4,ep4 --batch 1 --platform nvswitch-4x-h200 --json " + (d / "r.json").string() +
                 " --csv " + (d / "r.csv").string() + " --trace " + (d / "t.json").string());
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(slurp(d / "r.json"));
  REQUIRE(j["results"].size() == 2);
  CHECK(j["results"][0]["plan"] == "tp4");
  CHECK(j["results"][1]["host_syncs"] == 62); // ep4 eager: one all-to-all-v count sync per MoE layer
  std::string csv = slurp(d / "r.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 3);
  auto t = nlohmann::json::parse(slurp(d / "t.json"));
  // One named process per (scenario, GPU): 2 scenarios x 4 GPUs.
  int procs = 0;
  for (const auto& e : t["traceEvents"])
    procs += e["ph"] == "M" && e["name"] == "process_name";
  CHECK(procs == 8);
}

TEST_CASE("schedule writes the op DAG that validate/ will replay", "[quick][cli]")
{
  fs::path d = scratch("schedule");
  Run r = moesim("schedule default --plan ep4 --batch 1 -o " + (d / "s.json").string());
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(slurp(d / "s.json"));
  CHECK(j["format"] == "moesim-schedule-2");
  CHECK(j["world"] == 4);
  CHECK(j["ranks"].size() == 4);
}

TEST_CASE("a missing study file", "[quick][cli]")
{
  fs::path d = scratch("missing");
  Run r = moesim("run " + (d / "nope.yaml").string() + " --json " + (d / "o.json").string());
  expect_usage_error(r, d / "o.json");
  CHECK_THAT(r.err, Contains("nope.yaml") && Contains("file not found"));
}

TEST_CASE("an unknown study name lists the known ones", "[quick][cli]")
{
  Run r = moesim("run nosuchstudy");
  expect_usage_error(r, "/nonexistent");
  CHECK_THAT(r.err, Contains("unknown study 'nosuchstudy'") && Contains("default"));
}

TEST_CASE("malformed YAML names the line", "[quick][cli]")
{
  fs::path d = scratch("yaml");
  fs::path s = write(d, "s.yaml", "name: x\nmodel: [unclosed\n");
  Run r = moesim("run " + s.string() + " --json " + (d / "o.json").string());
  expect_usage_error(r, d / "o.json");
  CHECK_THAT(r.err, Contains("s.yaml:") && Contains("malformed YAML"));
}

TEST_CASE("an unknown key names the key and the accepted ones", "[quick][cli]")
{
  fs::path d = scratch("key");
  fs::path s = write(d, "s.yaml", study_text("batchsize: 4\n"));
  Run r = moesim("run " + s.string() + " --csv " + (d / "o.csv").string());
  expect_usage_error(r, d / "o.csv");
  CHECK_THAT(r.err, Contains("s.yaml:8: batchsize: unknown key") && Contains("batch"));
}

TEST_CASE("an unknown model name lists the models", "[quick][cli]")
{
  fs::path d = scratch("model");
  std::string text = study_text();
  text.replace(text.find("qwen3-30b-a3b"), 13, "qwen9");
  Run r = moesim("run " + write(d, "s.yaml", text).string());
  expect_usage_error(r, "/nonexistent");
  CHECK_THAT(r.err, Contains("unknown model 'qwen9'") && Contains("mixtral-8x7b"));
}

TEST_CASE("an unreadable plan spec", "[quick][cli]")
{
  fs::path d = scratch("planspec");
  Run r = moesim("run " + write(d, "s.yaml", study_text("", "[tq2]")).string());
  expect_usage_error(r, "/nonexistent");
  CHECK_THAT(r.err, Contains("s.yaml:7: plans") && Contains("tq2"));
}

TEST_CASE("a plan for another GPU count than the platform's", "[quick][cli]")
{
  fs::path d = scratch("count");
  Run r = moesim("run " + write(d, "s.yaml", study_text("", "[tp4]")).string() + " --json " + (d / "o.json").string());
  expect_usage_error(r, d / "o.json");
  CHECK_THAT(r.err, Contains("uses 4 GPUs but the platform has 2"));
}

TEST_CASE("a model that does not fit says by how much", "[quick][cli]")
{
  // DeepSeek-V3 in FP8 is ~0.68 TB: it cannot fit two 80 GB GPUs.
  fs::path d = scratch("fit");
  std::string text = study_text();
  text.replace(text.find("qwen3-30b-a3b"), 13, "deepseek-v3");
  fs::path s = write(d, "s.yaml", text);
  Run r = moesim("run " + s.string() + " --json " + (d / "o.json").string());
  expect_usage_error(r, d / "o.json");
  CHECK_THAT(r.err, Contains("does not fit") && Contains("short by") && Contains("--allow-refused"));
  Run ok = moesim("run " + s.string() + " --allow-refused");
  CHECK(ok.code == 0);
  CHECK_THAT(ok.out, Contains("refused"));
  Run sch = moesim("schedule " + s.string() + " --plan tp2 -o " + (d / "s.json").string());
  expect_usage_error(sch, d / "s.json");
}

TEST_CASE("malformed platform XML names the line", "[quick][cli]")
{
  fs::path d = scratch("xml");
  write(d, "p.xml", "<?xml version='1.0'?>\n<platform version=\"4.1\">\n<zone id=\"z\" routing=\"Full\">\n");
  Run r = moesim("run " + write(d, "s.yaml", study_text("", "[tp2]", (d / "p.xml").string())).string());
  expect_usage_error(r, "/nonexistent");
  CHECK_THAT(r.err, Contains("p.xml:") && Contains("malformed XML"));
}

TEST_CASE("a disconnected platform is refused before SimGrid sees it", "[quick][cli]")
{
  fs::path d = scratch("disconnected");
  std::string xml = slurp(fs::path(MOESIM_SOURCE_DIR) / "platforms/nvswitch-2x-h100.xml");
  const auto a = xml.find("<route"), b = xml.find("</route>");
  REQUIRE(a != std::string::npos);
  xml.erase(a, b + 8 - a);
  write(d, "p.xml", xml);
  Run r = moesim("run " + write(d, "s.yaml", study_text("", "[tp2]", (d / "p.xml").string())).string());
  expect_usage_error(r, "/nonexistent");
  CHECK_THAT(r.err, Contains("gpu0->gpu1") && Contains("not connected"));
}

TEST_CASE("a missing platform file", "[quick][cli]")
{
  fs::path d = scratch("noplat");
  Run r = moesim("run " + write(d, "s.yaml", study_text("", "[tp2]", "/nonexistent/p.xml")).string());
  expect_usage_error(r, "/nonexistent");
  CHECK_THAT(r.err, Contains("/nonexistent/p.xml") && Contains("not found"));
}

TEST_CASE("an output folder that does not exist fails before simulating", "[quick][cli]")
{
  Run r = moesim("run --json /nonexistent/dir/o.json");
  expect_usage_error(r, "/nonexistent/dir/o.json");
  CHECK_THAT(r.err, Contains("--json"));
}

TEST_CASE("unknown command-line options are usage errors", "[quick][cli]")
{
  Run r = moesim("run --frobnicate");
  CHECK(r.code == 2);
  CHECK_THAT(r.err + r.out, Contains("frobnicate"));
}

TEST_CASE("diff compares two timelines of one schedule", "[quick][cli]")
{
  fs::path d = scratch("diff");
  const std::string sel = "run default --plan ep4 --batch 1 --timeline ";
  REQUIRE(moesim(sel + (d / "h100.json").string() + " --platform nvswitch-4x-h100").code == 0);
  REQUIRE(moesim(sel + (d / "h200.json").string() + " --platform nvswitch-4x-h200").code == 0);
  Run r = moesim("diff " + (d / "h100.json").string() + " " + (d / "h200.json").string() + " --json " +
                 (d / "diff.json").string());
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Contains("By op class") && Contains("all_to_all") && Contains("Largest contributors"));
  // Same links, slower HBM on the H100: GEMMs are predicted slower there, collectives equal.
  auto j = nlohmann::json::parse(slurp(d / "diff.json"));
  CHECK(j["step_error"].get<double>() > 0);
  // Timelines of different schedules are refused.
  REQUIRE(moesim("run default --plan tp4 --batch 1 --platform nvswitch-4x-h200 --timeline " + (d / "tp4.json").string()).code == 0);
  Run bad = moesim("diff " + (d / "h100.json").string() + " " + (d / "tp4.json").string());
  expect_usage_error(bad, d / "nothing");
  CHECK_THAT(bad.err, Contains("tp4.json"));
}


TEST_CASE("a platform calibrated from real nccl-tests logs reproduces them", "[quick][cli]")
{
  // Recorded on the lent 4x H200 (tests/data/README.md): the text log of all_reduce_perf and the
  // -J JSON of alltoall_perf. calibrate -> simulate the same nccl-tests run with that calibration ->
  // at every logged size the logged time, within the 2-decimal print (0.006 us; the JSON keeps more
  // digits, and SimGrid's whole-byte payloads add at most 0.5 B in 64 B: 1e-2 relative of the
  // bandwidth term, far below that at these sizes' fixed costs).
  fs::path d = scratch("calibrate-real");
  const std::string data = std::string(MOESIM_SOURCE_DIR) + "/tests/data/";
  const fs::path cal = d / "cal.yaml";
  Run c = moesim("calibrate --nccl-tests " + data + "nccl_tests_all_reduce_4xh200.txt " + data +
                 "nccl_tests_alltoall_4xh200.json --platform nvswitch-4x-h200 -o " + cal.string());
  REQUIRE(c.code == 0);
  CHECK_THAT(c.out, Contains("2 collective curves"));
  CHECK_THAT(slurp(cal.string()), Contains("NVIDIA H200"));
  for (const auto& [op, file] : {std::pair{"all_reduce", "nccl_tests_all_reduce_4xh200.txt"},
                                 std::pair{"alltoall", "nccl_tests_alltoall_4xh200.json"}}) {
    Run sim = moesim(std::string("nccl-tests --platform nvswitch-4x-h200 --op ") + op +
                     " -b 8 -e 256M -f 2 -g 4 --calibration " + cal.string());
    REQUIRE(sim.code == 0);
    std::map<double, double> simulated;
    for (const auto& [size, t] : nccl_rows(sim.out))
      simulated[size] = t;
    int compared = 0;
    for (const auto& [size, t] : nccl_rows(slurp(data + file))) {
      if (size <= 0)
        continue; // sizes too small to split over 4 ranks: nccl-tests runs nothing
      INFO(op << " size " << size);
      REQUIRE(simulated.count(size));
      CHECK(simulated[size] == Approx(t).margin(0.006));
      compared++;
    }
    CHECK(compared >= 22); // 64 B .. 256 MiB at least
  }
}

TEST_CASE("a platform calibrated from an nccl-tests log reproduces the log", "[quick][cli]")
{
  // calibrate -> simulate nccl-tests with that calibration -> the same times. Sizes between the
  // log's are interpolated; at the log's own sizes the simulation must give the logged time, up to
  // SimGrid's whole-byte payloads (0.5 B in ~1e8 B: relative 1e-8) and the log's 2-decimal print.
  fs::path d = scratch("calibrate");
  const std::string log = std::string(MOESIM_SOURCE_DIR) + "/tests/data/nccl_tests_all_reduce_synthetic.txt";
  const fs::path cal = d / "cal.yaml";
  Run c = moesim("calibrate --nccl-tests " + log + " --platform nvswitch-4x-h100 -o " + cal.string());
  REQUIRE(c.code == 0);
  Run sim = moesim("nccl-tests --platform nvswitch-4x-h100 --op all_reduce -b 1K -e 64M -f 4 -g 4 --calibration " +
                   cal.string());
  REQUIRE(sim.code == 0);
  // Compare the time column row by row with the log.
  auto logged = nccl_rows(slurp(log)), simulated = nccl_rows(sim.out);
  REQUIRE(logged.size() == simulated.size());
  for (size_t i = 0; i < logged.size(); i++) {
    INFO("size " << logged[i].first);
    CHECK(simulated[i].first == logged[i].first);
    CHECK(simulated[i].second == Approx(logged[i].second).margin(0.006)); // both printed to 0.01 us
  }
  Run bad = moesim("calibrate --nccl-tests /nonexistent.log --platform x -o " + (d / "x.yaml").string());
  expect_usage_error(bad, d / "x.yaml");
}

TEST_CASE("run --calibration: a missing or malformed file is a usage error, 'none' drops the measured one", "[quick][cli]")
{
  fs::path d = scratch("calibration-choice");
  const fs::path out = d / "o.json";
  Run missing = moesim("run default --calibration " + (d / "nothing.yaml").string() + " --json " + out.string());
  expect_usage_error(missing, out);
  CHECK_THAT(missing.err, Contains("nothing.yaml") && Contains("--calibration"));
  const fs::path bad = d / "bad.yaml";
  std::ofstream(bad) << "platform: x\nmeasured_on: y\nsource: z\nhost:\n  launch_us: -1\n";
  Run malformed = moesim("run default --calibration " + bad.string() + " --json " + out.string());
  expect_usage_error(malformed, out);
  CHECK_THAT(malformed.err, Contains("bad.yaml:") && Contains("host.launch_us"));
  // The lent H200 machine is calibrated (platforms/calibration/): the report says so, and 'none'
  // takes the placeholders instead, which changes its step times.
  Run with = moesim("run default --platform nvswitch-4x-h200 --batch 1 --plan tp4");
  Run without = moesim("run default --platform nvswitch-4x-h200 --batch 1 --plan tp4 --calibration none");
  REQUIRE(with.code == 0);
  REQUIRE(without.code == 0);
  CHECK_THAT(with.out, Contains("calibrated: "));
  CHECK_THAT(without.out, !Contains("calibrated: "));
  CHECK(with.out != without.out);
}

TEST_CASE("nccl-tests takes a topology YAML and says which calibration applied", "[quick][cli]")
{
  // The YAML is generated into the XML committed beside it (checked byte for byte elsewhere): the
  // same rows. hgx-8x-h100 has no calibration file: NCCL's model.
  const std::string yaml = std::string(MOESIM_SOURCE_DIR) + "/platforms/hgx-8x-h100.yaml";
  Run y = moesim("nccl-tests --platform " + yaml + " --op all_gather -b 1M -e 16M -f 4 -g 8");
  Run x = moesim("nccl-tests --platform hgx-8x-h100 --op all_gather -b 1M -e 16M -f 4 -g 8");
  REQUIRE(y.code == 0);
  REQUIRE(x.code == 0);
  CHECK(nccl_rows(y.out) == nccl_rows(x.out));
  CHECK(nccl_rows(y.out).size() == 3);
  CHECK_THAT(y.out, Contains("# calibration: none"));
  // The lent H200s are calibrated: 'auto' (the default) names the file and what it was measured on.
  Run a = moesim("nccl-tests --platform nvswitch-4x-h200 --op all_reduce -b 1M -e 1M");
  REQUIRE(a.code == 0);
  CHECK_THAT(a.out, Contains("# calibration: platforms/calibration/nvswitch-4x-h200.yaml (measured on NVIDIA H200"));
  Run n = moesim("nccl-tests --platform nvswitch-4x-h200 --op all_reduce -b 1M -e 1M --calibration none");
  REQUIRE(n.code == 0);
  CHECK_THAT(n.out, Contains("# calibration: none"));
  // A named file applies to any platform.
  const std::string file = std::string(MOESIM_SOURCE_DIR) + "/platforms/calibration/nvswitch-4x-h200.yaml";
  Run f = moesim("nccl-tests --platform nvswitch-4x-h100 --op all_reduce -b 1M -e 1M --calibration " + file);
  REQUIRE(f.code == 0);
  CHECK_THAT(f.out, Contains("# calibration: platforms/calibration/nvswitch-4x-h200.yaml"));
  CHECK(nccl_rows(f.out) == nccl_rows(a.out));
  fs::path d = scratch("nccl-tests-calibration");
  Run bad = moesim("nccl-tests --platform nvswitch-4x-h200 --op all_reduce --calibration " + (d / "none.yaml").string());
  expect_usage_error(bad, d / "nothing");
}
