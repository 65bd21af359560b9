// Small kernels after big ops (core/l2_reuse.hpp): how cold a kernel's inputs are from the bytes moved
// since each was last touched, each input's share of the penalty, and op_time's blend of its warm and
// cold models.
#include "core/calibration.hpp"
#include "core/l2_reuse.hpp"
#include "core/op_fit.hpp"
#include "core/op_time.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>

using namespace moesim;

namespace {

Op op_of(int id, OpKind kind, double bytes)
{
  Op op;
  op.id = id;
  op.kind = kind;
  op.bytes = bytes;
  return op;
}

nlohmann::json norm_record(const char* launch, double rows, double width, double seconds, bool cold)
{
  nlohmann::json r = {{"op", "rmsnorm"}, {"dtype", "bf16"}, {"launch", launch}, {"rows", rows}, {"width", width},
                      {"elements", rows * width}, {"bytes", 4 * rows * width}, {"seconds", seconds}};
  if (cold)
    r["inputs"] = "cold";
  return r;
}

} // namespace

TEST_CASE("l2 reuse: warm up to half the L2, half cold at the L2, cold from twice it", "[quick][perf]")
{
  const double l2 = 50e6;
  CHECK(cold_fraction(0, l2) == 0);
  CHECK(cold_fraction(10e6, l2) == 0);   // log2(10 / 25) < 0
  CHECK(cold_fraction(25e6, l2) == 0);   // log2(1) = 0
  CHECK(cold_fraction(50e6, l2) == Approx(0.5)); // log2(2) / 2
  // 25 x sqrt(2) MB: log2(sqrt(2)) / 2 = 0.25
  CHECK(cold_fraction(25e6 * std::sqrt(2.0), l2) == Approx(0.25));
  CHECK(cold_fraction(100e6, l2) == Approx(1.0)); // log2(4) / 2
  CHECK(cold_fraction(5e9, l2) == 1);
  CHECK(cold_fraction(1e9, 0) == 0); // no L2 known: nothing blends
  CHECK(cold_blends(OpKind::rmsnorm));
  CHECK(cold_blends(OpKind::unpermute));
  CHECK_FALSE(cold_blends(OpKind::gemm));
  CHECK_FALSE(cold_blends(OpKind::sample)); // timed cold always
}

TEST_CASE("l2 reuse: the bytes between two kernels of a kind, the first reaching into the previous step",
          "[quick][perf]")
{
  RankSchedule r;
  r.ops = {op_of(0, OpKind::rmsnorm, 1e6),     op_of(1, OpKind::gemm, 200e6), op_of(2, OpKind::rmsnorm, 1e6),
           op_of(3, OpKind::gemm, 10e6),       op_of(4, OpKind::rmsnorm, 1e6), op_of(5, OpKind::residual_add, 2e6),
           op_of(6, OpKind::all_reduce, 0)};
  r.ops[6].comm_bytes = 30e6; // a collective moves its size, whatever its `bytes`
  r.ops[6].bytes = 1e12;
  const std::vector<double> f = cold_fractions(r, 50e6);
  REQUIRE(f.size() == 7);
  // op 0, the first norm: after the last norm (op 4) come 2 + 30 MB, before op 0 nothing:
  // log2(32 / 25) / 2 = 0.178.
  CHECK(f[0] == Approx(std::log2(32.0 / 25) / 2));
  CHECK(f[2] == 1);  // 200 MB since op 0: log2(8) / 2 > 1
  CHECK(f[4] == 0);  // 10 MB since op 2
  // The one residual add: its residual was last touched by itself a step ago, the whole step less
  // itself, 1 + 200 + 1 + 10 + 1 + 30 = 243 MB: cold; it carries half the penalty (the fresh output,
  // as many bytes, is warm): 0.5.
  CHECK(f[5] == 0.5);
  CHECK(cold_fractions(r, 1e9)[5] == 0); // 243 MB against a 1 GB L2: under half
  CHECK(f[1] == 0);
  CHECK(f[3] == 0);
  CHECK(f[6] == 0);
}

