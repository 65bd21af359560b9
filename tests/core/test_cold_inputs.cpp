// Sample and embedding records whose instances read inputs of their own ("inputs": "cold"): read,
// written back, refused when the word is another, and, in a fit, preferred to the records of the same
// model whose instances re-read one buffer (warm in L2 after the first; a step reads them cold).
#include "core/error.hpp"
#include "core/op_bench.hpp"
#include "core/op_fit.hpp"
#include "core/op_measurements.hpp"
#include "tests/core/op_bench_json.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace moesim;
using Catch::Matchers::Contains;

namespace {

nlohmann::json sample(const char* launch, double rows, double seconds, bool cold)
{
  nlohmann::json r = {{"op", "sample"},         {"dtype", "fp32"},  {"launch", launch},
                      {"elements", rows * 131072}, {"bytes", rows * 131072 * 4}, {"rows", rows},
                      {"vocab", 131072},        {"seconds", seconds}};
  if (cold)
    r["inputs"] = "cold";
  return r;
}

} // namespace

TEST_CASE("op-bench: inputs cold is read and written on sample and embedding only", "[quick][op_bench]")
{
  const std::string text =
      test::op_bench(nlohmann::json::array({sample("stream", 16, 8e-5, true), sample("stream", 64, 4.5e-5, false)})).dump();
  const OpBench d = parse_op_bench(text, "c.json");
  REQUIRE(d.records.size() == 2);
  CHECK(d.records[0].inputs == "cold");
  CHECK(d.records[1].inputs.empty());
  const std::string once = write_op_bench(d);
  CHECK(once.find("\"inputs\":\"cold\"") != std::string::npos);
  CHECK(parse_op_bench(once, "once.json").records[0].inputs == "cold");
  // Any other word is refused naming the record and the key; the key on an op that is no small
  // kernel is unknown. (A list of one record is written json::array({r}): clang reads the braces {r}
  // as a copy of r.)
  nlohmann::json hot = sample("stream", 16, 8e-5, false);
  hot["inputs"] = "hot";
  CHECK_THROWS_WITH(parse_op_bench(test::op_bench(nlohmann::json::array({hot})).dump(), "h.json"),
                    Contains("h.json: records[0].inputs: 'hot' is not a way moesim knows"));
  const nlohmann::json gemm = {{"op", "gemm"}, {"dtype", "bf16"}, {"launch", "stream"}, {"m", 64}, {"n", 4096},
                               {"k", 4096},    {"inputs", "cold"}, {"seconds", 3e-6}};
  CHECK_THROWS_WITH(parse_op_bench(test::op_bench(nlohmann::json::array({gemm})).dump(), "g.json"),
                    Contains("g.json: records[0].inputs: unknown key for op gemm"));
  // Since bench-ops' --points inputs=cold (session 20) a norm's record may say so too: read, written
  // back, and a cold study (BenchRecord::cold_study); sample's cold records are none.
  const nlohmann::json norm = {{"op", "rmsnorm"}, {"dtype", "bf16"}, {"launch", "stream"}, {"elements", 65536},
                               {"bytes", 270336},  {"inputs", "cold"}, {"seconds", 3e-6}};
  const OpBench n = parse_op_bench(test::op_bench(nlohmann::json::array({norm})).dump(), "n.json");
  CHECK(n.records[0].inputs == "cold");
  CHECK(n.records[0].cold_study());
  CHECK_FALSE(d.records[0].cold_study());
  CHECK(write_op_bench(n).find("\"inputs\":\"cold\"") != std::string::npos);
}

TEST_CASE("a fit drops warm sample records where cold ones of the same model exist", "[quick][op_bench]")
{
  // Stream: warm at 16 and 64 rows (43.4 and 45.4 us, the H100's records of 2026-12-05/06 at vocab
  // 131,072), cold at 16 and 256 rows (80 and 90 us, made up for the test). Graph: warm only (43 us).
  // The two warm stream records leave the fit; the graph one stays, having no cold record beside it.
  test::TempDir dir("cold_inputs");
  const std::string path = (dir.path / "ops.json").string();
  std::ofstream(path) << test::op_bench(nlohmann::json::array({sample("stream", 16, 43.4e-6, false),
                                                              sample("stream", 64, 45.4e-6, false),
                                                              sample("stream", 16, 80e-6, true), sample("stream", 256, 90e-6, true),
                                                              sample("graph", 16, 43e-6, false)}))
                             .dump();
  const OpBenchFit fit = fit_op_bench_files({path}, {}, {}, std::string(MOESIM_SOURCE_DIR) + "/workloads/models");
  CHECK(fit.superseded == 2);
  CHECK_THAT(fit_quality_markdown(fit), Contains("Superseded: 2 sample/embedding records"));
  // The stream model answers its cold points with what they measured, and 64 rows (where only a warm
  // record was) from the cold ones: above both warm records' 45 us.
  const OpMeasurements m = load_op_measurements(path);
  REQUIRE(m.ops.size() == 5);
  for (size_t i : {size_t(2), size_t(3)}) {
    const auto e = estimate_record(fit.models, m.ops[i]);
    REQUIRE(e);
    CHECK(e->seconds == Approx(m.ops[i].seconds).epsilon(1e-6));
  }
  const auto at64 = estimate_record(fit.models, m.ops[1]);
  REQUIRE(at64);
  CHECK(at64->seconds > 79e-6);
  const auto graph = estimate_record(fit.models, m.ops[4]);
  REQUIRE(graph);
  CHECK(graph->seconds == Approx(43e-6).epsilon(1e-6));
  // Without the cold records nothing is superseded.
  std::vector<OpRecord> warm_only = {m.ops[0], m.ops[1], m.ops[4]};
  CHECK(superseded_by_cold(warm_only) == 0);
  CHECK(warm_only.size() == 3);
}
