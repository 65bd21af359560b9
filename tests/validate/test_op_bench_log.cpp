// bench-ops --from-log without a GPU: a small log written the way bench-ops prints it, from real grid
// descriptions, gives back the records a run would have written (spread 0, said in the side file);
// a description off the grid, a host line out of the APIs' order, a wrong launch word or a record
// count other than the log's own is refused naming the file and line.
#include "core/error.hpp"
#include "validate/op_bench_grid.hpp"
#include "validate/op_bench_log.hpp"
#include "validate/op_bench_record.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>

using namespace moesim;
using namespace moesim::validate::opbench;

namespace {

// --info's output of the H200 that ran call 1 (the keys the recovery reads).
const nlohmann::json info = {{"device_count", 1},
                             {"devices", {{{"name", "NVIDIA H200"}, {"memory_bytes", 150109880320.0}, {"sm_count", 132}}}},
                             {"driver_build", "580.159.04"},
                             {"runtime_version", "13.0"},
                             {"nccl_version", "2.28.3"}};

const std::string header =
    "# moesim-validate bench-ops: NVIDIA H200 (cc 9.0, 132 SMs; estimates from 989 TFLOP/s bf16, 1979 fp8, 4.80 TB/s), "
    "budget 330 s, shard 1/1, 10 timed repetitions after 3 warm-up\n"
    "family               points  candidates   budget s estimate s\n"
    "small                   698         698       12.8       12.8\n";

// The eleven host lines of one point: kernel_launch, cublaslt_call, nccl_call, event_record busy and
// idle, sync idle only, graph_launch busy and idle.
std::string host_lines(const std::string& point)
{
  std::string s;
  const char* words[] = {"busy", "idle", "busy", "idle", "busy", "idle", "busy", "idle", "idle", "busy", "idle"};
  for (int i = 0; i < 11; i++)
    s += std::string(words[i]) + "          " + std::to_string(i + 1) + ".500 us  " + point + "\n";
  return s;
}

Recovered recover(const std::string& text)
{
  std::istringstream in(text);
  return recover_from_log(in, "ops.txt", info, "system.json", "2026-12-04");
}

std::string error_of(const std::string& text)
{
  try {
    recover(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST_CASE("bench-ops --from-log: records rebuilt from a log", "[quick]")
{
  const std::string body = "# small: 698 points, 12.8 s estimated, until 13 s\n"
                           "stream       44.942 us  permute rows=16384 width=1024 k=1 experts=8\n"
                           "graph        41.968 us  permute rows=16384 width=1024 k=1 experts=8\n"
                           "FAILED permute rows=16384 width=1024 k=4 experts=128: permute rows=16384 width=1024 k=4 "
                           "experts=128: 1 of 2 compared elements outside tolerance\n"
                           "# small: 1 ran, 1 failed, 696 not run, 12.8 s (estimated 12.8)\n"
                           "              0.972 us  graph_gap kernels=16\n" +
                           host_lines("host threads=1") + "stream       21.165 us  gemm bf16 m=1 n=262144 k=128\n";
  // 2 permute + 1 graph_gap + 11 host + 1 gemm = 15 records.
  const Recovered r = recover(header + body + "# 15 records in bench/ops.json (327.0 s); 1 failures, 3 points not run\n");
  const nlohmann::json& rec = r.document["records"];
  REQUIRE(rec.size() == 15);
  // The log's reps (10 timed), its microseconds in seconds, spread 0 (not logged): what small_record
  // writes for the point whose description the line ends with (16384 tokens x 1 x 1024 hidden).
  const SmallPoint permute{"permute", 16384, 1024, 1, 8, 0, false};
  CHECK(rec[0] == small_record(permute, Measured{false, 44.942 * 1e-6, 10, 0.0}));
  CHECK(rec[1] == small_record(permute, Measured{true, 41.968 * 1e-6, 10, 0.0}));
  CHECK(rec[0]["elements"] == 16777216.0);
  CHECK(rec[2] == nlohmann::json{{"op", "graph_gap"}, {"kernels", 16}, {"seconds", 0.972 * 1e-6}});
  // Host line i (0-based) is the (i+1).500 us one: 0 kernel_launch busy, 8 sync idle, 10 graph_launch idle.
  CHECK(rec[3] == host_record("kernel_launch", true, 1, 1.5 * 1e-6));
  CHECK(rec[3 + 8] == host_record("sync", false, 1, 9.5 * 1e-6));
  CHECK(rec[3 + 10] == host_record("graph_launch", false, 1, 11.5 * 1e-6));
  CHECK(rec[14] == gemm_record(GemmPoint{Dtype::bf16, 1, 262144, 128}, Measured{false, 21.165 * 1e-6, 10, 0.0}));
  CHECK(r.document["format"] == "moesim-op-bench-1");
  CHECK(r.document["system"] == nlohmann::json{{"gpu", "NVIDIA H200"}, {"sms", 132}, {"cc", "9.0"}, {"driver", "580.159.04"},
                                               {"cuda", "13.0"}, {"nccl", "2.28.3"}, {"date", "2026-12-04"}});
  CHECK(r.run["recovered_from_log"] == true);
  CHECK(r.run["spread"] == "not logged");
  CHECK(r.run["complete"] == true);
  CHECK(r.run["records"] == 15);
  REQUIRE(r.run["failures"].size() == 1);
  CHECK(r.run["failures"][0]["point"] == "permute rows=16384 width=1024 k=4 experts=128");
  CHECK(r.run["families"][0] == nlohmann::json{{"family", "small"}, {"ran", 1}, {"failed", 1}, {"not_run", 696},
                                               {"seconds", 12.8}, {"estimate_s", 12.8}});
  // Without the last line (a run cut short) the records stand and complete is false.
  CHECK(recover(header + body).run["complete"] == false);
}

TEST_CASE("bench-ops --from-log: sample records are cold only where the header says so", "[quick]")
{
  // bench-ops' header has ended in "; sample and embedding inputs cold" since its sample and
  // embedding instances read inputs of their own; an older log's records re-read one buffer.
  const SmallPoint sample{"sample", 16, 0, 0, 0, 131072, false};
  const std::string body = "stream       80.125 us  " + describe(sample) + "\n";
  std::string cold = header;
  cold.insert(cold.find('\n'), std::string("; ") + cold_inputs_words);
  const nlohmann::json now = recover(cold + body).document["records"];
  const nlohmann::json before = recover(header + body).document["records"];
  REQUIRE(now.size() == 1);
  REQUIRE(before.size() == 1);
  CHECK(now[0] == small_record(sample, Measured{false, 80.125 * 1e-6, 10, 0.0}, true));
  CHECK(now[0]["inputs"] == "cold");
  CHECK_FALSE(before[0].contains("inputs"));
}

TEST_CASE("bench-ops --from-log refuses what it cannot map, naming the line", "[quick]")
{
  // Line 4 (header 1, plan table 2 and 3): m=3 n=5 is not on the power-of-two grid.
  CHECK_THAT(error_of(header + "stream        1.000 us  gemm bf16 m=3 n=5 k=7\n"),
             Catch::Contains("ops.txt:4") && Catch::Contains("matches no point of the grid"));
  // The ninth host line is sync, idle only: "busy" there is out of order (line 3 + 9 = 12).
  std::string host = host_lines("host threads=1");
  host.replace(host.find("idle          9.500"), 4, "busy");
  CHECK_THAT(error_of(header + host), Catch::Contains("ops.txt:12"));
  // A host point cut short before the next point: 2 of its 11 records.
  CHECK_THAT(error_of(header + "busy          1.000 us  host threads=1\nidle          1.000 us  host threads=1\n"
                               "              0.972 us  graph_gap kernels=16\n"),
             Catch::Contains("ops.txt:6") && Catch::Contains("2 of the 11"));
  CHECK_THAT(error_of(header + "stream        0.972 us  graph_gap kernels=16\n"), Catch::Contains("ops.txt:4"));
  CHECK_THAT(error_of(header + "garbage\n"), Catch::Contains("ops.txt:4"));
  // The log says 2 records, 1 is there.
  CHECK_THAT(error_of(header + "              0.972 us  graph_gap kernels=16\n# 2 records in x (1.0 s); 0 failures, 0 points not run\n"),
             Catch::Contains("2 records, 1 were recovered"));
  CHECK_THAT(error_of("# not a header\n"), Catch::Contains("ops.txt:1"));
  // The --info of another card than the log's.
  nlohmann::json other = info;
  other["devices"][0]["name"] = "NVIDIA H100";
  std::istringstream in(header);
  CHECK_THROWS_WITH(recover_from_log(in, "ops.txt", other, "system.json", "2026-12-04"),
                    Catch::Contains("system.json") && Catch::Contains("NVIDIA H100"));
}

TEST_CASE("bench-ops --from-log: the launch family's points off the grid are read from their text", "[quick]")
{
  // A --points run of a plain chain (no launch word), a distinct chain and event pairs alone (a
  // launch word each): 1 + 2 + 1 = 4 records, the last three with their fields and launch.
  const Recovered r = recover(header + "              0.972 us  graph_gap kernels=16\n"
                                       "graph         1.310 us  graph_gap kernels=16 distinct=4\n"
                                       "stream        1.905 us  graph_gap kernels=16 distinct=4\n"
                                       "graph         0.640 us  graph_gap kernels=0 events=16\n");
  const nlohmann::json& rec = r.document["records"];
  REQUIRE(rec.size() == 4);
  CHECK(rec[0] == gap_record(16, 0.972e-6));
  CHECK(rec[1] == gap_record(GapPoint{16, 4, 0}, true, 1.310e-6));
  CHECK(rec[2] == gap_record(GapPoint{16, 4, 0}, false, 1.905e-6));
  CHECK(rec[3] == nlohmann::json{{"op", "graph_gap"}, {"kernels", 0}, {"events", 16}, {"launch", "graph"}, {"seconds", 0.640e-6}});
  // Without a launch word a distinct chain's line is refused (line 4), as is a point no parse takes.
  CHECK_THAT(error_of(header + "              1.310 us  graph_gap kernels=16 distinct=4\n"),
             Catch::Contains("ops.txt:4") && Catch::Contains("stream or graph"));
  CHECK_THAT(error_of(header + "graph         1.310 us  graph_gap kernels=16 distinct=9\n"),
             Catch::Contains("ops.txt:4") && Catch::Contains("matches no point of the grid"));
}
