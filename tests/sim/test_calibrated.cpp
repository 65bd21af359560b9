// A calibrated platform: measured kernel times replace the roofline inside their grid, and a
// measured collective curve is reproduced by an isolated call (its fixed cost at the size plus its
// flows slowed to the measured bus bandwidth).
#include "fixtures.hpp"
#include "sim/simulation.hpp"

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
