// validate::OpExecutor on real schedules ([gpu]): construction, verify() (every distinct compute-op
// configuration against its CPU reference), eager launches of every compute op, and the same
// launches captured in a CUDA graph; rotating weights under a memory limit; the out-of-memory error.
// Its GPU-free helpers ([quick]).
//
// The schedules come from the model files with few layers (a validation run's "a few layers at full
// width"), on plans of 1 to 4 GPUs of which one rank runs here: what the rank's ops need does not
// depend on the other ranks being there.
#include "core/error.hpp"
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "tests/kernels/gpu_test.hpp"
#include "validate/buffers.hpp"
#include "validate/op_executor.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>

using namespace moesim;
using validate::OpExecutor;
using validate::OpExecutorOptions;
using moesim::test::require_gpu;
namespace vd = moesim::validate::detail;

namespace {

struct Spec {
  std::string model; // file stem under workloads/models
  int layers;
  std::string plan;
  int gpus;
  StepShape step;
  RoutingKind routing;
  std::optional<Dtype> weights; // overrides expert and dense weights
  Spec(std::string m, int l, std::string p, int g, StepShape st, RoutingKind r = RoutingKind::uniform,
       std::optional<Dtype> w = std::nullopt)
      : model(std::move(m)), layers(l), plan(std::move(p)), gpus(g), step(st), routing(r), weights(w)
  {
  }
};

Schedule build(const Spec& sp)
{
  Model m = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/" + sp.model + ".yaml").model;
  m.layers = sp.layers;
  m.dense_layers = std::min(m.dense_layers, sp.layers);
  if (sp.weights)
    m.dtypes.expert_weights = m.dtypes.dense_weights = *sp.weights;
  const Layout L = make_layout(Plan::parse(sp.plan), m, sp.gpus);
  BuildOptions o;
  o.routing.kind = sp.routing;
  o.routing.seed = 7;
  return build_schedule(m, L, sp.step, o);
}

// Verifies, launches every compute op eagerly, then captures them all in one graph and replays it.
void exercise(const Schedule& s, int rank, OpExecutor& ex)
{
  cudaStream_t st;
  MOESIM_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  ex.verify(st);
  int compute = 0;
  double comm = 0;
  for (const Op& op : s.ranks[rank].ops) {
    if (op.is_comm()) {
      comm = std::max({comm, op.comm_bytes, op.peer_bytes.sum()});
      CHECK_THROWS_AS(ex.launch(op, st), std::invalid_argument);
      continue;
    }
    if (op_class(op.kind) != OpClass::compute)
      continue;
    compute++;
    const validate::OpRunInfo& info = ex.info(op);
    INFO(op.name << ": " << info.config);
    CHECK_FALSE(info.config.empty());
    CHECK_FALSE(info.math.empty());
    ex.launch(op, st);
  }
  MOESIM_CHECK(cudaStreamSynchronize(st));
  CHECK(compute > 0);
  CHECK(double(ex.comm_buffer_bytes()) >= comm);
  CHECK(ex.send_buffer() != nullptr);
  CHECK(ex.recv_buffer() != nullptr);
  CHECK(ex.device_bytes() > 0);
  CHECK_FALSE(ex.notes().empty());

  cudaGraph_t g;
  MOESIM_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
  for (const Op& op : s.ranks[rank].ops)
    if (op_class(op.kind) == OpClass::compute)
      ex.launch(op, st);
  MOESIM_CHECK(cudaStreamEndCapture(st, &g));
  cudaGraphExec_t ge;
  MOESIM_CHECK(cudaGraphInstantiate(&ge, g, 0));
  for (int i = 0; i < 2; i++)
    MOESIM_CHECK(cudaGraphLaunch(ge, st));
  MOESIM_CHECK(cudaStreamSynchronize(st));
  MOESIM_CHECK(cudaGraphExecDestroy(ge));
  MOESIM_CHECK(cudaGraphDestroy(g));
  MOESIM_CHECK(cudaStreamDestroy(st));
}

void run_spec(const Spec& sp, int rank)
{
  CAPTURE(sp.model, sp.layers, sp.plan, sp.gpus, sp.step.batch, sp.step.context, sp.step.prompt, rank);
  const Schedule s = build(sp);
  OpExecutor ex(s, rank, 1234);
  INFO(ex.notes());
  exercise(s, rank, ex);
}

} // namespace

