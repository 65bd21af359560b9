// The core's share of issue 12: numbers are finite and in range, keys are not given twice, routing
// survives weights that underflow, products of in-range sizes do not overflow, and outputs are
// written all or nothing without replacing special files.
#include "../temp_dir.hpp"
#include "core/calibration.hpp"
#include "core/engine_profile.hpp"
#include "core/error.hpp"
#include "core/input_file.hpp"
#include "core/json_whole.hpp"
#include "core/model_loader.hpp"
#include "core/nccl_tests.hpp"
#include "core/numbers.hpp"
#include "core/output_files.hpp"
#include "core/routing.hpp"
#include "core/schedule_builder.hpp"
#include "core/schedule_json.hpp"
#include "core/study.hpp"
#include "core/timeline.hpp"
#include "core/yaml_reader.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace moesim;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& p)
{
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

size_t entries(const fs::path& d)
{
  return static_cast<size_t>(std::distance(fs::directory_iterator(d), fs::directory_iterator()));
}

} // namespace

TEST_CASE("numbers: whole strings, finite values, ranges stated", "[quick][core][robust]")
{
  CHECK(parse_number("4096") == 4096.0);
  CHECK(parse_number("-0.5") == -0.5);
  CHECK(parse_number("+2") == 2.0);
  CHECK(parse_number("1e-6") == 1e-6);
  for (const char* bad : {"", "inf", "-inf", "nan", "1e400", "12abc", " 5", "0x10", "++1"}) {
    INFO(bad);
    CHECK_FALSE(parse_number(bad));
  }
  CHECK(whole_in(64, Bounds{1, 65536}) == 64);
  CHECK_FALSE(whole_in(1e12, Bounds{1, 65536}));
  CHECK_FALSE(whole_in(3.7, Bounds{1, 8}));
  CHECK_FALSE(whole_in(NAN, Bounds{0, 1}));
  CHECK(positive(1).text() == "above 0 and at most 1");
  CHECK(Bounds{1, 64}.text() == "between 1 and 64");
}

TEST_CASE("YAML fields: non-finite numbers, keys given twice, ranges and empty lists are refused", "[quick][core][robust]")
{
  auto fields = [](const std::string& text) {
    static YAML::Node keep;
    keep = parse_yaml_text(text, "t.yaml");
    return Fields("t.yaml", keep, "");
  };
  for (const char* v : {"nan", "inf", ".inf", "1e999"}) {
    INFO(v);
    Fields f = fields(std::string("x: ") + v + "\n");
    CHECK_THROWS_WITH(f.num("x"), Contains("t.yaml:1: x:") && Contains("not a finite number"));
  }
  CHECK_THROWS_WITH(fields("a: 1\nb: 2\na: 3\n"), Contains("t.yaml:3: a: given twice (first at line 1)"));
  Fields r = fields("context: 1e12\n");
  CHECK_THROWS_WITH(r.integer_in("context", 0, 16777216), Contains("too large: at most 16777216"));
  Fields w = fields("n: 2.5\n");
  CHECK_THROWS_WITH(w.integer_in("n", 0, 8), Contains("not a whole number"));
  Fields l = fields("batch: []\n");
  CHECK_THROWS_WITH(l.int_list("batch", 1, 64, 64), Contains("empty list"));
  Fields b = fields("u: 7\n");
  CHECK_THROWS_WITH(b.num("u", fraction()), Contains("out of range") && Contains("above 0 and at most 1"));
  // An alias could stand for billions of entries: refused with its line.
  CHECK_THROWS_WITH(parse_yaml_text("a: &x [1, 2]\nb: *x\n", "t.yaml"), Contains("t.yaml:2") && Contains("alias"));
}

TEST_CASE("input files: folders and devices refused, size capped while reading", "[quick][core][robust]")
{
  test::TempDir d("moesim_input");
  CHECK_THROWS_WITH(read_input_file(d.path.string(), 100), Contains("is a folder"));
  CHECK_THROWS_WITH(read_input_file("/dev/zero", 100), Contains("device"));
  CHECK_THROWS_WITH(read_input_file(d.write("big", std::string(101, 'x')), 100), Contains("larger than"));
  CHECK(read_input_file(d.write("ok", "hello"), 100) == "hello");
  // A FIFO is read, and its size is capped as it arrives.
  const std::string fifo = d.file("f");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  if (fork() == 0) {
    std::ofstream(fifo) << std::string(200, 'y');
    _exit(0);
  }
  CHECK_THROWS_WITH(read_input_file(fifo, 100), Contains("larger than"));
}

