// `moesim published`: the committed comparison is what the command writes today, and bad rows are
// refused with the file, line and key.
#include "cli_run.hpp"

#include "../heavy_stride.hpp"
#include "../temp_dir.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <sstream>

using namespace cli_test;

namespace {

// The cells of row `id` of a `moesim published` table ('|'-separated; cells[0] is the empty text
// before the line's first '|'); empty when the table has no such row.
std::vector<std::string> row_cells(const std::string& out, const std::string& id)
{
  std::vector<std::string> cells;
  const auto at = out.find("\n| " + id + " |");
  if (at == std::string::npos)
    return cells;
  std::stringstream line(out.substr(at + 1, out.find('\n', at + 1) - at - 1));
  for (std::string c; std::getline(line, c, '|');)
    cells.push_back(c);
  return cells;
}

// `moesim published ROWS` reproduces the committed MD: whole under MOESIM_HEAVY_STRIDE=1, else rows 0,
// stride, 2 stride, ... alone (a row's simulation depends on that row only), each of which must come
// out as the same table line as in the committed file. `thin` multiplies a stride above 1: a file
// kept outside the summary is checked on fewer rows in CI's sanitizer build (whole in the main build).
void check_reproduces(const std::string& rows_yaml, const std::string& committed_md, int thin = 1)
{
  const std::string committed = slurp(fs::path(MOESIM_SOURCE_DIR) / committed_md);
  const int stride = heavy_stride() == 1 ? 1 : heavy_stride() * thin;
  if (stride == 1) {
    const Run r = cli_test::moesim("published " + (fs::path(MOESIM_SOURCE_DIR) / rows_yaml).string());
    REQUIRE(r.code == 0);
    CHECK(r.out == committed);
    return;
  }
  const YAML::Node all = YAML::LoadFile((fs::path(MOESIM_SOURCE_DIR) / rows_yaml).string());
  YAML::Node some;
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < all["rows"].size(); i += stride) {
    some["rows"].push_back(all["rows"][i]);
    ids.push_back(all["rows"][i]["id"].as<std::string>());
  }
  REQUIRE(ids.size() >= 2);
  YAML::Emitter e;
  e << some;
  moesim::test::TempDir d("published_some");
  const Run r = cli_test::moesim("published " + d.write("rows.yaml", e.c_str()));
  INFO(r.err);
  REQUIRE(r.code == 0);
  for (const std::string& id : ids) {
    const std::string head = "| " + id + " |";
    const auto at = r.out.find("\n" + head);
    INFO(id);
    REQUIRE(at != std::string::npos);
    const std::string line = r.out.substr(at, r.out.find('\n', at + 1) - at + 1);
    CHECK(committed.find(line) != std::string::npos);
  }
}

// `moesim published ROWS -o OUT` on a one-file row set that must be refused: exit 2, nothing written;
// the run comes back for the caller's checks of the message.
Run refused(const std::string& rows_text)
{
  moesim::test::TempDir d("published_cli");
  const std::string rows = d.write("rows.yaml", rows_text);
  const std::string out = (d.path / "out.md").string();
  const Run r = cli_test::moesim("published " + rows + " -o " + out);
  CHECK(r.code == 2);
  CHECK_FALSE(fs::exists(out));
  return r;
}

}  // namespace

TEST_CASE("moesim published reproduces validate/public/published.md", "[slow][heavy][published]")
{
  // Regenerate after an intended change: `build/cli/moesim published -o validate/public/published.md`.
  check_reproduces("validate/public/published.yaml", "validate/public/published.md");
}

TEST_CASE("moesim published reproduces validate/public/perf-overview-lengths.md", "[slow][heavy][published]")
{
  // The perf overview's other lengths, kept apart from the summary. Regenerate after an intended change:
  // `build/cli/moesim published validate/public/perf-overview-lengths.yaml -o validate/public/perf-overview-lengths.md`.
  // Under the sanitizers' stride of 4, thin 3 checks rows 0, 12 and 24 of the 25 (123 s at stride 4
  // alone in CI, 2026-12-07).
  check_reproduces("validate/public/perf-overview-lengths.yaml", "validate/public/perf-overview-lengths.md", 3);
}

TEST_CASE("moesim published: an unknown engine fact in a row is refused, nothing written", "[quick][published]")
{
  const Run r = refused("rows:\n  - {id: a, category: pcie, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                        "     engine_set: {warp_speed: 9}, model: qwen3-30b-a3b, platform: nvswitch-1x-h200,\n"
                        "     interconnect: i, plan: tp1, workload: {kind: decode, batch: 1, context: 1},\n"
                        "     metric: tok_s_user, measured: 1}\n");
  CHECK_THAT(r.err, Catch::Contains("rows.yaml:2") && Catch::Contains("warp_speed"));
}

