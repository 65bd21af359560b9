// A calibrated platform: measured kernel times replace the roofline inside their grid, and a
// measured collective curve is reproduced by an isolated call (its fixed cost at the size plus its
// flows slowed to the measured bus bandwidth).
#include "fixtures.hpp"
#include "core/op_models.hpp"
#include "sim/simulation.hpp"

#include <cmath>
#include <optional>
#include <tuple>

#include <catch2/catch.hpp>

using namespace moesim;
using namespace moesim::test;

namespace {

// One file per test: ctest runs tests in parallel. Returns the file, loaded.
std::shared_ptr<const Calibration> calibration_file(const std::string& name)
{
  const auto p = std::filesystem::temp_directory_path() / ("moesim_test_calibrated_" + name + ".yaml");
  // all_reduce on 4 ranks: t = 20 us + S * 1.5 / 100 GB/s at 1 MB and 16 MB;
  // gemm {m, 1024, 1024} bf16: 5 us at m = 1, 9 us at m = 9.
  std::ofstream(p) << "platform: test\nmeasured_on: \"unit test\"\nsource: \"hand-made\"\n"
                   << "kernels:\n  - op: gemm\n    dtype: bf16\n    shape: [0, 1024, 1024]\n    vary: 0\n"
                   << "    points: [[1, 5e-6], [9, 9e-6]]\n"
                   << "collectives:\n  - op: all_reduce\n    ranks: 4\n    points:\n"
                   << "      - [1000000, " << 20e-6 + 1e6 * 1.5 / 1e11 << "]\n"
                   << "      - [16000000, " << 20e-6 + 16e6 * 1.5 / 1e11 << "]\n";
  return std::make_shared<const Calibration>(load_calibration_file(p.string()));
}

Op gemm(double m)
{
  Op op;
  op.kind = OpKind::gemm;
  op.shape = GemmShape{static_cast<long>(m), 1024, 1024};
  op.flops = 2 * m * 1024 * 1024;
  op.bytes = 1024.0 * 1024 * 2;
  return op;
}

} // namespace

TEST_CASE("measured kernel times replace the roofline inside the grid", "[quick][sim]")
{
  // m = 5: between 5 us (m=1) and 9 us (m=9): 7 us. m = 64 lies outside the grid: roofline of the
  // star platform's GPU (1e15 FLOP/s, 2e12 B/s): max(2*64*1024*1024/1e15, 2097152/2e12) = 1.048576 us.
  Simulation sim(star_platform("calk", 4, 1e11), calibration_file("kernels"));
  Schedule s = empty_schedule(4);
  add_op(s, 0, gemm(5));
  add_op(s, 0, gemm(64));
  SimOutput out = sim.run(s);
  const auto& ev = out.timeline.events;
  CHECK(ev[0].end - ev[0].start == Approx(7e-6).epsilon(1e-9));
  CHECK(ev[1].end - ev[1].start == Approx(2097152 / 2e12).epsilon(1e-9));
}

TEST_CASE("an isolated calibrated all-reduce reproduces the measured curve", "[quick][sim]")
{
  // S = 4 MB lies between the points: the curve gives t = exp(lerp of log t in log S); the
  // simulation charges alpha_at(S) + S*1.5/busbw_measured = that t exactly (whole-byte payloads:
  // within 1e-8).
  Simulation sim(star_platform("calc", 4, 4e11), calibration_file("collective"));
  const CollectiveCurve* cv = sim.platform().calibration()->find(OpKind::all_reduce, 4);
  REQUIRE(cv);
  Schedule s = empty_schedule(4);
  add_collective(s, OpKind::all_reduce, 4e6);
  SimOutput out = sim.run(s);
  CHECK(out.algorithms.at("all_reduce ring/calibrated") == 1);
  CHECK(out.timeline.step_time == Approx(cv->time_at(4e6)).epsilon(1e-8));
}

