// `moesim published`: the committed comparison is what the command writes today, and bad rows are
// refused with the file, line and key.
#include "cli_run.hpp"

#include "../temp_dir.hpp"

using namespace cli_test;

TEST_CASE("moesim published reproduces validate/public/published.md", "[slow][heavy][published]")
{
  // Regenerate after an intended change: `build/cli/moesim published -o validate/public/published.md`.
  const Run r = cli_test::moesim("published");
  REQUIRE(r.code == 0);
  CHECK(r.out == slurp(fs::path(MOESIM_SOURCE_DIR) / "validate/public/published.md"));
}

TEST_CASE("moesim published: an unknown engine fact in a row is refused, nothing written", "[quick][published]")
{
  moesim::test::TempDir d("published_cli");
  const std::string rows = d.write(
      "rows.yaml", "rows:\n  - {id: a, category: pcie, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                   "     engine_set: {warp_speed: 9}, model: qwen3-30b-a3b, platform: nvswitch-1x-h200,\n"
                   "     interconnect: i, plan: tp1, workload: {kind: decode, batch: 1, context: 1},\n"
                   "     metric: tok_s_user, measured: 1}\n");
  const std::string out = (d.path / "out.md").string();
  const Run r = cli_test::moesim("published " + rows + " -o " + out);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("rows.yaml:2") && Catch::Contains("warp_speed"));
  CHECK_FALSE(fs::exists(out));
}