TEST_CASE("moesim published: a silicon row of AIConfigurator's gives a finite TPOT in ms", "[published]")
{
  // One row of validate/public/silicon/silicon.yaml (converted from NVIDIA's silicon_sample.csv):
  // gpt-oss-120b on one H200 under vLLM, 1024/1024 at concurrency 4, 80 requests. Its moesim TPOT must
  // come out a positive finite number of ms (a few ms a token at batch 4: between 1 and 100 ms), with
  // the error published / moesim - 1 written beside it.
  const YAML::Node all = YAML::LoadFile((fs::path(MOESIM_SOURCE_DIR) / "validate/public/silicon/silicon.yaml").string());
  YAML::Node some;
  const std::string id = "2026_03_25_gpt_oss_120b_h200_sxm_vllm_fp4_agg_1024x1024_c4_tp1_0_ep1_0_199";
  for (const auto& row : all["rows"])
    if (row["id"].as<std::string>() == id)
      some["rows"].push_back(row);
  REQUIRE(some["rows"].size() == 1);
  CHECK(some["rows"][0]["metric"].as<std::string>() == "tpot_ms");
  YAML::Emitter e;
  e << some;
  moesim::test::TempDir d("published_silicon");
  const Run r = cli_test::moesim("published " + d.write("rows.yaml", e.c_str()));
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::vector<std::string> cells = row_cells(r.out, id);
  // cells[0] is empty (the line starts with '|'); then id, engine, platform, plan, model, workload,
  // metric, published, moesim, error.
  REQUIRE(cells.size() > 10);
  CHECK(cells[7] == " TPOT ms ");
  const double tpot = std::stod(cells[9]);
  CHECK(std::isfinite(tpot));
  CHECK(tpot > 1);
  CHECK(tpot < 100);
  const double published = some["rows"][0]["measured"].as<double>();
  // The error column rounds the unrounded figure; the moesim column is rounded to 3 digits, so allow
  // the neighbouring percent.
  const int shown = std::stoi(cells[10].substr(1, cells[10].size() - 3));
  CHECK(std::abs(shown - std::lround((published / tpot - 1) * 100)) <= 1);
}

TEST_CASE("moesim published: a row with prefill and decode apart gives the TPOT moesim serve gives them",
          "[published]")
{
  // Qwen3-30B-A3B on vLLM 0.11's profile, one H200 prefilling and one decoding, the KV at 25 GB/s:
  // `moesim published` on the row and `moesim serve` with the same pools must run the same loop, so
  // the row's moesim TPOT (3 digits) is the serve JSON's mean TPOT in ms.
  moesim::test::TempDir d("published_disagg");
  const std::string rows = d.write(
      "rows.yaml",
      "rows:\n  - {id: pd, category: nvlink, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
      "     model: qwen3-30b-a3b, platform: nvswitch-1x-h200, interconnect: i, plan: tp1, workload: {kind: serve,\n"
      "     input: 512, output: 64, requests: 16, concurrency: 8, disaggregated: {prefill_platform: nvswitch-1x-h200,\n"
      "     prefill_plan: tp1, prefill_instances: 1, decode_instances: 1, kv_link: 25}}, metric: tpot_ms, measured: 10}\n");
  const Run r = cli_test::moesim("published " + rows);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::vector<std::string> cells = row_cells(r.out, "pd");
  REQUIRE(cells.size() > 10);
  CHECK_THAT(cells[6], Catch::Contains("apart: 1P tp1 + 1D"));
  const double published_tpot = std::stod(cells[9]);
  const std::string study = d.write("s.yaml", "name: s\nmodel: qwen3-30b-a3b\nplatforms: [nvswitch-1x-h200]\nphase: decode\n"
                                              "batch: [1]\ncontext: 1024\nrouting: {kind: uniform}\nengine: vllm-0.11\n"
                                              "plans: [tp1]\n");
  const fs::path json = d.path / "pd.json";
  const Run s = cli_test::moesim("serve " + study + " --prefill-plan tp1 --decode-plan tp1 --kv-link 25 --requests 16 "
                                 "--input 512 --output 64 --concurrency 8 --json " + json.string());
  REQUIRE(s.code == 0);
  const nlohmann::json j = nlohmann::json::parse(slurp(json));
  const double serve_tpot_ms = j["tpot_s"]["mean"].get<double>() * 1e3;
  // The published table shows 3 significant digits.
  CHECK(published_tpot == Approx(serve_tpot_ms).epsilon(0.006));
}

TEST_CASE("moesim published: a time metric on a decode row exits 2 naming the file and key and the fix", "[quick][published]")
{
  const Run r = refused("rows:\n  - {id: a, category: nvlink, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                        "     model: qwen3-30b-a3b, platform: nvswitch-1x-h200,\n"
                        "     interconnect: i, plan: tp1, workload: {kind: decode, batch: 1, context: 1},\n"
                        "     metric: ttft_ms, measured: 1}\n");
  CHECK_THAT(r.err, Catch::Contains("rows.yaml") && Catch::Contains("metric") && Catch::Contains("kind: serve"));
}

TEST_CASE("moesim published: a TPOT row whose requests have one output token is not simulated, saying why",
          "[published]")
{
  // One output token a request: no token after the first, so the loop has no TPOT (its mean would be
  // 0 ms, and published / 0 no error). The row stays in the table, not simulated, with the reason.
  moesim::test::TempDir d("published_cli");
  const std::string rows = d.write(
      "rows.yaml", "rows:\n  - {id: one-token, category: nvlink, source: s, date: d, engine: vllm-0.11, engine_version: v,\n"
                   "     model: gpt-oss-120b, platform: nvswitch-1x-h200, interconnect: i, plan: tp1,\n"
                   "     workload: {kind: serve, input: 128, output: 1, requests: 8, concurrency: 2},\n"
                   "     metric: tpot_ms, measured: 5}\n");
  const Run r = cli_test::moesim("published " + rows);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("| one-token |") && Catch::Contains("not simulated: the serving loop gave no TPOT ms"));
}
