// moesim-validate run and bench-collectives. [quick]: what they decide without a GPU (options, the
// NCCL calls of every op, time bases, the Timeline, the nccl-tests layout, refusals through the
// command line). [gpu]: schedules replayed on 1 and 2 GPUs, eagerly and as CUDA graphs, and the
// collectives benchmark with its correctness check (2-GPU cases skip with fewer GPUs).
#include "tests/temp_dir.hpp"
#include "core/error.hpp"
#include "core/model_loader.hpp"
#include "core/nccl_tests.hpp"
#include "core/schedule_builder.hpp"
#include "core/schedule_json.hpp"
#include "core/timeline.hpp"
#include "tests/kernels/gpu_test.hpp"
#include "validate/collectives_bench.hpp"
#include "validate/collectives_check.hpp"
#include "validate/comm_plan.hpp"
#include "validate/nccl_env.hpp"
#include "validate/options.hpp"
#include "validate/runner.hpp"
#include "validate/runner_plan.hpp"
#include "tests/validate/run_validate.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>

namespace fs = std::filesystem;
using namespace moesim;
using namespace moesim::validate;

namespace {

Model small_model(int layers);

// A hand-made schedule of `world` ranks: no op yet, the model facts of Qwen3-30B-A3B.
Schedule bare(int world, std::vector<std::vector<int>> groups)
{
  Schedule s;
  s.model = "test";
  s.facts = model_facts(small_model(1));
  s.layout.world = world;
  s.layout.plan.name = "test";
  for (auto& ranks : groups) {
    Group g;
    g.id = static_cast<int>(s.layout.groups.size());
    g.kind = GroupKind::ep;
    g.ranks = ranks;
    s.layout.groups.push_back(g);
  }
  s.ranks.resize(world);
  for (int r = 0; r < world; r++)
    s.ranks[r].rank = r;
  return s;
}

Op& add(Schedule& s, int rank, OpKind kind)
{
  Op op;
  op.id = static_cast<int>(s.ranks[rank].ops.size());
  op.name = std::string(to_string(kind)) + std::to_string(op.id);
  op.kind = kind;
  s.ranks[rank].ops.push_back(op);
  return s.ranks[rank].ops.back();
}

Op& add_coll(Schedule& s, int rank, OpKind kind, int group, int coll, double bytes)
{
  Op& op = add(s, rank, kind);
  op.group = group;
  op.coll = coll;
  op.comm_bytes = bytes;
  return op;
}

Op& add_p2p(Schedule& s, int rank, OpKind kind, int peer, int tag, double bytes, int stream = 0)
{
  Op& op = add(s, rank, kind);
  op.peer = peer;
  op.tag = tag;
  op.comm_bytes = bytes;
  op.stream = stream;
  return op;
}

// An rmsnorm (or silu_mul) of one row of `elements`.
Op& add_compute(Schedule& s, int rank, OpKind kind, double elements)
{
  Op& op = add(s, rank, kind);
  op.shape = RowsShape{1, static_cast<long>(elements)};
  op.flops = elements;
  op.bytes = 2 * elements * 2;
  return op;
}

Model small_model(int layers)
{
  Model m = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/qwen3-30b-a3b.yaml").model;
  m.layers = layers;
  m.dense_layers = std::min(m.dense_layers, layers);
  return m;
}

Schedule built(const std::string& plan, int gpus, int layers, bool graphs, int batch = 4)
{
  const Model m = small_model(layers);
  const Layout L = make_layout(Plan::parse(plan), m, gpus);
  BuildOptions o;
  o.engine.cuda_graphs = graphs;
  return build_schedule(m, L, StepShape{Phase::decode, batch, 256, 0}, o);
}

struct TempDir : moesim::test::TempDir {
  TempDir() : moesim::test::TempDir("moesim_test_runner") {}
};

using Run = test::ValidateRun;
using test::run_validate;

std::string refusal(const std::function<void()>& f)
{
  try {
    f();
  } catch (const InputError& e) {
    CHECK(!e.fix().empty());
    return e.what();
  }
  return "accepted";
}

RankTimes rank_times(double host_start, std::vector<std::pair<double, double>> ops, double last = 0)
{
  RankTimes t;
  t.host_start = host_start;
  for (auto [a, b] : ops) {
    t.start.push_back(a);
    t.end.push_back(b);
  }
  t.host_wait.assign(ops.size(), 0.0);
  t.last = last;
  return t;
}

// Skips (exit 77, see gpu_test.hpp) with fewer than n CUDA devices.
void require_gpus(int n)
{
  test::require_gpu();
  int have = 0;
  MOESIM_CHECK(cudaGetDeviceCount(&have));
  if (have < n) {
    std::printf("SKIPPED: needs %d CUDA devices, %d visible\n", n, have);
    std::fflush(stdout);
    std::exit(77);
  }
}

// What every measured timeline must satisfy, whatever the machine.
void check_measurement(const Schedule& s, const Measurement& m, int iters)
{
  const Timeline& t = m.timeline;
  std::size_t ops = 0;
  for (const RankSchedule& r : s.ranks)
    ops += r.ops.size();
  REQUIRE(t.events.size() == ops);
  CHECK(m.step_times.size() == static_cast<std::size_t>(iters));
  CHECK(t.step_time > 0);
  CHECK(t.world == s.layout.world);
  const double eps = 2e-6; // event resolution
  std::map<int, std::vector<double>> coll_sync;
  for (const TimelineEvent& e : t.events) {
    INFO("rank " << e.rank << " op " << e.op << " " << e.name << ": ready " << e.ready << " start " << e.start
                 << " sync " << e.sync << " end " << e.end);
    CHECK(e.ready <= e.start + eps);
    CHECK(e.start <= e.sync + eps);
    CHECK(e.sync <= e.end + eps);
    CHECK(e.end <= t.step_time + eps);
    CHECK(e.ready >= -eps);
    const Op& op = s.ranks[e.rank].ops[e.op];
    if (op_class(op.kind) == OpClass::collective)
      coll_sync[op.coll].push_back(e.sync);
  }
  for (const auto& [coll, syncs] : coll_sync) // every member sees the same arrival
    for (double x : syncs)
      CHECK(x == Approx(syncs[0]).margin(1e-12));
  for (int r = 0; r < s.layout.world; r++) {
    const Breakdown b = breakdown_of_rank(t, r);
    CHECK(b.compute >= 0);
    CHECK(b.comm >= -eps);
  }
}

} // namespace

