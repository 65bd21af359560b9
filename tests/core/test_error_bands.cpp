// Validated error bands: the committed file loads, each case finds its band (or says it has none),
// and a band states where its numbers come from.
#include "core/error.hpp"
#include "core/error_bands.hpp"
#include "report/result.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace moesim;
using moesim::perf::Provenance;

TEST_CASE("the committed error bands: specs from the blind predictions, interpolated from oos1, extrapolated from oos8", "[quick][perf]")
{
  const ErrorBands b = load_error_bands(std::string(MOESIM_SOURCE_DIR) + "/validate/results/error-bands.yaml");
  // 4 GPUs, eager: validate/results/measured-4xh200-2026-11-27.json by_mode.eager, 70 runs.
  const ErrorBand* four = b.find(Provenance::specs, 4, false);
  REQUIRE(four);
  CHECK(four->median == 0.747);
  CHECK(four->runs == 70);
  CHECK(four->file == "validate/results/measured-4xh200-2026-11-27.json");
  CHECK(describe_band(four, Provenance::specs).find("median 74.7%, worst 93.8%") != std::string::npos);
  // 8 GPUs were never measured: the nearest count, 4 (the distance 4 beats 2's 6).
  CHECK(b.find(Provenance::specs, 8, false) == four);
  // 3 GPUs in a graph: 2 and 4 are one away; fewer GPUs first: the 2-GPU graph entry (8 runs).
  REQUIRE(b.find(Provenance::specs, 3, true));
  CHECK(b.find(Provenance::specs, 3, true)->gpus == 2);
  CHECK(b.find(Provenance::specs, 3, true)->launch == "graph");
  // Out of sample, one H200: validate/results/oos1-h200-2026-12-04-bands.json, "interpolated graph"
  // (13 runs, median 7.0%, worst 18.8%); validate/results/oos8-h200-2026-12-06-bands.json,
  // "extrapolated eager" (10 runs, median 0.0601, worst 0.1118: 6.0%, 11.2%).
  const ErrorBand* ig = b.find(Provenance::interpolated, 1, true);
  REQUIRE(ig);
  CHECK(ig->runs == 13);
  CHECK(ig->file == "validate/results/oos1-h200-2026-12-04-bands.json");
  CHECK(describe_band(ig, Provenance::interpolated).find("median 7.0%, worst 18.8%") != std::string::npos);
  const ErrorBand* ee = b.find(Provenance::extrapolated, 1, false);
  REQUIRE(ee);
  CHECK(ee->runs == 10);
  CHECK(ee->launch == "eager");
  CHECK(ee->file == "validate/results/oos8-h200-2026-12-06-bands.json");
  CHECK(describe_band(ee, Provenance::extrapolated).find("median 6.0%, worst 11.2%") != std::string::npos);
  // No schedule's compute was mostly measured: that band stays unvalidated.
  CHECK(describe_band(b.find(Provenance::measured, 1, false), Provenance::measured) == "not yet validated");
}

TEST_CASE("error bands refuse numbers without their source and status with numbers", "[quick][perf]")
{
  test::TempDir d("moesim_bands");
  const std::string head = "bands:\n  - {provenance: specs, scope: step, gpus: 1, launch: eager, ";
  CHECK_THROWS_WITH(load_error_bands(d.write("a.yaml", head + "runs: 3, median: 0.1, worst: 0.2}\n")),
                    Catch::Matchers::Contains("card"));
  CHECK_THROWS_WITH(load_error_bands(d.write("b.yaml", head + "status: not yet validated, median: 0.1}\n")),
                    Catch::Matchers::Contains("median"));
  CHECK_THROWS_WITH(load_error_bands(d.write("c.yaml", head + "status: fine}\n")), Catch::Matchers::Contains("status"));
  CHECK_THROWS_AS(load_error_bands(d.write("e.yaml", "bands:\n  - {provenance: guessed, scope: step, gpus: 1, launch: any, "
                                                     "status: not yet validated}\n")),
                  InputError);
}

