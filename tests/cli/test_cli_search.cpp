// `moesim search` from the command line: bad input is one line, exit 2 and no file; a small search
// writes its CSV, JSON and SVG; --merge of the shards' JSON gives the unsharded JSON.
#include "cli_run.hpp"

using namespace cli_test;

namespace {

const std::string small = "search --model qwen3-30b-a3b --platform nvswitch-2x-h100 --batch 8 --context 1024 "
                          "--calibration none --graphs on -j 2";

} // namespace

TEST_CASE("search: bad input is one line naming the flag, exit 2, nothing written", "[quick][cli][search]")
{
  const fs::path dir = scratch("search_bad");
  const std::string outs = " --json " + (dir / "s.json").string() + " --csv " + (dir / "s.csv").string();
  const std::vector<std::pair<std::string, std::string>> cases{
      {"search --model no-such-model --platform hgx-8x-h100", "unknown model"},
      {"search --model qwen3-30b-a3b --platform no-such-platform", "no-such-platform"},
      {small + " --slo tpot=fast", "--slo"},
      {small + " --slo ttft=2s", "--slo"},
      {small + " --shard 3/2", "--shard"},
      {small + " --gpus 8", "--gpus"},
      {small + " --seeds 4", "--seeds"},
      {"search --merge " + (dir / "missing.json").string(), "--merge"},
  };
  for (const auto& [args, what] : cases) {
    INFO(args);
    const Run r = moesim(args + outs);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains(what));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
    CHECK(fs::is_empty(dir));
  }
}

TEST_CASE("search: CSV, JSON and SVG of a small search, and shards merged by the CLI equal it", "[slow][cli][search]")
{
  const fs::path dir = scratch("search_files");
  const Run r = moesim(small + " --slo tpot=50ms --json " + (dir / "all.json").string() + " --csv " +
                       (dir / "all.csv").string() + " --svg " + (dir / "all.svg").string());
  REQUIRE(r.code == 0);
  // 12 plans (test_search_run.cpp counts them) x batch 8 x graphs on = 12 candidates.
  CHECK_THAT(r.out, Catch::Contains("candidates: 12; pruned before simulating: none; simulated: 12"));
  CHECK_THAT(r.out, Catch::Contains("best under tpot <= 50 ms"));
  const std::string csv = slurp(dir / "all.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 13); // header + 12
  CHECK(slurp(dir / "all.svg").rfind("<svg", 0) == 0);
  std::string merge = "search --merge";
  for (int i = 1; i <= 2; i++) {
    const std::string f = (dir / ("s" + std::to_string(i) + ".json")).string();
    REQUIRE(moesim(small + " --slo tpot=50ms --shard " + std::to_string(i) + "/2 --json " + f).code == 0);
    merge += " " + f;
  }
  REQUIRE(moesim(merge + " --json " + (dir / "merged.json").string()).code == 0);
  CHECK(slurp(dir / "merged.json") == slurp(dir / "all.json"));
}