namespace {

// A calibration with one op model, gemm {1, m, 1024, 1024} bf16 measured at m = 1 (5 us) and m = 9
// (9 us), and measured host costs of a cuBLASLt call: 10 us into an idle GPU, 2 us into a busy one;
// `graph_gap_s`: a measured per-kernel gap inside a CUDA graph, if any.
std::shared_ptr<const Calibration> op_model_calibration(const std::string& name,
                                                        std::optional<double> graph_gap_s = std::nullopt)
{
  Calibration c;
  c.platform = "test";
  c.measured_on = "unit test";
  c.source = "hand-made";
  c.op_models.source = "hand-made";
  c.op_models.system = "test";
  c.op_models.sms = 132;
  KeyedOpModel km;
  km.model.form = given_form(km.key, 132);
  km.model.form.floor_s = 4e-6;
  km.model.form.flops = 1e15;
  km.model.form.bandwidth = 2e12;
  std::vector<perf::GridPoint> pts;
  for (auto [m, t] : {std::pair{1.0, 5e-6}, std::pair{9.0, 9e-6}})
    pts.push_back({{1, m, 1024, 1024}, t, perf::form_seconds(km.model.form, {1, m, 1024, 1024})});
  km.model.grid = perf::ShapeGrid(pts);
  c.op_models.models.push_back(km);
  c.op_models.graph_gap_s = graph_gap_s;
  c.host.api = {{"cublaslt_call", false, 1, 10e-6}, {"cublaslt_call", true, 1, 2e-6}};
  const auto p = std::filesystem::temp_directory_path() / ("moesim_test_opmodels_" + name + ".yaml");
  std::ofstream(p) << calibration_to_yaml(c);
  return std::make_shared<const Calibration>(load_calibration_file(p.string()));
}

// A permute no op model covers: its time is the roofline's, 4 MiB at the GPU's 2e12 B/s.
Op roofline_permute()
{
  Op perm;
  perm.kind = OpKind::permute;
  perm.shape = PermuteShape{64, 8, 1024, 0, 8};
  perm.bytes = 4194304;
  return perm;
}

} // namespace

TEST_CASE("compute time is accounted by provenance: measured, interpolated, specs", "[quick][sim]")
{
  // gemm m = 1: the measured 5 us. m = 3: log t halfway between log 5 us and log 9 us (log 3 is half
  // of log 9): sqrt(45) us. A permute no model covers: the roofline, 4 MiB at 2e12 B/s.
  Simulation sim(star_platform("opm", 1, 1e11), op_model_calibration("prov"));
  Schedule s = empty_schedule(1);
  add_op(s, 0, gemm(1));
  add_op(s, 0, gemm(3));
  add_op(s, 0, roofline_permute());
  SimOutput out = sim.run(s);
  CHECK(out.compute_by_provenance.at(perf::Provenance::measured) == Approx(5e-6).epsilon(1e-12));
  CHECK(out.compute_by_provenance.at(perf::Provenance::interpolated) == Approx(std::sqrt(45.0) * 1e-6).epsilon(1e-9));
  CHECK(out.compute_by_provenance.at(perf::Provenance::specs) == Approx(4194304 / 2e12).epsilon(1e-12));
  CHECK(out.compute_by_provenance.count(perf::Provenance::extrapolated) == 0);
  CHECK(out.timeline.step_time == Approx(5e-6 + std::sqrt(45.0) * 1e-6 + 4194304 / 2e12).epsilon(1e-9));
}

TEST_CASE("eager launches cost what the host measured for an idle or a busy GPU", "[quick][sim]")
{
  // Two measured 5 us GEMMs, eager. The first launch finds the GPU idle: 10 us; it runs 10-15 us.
  // The host issues the second at 10 us, before the GPU is done (busy): 2 us, ready at 12 us; it
  // runs 15-20 us. With idle launches only, the second would start at 20 us and end at 25 us.
  Simulation sim(star_platform("opmh", 1, 1e11), op_model_calibration("host"));
  Schedule s = empty_schedule(1);
  s.engine.cuda_graphs = false;
  add_op(s, 0, gemm(1));
  add_op(s, 0, gemm(1));
  SimOutput out = sim.run(s);
  CHECK(out.timeline.events[0].start == Approx(10e-6).epsilon(1e-12));
  CHECK(out.timeline.step_time == Approx(20e-6).epsilon(1e-12));
}