TEST_CASE("l2 reuse: each kind's inputs that may be cold, and their shares of the penalty", "[quick][perf]")
{
  Op norm = op_of(0, OpKind::rmsnorm, 0);
  norm.shape = RowsShape{4, 2048};
  // The norm's weight carries the whole penalty, last touched by the previous norm.
  auto in = kernel_inputs(norm, nullptr);
  REQUIRE(in.size() == 1);
  CHECK(in[0].share == 1);
  CHECK(in[0].touch == LastTouch::same_kind);
  // residual_add: the residual, half.
  Op add = op_of(0, OpKind::residual_add, 0);
  add.shape = ElementsShape{4 * 2048};
  in = kernel_inputs(add, nullptr);
  REQUIRE(in.size() == 1);
  CHECK(in[0].share == 0.5);
  // topk reads the logits the router just wrote: nothing cold.
  Op topk = op_of(0, OpKind::topk, 0);
  topk.shape = TopkShape{4, 64, 8};
  CHECK(kernel_inputs(topk, nullptr).empty());
  // permute: 8 ids of 4 bytes per token against 2,048 elements of 2 bytes: 32 / (32 + 4,096) = 0.00775.
  Op perm = op_of(0, OpKind::permute, 0);
  perm.shape = PermuteShape{4, 8, 2048, 0, 64};
  in = kernel_inputs(perm, nullptr);
  REQUIRE(in.size() == 1);
  CHECK(in[0].share == Approx(32.0 / 4128));
  // unpermute: the slot rows (this layer's permute) and weights (the previous unpermute), all of it.
  Op unperm = op_of(0, OpKind::unpermute, 0);
  unperm.shape = PermuteShape{4, 8, 2048, 0, 64};
  in = kernel_inputs(unperm, nullptr);
  REQUIRE(in.size() == 1);
  CHECK(in[0].share == 1);
  CHECK(in[0].touch == LastTouch::producer);
  CHECK(in[0].producer == OpKind::permute);
  CHECK(in[0].also_same_kind);
  // silu_mul over 32 rows of 2 x 1,536 after an up GEMM that read 32 rows x k 2,048: 65,536 of its
  // 98,304 input elements are warm, so the rest carries 1 - 2/3 = 1/3.
  Op silu = op_of(0, OpKind::silu_mul, 0);
  silu.shape = RowsShape{32, 1536};
  Op up = op_of(0, OpKind::grouped_gemm, 0);
  up.shape = GroupedGemmShape{4, 0, {8, 8, 8, 8}, 3072, 2048};
  in = kernel_inputs(silu, &up);
  REQUIRE(in.size() == 1);
  CHECK(in[0].share == Approx(1.0 / 3));
  // An up GEMM of k 4,096 read it all (131,072 >= 98,304): nothing cold; with no op before, none.
  up.shape = GroupedGemmShape{4, 0, {8, 8, 8, 8}, 3072, 4096};
  CHECK(kernel_inputs(silu, &up).empty());
  CHECK(kernel_inputs(silu, nullptr).empty());
  // A GEMM's m x batch x k counts the same: 32 x 1 x 1,024 = 32,768 of 98,304: 2/3 cold-prone.
  Op dense = op_of(0, OpKind::gemm, 0);
  dense.shape = GemmShape{32, 3072, 1024};
  in = kernel_inputs(silu, &dense);
  REQUIRE(in.size() == 1);
  CHECK(in[0].share == Approx(2.0 / 3));
  CHECK(kernel_inputs(op_of(0, OpKind::gemm, 0), nullptr).empty());
}