// ------------------------------------------------------------------------------------------------
// [quick]

TEST_CASE("run options", "[quick]")
{
  const RunOptions d = parse_run_options({"s.json", "--out", "t.json"});
  CHECK(d.schedule == "s.json");
  CHECK(d.out == "t.json");
  CHECK(!d.graph);
  CHECK(d.iters == 10);
  CHECK(d.warmup == 3);
  CHECK(d.seed == 1);
  CHECK(d.platform.empty());

  const RunOptions o = parse_run_options(
      {"--graph", "--iters", "7", "s.json", "--warmup", "0", "--seed", "42", "-o", "x.json", "--platform", "h100"});
  CHECK(o.graph);
  CHECK(o.iters == 7);
  CHECK(o.warmup == 0);
  CHECK(o.seed == 42);
  CHECK(o.out == "x.json");
  CHECK(o.platform == "h100");

  auto bad = [](std::vector<std::string> a) { return refusal([&] { parse_run_options(a); }); };
  CHECK_THAT(bad({"s.json"}), Catch::Contains("--out") && Catch::Contains("is required"));
  CHECK_THAT(bad({"--out", "t.json"}), Catch::Contains("no schedule file"));
  CHECK_THAT(bad({"s.json", "--out"}), Catch::Contains("--out: needs a value"));
  CHECK_THAT(bad({"s.json", "--out", "t", "--iters", "0"}), Catch::Contains("--iters: 0 is out of range"));
  CHECK_THAT(bad({"s.json", "--out", "t", "--iters", "3x"}), Catch::Contains("'3x' is not an integer"));
  CHECK_THAT(bad({"s.json", "--out", "t", "--bogus"}), Catch::Contains("--bogus: unknown option"));
  CHECK_THAT(bad({"s.json", "b.json", "--out", "t"}), Catch::Contains("a second schedule"));
}

TEST_CASE("bench options, sizes as nccl-tests writes them", "[quick]")
{
  // K, M, G are powers of 1024 in nccl-tests.
  CHECK(parse_size("1K", "-b") == 1024);
  CHECK(parse_size("256M", "-e") == 268435456);
  CHECK(parse_size("1G", "-e") == 1073741824);
  CHECK(parse_size("4096", "-b") == 4096);
  CHECK(parse_size("0.5k", "-b") == 512); // nccl-tests reads decimals and either case
  CHECK_THAT(refusal([] { parse_size("12Q", "-b"); }), Catch::Contains("-b: cannot read size '12Q'"));
  CHECK(format_size(1024) == "1K");
  CHECK(format_size(268435456) == "256M");
  CHECK(format_size(3000) == "3000");

  const BenchOptions d = parse_bench_options({"--op", "all_gather"});
  CHECK(d.op == OpKind::all_gather);
  CHECK(d.min_bytes == 1024);
  CHECK(d.max_bytes == 256u << 20);
  CHECK(d.factor == 2);
  CHECK(d.gpus == 1);
  CHECK(bench_sizes(d).size() == 19); // 2^10 .. 2^28

  const BenchOptions o =
      parse_bench_options({"--op", "sendrecv", "-b", "1K", "-e", "64K", "-f", "4", "-g", "2", "--json", "b.json"});
  CHECK(o.op == OpKind::send);
  CHECK(bench_op_name(o.op) == std::string("sendrecv"));
  CHECK(bench_sizes(o) == std::vector<std::size_t>{1024, 4096, 16384, 65536});
  CHECK(o.gpus == 2);
  CHECK(o.json == "b.json");
  CHECK(parse_bench_options({"--op", "alltoall"}).op == OpKind::all_to_all);

  auto bad = [](std::vector<std::string> a) { return refusal([&] { parse_bench_options(a); }); };
  CHECK_THAT(bad({}), Catch::Contains("--op: is required"));
  CHECK_THAT(bad({"--op", "broadcast"}), Catch::Contains("unknown collective 'broadcast'"));
  CHECK_THAT(bad({"--op", "all_reduce", "-b", "1M", "-e", "1K"}), Catch::Contains("is below -b"));
  CHECK_THAT(bad({"--op", "all_reduce", "-f", "1"}), Catch::Contains("-f: 1 is out of range"));
}