TEST_CASE("OpExecutor: GQA decode, expert parallel, sampled routing (Qwen3-30B-A3B, ep4 rank 1)", "[gpu]")
{
  require_gpu();
  run_spec({"qwen3-30b-a3b", 2, "ep4", 4, StepShape{Phase::decode, 8, 128, 0}, RoutingKind::sampled}, 1);
}

TEST_CASE("OpExecutor: grouped GEMMs as one fused launch or one GEMM per expert (engine.grouped_gemm)", "[gpu]")
{
  require_gpu();
  // The same schedule twice: engine.grouped_gemm fused (the default) runs every grouped GEMM as one
  // launch; per_expert as one cuBLASLt GEMM per expert that has rows. Both verify, bf16 and fp8.
  for (std::optional<Dtype> w : {std::optional<Dtype>(), std::optional<Dtype>(Dtype::fp8)}) {
    Schedule s = build({"qwen3-30b-a3b", 2, "ep2", 2, StepShape{Phase::decode, 16, 128, 0}, RoutingKind::sampled, w});
    for (bool per_expert : {false, true}) {
      s.engine.grouped_gemm_per_expert = per_expert;
      OpExecutor ex(s, 0, 77);
      INFO(ex.notes());
      int grouped = 0;
      for (const Op& op : s.ranks[0].ops) {
        if (op.kind != OpKind::grouped_gemm)
          continue;
        grouped++;
        long active = 0;
        for (long r : round_group_rows(op.grouped().rows))
          active += r > 0;
        CHECK(ex.info(op).launches == (per_expert ? active : (active > 0 ? 1 : 0)));
        CHECK_THAT(ex.info(op).config, Catch::Contains(per_expert ? "per_expert" : "fused"));
      }
      CHECK(grouped > 0);
      CHECK_THAT(ex.notes(), Catch::Contains(per_expert ? "one cuBLASLt GEMM per expert" : "one fused kernel"));
      exercise(s, 0, ex);
    }
  }
}

TEST_CASE("OpExecutor: sliding-window prefill runs the kernel's window (gpt-oss-20b)", "[gpu]")
{
  require_gpu();
  // gpt-oss-20b: layer 0 slides over 128 keys (sliding_every 2), layer 1 attends to all. A 200-token
  // prompt is longer than the window, so layer 0's queries see at most 128 keys each; verify
  // compares with the reference under the same window.
  const Schedule s = build({"gpt-oss-20b", 2, "tp2", 2, StepShape{Phase::prefill, 1, 0, 200}});
  OpExecutor ex(s, 0, 5);
  INFO(ex.notes());
  int windowed = 0, full = 0;
  for (const Op& op : s.ranks[0].ops)
    if (op.kind == OpKind::attention_prefill) {
      const bool w = op.attention().sliding_window > 0;
      CHECK((ex.info(op).config.find(" window=128 ") != std::string::npos) == w);
      (w ? windowed : full)++;
    }
  CHECK(windowed == 1);
  CHECK(full == 1);
  exercise(s, 0, ex);
}

TEST_CASE("OpExecutor: GQA prefill with expected routing (Qwen3-30B-A3B, tp2 rank 1)", "[gpu]")
{
  require_gpu();
  run_spec({"qwen3-30b-a3b", 2, "tp2", 2, StepShape{Phase::prefill, 2, 0, 200}}, 1);
}

TEST_CASE("OpExecutor: MLA decode and prefill with FP8 weights (DeepSeek-V2-Lite)", "[gpu]")
{
  require_gpu();
  run_spec({"deepseek-v2-lite", 3, "tp2", 2, StepShape{Phase::decode, 4, 300, 0}, RoutingKind::uniform, Dtype::fp8}, 0);
  run_spec({"deepseek-v2-lite", 2, "ep2", 2, StepShape{Phase::prefill, 1, 64, 120}, RoutingKind::sampled, Dtype::fp8},
           1);
}

TEST_CASE("OpExecutor: DeepSeek-V3 layers at full width (q_lora, MLA absorbed, fp8), tp4 rank 2", "[gpu]")
{
  require_gpu();
  run_spec({"deepseek-v3", 4, "tp4", 4, StepShape{Phase::decode, 16, 1000, 0}, RoutingKind::sampled}, 2);
}