TEST_CASE("l2 reuse: an MoE layer's kernels, each input by its own last touch", "[quick][perf]")
{
  // Two layers of: norm, router GEMM, topk, permute, up (300 MB), silu, down (150 MB), unpermute,
  // residual add; a 50 MB L2. Every small kernel moves 0.1 MB.
  auto shaped = [](Op op) {
    if (op.kind == OpKind::rmsnorm || op.kind == OpKind::silu_mul)
      op.shape = RowsShape{4, 1024};
    else if (op.kind == OpKind::residual_add)
      op.shape = ElementsShape{4096};
    else if (op.kind == OpKind::topk)
      op.shape = TopkShape{4, 64, 8};
    else if (op.kind == OpKind::permute || op.kind == OpKind::unpermute)
      op.shape = PermuteShape{4, 8, 1024, 0, 64};
    else if (op.kind == OpKind::grouped_gemm)
      op.shape = GroupedGemmShape{2, 0, {16, 16}, 2048, 1024};
    else
      op.shape = GemmShape{4, 64, 1024};
    return op;
  };
  RankSchedule r;
  int id = 0;
  for (int layer = 0; layer < 2; layer++)
    for (auto [kind, mb] : std::vector<std::pair<OpKind, double>>{{OpKind::rmsnorm, 0.1},
                                                                  {OpKind::gemm, 0.1},
                                                                  {OpKind::topk, 0.1},
                                                                  {OpKind::permute, 0.1},
                                                                  {OpKind::grouped_gemm, 300},
                                                                  {OpKind::silu_mul, 0.1},
                                                                  {OpKind::grouped_gemm, 150},
                                                                  {OpKind::unpermute, 0.1},
                                                                  {OpKind::residual_add, 0.1}}) {
      r.ops.push_back(shaped(op_of(id, kind, mb * 1e6)));
      id++;
    }
  const std::vector<double> f = cold_fractions(r, 50e6);
  REQUIRE(f.size() == 18);
  // Every kernel of layer 1 waits a layer (450.7 MB) since the previous one of its kind: each
  // cold-prone input is cold (f_i = 1), and the op's f is its share.
  CHECK(f[9] == 1);      // norm: the weight, all of it
  CHECK(f[11] == 0);     // topk: warm logits
  CHECK(f[12] == Approx(32.0 / (32 + 2048))); // permute: 8 ids x 4 B against 1,024 x 2 B
  // silu: the up GEMM read 32 rows x k 1,024 = 32,768 elements of its 4 x 2 x 1,024 = 8,192: all warm.
  CHECK(f[14] == 0);
  // unpermute: its slot rows were written by this layer's permute 300 + 0.1 + 150 MB ago: cold.
  CHECK(f[16] == 1);
  CHECK(f[17] == 0.5);   // residual add: half
  // Layer 0's reach back into the previous step: the same.
  CHECK(f[0] == 1);
  CHECK(f[8] == 0.5);
  // With the GEMMs at 10 and 5 MB the unpermute's rows are 15.1 MB after its permute: warm; its
  // weights a layer ago, 15 MB and six 0.1 MB kernels = 15.6 MB: warm too (under 25 MB), so f = 0.
  for (Op& op : r.ops)
    if (op.kind == OpKind::grouped_gemm)
      op.bytes = op.bytes / 30;
  const std::vector<double> g = cold_fractions(r, 50e6);
  CHECK(g[16] == 0);
  // At a 20 MB L2 the rows are 15.1 MB after permute: log2(15.1 / 10) / 2 = 0.297; the weights
  // 15.6 MB after the previous unpermute: log2(15.6 / 10) / 2 = 0.321; the load of both is cold when
  // either is: the max, 0.321.
  const std::vector<double> h = cold_fractions(r, 20e6);
  CHECK(h[16] == Approx(std::log2(15.6 / 10) / 2));
  CHECK(h[16] > std::log2(15.1 / 10) / 2);
}