TEST_CASE("a scenario's band is its dominant provenance's", "[quick][perf]")
{
  ErrorBands b;
  ErrorBand s;
  s.provenance = Provenance::specs;
  s.gpus = 1;
  s.launch = "eager";
  s.validated = true;
  s.runs = 6;
  s.median = 0.5;
  s.worst = 0.8;
  s.card = "NVIDIA H200";
  s.date = "2026-11-27";
  s.file = "f.json";
  s.what = "blind predictions";
  b.bands.push_back(s);
  std::vector<ScenarioResult> r(2);
  r[0].gpus = r[1].gpus = 1;
  r[0].compute_provenance = {{"specs", 0.6}, {"measured", 0.3}};
  r[1].compute_provenance = {{"specs", 0.1}, {"interpolated", 0.7}};
  attach_error_bands(r, b);
  CHECK(r[0].error_band ==
        "specs: median 50.0%, worst 80.0% (blind predictions, 6 runs on 1x NVIDIA H200, eager, 2026-11-27, f.json)");
  CHECK(r[1].error_band == "interpolated: not yet validated");
  // On another card the same band is named as that card's.
  r[0].gpu_model = "NVIDIA B200";
  attach_error_bands(r, b);
  CHECK(r[0].error_band == "specs: median 50.0%, worst 80.0% (blind predictions, 6 runs on 1x NVIDIA H200, eager, "
                           "2026-11-27, f.json); another card's: none validated on NVIDIA B200 yet");
}

TEST_CASE("a band of the scenario's own card comes first, and another card's says so", "[quick][perf]")
{
  const ErrorBands b = load_error_bands(std::string(MOESIM_SOURCE_DIR) + "/validate/results/error-bands.yaml");
  const std::string h100 = "NVIDIA H100 80GB HBM3", h200 = "NVIDIA H200";
  // Extrapolated, 1 GPU, eager: the H100 has its own entry (validate/results/oos8-h100-2026-12-06-bands.json,
  // "extrapolated eager": 10 runs, median 0.02446, worst 0.06822: 2.4%, 6.8%); the H200 keeps round 6's.
  const ErrorBand* own = b.find(Provenance::extrapolated, 1, false, h100);
  REQUIRE(own);
  CHECK(own->card == h100);
  CHECK(own->runs == 10);
  CHECK(describe_band(own, Provenance::extrapolated, h100) ==
        "median 2.4%, worst 6.8% (oos8 blind leave-family-out predictions from the H100's own records, 10 runs on 1x "
        "NVIDIA H100 80GB HBM3, eager, 2026-12-06, validate/results/oos8-h100-2026-12-06-bands.json)");
  REQUIRE(b.find(Provenance::extrapolated, 1, true, h100));
  CHECK(b.find(Provenance::extrapolated, 1, true, h100)->runs == 6);
  const ErrorBand* h200s = b.find(Provenance::extrapolated, 1, false, h200);
  REQUIRE(h200s);
  CHECK(h200s->file == "validate/results/oos8-h200-2026-12-06-bands.json");
  // The H100 has no interpolated entry: the H200's, said to be another card's.
  const ErrorBand* other = b.find(Provenance::interpolated, 1, true, h100);
  REQUIRE(other);
  CHECK(other->card == h200);
  const std::string d = describe_band(other, Provenance::interpolated, h100);
  CHECK_THAT(d, Catch::Matchers::EndsWith("; another card's: none validated on NVIDIA H100 80GB HBM3 yet"));
  // A card nobody measured: the H200's 4-GPU blind-prediction entry, as for no card at all.
  const std::string rtx = "NVIDIA RTX PRO 6000 Blackwell Workstation Edition";
  CHECK(b.find(Provenance::specs, 4, false, rtx) == b.find(Provenance::specs, 4, false));
  // An entry not yet validated names no card and is found for any card.
  const ErrorBand* m = b.find(Provenance::measured, 1, false, rtx);
  REQUIRE(m);
  CHECK_FALSE(m->validated);
  CHECK(describe_band(m, Provenance::measured, rtx) == "not yet validated");
}