TEST_CASE("bench shapes and bus bandwidth follow nccl-tests", "[quick]")
{
  // all_reduce: 1024 B of bf16 = 512 elements, sent and received whole.
  BenchShape s = bench_shape(OpKind::all_reduce, 1024, 4);
  CHECK((s.bytes == 1024 && s.count == 512 && s.send_elements == 512 && s.recv_elements == 512));
  // all_gather over 3: 512 / 3 = 170 elements each, rounded down to 16 bytes (8 elements): 168;
  // the output (and the size column) is 3 x 168 = 504 elements, 1008 B (nccl-tests 2.19.6).
  s = bench_shape(OpKind::all_gather, 1024, 3);
  CHECK((s.count == 168 && s.send_elements == 168 && s.recv_elements == 504 && s.bytes == 1008));
  s = bench_shape(OpKind::reduce_scatter, 1024, 3);
  CHECK((s.count == 168 && s.send_elements == 504 && s.recv_elements == 168 && s.bytes == 1008));
  // all_to_all over 3: 170 per peer, rounded down to 16 bytes = 8 elements: 168; 3 x 168 each way.
  s = bench_shape(OpKind::all_to_all, 1024, 3);
  CHECK((s.count == 168 && s.send_elements == 504 && s.recv_elements == 504 && s.bytes == 1008));
  CHECK(bench_shape(OpKind::all_to_all, 16, 4).count == 0); // 2 elements per peer round to 0: skipped
  s = bench_shape(OpKind::send, 1024, 2);
  CHECK((s.count == 512 && s.bytes == 1024));

  // 1e9 B in 1 s = 1 GB/s algbw; busbw x 2(n-1)/n = 1.5 for an all-reduce over 4, x (n-1)/n = 0.75
  // for all-gather, x 1 for sendrecv.
  BenchRow r{1000000000, 0, 1.0, 0};
  CHECK(r.algbw() == Approx(1.0));
  CHECK(busbw(OpKind::all_reduce, 4, r) == Approx(1.5));
  CHECK(busbw(OpKind::all_gather, 4, r) == Approx(0.75));
  CHECK(busbw(OpKind::send, 4, r) == Approx(1.0));
}

TEST_CASE("bench-collectives output reads back as an nccl-tests log", "[quick]")
{
  TempDir dir;
  SystemInfo sys;
  sys.nccl_version = 22809;
  sys.runtime_version = 13000;
  for (int i = 0; i < 2; i++)
    sys.devices.push_back({i, "NVIDIA H100 80GB HBM3", 9, 0, 80LL << 30, 132, "0000:1" + std::to_string(i) + ":00.0"});
  sys.device_count = 2;
  BenchOptions o = parse_bench_options({"--op", "reduce_scatter", "-b", "1K", "-e", "2K", "-g", "2"});
  const std::vector<BenchRow> rows = {{1024, 256, 10e-6, 0}, {2048, 512, 11e-6, 0}};
  std::string text = bench_header(o.op, 2, o, sys);
  for (const BenchRow& r : rows)
    text += bench_row(o.op, 2, r);
  text += bench_footer(o.op, 2, rows);
  CHECK_THAT(text, Catch::Contains("# Out of bounds values : 0 OK"));
  CHECK_THAT(text, Catch::Contains("bfloat16"));

  const NcclTestsLog log = parse_nccl_tests_log(dir.write("rs.txt", text));
  CHECK(log.kind == OpKind::reduce_scatter);
  CHECK(log.ranks == 2);
  CHECK_THAT(log.devices, Catch::Contains("H100"));
  REQUIRE(log.rows.size() == 2);
  CHECK(log.rows[1].bytes == 2048);
  CHECK(log.rows[1].seconds == Approx(11e-6));

  // The JSON is nccl-tests' -J layout: the same reader takes it.
  const nlohmann::json j = bench_json(o, rows, sys);
  const NcclTestsLog jl = parse_nccl_tests_log(dir.write("rs.json", j.dump()));
  CHECK(jl.kind == OpKind::reduce_scatter);
  CHECK(jl.ranks == 2);
  REQUIRE(jl.rows.size() == 2);
  CHECK(jl.rows[0].seconds == Approx(10e-6));
  CHECK(j.at("moesim").at("nccl_env").contains("NCCL_NVLS_ENABLE"));
  CHECK(j.at("moesim").at("system").at("nccl_version") == "2.28.9");
}