TEST_CASE("op_time blends a small kernel's warm and cold models by its cold fraction", "[quick][perf]")
{
  // Warm norms 2 us + bytes / 2.5 TB/s; cold ones 1.5 us more (the size of session 21's H100 grid's
  // median for rmsnorm at decode rows: +0.5 us; here larger to be plain); at rows 1-1024, width 4096.
  nlohmann::json recs = nlohmann::json::array();
  for (double rows : {1, 16, 256, 1024})
    for (const char* launch : {"stream", "graph"}) {
      const double warm = 2e-6 + 4 * rows * 4096 / 2.5e12;
      recs.push_back(norm_record(launch, rows, 4096, warm, false));
      recs.push_back(norm_record(launch, rows, 4096, warm + 1.5e-6, true));
    }
  const nlohmann::json doc = {{"format", "moesim-op-bench-1"},
                              {"source", "unit test"},
                              {"system", {{"gpu", "Test GPU"}, {"sms", 132}, {"l2_bytes", 50e6}}},
                              {"records", recs}};
  test::TempDir dir("moesim_l2_reuse");
  const std::string file = dir.write("norms.json", doc.dump());
  const OpBenchFit fit = fit_op_bench_files({file}, {}, {}, std::string(MOESIM_SOURCE_DIR) + "/workloads/models");
  REQUIRE(fit.models.models.size() == 4); // rmsnorm, rmsnorm cold; stream and graph
  CHECK(fit.models.l2_bytes == 50e6);
  Calibration c;
  c.platform = "t";
  c.measured_on = fit.models.system;
  c.source = "unit test";
  c.op_models = fit.models;
  // Through the calibration file and back: l2_bytes and the cold variant survive.
  const Calibration d = load_calibration_file(dir.write("cal.yaml", calibration_to_yaml(c)));
  CHECK(d.op_models.l2_bytes == 50e6);
  REQUIRE(d.op_models.models.size() == 4);
  GpuSpec gpu;
  gpu.model = "Test GPU";
  gpu.mem_bw = 3e12;
  gpu.flops[Dtype::bf16] = 1e15;
  Op norm;
  norm.kind = OpKind::rmsnorm;
  norm.shape = RowsShape{256, 4096};
  norm.bytes = 4.0 * 256 * 4096;
  const double warm = 2e-6 + 4.0 * 256 * 4096 / 2.5e12; // the record at this shape
  for (bool graph : {false, true}) {
    CHECK(op_time(&d, gpu, norm, graph, 0).seconds == Approx(warm).epsilon(1e-6));
    CHECK(op_time(&d, gpu, norm, graph, 1).seconds == Approx(warm + 1.5e-6).epsilon(1e-6));
    CHECK(op_time(&d, gpu, norm, graph, 0.25).seconds == Approx(warm + 0.25 * 1.5e-6).epsilon(1e-6));
    CHECK(op_time(&d, gpu, norm, graph, 0.25).provenance == perf::Provenance::measured);
  }
  // A kind that does not blend ignores the fraction (a GEMM: the roofline here, no GEMM model).
  Op gemm;
  gemm.kind = OpKind::gemm;
  gemm.shape = GemmShape{16, 4096, 4096};
  gemm.flops = 2.0 * 16 * 4096 * 4096;
  gemm.bytes = 2.0 * 4096 * 4096;
  CHECK(op_time(&d, gpu, gemm, false, 1).seconds == op_time(&d, gpu, gemm, false, 0).seconds);
  // A cold model that answers faster than the warm one adds nothing: the blend never speeds a kernel.
  nlohmann::json fast = doc;
  for (auto& r : fast["records"])
    if (r.contains("inputs"))
      r["seconds"] = r["seconds"].get<double>() - 3e-6;
  const OpBenchFit f2 =
      fit_op_bench_files({dir.write("fast.json", fast.dump())}, {}, {}, std::string(MOESIM_SOURCE_DIR) + "/workloads/models");
  Calibration e = c;
  e.op_models = f2.models;
  CHECK(op_time(&e, gpu, norm, false, 1).seconds == Approx(warm).epsilon(1e-6));
  // A calibration file with a cold model and no L2 is refused, naming the key.
  std::string text = calibration_to_yaml(c);
  const size_t at = text.find("  l2_bytes:");
  REQUIRE(at != std::string::npos);
  text.erase(at, text.find('\n', at) - at + 1);
  CHECK_THROWS_WITH(load_calibration_file(dir.write("nol2.yaml", text)), Catch::Contains("variant") && Catch::Contains("l2_bytes"));
}