TEST_CASE("Zipf routing with weights that underflow still draws top_k distinct experts per token", "[quick][core][robust]")
{
  // s = 400: 1/8^400 underflows to 0, so of 16 experts only the 7 most popular keep a weight; a
  // token needs 8. Every token must still reach 8 distinct experts: 64 tokens x 8 = 512 picks, at
  // most 64 per expert. (The old draw walked below index 0 once every weight left was 0.)
  for (double s : {400.0, 1e9}) {
    INFO("s = " << s);
    RoutingSpec spec;
    spec.kind = RoutingKind::zipf;
    spec.zipf_s = s;
    spec.seed = 3;
    const RoutingResult r = route_tokens(spec, {32, 32}, 16, 8, 2, 1, 0);
    double picks = 0;
    for (double t : r.expert_tokens) {
      CHECK(t <= 64);
      picks += t;
    }
    CHECK(picks == 512);
    // Each rank sends each token to at most the 2 shards: 32 tokens x 2 at most, and at least 32.
    for (const auto& row : r.rank_tokens) {
      CHECK(row[0] + row[1] >= 32);
      CHECK(row[0] + row[1] <= 64);
    }
  }
}

TEST_CASE("in-range sizes do not overflow the schedule's byte counts", "[quick][core][robust]")
{
  // Mixtral-8x7B (hidden 4096) under ep4 prefill, batch 64 x prompt 8192 = 524288 tokens. Attention
  // is TP4 and the MoE all-to-all slices the tokens, so the next layer all-gathers them back:
  // 524288 tokens x 4096 x 2 B = 4294967296 B (2^32). In int arithmetic 131072 x 4 x 4096 is 2^31,
  // which overflows.
  const Model m = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/mixtral-8x7b.yaml").model;
  const Layout L = make_layout(Plan::parse("ep4"), m, 4);
  const Schedule s = build_schedule(m, L, StepShape{Phase::prefill, 64, 0, 8192}, BuildOptions{});
  int gathers = 0;
  for (const Op& o : s.ranks[0].ops)
    if (o.kind == OpKind::all_gather && o.name.find("attn.allgather") != std::string::npos) {
      CHECK(o.comm_bytes == 4294967296.0);
      gathers++;
    }
  CHECK(gathers == 31); // every layer after the first
}

TEST_CASE("outputs: all or nothing, special files written in place, folders refused", "[quick][core][robust]")
{
  test::TempDir d("moesim_outputs");
  const std::string a = d.file("a.json"), b = d.file("b.csv");
  // A folder is refused up front, naming the flag.
  CHECK_THROWS_WITH(check_output_paths({{d.path.string(), "--json"}}), Contains("--json") && Contains("is a folder"));
  CHECK_THROWS_WITH(check_output_paths({{d.file("no/x"), "--csv"}}), Contains("does not exist"));
  CHECK_THROWS_WITH(check_output_paths({{a, "--json"}, {a, "--csv"}}), Contains("also the output of --json"));
  // Both written; an existing file keeps its mode.
  std::ofstream(b) << "old";
  ::chmod(b.c_str(), 0640);
  write_outputs({{a, "--json", "A"}, {b, "--csv", "B"}});
  CHECK(slurp(a) == "A");
  CHECK(slurp(b) == "B");
  struct stat st {};
  ::stat(b.c_str(), &st);
  CHECK((st.st_mode & 0777) == 0640);
  // One that cannot be written: the other keeps its old content, and no temporary file remains.
  CHECK_THROWS_AS(write_outputs({{a, "--json", "A2"}, {"/proc/x.csv", "--csv", "X"}}), InputError);
  CHECK(slurp(a) == "A");
  CHECK(entries(d.path) == 2);
  // A symlink is written through and stays a link.
  fs::create_symlink(a, d.file("link"));
  write_outputs({{d.file("link"), "--json", "L"}});
  CHECK(fs::is_symlink(d.file("link")));
  CHECK(slurp(a) == "L");
  // A FIFO with no reader is refused (no hang) and stays a FIFO.
  REQUIRE(mkfifo(d.file("f").c_str(), 0600) == 0);
  CHECK_THROWS_WITH(write_outputs({{d.file("f"), "--json", "F"}}), Contains("no process is reading"));
  CHECK(fs::is_fifo(d.file("f")));
  CHECK(entries(d.path) == 4); // a.json, b.csv, link, f
}

