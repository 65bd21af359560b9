// moesim transfer: predicted records, the committed error tables reproduced byte for byte, bad input.
#include "cli_run.hpp"

#include "../heavy_stride.hpp"

#include <nlohmann/json.hpp>

#include <regex>

using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

// Two memory-bound decode GEMMs "measured" on an H100 (m=1, k=4096, n=4096 and 8192, bf16).
const char* h100_records = R"({"format":"moesim-op-bench-1","source":"test","system":{"gpu":"NVIDIA H100 80GB HBM3"},
"records":[
{"op":"gemm","dtype":"bf16","launch":"graph","m":1,"n":4096,"k":4096,"batch":1,"seconds":1.5e-5},
{"op":"gemm","dtype":"bf16","launch":"graph","m":1,"n":8192,"k":4096,"batch":1,"seconds":2.7e-5}
]})";

} // namespace

TEST_CASE("transfer writes an H100's records as predicted H200 records", "[quick][cli][transfer]")
{
  // platforms/gpus.yaml: H100 and H200 share 132 SMs, 1980 MHz and 989.4 TFLOPS bf16; memory 3.35 vs
  // 4.8 TB/s. Bytes (4096 + 4096 n) * 2 + 2 n: 33570816 and 67133440; H100 bounds 10.021139 us and
  // 20.039833 us (the math, 1 wave of 2*128*4096 FLOPs at 989.4e12/132 per SM, is 0.14 us). Fixed
  // time: the line through (10.021139, 15) and (20.039833, 27) meets 0 at 15 - 12/10.018694 * 10.021139
  // = 2.9971 us. With the L2 term off every bound shrinks by 3.35/4.8 and the fixed part stays:
  // t_H200 = f + (t - f) * 3.35 / 4.8; printed with 4 significant digits.
  const fs::path d = scratch("transfer_o");
  std::ofstream(d / "h100.json") << h100_records;
  const Run r = moesim("transfer " + (d / "h100.json").string() + " --to h200-sxm-141gb --l2 off -o " + (d / "h200.json").string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  const nlohmann::json j = nlohmann::json::parse(slurp(d / "h200.json"));
  CHECK(j["system"]["gpu"] == "NVIDIA H200");
  CHECK(j["source"].get<std::string>().rfind("transfer from NVIDIA H100 80GB HBM3 to NVIDIA H200", 0) == 0);
  REQUIRE(j["records"].size() == 2);
  const double b1 = 33570816 / 3.35e12, b2 = 67133440 / 3.35e12;
  const double f = 15e-6 - (27e-6 - 15e-6) / (b2 - b1) * b1;
  CHECK(j["records"][0]["seconds"].get<double>() == Approx(f + (15e-6 - f) * 3.35 / 4.8).epsilon(1e-3));
  CHECK(j["records"][1]["seconds"].get<double>() == Approx(f + (27e-6 - f) * 3.35 / 4.8).epsilon(1e-3));
  CHECK(j["records"][0]["launch"] == "graph");
}

TEST_CASE("every transfer table in validate/public is reproduced byte for byte", "[slow][heavy][cli][transfer]")
{
  // Each table names its own command (paths relative to the source tree, which the table prints them
  // relative to); rerun it into a scratch file and compare the bytes.
  // With a heavy_stride() of N, tables 0, N, 2N, ... in name order.
  const fs::path d = scratch("transfer_md");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(MOESIM_SOURCE_DIR) / "validate" / "public")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("transfer-", 0) == 0 && e.path().extension() == ".md")
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  CHECK(files.size() >= 5); // h100->h200 (vLLM, TRT-LLM), b200->h200 (vLLM, TRT-LLM), a100->h100 (vLLM)
  int tables = 0;
  const int stride = heavy_stride();
  for (std::size_t i = 0; i < files.size(); i += stride) {
    const fs::path& path = files[i];
    const std::string name = path.filename().string();
    const std::string text = slurp(path);
    std::smatch m;
    REQUIRE(std::regex_search(text, m, std::regex("- Regenerate: `moesim (transfer [^`]*)`")));
    const std::string cmd = std::regex_replace(m[1].str(), std::regex(" platforms/"), " " + std::string(MOESIM_SOURCE_DIR) + "/platforms/");
    const Run r = moesim(cmd + " --md " + (d / name).string());
    INFO(name << ": " << r.err);
    REQUIRE(r.code == 0);
    CHECK(slurp(d / name) == text);
    ++tables;
  }
  CHECK(tables == static_cast<int>((files.size() + stride - 1) / stride));
}