TEST_CASE("bench data patterns stay exact in bf16", "[quick]")
{
  // v(r, i) = ((7 r + i) mod m) + 1 with m = min(29, 256 / ranks): the sum over every rank is at
  // most ranks x m <= 256, an integer bf16 holds exactly.
  CHECK(check::pattern_modulus(1) == 29);
  CHECK(check::pattern_modulus(8) == 29); // 8 x 29 = 232
  CHECK(check::pattern_modulus(16) == 16);
  CHECK(check::rank_value(0, 0, 29) == 1);
  CHECK(check::rank_value(1, 0, 29) == 8);
  CHECK(check::rank_value(0, 29, 29) == 1);
  CHECK(check::chunk_value(1, 2, 0, 29) == 14); // (7 + 6) mod 29 + 1
  for (int n : {2, 4, 8, 16, 32})
    CHECK(n * check::pattern_modulus(n) <= 256);
}

TEST_CASE("NVLink multicast is forced off", "[quick]")
{
  setenv("NCCL_NVLS_ENABLE", "1", 1);
  CHECK_THAT(force_nvls_off(), Catch::Contains("was 1, set to 0"));
  CHECK(std::string(std::getenv("NCCL_NVLS_ENABLE")) == "0");
  CHECK(force_nvls_off().empty());
  unsetenv("NCCL_PROTO");
  setenv("NCCL_ALGO", "Ring", 1);
  CHECK_THAT(describe_nccl_env(), Catch::Contains("NCCL_NVLS_ENABLE=0") && Catch::Contains("NCCL_ALGO=Ring") &&
                                      Catch::Contains("NCCL_PROTO=<unset>"));
  const nlohmann::json j = nccl_env_json();
  CHECK(j.at("NCCL_ALGO") == "Ring");
  CHECK(j.at("NCCL_PROTO").is_null());
  unsetenv("NCCL_ALGO");
}

TEST_CASE("NCCL calls: counts, all-to-all-v peer matrix, point-to-point", "[quick]")
{
  // Three ranks in one group. Collectives 0-3 on every rank; then rank 0 sends to rank 1 on
  // stream 1 after its all-to-all. All-to-all peer_bytes (what each rank sends to members 0, 1, 2):
  //   rank 0: 0, 100, 200    rank 1: 10, 0, 30    rank 2: 40, 60, 2
  // In bf16 elements rank 0 sends 50 to 1 and 100 to 2, and receives rank 1's column-0 entry
  // (10 B = 5) and rank 2's (40 B = 20). Rank 2 also sends itself 1 element.
  Schedule s = bare(3, {{0, 1, 2}});
  const std::vector<std::vector<double>> pb = {{0, 100, 200}, {10, 0, 30}, {40, 60, 2}};
  for (int r = 0; r < 3; r++) {
    add_coll(s, r, OpKind::all_reduce, 0, 0, 1000);     // 500 elements
    add_coll(s, r, OpKind::all_gather, 0, 1, 600);      // output 600 B: 100 elements from each
    add_coll(s, r, OpKind::reduce_scatter, 0, 2, 600);  // input 600 B: 100 elements to each
    add_coll(s, r, OpKind::all_to_all, 0, 3, 0).peer_bytes = pb[r];
  }
  add_p2p(s, 0, OpKind::send, 1, 7, 11130.09, 1).deps = {3}; // fractional bytes round to 5565 elements
  add_p2p(s, 1, OpKind::recv, 0, 7, 11130.09);
  const CommPlan plan = plan_communicators(s, "t.json");
  REQUIRE(plan.comms.size() == 2); // group 0, then the p2p one
  const auto calls = plan_comm_calls(s, plan, "t.json");
  REQUIRE(calls.size() == 3);

  const CommCall& ar = calls[0][0];
  CHECK((ar.comm == 0 && ar.comm_size == 3 && ar.count == 500 && ar.send_elements == 500 && ar.recv_elements == 500));
  const CommCall& ag = calls[0][1];
  CHECK((ag.count == 100 && ag.send_elements == 100 && ag.recv_elements == 300));
  const CommCall& rs = calls[0][2];
  CHECK((rs.count == 100 && rs.send_elements == 300 && rs.recv_elements == 100));

  const CommCall& a0 = calls[0][3];
  CHECK(a0.sends == std::vector<PeerCount>{{1, 50}, {2, 100}});
  CHECK(a0.recvs == std::vector<PeerCount>{{1, 5}, {2, 20}});
  CHECK((a0.send_elements == 150 && a0.recv_elements == 25));
  const CommCall& a2 = calls[2][3];
  CHECK(a2.sends == std::vector<PeerCount>{{0, 20}, {1, 30}, {2, 1}});
  CHECK(a2.recvs == std::vector<PeerCount>{{0, 100}, {1, 15}, {2, 1}});
  // What every rank sends to j is what j receives from it.
  for (int i = 0; i < 3; i++)
    for (const PeerCount& p : calls[i][3].sends) {
      const auto& in = calls[p.peer][3].recvs;
      CHECK(std::find(in.begin(), in.end(), PeerCount{i, p.count}) != in.end());
    }

  const CommCall& send = calls[0][4];
  CHECK((send.comm == 1 && send.count == 5565 && send.sends == std::vector<PeerCount>{{1, 5565}}));
  const CommCall& recv = calls[1][4];
  CHECK((recv.comm == 1 && recv.count == 5565 && recv.recvs == std::vector<PeerCount>{{0, 5565}}));

  // Subgroups: NCCL peers are indices in the communicator, not global ranks.
  Schedule sub = bare(4, {{2, 3}});
  for (int r : {2, 3})
    add_coll(sub, r, OpKind::all_to_all, 0, 0, 0).peer_bytes = {8, 8};
  const auto sc = plan_comm_calls(sub, plan_communicators(sub, "sub.json"), "sub.json");
  CHECK(sc[3][0].sends == std::vector<PeerCount>{{0, 4}, {1, 4}});
  CHECK(sc[0].empty());

  // An all-to-all without peer_bytes splits comm_bytes evenly.
  Schedule even = bare(2, {{0, 1}});
  for (int r : {0, 1})
    add_coll(even, r, OpKind::all_to_all, 0, 0, 400);
  const auto ec = plan_comm_calls(even, plan_communicators(even, "e.json"), "e.json");
  CHECK(ec[0][0].sends == std::vector<PeerCount>{{0, 100}, {1, 100}});
  CHECK(bf16_elements(0) == 0);
  CHECK(bf16_elements(-3) == 0);
  CHECK(bf16_elements(3) == 2); // 1.5 elements round to 2
}