TEST_CASE("what fuzzing found: text for a calibration number, an unknown dtype in a schedule", "[quick][core][robust]")
{
  // Both escaped as yaml-cpp's and the dtype parser's own exceptions: "internal error", exit 1.
  test::TempDir d("moesim_fuzz_found");
  const std::string cal = d.write("c.yaml", "platform: x\nmeasured_on: y\nsource: z\ncollectives:\n  - op: all_reduce\n"
                                            "    ranks: 2\n    points:\n      - [1024, 1.0e-5]\n      - [2048, 0.0O1]\n");
  // The bad point is the file's 9th line.
  // Since the sweep of 2026-12-06 every number of a calibration is read as a number in its range,
  // so the message names the key (collectives[].points) and the range (seconds: above 0, at most an hour).
  CHECK_THROWS_MATCHES(load_calibration_file(cal), InputError,
                       Catch::Matchers::Message(cal + ":9: collectives[].points: '0.0O1' is not a number above 0 and at most 3600 "
                                                      "(fix: write a plain number above 0 and at most 3600)"));
  // A schedule moesim wrote, with one dtype misspelt.
  std::string text = slurp(MOESIM_SOURCE_DIR "/fuzz/corpus/schedule/tiny-tp2-decode.json");
  REQUIRE_NOTHROW(schedule_from_json(nlohmann::json::parse(text), "s.json"));
  const size_t at = text.find("\"bf16\"");
  REQUIRE(at != std::string::npos);
  text.replace(at, 6, "\"bf17\"");
  CHECK_THROWS_WITH(schedule_from_json(nlohmann::json::parse(text), "s.json"), Contains("s.json") && Contains("unknown dtype 'bf17'"));
}

TEST_CASE("what fuzzing on 16 cores found: a name too long for the system, a number past double, a bare nccl-tests header", "[quick][core][robust]")
{
  // Each escaped as a library exception (std::filesystem::filesystem_error, nlohmann's out_of_range
  // 406, std::out_of_range from substr): "internal error", exit 1, where exit 2 and a line are due.
  test::TempDir d("moesim_fuzz16");
  // A file name of 300 bytes is past NAME_MAX (255 on Linux): fs::exists throws ENAMETOOLONG rather
  // than answering false. Taken as not found, with the path named.
  const std::string long_name = std::string(300, 'a') + ".yaml";
  CHECK_THROWS_MATCHES(resolve_platform_path(long_name, MOESIM_SOURCE_DIR), InputError,
                       Catch::Matchers::Message(long_name + ": platforms: platform file not found: " + long_name + " (fix: check the path)"));
  // The same for a model and an engine profile named by a name that long (found by the second run).
  CHECK_THROWS_AS(resolve_model_path(std::string(300, 'm'), MOESIM_SOURCE_DIR "/workloads/models"), InputError);
  CHECK_THROWS_AS(resolve_engine_path(std::string(300, 'e'), MOESIM_SOURCE_DIR), InputError);
  // A schedule whose first number is 1e999999: nlohmann refuses it with out_of_range, not parse_error.
  const std::string big = d.write("big.json", "{\"format\": 1e999999}");
  CHECK_THROWS_WITH(load_schedule_file(big), Contains(big) && Contains("malformed JSON") && Contains("number overflow"));
  // "# Collective test starting:" is 27 characters; the reader took the op from position 28, past the
  // end of a line that stops there. Now the op is empty and the log is refused for having no rows.
  const std::string log = d.write("bare.txt", "# Collective test starting:\n");
  CHECK_THROWS_AS(parse_nccl_tests_log(log), InputError);
}