TEST_CASE("transfer --rate achieved names its rule in the table and its regenerate line", "[quick][cli][transfer]")
{
  // The table's title and regenerate command say which rule made it, so that a table rerun by its
  // own command is the same table; the default rule adds nothing to either.
  const fs::path d = scratch("transfer_rate");
  std::ofstream(d / "h100.json") << h100_records;
  const std::string src = (d / "h100.json").string();
  Run r = moesim("transfer " + src + " --measured " + src + " --from h100-sxm5-80gb --rate achieved --md " +
                 (d / "a.md").string());
  REQUIRE(r.code == 0);
  const std::string a = slurp(d / "a.md");
  CHECK_THAT(a, Contains("(achieved-rate rule)") && Contains("--rate achieved"));
  r = moesim("transfer " + src + " --measured " + src + " --from h100-sxm5-80gb --md " + (d / "s.md").string());
  REQUIRE(r.code == 0);
  const std::string s = slurp(d / "s.md");
  CHECK(s.find("achieved") == std::string::npos);
}

TEST_CASE("transfer: bad input is one line naming the file or flag, exit 2", "[quick][cli][transfer]")
{
  const fs::path d = scratch("transfer_bad");
  std::ofstream(d / "h100.json") << h100_records;
  const std::string src = (d / "h100.json").string();

  Run r = moesim("transfer /nonexistent/records.json --to h200-sxm-141gb -o " + (d / "o.json").string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("/nonexistent/records.json") && Contains("not found"));

  r = moesim("transfer " + src + " --to h300 -o " + (d / "o.json").string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("--to") && Contains("unknown GPU 'h300'") && Contains("h200-sxm-141gb"));

  r = moesim("transfer " + src + " --to h200-sxm-141gb");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("nothing to do"));

  r = moesim("transfer " + src + " --to h200-sxm-141gb --rate kept -o " + (d / "o.json").string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("--rate") && Contains("kept") && Contains("scaled") && Contains("achieved"));
  CHECK_FALSE(fs::exists(d / "o.json"));

  r = moesim("transfer " + src + " --to h200-sxm-141gb --md " + (d / "t.md").string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("--md") && Contains("needs --measured"));

  std::ofstream(d / "bad.json") << R"({"format":"moesim-op-bench-1","records":[{"op":"gemm","dtype":"bf16","m":1,"n":2,"k":3,"seconds":1e-6,"x":1}]})";
  r = moesim("transfer " + (d / "bad.json").string() + " --from h100-sxm5-80gb --to h200-sxm-141gb -o " + (d / "o.json").string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("bad.json: records[0].x: unknown key"));
  CHECK_FALSE(fs::exists(d / "o.json")); // nothing written

  // An output in a folder that does not exist is refused before anything runs, and the other
  // output is not written either.
  r = moesim("transfer " + src + " --measured " + src + " --to h200-sxm-141gb -o " + (d / "o.json").string() +
             " --md " + (d / "no" / "t.md").string());
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("--md") && Contains("does not exist"));
  CHECK_FALSE(fs::exists(d / "o.json"));

  std::ofstream(d / "zero.json") << R"({"format":"moesim-op-bench-1","records":[{"op":"gemm","dtype":"bf16","m":0,"n":2,"k":3,"seconds":1e-6}]})";
  r = moesim("transfer " + src + " --measured " + (d / "zero.json").string() + " --to h200-sxm-141gb");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Contains("zero.json: records[0]: gemm record: 'm' must be positive"));
}