TEST_CASE("a kernel boundary inside a measured op time is the GPU's wait before the kernel", "[quick][sim]")
{
  // A CUDA graph of three kernels, the graph launch free (empty_schedule), the calibration's graph gap
  // 1 us: gemm m = 1 and gemm m = 9, whose stream-measured 5 and 9 us become 6 and 10 us in a graph
  // (op_time adds the graph gap per kernel to a stream-measured time), and a permute no model covers
  // (the roofline: 4 MiB at 2e12 B/s = 2.097152 us, which holds no kernel boundary). A measured time
  // holds one boundary (bench-ops times instances back to back), so each such kernel starts 1 us after
  // its op could start and ends where its time ends:
  //   gemm1    ready 0,  start 1,  end 6          (0 + 6)
  //   gemm9    ready 6,  start 7,  end 16         (6 + 10)
  //   permute  ready 16, start 16, end 18.097152  (16 + 2.097152)
  // The step is 6 + 10 + 2.097152 = 18.097152 us, as without moving the gap; of it compute (end -
  // start) 5 + 9 + 2.097152 = 16.097152 us and host (start - ready) 1 + 1 = 2 us, nothing idle.
  // Compute by provenance keeps each op's whole time: 6 + 10 = 16 us measured (both grid points).
  Simulation sim(star_platform("opmgap", 1, 1e11), op_model_calibration("gap", 1e-6));
  Schedule s = empty_schedule(1);
  add_op(s, 0, gemm(1));
  add_op(s, 0, gemm(9));
  add_op(s, 0, roofline_permute());
  SimOutput out = sim.run(s);
  const auto& ev = out.timeline.events;
  REQUIRE(ev.size() == 3);
  const double us = 1e-6;
  CHECK(ev[0].ready == Approx(0).margin(1e-15));
  CHECK(ev[0].start == Approx(1 * us).epsilon(1e-12));
  CHECK(ev[0].end == Approx(6 * us).epsilon(1e-12));
  CHECK(ev[1].ready == Approx(6 * us).epsilon(1e-12));
  CHECK(ev[1].start == Approx(7 * us).epsilon(1e-12));
  CHECK(ev[1].end == Approx(16 * us).epsilon(1e-12));
  CHECK(ev[2].ready == Approx(16 * us).epsilon(1e-12));
  CHECK(ev[2].start == Approx(16 * us).epsilon(1e-12));
  CHECK(ev[2].end == Approx(18.097152 * us).epsilon(1e-12));
  for (const TimelineEvent& e : ev)
    CHECK(e.sync == e.start);
  CHECK(out.timeline.step_time == Approx(18.097152 * us).epsilon(1e-12));
  const Breakdown b = breakdown_of_rank(out.timeline, 0);
  CHECK(b.compute == Approx(16.097152 * us).epsilon(1e-12));
  CHECK(b.host == Approx(2 * us).epsilon(1e-12));
  CHECK(b.idle == Approx(0).margin(1e-15));
  CHECK(out.compute_by_provenance.at(perf::Provenance::measured) == Approx(16 * us).epsilon(1e-12));
}

TEST_CASE("in eager mode the kernel boundary follows the host's launch", "[quick][sim]")
{
  // The eager case above with the calibration's 1 us gap: the first launch finds the GPU idle (10 us),
  // the kernel starts 1 us after it, 11 us, and ends at 15 us as before (10 + 5); the second is issued
  // at 12 us (busy: 2 us) and ready at 15 us: start 16, end 20. The step stays 20 us; host (start -
  // ready) 11 + 1 = 12 us, compute 4 + 4 = 8 us.
  Simulation sim(star_platform("opmgape", 1, 1e11), op_model_calibration("gape", 1e-6));
  Schedule s = empty_schedule(1);
  s.engine.cuda_graphs = false;
  add_op(s, 0, gemm(1));
  add_op(s, 0, gemm(1));
  SimOutput out = sim.run(s);
  const auto& ev = out.timeline.events;
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].start == Approx(11e-6).epsilon(1e-12));
  CHECK(ev[0].end == Approx(15e-6).epsilon(1e-12));
  CHECK(ev[1].ready == Approx(15e-6).epsilon(1e-12));
  CHECK(ev[1].start == Approx(16e-6).epsilon(1e-12));
  CHECK(out.timeline.step_time == Approx(20e-6).epsilon(1e-12));
  const Breakdown b = breakdown_of_rank(out.timeline, 0);
  CHECK(b.host == Approx(12e-6).epsilon(1e-12));
  CHECK(b.compute == Approx(8e-6).epsilon(1e-12));
}

namespace {

// The calibration of the two cases above (graph gap 1 us) with gaps between measured event brackets of
// 1.5 us (eager) and 1.25 us (graph), written to YAML and read back.
std::shared_ptr<const Calibration> bracket_calibration(const std::string& name)
{
  Calibration c = *op_model_calibration(name, 1e-6);
  c.op_models.bracket_gap_eager_s = 1.5e-6;
  c.op_models.bracket_gap_graph_s = 1.25e-6;
  const auto p = std::filesystem::temp_directory_path() / ("moesim_test_opmodels_" + name + "_b.yaml");
  std::ofstream(p) << calibration_to_yaml(c);
  auto cal = std::make_shared<const Calibration>(load_calibration_file(p.string()));
  REQUIRE(cal->op_models.bracket_gap_eager_s == Approx(1.5e-6).epsilon(1e-12));
  REQUIRE(cal->op_models.bracket_gap_graph_s == Approx(1.25e-6).epsilon(1e-12));
  return cal;
}

} // namespace