TEST_CASE("a malformed op list is refused before any GPU work", "[quick]")
{
  Schedule s = bare(1, {{0}});
  add_compute(s, 0, OpKind::rmsnorm, 8);
  add_compute(s, 0, OpKind::rmsnorm, 8).deps = {5};
  CHECK_THAT(refusal([&] { plan_comm_calls(s, plan_communicators(s, "d.json"), "d.json"); }),
             Catch::Contains("ops[1] (rmsnorm1).deps") && Catch::Contains("not an earlier op"));
  s.ranks[0].ops[1].deps.clear();
  s.ranks[0].ops[1].id = 4;
  CHECK_THAT(refusal([&] { plan_comm_calls(s, plan_communicators(s, "d.json"), "d.json"); }),
             Catch::Contains("ids must be the op's index"));
}

TEST_CASE("refusals: graph runs of eager schedules, too few GPUs", "[quick]")
{
  const Schedule eager = built("ep2", 2, 1, false);
  CHECK_THAT(refusal([&] { check_graph_capturable(eager, "ep2.json"); }),
             Catch::Contains("ep2.json: ranks[0].ops[") && Catch::Contains("counts_sync") &&
                 Catch::Contains("CUDA graph cannot hold") && Catch::Contains("--cuda-graphs"));
  CHECK_NOTHROW(check_graph_capturable(built("ep2", 2, 1, true), "g.json"));

  CHECK_THAT(refusal([&] { check_gpu_count(eager, 1, "ep2.json"); }),
             Catch::Contains("needs 2 GPUs, one per rank, but 1 CUDA device is visible") &&
                 Catch::Contains("schedule a plan for 1"));
  CHECK_THAT(refusal([&] { check_gpu_count(eager, 0, "ep2.json"); }), Catch::Contains("0 CUDA devices are visible"));
  CHECK_NOTHROW(check_gpu_count(eager, 8, "ep2.json"));
}

TEST_CASE("median, time base, step span", "[quick]")
{
  CHECK(median_index({3, 1, 2}) == 2);
  CHECK(median_index({4, 1, 3, 2}) == 3); // the lower median: 2
  CHECK(median_index({5, 5, 5}) == 1); // ties keep iteration order
  CHECK(median_index({7}) == 0);

  // Rank 1 recorded its start event 10 us after rank 0 (host clock): its times shift by 10 us.
  IterationTimes it = {rank_times(100.0, {{1e-6, 5e-6}}, 6e-6), rank_times(100.0 + 10e-6, {{1e-6, 3e-6}}, 4e-6)};
  const std::vector<double> off = start_offsets(it);
  CHECK(off[0] == 0);
  CHECK(off[1] == Approx(10e-6).margin(1e-12));
  // End to end: rank 1 finishes at 10 + 4 = 14 us on the common base, rank 0 at 6.
  CHECK(step_span(it) == Approx(14e-6).margin(1e-12));
}