TEST_CASE("the hostile-input sweep of 2026-12-06: keys twice in any map, calibration and schedule numbers", "[quick][core][robust]")
{
  // A key twice in a map that a loader iterates itself (a calibration's launch_us_by_op) was read
  // as yaml-cpp keeps it: the first value, the second dropped without a word. The scan every file
  // goes through now refuses it, naming the dotted key and both lines.
  CHECK_THROWS_MATCHES(parse_yaml_text("host:\n  launch_us_by_op:\n    gemm: 4\n    gemm: 5\n", "c.yaml"), InputError,
                       Catch::Matchers::Message("c.yaml:4: host.launch_us_by_op.gemm: given twice (first at line 3) (fix: keep one of them)"));
  // Inside a list entry, named as Fields names it; and in a flow map.
  CHECK_THROWS_WITH(parse_yaml_text("kernels:\n  - op: gemm\n    op: rmsnorm\n", "c.yaml"),
                    Contains("c.yaml:3: kernels[].op: given twice (first at line 2)"));
  CHECK_THROWS_WITH(parse_yaml_text("a: {x: 1, x: 2}\n", "f.yaml"), Contains("f.yaml:1: a.x: given twice"));
  // The same key in two maps, or in two entries of a list, is no repetition.
  CHECK_NOTHROW(parse_yaml_text("a: {x: 1}\nb: {x: 2}\nl:\n  - x: 1\n  - x: 2\n", "f.yaml"));

  // Numbers of a calibration that were read raw (as<double>) or checked only for sign: each is now
  // finite and in range, and the message names its key.
  test::TempDir d("moesim_sweep12c");
  const std::string head = "platform: x\nmeasured_on: y\nsource: z\n";
  auto refused = [&](const std::string& body, const std::string& key) {
    INFO(body);
    const std::string f = d.write("c.yaml", head + body);
    CHECK_THROWS_WITH(load_calibration_file(f), Contains(f) && Contains(key));
  };
  refused("host:\n  launch_us: 1e300\n", "host.launch_us");                  // was a 1e294 s launch
  refused("host:\n  launch_us_by_op: {gemm: 1e300}\n", "host.launch_us_by_op.gemm");
  refused("kernels:\n  - {op: gemm, dtype: bf16, shape: [0, 64, 64], vary: 0, points: [[1, 1e300]]}\n", "kernels[].points");
  refused("kernels:\n  - {op: gemm, dtype: bf16, shape: [0, 64, 64], vary: 0, points: [[-1, 4e-6]]}\n", "kernels[].points");
  refused("kernels:\n  - {op: gemm, dtype: bf16, shape: [0, -64, 64], vary: 0, points: [[1, 4e-6]]}\n", "kernels[].shape");
  refused("collectives:\n  - {op: all_reduce, ranks: 2, points: [[1024, .inf]]}\n", "collectives[].points"); // inf > 0 passed
  refused("compute:\n  flops_eff: 7\n", "compute.flops_eff");                // 7x the tensor peak
  refused("compute:\n  mem_bw_eff: 1.5\n", "compute.mem_bw_eff");
  refused("host:\n  api_us: [[kernel_launch, idle, 2.5, 4.0]]\n", "host.api_us"); // 2.5 threads
  // In range, the same shapes load.
  CHECK_NOTHROW(load_calibration_file(d.write("c.yaml", head + "host:\n  launch_us: 5\n  launch_us_by_op: {gemm: 4.1}\n"
                                                              "compute:\n  flops_eff: 0.7\n")));

  // A schedule's numbers: a negative FLOP count, and an int field past INT_MAX that the cast wrapped
  // (4294967296 = 2^32 became layer 0).
  const nlohmann::json good = nlohmann::json::parse(slurp(MOESIM_SOURCE_DIR "/fuzz/corpus/schedule/tiny-tp2-decode.json"));
  REQUIRE_NOTHROW(schedule_from_json(good, "s.json"));
  REQUIRE(good["ranks"][0]["ops"][0].contains("flops"));
  nlohmann::json bad = good;
  bad["ranks"][0]["ops"][0]["flops"] = -0.5;
  CHECK_THROWS_WITH(schedule_from_json(bad, "s.json"), Contains("s.json") && Contains("flops") && Contains("between 0 and 1e24"));
  bad = good;
  bad["ranks"][0]["ops"][0]["bytes"] = 1e300;
  CHECK_THROWS_WITH(schedule_from_json(bad, "s.json"), Contains("bytes") && Contains("between 0 and 1e24"));
  bad = good;
  bad["ranks"][0]["ops"][0]["layer"] = 4294967296LL;
  CHECK_THROWS_WITH(schedule_from_json(bad, "s.json"), Contains("layer") && Contains("at most 2147483647"));
}

TEST_CASE("the sweep's last finding: a YAML string that is not UTF-8 is refused, naming the key and the byte", "[quick][core][robust]")
{
  // A study name with a Latin-1 byte (0xe9, 'é' in Latin-1) ran and reached the report; in UTF-8
  // 0xe9 starts a three-byte sequence that "t" (0x74) cannot continue. "caf" is 3 bytes, so the bad
  // byte is at offset 3.
  test::TempDir d("moesim_utf8");
  const std::string body = "model: qwen3-30b-a3b\nplatforms: [nvswitch-1x-h200]\nphase: decode\nbatch: [1]\ncontext: 1024\n"
                           "plans: [tp1]\n";
  const std::string bad = d.write("s.yaml", std::string("name: caf\xe9t\n") + body);
  CHECK_THROWS_WITH(load_study_file(bad, MOESIM_SOURCE_DIR),
                    Contains(bad) && Contains("name") && Contains("not UTF-8 text (byte 0xe9 at offset 3)") &&
                        Contains("write the value in UTF-8"));
  // Overlong (0xc0 0xaf for '/'), a surrogate (0xed 0xa0 0x80) and a code point past U+10FFFF
  // (0xf4 0x90 ...) are not UTF-8 either; each starts at offset 1 after "x".
  for (const std::string seq : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    const std::string f = d.write("s.yaml", "name: x" + seq + "\n" + body);
    CHECK_THROWS_WITH(load_study_file(f, MOESIM_SOURCE_DIR), Contains("at offset 1)"));
  }
  // The same name written in UTF-8 ("café", 0xc3 0xa9) loads.
  CHECK(load_study_file(d.write("s.yaml", std::string("name: caf\xc3\xa9\n") + body), MOESIM_SOURCE_DIR).name ==
        "caf\xc3\xa9");
}


