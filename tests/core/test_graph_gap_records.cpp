// graph_gap records beyond the plain chain (bench-ops' distinct-kernel chains and event points,
// validate/op_bench_launch.cpp): core's reader takes their distinct, events and launch fields,
// keeps them apart from the plain chains that graph_gap_us is the median of, writes them back in
// the contract's order, and refuses a bad value with one line naming the file, record and key.
#include "core/error.hpp"
#include "core/op_bench.hpp"
#include "core/op_measurements.hpp"
#include "tests/core/op_bench_json.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

using namespace moesim;

namespace {

std::string refusal(const nlohmann::json& rec)
{
  try {
    parse_op_measurements(test::op_bench(nlohmann::json::array({rec})).dump(), "gaps.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}

} // namespace

TEST_CASE("graph_gap records: distinct chains and event points are read apart from the plain chains", "[quick][perf]")
{
  const nlohmann::json recs = {
      {{"op", "graph_gap"}, {"kernels", 64}, {"seconds", 1.1e-6}},
      {{"op", "graph_gap"}, {"kernels", 16}, {"distinct", 4}, {"launch", "graph"}, {"seconds", 2.5e-6}},
      {{"op", "graph_gap"}, {"kernels", 16}, {"distinct", 4}, {"launch", "stream"}, {"seconds", 3.0e-6}},
      {{"op", "graph_gap"}, {"kernels", 16}, {"events", 16}, {"launch", "graph"}, {"seconds", 0.9e-6}},
      {{"op", "graph_gap"}, {"kernels", 0}, {"events", 64}, {"launch", "stream"}, {"seconds", 0.7e-6}},
      // A plain chain from a stream is an eager gap, not a graph gap; distinct 1 and events 0 written
      // out are a plain chain in a graph.
      {{"op", "graph_gap"}, {"kernels", 16}, {"launch", "stream"}, {"seconds", 1.9e-6}},
      {{"op", "graph_gap"}, {"kernels", 32}, {"distinct", 1}, {"events", 0}, {"seconds", 1.3e-6}}};
  const OpMeasurements m = parse_op_measurements(test::op_bench(recs).dump(), "gaps.json");
  // Records 0 and 6 are plain chains in a graph: graph_gap_us's median takes 1.1 and 1.3 us only.
  CHECK(m.graph_gaps == std::vector<double>{1.1e-6, 1.3e-6});
  REQUIRE(m.launch_gaps.size() == 5);
  CHECK(m.launch_gaps[0] == LaunchGap{16, 4, 0, true, 2.5e-6});
  CHECK(m.launch_gaps[1] == LaunchGap{16, 4, 0, false, 3.0e-6});
  CHECK(m.launch_gaps[2] == LaunchGap{16, 1, 16, true, 0.9e-6});
  CHECK(m.launch_gaps[3] == LaunchGap{0, 1, 64, false, 0.7e-6});
  CHECK(m.launch_gaps[4] == LaunchGap{16, 1, 0, false, 1.9e-6});
  CHECK(m.ops.empty());
  // Written back one record a line in the contract's order (launch, kernels, distinct, events,
  // seconds); the plain record's line is the one it always was.
  const std::string text = write_op_bench(parse_op_bench(test::op_bench(recs).dump(), "gaps.json"));
  CHECK_THAT(text, Catch::Contains("{\"op\":\"graph_gap\",\"kernels\":64,\"seconds\":1.1e-06}"));
  CHECK_THAT(text, Catch::Contains("{\"op\":\"graph_gap\",\"launch\":\"graph\",\"kernels\":16,\"distinct\":4,\"seconds\":2.5e-06}"));
  CHECK_THAT(text, Catch::Contains("{\"op\":\"graph_gap\",\"launch\":\"stream\",\"kernels\":0,\"events\":64,\"seconds\":7e-07}"));
  // And read again, the same measurements.
  const OpMeasurements again = parse_op_measurements(text, "gaps.json");
  CHECK(again.graph_gaps == m.graph_gaps);
  CHECK(again.launch_gaps == m.launch_gaps);
}

TEST_CASE("graph_gap records with bad distinct, events or kernels are refused naming the key", "[quick][perf]")
{
  const nlohmann::json g = {{"op", "graph_gap"}, {"kernels", 16}, {"launch", "graph"}, {"seconds", 1e-6}};
  auto with = [&](const char* key, const nlohmann::json& v) {
    nlohmann::json r = g;
    r[key] = v;
    return r;
  };
  auto one_line = [](const std::string& s) { return s.find('\n') == std::string::npos; };
  for (const auto& [rec, key] : std::vector<std::pair<nlohmann::json, std::string>>{
           {with("distinct", 0), "records[0].distinct"},       // at least one function
           {with("distinct", 2.5), "records[0].distinct"},     // a whole number
           {with("distinct", 32), "records[0].distinct"},      // more functions than the chain's 16 kernels
           {with("distinct", "four"), "records[0].distinct"},  // a number
           {with("events", 8), "records[0].events"},           // one pair around each of the 16 kernels
           {with("events", -16), "records[0].events"},         // not negative
           {with("events", 16.5), "records[0].events"},        // a whole number
           {with("kernels", 0), "records[0].kernels"},         // no kernels and no events
           {with("kernels", 2.5), "records[0].kernels"},       // a whole number
           {with("launch", "eager"), "records[0].launch"},     // stream or graph
           {with("colour", 1), "records[0].colour"}}) {        // no such key
    const std::string why = refusal(rec);
    INFO(rec.dump());
    CHECK_THAT(why, Catch::Contains("gaps.json") && Catch::Contains(key));
    CHECK(one_line(why));
  }
  // Event pairs alone have no kernel functions to cycle through.
  nlohmann::json pairs = {{"op", "graph_gap"}, {"kernels", 0}, {"events", 16}, {"distinct", 2}, {"seconds", 1e-6}};
  CHECK_THAT(refusal(pairs), Catch::Contains("records[0].distinct"));
  pairs.erase("distinct");
  CHECK(refusal(pairs) == "accepted");
}