TEST_CASE("measured times become a Timeline with the simulator's meanings", "[quick]")
{
  // rank 0: 0 rmsnorm, 1 all_reduce, 2 host_sync, 3 send to 1 (stream 1, after op 1)
  // rank 1: 0 rmsnorm, 1 all_reduce, 2 host_sync, 3 recv from 0
  Schedule s = bare(2, {{0, 1}});
  for (int r : {0, 1}) {
    add_compute(s, r, OpKind::rmsnorm, 64);
    add_coll(s, r, OpKind::all_reduce, 0, 0, 128);
    add(s, r, OpKind::host_sync);
  }
  add_p2p(s, 0, OpKind::send, 1, 3, 64, 1).deps = {1};
  add_p2p(s, 1, OpKind::recv, 0, 3, 64);
  const CommPlan plan = plan_communicators(s, "t.json");
  const auto calls = plan_comm_calls(s, plan, "t.json");

  // Raw times in us since each rank's start event; rank 1 started 10 us later (host clock).
  const double us = 1e-6;
  IterationTimes it = {
      rank_times(50.0, {{1 * us, 5 * us}, {6 * us, 20 * us}, {21 * us, 40 * us}, {41 * us, 50 * us}}, 50 * us),
      rank_times(50.0 + 10 * us, {{1 * us, 3 * us}, {4 * us, 10 * us}, {11 * us, 30 * us}, {35 * us, 55 * us}},
                 55 * us)};
  it[0].host_wait[2] = 15 * us;
  const Timeline t = assemble_timeline(s, calls, plan, it);
  REQUIRE(t.events.size() == 8);
  auto ev = [&](int rank, int op) { return t.events.at(rank * 4 + op); };
  auto near = [](double x) { return Approx(x).margin(1e-12); };

  // Rank 0's first op: ready at its step start (0); compute ops sync at their start.
  CHECK(ev(0, 0).ready == near(0));
  CHECK(ev(0, 0).sync == near(1 * us));
  // Rank 1's first op: ready at its own start, 10 us on the common base.
  CHECK(ev(1, 0).ready == near(10 * us));
  CHECK(ev(1, 0).start == near(11 * us));
  // The all-reduce: rank 0 arrived at 6 us, rank 1 at 4 + 10 = 14 us: both sync at 14.
  CHECK(ev(0, 1).ready == near(5 * us));
  CHECK(ev(0, 1).start == near(6 * us));
  CHECK(ev(0, 1).sync == near(14 * us));
  CHECK(ev(1, 1).sync == near(14 * us));
  CHECK(ev(1, 1).ready == near(13 * us));
  CHECK(ev(1, 1).end == near(20 * us));
  CHECK_THAT(ev(0, 1).detail, Catch::Contains("count 64"));
  // host_sync: the wait is in the detail; sync = start.
  CHECK(ev(0, 2).detail == "host wait 15.0 us");
  CHECK(ev(0, 2).sync == near(21 * us));
  // The send (stream 1) is ready when its dependency, the all-reduce, ended (20 us); it started
  // at 41 us, the receive at 35 + 10 = 45 us: both sides sync at 45.
  CHECK(ev(0, 3).stream == 1);
  CHECK(ev(0, 3).ready == near(20 * us));
  CHECK(ev(0, 3).sync == near(45 * us));
  CHECK(ev(1, 3).sync == near(45 * us));
  CHECK(ev(1, 3).ready == near(40 * us)); // after rank 1's host_sync (30 + 10)
  CHECK(t.step_time == near(65 * us));    // rank 1: 55 + 10
  CHECK(t.plan == "test");
  CHECK(t.world == 2);

  // Breakdown as the simulator's: rank 0 waited 14 - 6 = 8 us at the all-reduce (idle), and the
  // all-reduce moved data for 20 - 14 = 6 us (comm).
  const Breakdown b = breakdown_of_rank(t, 0);
  CHECK(b.compute == near(4 * us));

  // Summary: one line per rank and per class present.
  const std::string sum = summary_table(t, {65 * us, 70 * us, 60 * us}, "eager");
  CHECK_THAT(sum, Catch::Contains("median 0.065 ms over 3 iterations") && Catch::Contains("collective") &&
                      Catch::Contains("host_sync") && Catch::Contains("p2p"));
}