TEST_CASE("OpExecutor: head_dim 64, sliding window, MXFP4 experts run as BF16 (gpt-oss-20b)", "[gpu]")
{
  require_gpu();
  const Spec sp{"gpt-oss-20b", 2, "tp1", 1, StepShape{Phase::decode, 3, 1000, 0}};
  const Schedule s = build(sp);
  OpExecutor ex(s, 0, 99);
  bool substituted = false;
  for (const Op& op : s.ranks[0].ops)
    if (op.kind == OpKind::grouped_gemm) {
      CHECK(ex.info(op).math == "bf16");
      CHECK_THAT(ex.info(op).substitution, Catch::Contains("mxfp4"));
      substituted = true;
    }
  CHECK(substituted);
  CHECK_THAT(ex.notes(), Catch::Contains("substitution"));
  exercise(s, 0, ex);
}

TEST_CASE("OpExecutor: a pipeline stage without embedding, and an idle data-parallel replica", "[gpu]")
{
  require_gpu();
  run_spec({"mixtral-8x7b", 2, "tp2xpp2", 4, StepShape{Phase::decode, 16, 500, 0}}, 3);
  // dp4xep4 with 2 sequences: ranks 2 and 3 hold none; their GEMMs and attention have nothing to do.
  run_spec({"qwen3-30b-a3b", 2, "dp4xep4", 4, StepShape{Phase::decode, 2, 64, 0}, RoutingKind::sampled}, 3);
}

TEST_CASE("OpExecutor: weights and KV caches rotate under a memory limit, and still verify", "[gpu]")
{
  require_gpu();
  const Schedule s = build({"qwen3-30b-a3b", 6, "tp1", 1, StepShape{Phase::decode, 4, 2000, 0}});
  std::size_t distinct_bytes = 0;
  {
    OpExecutor ex(s, 0, 5);
    CHECK(ex.distinct_weights());
    CHECK_THAT(ex.notes(), Catch::Contains("own weights"));
    distinct_bytes = ex.device_bytes();
  }
  OpExecutorOptions o;
  o.memory_limit = distinct_bytes / 2;
  OpExecutor ex(s, 0, 5, o);
  INFO(ex.notes());
  CHECK_FALSE(ex.distinct_weights());
  CHECK_THAT(ex.notes(), Catch::Contains("rotates among copies"));
  CHECK(ex.device_bytes() <= o.memory_limit);
  exercise(s, 0, ex);
}

TEST_CASE("OpExecutor: too little memory is an InputError naming the op and the bytes", "[gpu]")
{
  require_gpu();
  const Schedule s = build({"qwen3-30b-a3b", 2, "tp1", 1, StepShape{Phase::decode, 4, 100, 0}});
  OpExecutorOptions o;
  o.memory_limit = 64u << 20; // less than one copy of the experts of a layer
  try {
    OpExecutor ex(s, 0, 1, o);
    FAIL("no error");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("rank 0 op"));
    CHECK_THAT(what, Catch::Contains("needs at least"));
    CHECK_THAT(what, Catch::Contains("GiB free"));
  }
}

TEST_CASE("OpExecutor: launch refuses ops of another schedule", "[gpu]")
{
  require_gpu();
  const Schedule s = build({"qwen3-30b-a3b", 1, "tp1", 1, StepShape{Phase::decode, 2, 10, 0}});
  OpExecutor ex(s, 0, 1);
  Op stranger = s.ranks[0].ops.at(1);
  stranger.name = "L99.nothing";
  CHECK_THROWS_AS(ex.launch(stranger, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(ex.info(stranger), std::invalid_argument);
  CHECK_THROWS_AS([&] { OpExecutor other(s, 1, 1); }(), std::invalid_argument); // one rank only
}

TEST_CASE("OpExecutor helpers: copies under a budget", "[quick]")
{
  // Everything fits: one copy per user.
  CHECK(vd::plan_copies({10, 20}, {10, 10}, 300) == std::vector<long>{10, 10});
  // Half the bytes: half the copies of each class.
  CHECK(vd::plan_copies({10, 20}, {10, 10}, 150) == std::vector<long>{5, 5});
  // A third: 3 + 3 copies use 90, and the 10 left buy one more of the cheaper class.
  CHECK(vd::plan_copies({10, 20}, {10, 10}, 100) == std::vector<long>{4, 3});
  // Not even one copy of each: empty.
  CHECK(vd::plan_copies({10, 20}, {10, 10}, 29).empty());
  CHECK(vd::plan_copies({10, 20}, {10, 10}, 30) == std::vector<long>{1, 1});
}