TEST_CASE("what CI's fuzzing found on 2026-12-06: a float past int's range where a JSON reader wants a whole number", "[quick][core][robust]")
{
  using nlohmann::json;
  // nlohmann's get<int>() of 1e20 (stored as a float) is static_cast<int>(1e20): undefined, and UBSan
  // stopped fuzz_nccl_tests on {"nccl_version": 1e20}. json_whole reads whole numbers in range only.
  CHECK(json_whole<int>(json::parse("2")) == 2);
  CHECK(json_whole<int>(json::parse("2.0")) == 2);  // a float with nothing after the point
  CHECK(json_whole<int>(json::parse("2e3")) == 2000);
  CHECK(json_whole<int>(json::parse("-3")) == -3);
  CHECK(json_whole<int>(json::parse("2147483647")) == 2147483647);   // INT_MAX = 2^31 - 1
  CHECK(json_whole<long long>(json::parse("9223372036854775807")) == 9223372036854775807LL); // 2^63 - 1
  CHECK(json_whole<size_t>(json::parse("18446744073709551615")) == 18446744073709551615ULL); // 2^64 - 1
  for (const char* bad : {"1e20", "2.5", "\"2\"", "null", "true", "[1]", "2147483648", "-2147483649", "2147483648.0", "-1e300"}) {
    INFO(bad);
    CHECK_THROWS_AS(json_whole<int>(json::parse(bad)), json::type_error);
  }
  // 2^63 as a float is one past a long long's largest value; -1 is no size.
  CHECK_THROWS_AS(json_whole<long long>(json::parse("9.223372036854775808e18")), json::type_error);
  CHECK_THROWS_AS(json_whole<size_t>(json::parse("-1")), json::type_error);
  CHECK_THROWS_AS(json_whole<size_t>(json::parse("-1.0")), json::type_error);
  CHECK_THROWS_AS(json_whole_list<int>(json::parse("[1, 2.5]")), json::type_error);
  CHECK(json_whole_list<int>(json::parse("[1, 2.0]")) == std::vector<int>{1, 2});
  CHECK(json_whole_or<int>(json::parse("{}"), "microbatch", 7) == 7);

  // The readers that did the cast: each refuses with the file named, an InputError (exit 2), not UB.
  test::TempDir d("moesim_fuzz_ci_1206");
  const std::string rows = R"("results": [{"size": 1024, "out_of_place": {"time": 20.0}}])";
  for (const std::string& head : {std::string(R"({"args": ["all_reduce_perf"], "devices": [{}, {}], "nccl_version": 1e20, )"),
                                  std::string(R"({"args": ["all_reduce_perf"], "config": {"nthreads": 1e30, "ngpus": 2}, )"),
                                  std::string(R"({"args": ["all_reduce_perf"], "config": {"nthreads": 2, "ngpus": -1e300}, )")}) {
    INFO(head);
    const std::string log = d.write("v.json", head + rows + "}");
    CHECK_THROWS_WITH(parse_nccl_tests_log(log), Contains(log) && Contains("expected a whole number"));
  }
  // The same report with nccl_version 22803 and nthreads x ngpus = 2 reads: 2 ranks, one row.
  const NcclTestsLog ok = parse_nccl_tests_log(
      d.write("ok.json", std::string(R"({"args": ["all_reduce_perf"], "config": {"nthreads": 2, "ngpus": 1.0}, "nccl_version": 22803, )") + rows + "}"));
  CHECK(ok.ranks == 2);
  CHECK(ok.nccl_version == "22803");
  REQUIRE(ok.rows.size() == 1);
  // A timeline's world of 1e20 ranks is refused by name.
  const json tl = json::parse(R"({"format": "moesim-timeline-1", "source": "s", "platform": "p", "plan": "TP=2",
                                  "world": 1e20, "step_time": 1e-3, "events": []})");
  CHECK_THROWS_WITH(timeline_from_json(tl, "t.json"), Contains("t.json") && Contains("expected a whole number"));
}