TEST_CASE("eager and graph measurements pick the median iteration", "[quick]")
{
  Schedule s = bare(1, {{0}});
  add_compute(s, 0, OpKind::rmsnorm, 8);
  const CommPlan plan = plan_communicators(s, "t.json");
  const auto calls = plan_comm_calls(s, plan, "t.json");
  const double ms = 1e-3;
  auto one = [&](double end) { return IterationTimes{rank_times(0, {{0.1 * ms, end}}, end)}; };

  // Eager: plain steps 10, 12, 11 ms: the median is iteration 2. The runs with per-op events took
  // 14, 16, 15 ms (4 ms of events): the per-op times come from the 15 ms one, scaled by 11/15.
  const Measurement e = eager_measurement(s, calls, plan, {one(10 * ms), one(12 * ms), one(11 * ms)},
                                          {one(14 * ms), one(16 * ms), one(15 * ms)});
  CHECK(e.median_iteration == 2);
  CHECK(e.timeline.step_time == Approx(11 * ms));
  CHECK(e.timeline.source == "measured");
  CHECK(e.op_times == "events");
  CHECK(e.event_scale == Approx(11.0 / 15.0));
  CHECK(e.timeline.events[0].end == Approx(11 * ms));
  CHECK(e.timeline.events[0].start == Approx(0.1 * ms * 11 / 15));

  // Graph: plain launches give the steps (median 11 ms); the instrumented graph's median (12 ms)
  // gives the per-op times, scaled by 11/12.
  const Measurement g = graph_measurement(s, calls, plan, {one(10 * ms), one(12 * ms), one(11 * ms)},
                                          {one(12 * ms), one(13 * ms), one(11.5 * ms)});
  CHECK(g.timeline.source == "measured-graph");
  CHECK(g.op_times == "graph-events");
  CHECK(g.timeline.step_time == Approx(11 * ms));
  CHECK(g.event_scale == Approx(11.0 / 12.0));
  CHECK(g.timeline.events[0].end == Approx(11 * ms));
  CHECK(g.timeline.events[0].start == Approx(0.1 * ms * 11 / 12));
  CHECK(g.event_step_times.size() == 3);

  // The JSON is a Timeline (core reads it back) with a "measurement" object beside it.
  RunOptions o = parse_run_options({"s.json", "--out", "t.json", "--graph"});
  SystemInfo sys;
  sys.devices.push_back({0, "NVIDIA H100 80GB HBM3", 9, 0, 1, 1, "x"});
  CHECK(platform_name(o, s, sys) == "1x NVIDIA H100 80GB HBM3");
  o.platform = "nvswitch-1x-h100";
  CHECK(platform_name(o, s, sys) == "nvswitch-1x-h100");
  const nlohmann::json j = measurement_to_json(g, o, s, sys);
  const Timeline back = timeline_from_json(j, "t.json");
  CHECK(back.source == "measured-graph");
  CHECK(back.step_time == Approx(11 * ms));
  CHECK(back.events.size() == 1);
  const auto& m = j.at("measurement");
  CHECK(m.at("mode") == "graph");
  CHECK(m.at("step_times").size() == 3);
  CHECK(m.at("median_iteration") == 2);
  CHECK(m.at("op_times") == "graph-events");
  CHECK(m.at("nccl_env").contains("NCCL_P2P_DISABLE"));
  CHECK(m.at("system").contains("nccl_version"));
}

TEST_CASE("moesim-validate run refuses what it cannot run", "[quick]")
{
  TempDir dir;
  // 64 ranks: more GPUs than any machine here.
  Schedule big = bare(64, {});
  for (int r = 0; r < 64; r++)
    add_compute(big, r, OpKind::rmsnorm, 8);
  const std::string big_file = dir.write("big.json", schedule_to_json(big).dump());
  const Run few = run_validate("run '" + big_file + "' --out '" + dir.file("t.json") + "'");
  INFO(few.output);
  CHECK(few.status == 2);
  CHECK_THAT(few.output, Catch::Contains("big.json: world: the plan 'test' needs 64 GPUs"));
  CHECK_THAT(few.output, Catch::Contains("NCCL_NVLS_ENABLE=0")); // the environment it ran with
  CHECK(!fs::exists(dir.file("t.json")));

  // An eager schedule (host syncs) under --graph.
  const std::string eager = dir.write("ep2.json", schedule_to_json(built("ep2", 2, 1, false)).dump());
  const Run graph = run_validate("run '" + eager + "' --graph --out '" + dir.file("t.json") + "'");
  CHECK(graph.status == 2);
  CHECK_THAT(graph.output, Catch::Contains("ep2.json: ranks[0].ops[") && Catch::Contains("CUDA graph cannot hold"));

  const Run noout = run_validate("run '" + eager + "'");
  CHECK(noout.status == 2);
  CHECK_THAT(noout.output, Catch::Contains("--out: is required"));
  const Run missing = run_validate("run '" + dir.file("nope.json") + "' --out x.json");
  CHECK(missing.status == 2);
  CHECK_THAT(missing.output, Catch::Contains("nope.json") && Catch::Contains("file not found"));

  const Run bench = run_validate("bench-collectives --op all_reduce -g 1000");
  CHECK(bench.status == 2);
  CHECK_THAT(bench.output, Catch::Contains("-g: 1000 GPUs asked for"));
}

// ------------------------------------------------------------------------------------------------
// [gpu]

TEST_CASE("run: one GPU eagerly and as a graph", "[gpu]")
{
  test::require_gpu();
  const Schedule eager = built("tp1", 1, 1, false, 2);
  const Measurement e = run_schedule(eager, "tp1.json", RunConfig{false, 3, 1, 7});
  check_measurement(eager, e, 3);
  CHECK(e.op_times == "events");
  CHECK(e.device_bytes.at(0) > 0);

  const Schedule graph = built("tp1", 1, 1, true, 2);
  const Measurement g = run_schedule(graph, "tp1g.json", RunConfig{true, 3, 1, 7});
  check_measurement(graph, g, 3);
  CHECK(g.timeline.source == "measured-graph");
  CHECK(g.event_scale > 0); // the event nodes cost time: the instrumented graph runs longer
  CHECK(g.event_scale < 1.5);
}