TEST_CASE("in a CUDA graph the measured bracket gap takes the graph gap's place", "[quick][sim]")
{
  // Graph, gemm m = 1 then m = 9 (6 and 10 us in a graph, as above): each kernel now starts 1.25 us
  // after its op could start, the ends unchanged:
  //   gemm1 ready 0, start 1.25, end 6;  gemm9 ready 6, start 7.25, end 16
  // host 1.25 + 1.25 = 2.5 us, compute 4.75 + 8.75 = 13.5 us, the step 16 us as before.
  Simulation sim(star_platform("opmbrg", 1, 1e11), bracket_calibration("brg"));
  Schedule s = empty_schedule(1);
  add_op(s, 0, gemm(1));
  add_op(s, 0, gemm(9));
  SimOutput out = sim.run(s);
  const auto& ev = out.timeline.events;
  REQUIRE(ev.size() == 2);
  const double us = 1e-6;
  CHECK(ev[0].start == Approx(1.25 * us).epsilon(1e-12));
  CHECK(ev[0].end == Approx(6 * us).epsilon(1e-12));
  CHECK(ev[1].start == Approx(7.25 * us).epsilon(1e-12));
  CHECK(ev[1].end == Approx(16 * us).epsilon(1e-12));
  const Breakdown b = breakdown_of_rank(out.timeline, 0);
  CHECK(b.host == Approx(2.5 * us).epsilon(1e-12));
  CHECK(b.compute == Approx(13.5 * us).epsilon(1e-12));
}

TEST_CASE("in eager mode the measured bracket gap of an eager stream is the boundary", "[quick][sim]")
{
  // Eager, two gemm m = 1 (5 us each): the first launch (idle, 10 us) then 1.5 us: start 11.5, end
  // 15; the second is ready at 15 (launched at 12): start 16.5, end 20. Host 11.5 + 1.5 = 13 us,
  // compute 3.5 + 3.5 = 7 us, the step 20 us as before.
  Simulation sim(star_platform("opmbre", 1, 1e11), bracket_calibration("bre"));
  Schedule s = empty_schedule(1);
  s.engine.cuda_graphs = false;
  add_op(s, 0, gemm(1));
  add_op(s, 0, gemm(1));
  SimOutput out = sim.run(s);
  const auto& ev = out.timeline.events;
  REQUIRE(ev.size() == 2);
  const double us = 1e-6;
  CHECK(ev[0].start == Approx(11.5 * us).epsilon(1e-12));
  CHECK(ev[0].end == Approx(15 * us).epsilon(1e-12));
  CHECK(ev[1].start == Approx(16.5 * us).epsilon(1e-12));
  CHECK(out.timeline.step_time == Approx(20 * us).epsilon(1e-12));
  const Breakdown b = breakdown_of_rank(out.timeline, 0);
  CHECK(b.host == Approx(13 * us).epsilon(1e-12));
  CHECK(b.compute == Approx(7 * us).epsilon(1e-12));
}

TEST_CASE("a windowed prefill layer and a full one of the same shape take their own times", "[quick][sim]")
{
  // One prefill attention model (GQA bf16, head dims 64, 64 query heads, 8 KV heads) measured at two
  // points: 40 sequences of 128 queries behind 127 cached keys, 200 us; one sequence of 5,120 queries,
  // nothing cached, 2,000 us. The windowed op (prompt 5,120, window 128) is asked at ceil(5120 / 128)
  // = 40 chunks of 128 queries behind 127 keys: 200 us; the full op at its own shape: 2,000 us. The
  // two share their kernel_key, so a time remembered per kernel_key alone would give both 200 us.
  Calibration c;
  c.platform = "test";
  c.measured_on = "unit test";
  c.source = "hand-made";
  c.op_models.source = "hand-made";
  c.op_models.system = "test";
  c.op_models.sms = 132;
  KeyedOpModel km;
  km.key.kind = OpKind::attention_prefill;
  km.key.variant = "gqa";
  km.model.form = given_form(km.key, 132);
  std::vector<perf::GridPoint> pts;
  for (auto [b, cached, prompt, t] : {std::tuple{40.0, 127.0, 128.0, 200e-6}, std::tuple{1.0, 0.0, 5120.0, 2000e-6}}) {
    const std::vector<double> d = {64, 64, 8, 64, b, cached, prompt};
    pts.push_back({d, t, perf::form_seconds(km.model.form, d)});
  }
  km.model.grid = perf::ShapeGrid(pts);
  c.op_models.models.push_back(km);
  Simulation sim(star_platform("opmw", 1, 1e11), std::make_shared<const Calibration>(c));
  Schedule s = empty_schedule(1);
  for (int window : {128, 0}) {
    Op op;
    op.kind = OpKind::attention_prefill;
    AttentionShape a;
    a.batch = 1;
    a.q_heads = 64;
    a.kv_heads = 8;
    a.head_dim_qk = a.head_dim_v = 64;
    a.prompt = 5120;
    a.sliding_window = window;
    op.shape = a;
    op.flops = 1e12;
    op.bytes = 1e8;
    add_op(s, 0, op);
  }
  const auto& ev = sim.run(s).timeline.events;
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].end - ev[0].start == Approx(200e-6).epsilon(1e-9));
  CHECK(ev[1].end - ev[1].start == Approx(2000e-6).epsilon(1e-9));
}