TEST_CASE("run: the command line writes a measured timeline", "[gpu]")
{
  test::require_gpu();
  TempDir dir;
  const std::string file = dir.write("tp1.json", schedule_to_json(built("tp1", 1, 1, false, 1)).dump());
  const Run r = run_validate("run '" + file + "' --out '" + dir.file("t.json") + "' --iters 2 --warmup 1");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("NCCL_NVLS_ENABLE=0") && Catch::Contains("op kind"));
  std::ifstream in(dir.file("t.json"));
  const nlohmann::json j = nlohmann::json::parse(in);
  const Timeline t = timeline_from_json(j, "t.json");
  CHECK(t.source == "measured");
  CHECK(t.world == 1);
  CHECK(j.at("measurement").at("step_times").size() == 2);
  CHECK_THAT(t.platform, Catch::Contains("1x "));
}

TEST_CASE("run: communication of every kind on two GPUs", "[gpu]")
{
  require_gpus(2);
  // All four collectives, an uneven all-to-all-v with self entries, a host sync, and a pipeline
  // send on stream 1 that depends on an op of stream 0, after one small GEMM (compute is covered
  // by the plans below).
  Schedule s = bare(2, {{0, 1}});
  for (int r : {0, 1}) {
    Op& gemm = add(s, r, OpKind::gemm);
    gemm.shape = GemmShape{16, 512, 512};
    gemm.flops = 2.0 * 16 * 512 * 512;
    gemm.bytes = 2.0 * (512 * 512 + 2 * 16 * 512);
    add_coll(s, r, OpKind::all_reduce, 0, 0, 1 << 20);
    add_coll(s, r, OpKind::all_gather, 0, 1, 1 << 16);
    add_coll(s, r, OpKind::reduce_scatter, 0, 2, 1 << 16);
    add_coll(s, r, OpKind::all_to_all, 0, 3, 0).peer_bytes = r == 0 ? std::vector<double>{0, 480}
                                                                      : std::vector<double>{160, 0};
    add(s, r, OpKind::host_sync);
    add_coll(s, r, OpKind::all_to_all, 0, 4, 0).peer_bytes = r == 0 ? std::vector<double>{1000, 70000}
                                                                      : std::vector<double>{33390.3, 12};
  }
  add_p2p(s, 0, OpKind::send, 1, 0, 12288, 1).deps = {6};
  add_p2p(s, 1, OpKind::recv, 0, 0, 12288);
  const Measurement m = run_schedule(s, "comm.json", RunConfig{false, 4, 2, 1});
  check_measurement(s, m, 4);
  const TimelineEvent& send = m.timeline.events[7];
  CHECK(send.kind == OpKind::send);
  CHECK(send.start >= m.timeline.events[6].end - 2e-6); // after its dependency
  CHECK_THAT(m.timeline.events[5].detail, Catch::StartsWith("host wait"));

  // The same without the host sync, as a graph.
  Schedule g = s;
  for (RankSchedule& r : g.ranks) {
    r.ops.erase(r.ops.begin() + 5);
    for (std::size_t i = 0; i < r.ops.size(); i++)
      r.ops[i].id = static_cast<int>(i);
  }
  g.ranks[0].ops[6].deps = {5};
  const Measurement gm = run_schedule(g, "comm-graph.json", RunConfig{true, 4, 2, 1});
  check_measurement(g, gm, 4);
  CHECK(gm.op_times == "graph-events");
}

TEST_CASE("run: expert and pipeline plans on two GPUs", "[gpu]")
{
  require_gpus(2);
  const Schedule ep = built("ep2", 2, 1, false, 4);
  check_measurement(ep, run_schedule(ep, "ep2.json", RunConfig{false, 3, 1, 1}), 3);
  const Schedule pp = built("pp2", 2, 2, true, 4);
  check_measurement(pp, run_schedule(pp, "pp2.json", RunConfig{true, 3, 1, 1}), 3);
}

TEST_CASE("bench-collectives: every collective is correct at every size", "[gpu]")
{
  test::require_gpu();
  int gpus = 0;
  MOESIM_CHECK(cudaGetDeviceCount(&gpus));
  for (int n : {1, std::min(gpus, 2)}) {
    if (n == 1 && gpus > 1)
      continue; // the 2-GPU pass covers it
    for (OpKind op : {OpKind::all_reduce, OpKind::all_gather, OpKind::reduce_scatter, OpKind::all_to_all, OpKind::send}) {
      BenchOptions o;
      o.op = op;
      o.gpus = n;
      o.min_bytes = 1024;
      o.max_bytes = 4 << 20;
      o.factor = 4;
      o.iters = 3;
      o.warmup = 1;
      std::FILE* out = std::tmpfile();
      REQUIRE(out);
      const std::vector<BenchRow> rows = run_collectives_bench(o, out);
      std::fclose(out);
      INFO(bench_op_name(op) << " on " << n << " GPUs");
      CHECK(rows.size() == 7); // 1K, 4K, ..., 4M
      for (const BenchRow& r : rows) {
        CHECK(r.wrong == 0);
        CHECK(r.seconds > 0);
      }
    }
  }
}
