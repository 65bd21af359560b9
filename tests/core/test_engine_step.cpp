// Engine step: a profile's rules applied to one step (plan, step shape, build mechanisms, clock).
#include "core/engine_step.hpp"
#include "core/model_loader.hpp"
#include "core/schedule_builder.hpp"
#include "core/software_paths.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

namespace {

EngineProfile load(const std::string& name)
{
  return load_engine_profile_file(resolve_engine_path(name, MOESIM_SOURCE_DIR));
}

} // namespace

TEST_CASE("engine step: dispatch sets the plan's expert communication, graphs follow the batch", "[quick][paths]")
{
  EngineProfile s = load("sglang-0.5");
  set_engine_fact(s, "ep_dispatch_dp_attention", "deepep_ll", "test", "test");
  StepShape st;
  st.batch = 64;
  st.context = 1000;
  const PlatformTraits nv{8, 8, true, true};
  // dp8xep8 without an explicit ":a2a": the engine's DP-attention dispatch (DeepEP low latency), an
  // all-to-all; 64 sequences over 8 replicas = 8 per replica, a captured size.
  EngineStep e = engine_step(s, Plan::parse("dp8xep8"), nv, st, 7168, EngineParams{});
  CHECK(e.mech.dispatch == Dispatch::deepep_ll);
  CHECK(e.plan.expert_comm == ExpertComm::all_to_all);
  CHECK(e.engine.cuda_graphs);
  CHECK(e.paths.graph_batch == 8);
  CHECK(e.mech.profile == &s);
  // Prefill steps run eager.
  st.phase = Phase::prefill;
  st.prompt = 1024;
  CHECK_FALSE(engine_step(s, Plan::parse("dp8xep8"), nv, st, 7168, EngineParams{}).engine.cuda_graphs);
  // vLLM under attention DP: all-gather + reduce-scatter.
  st.phase = Phase::decode;
  e = engine_step(load("vllm-0.11"), Plan::parse("dp8xep8"), nv, st, 7168, EngineParams{});
  CHECK(e.plan.expert_comm == ExpertComm::allgather);
}

TEST_CASE("engine step: speculative decoding runs 1 + drafts tokens and gains the acceptance length", "[quick][paths]")
{
  EngineProfile s = load("sglang-0.5");
  set_engine_fact(s, "speculative", "mtp", "test", "test");
  set_engine_fact(s, "draft_tokens", "3", "test", "test");
  set_engine_fact(s, "acceptance_length", "2.18", "test", "test");
  set_engine_fact(s, "redundant_experts", "32", "test", "test");
  StepShape st;
  st.batch = 8;
  const PlatformTraits nv{8, 8, true, true};
  EngineStep e = engine_step(s, Plan::parse("dp8xep8"), nv, st, 7168, EngineParams{});
  // 1 verified + 3 drafted tokens per sequence; 3 draft passes; 2.18 tokens kept per step.
  CHECK(e.step.tokens_per_seq == 4);
  CHECK(e.step.tokens() == 32);
  CHECK(e.mech.draft_tokens == 3);
  CHECK(e.tokens_per_step == Approx(2.18));
  CHECK(e.plan.redundant_experts == 32);
  // Prefill has no drafts.
  st.phase = Phase::prefill;
  st.prompt = 100;
  e = engine_step(s, Plan::parse("dp8xep8"), nv, st, 7168, EngineParams{});
  CHECK(e.step.tokens_per_seq == 1);
  CHECK(e.tokens_per_step == 1);
}

TEST_CASE("engine step seconds: host time added or overlapped, then the DP agreement", "[quick][paths]")
{
  EngineProfile v = load("vllm-0.11");
  set_engine_fact(v, "step_us", "1000", "test", "test");
  set_engine_fact(v, "step_us_per_seq", "0", "test", "test");
  set_engine_fact(v, "dp_sync_us", "200", "test", "test");
  set_engine_fact(v, "overlap_scheduler", "false", "test", "test");
  // 10 ms of GPU + 1 ms of host, no DP: 11 ms; with attention DP 8, + 0.2 ms = 11.2 ms.
  CHECK(engine_step_seconds(v, Plan::parse("tp8"), 0.010, 1) == Approx(0.011));
  CHECK(engine_step_seconds(v, Plan::parse("dp8xep8"), 0.010, 1) == Approx(0.0112));
  // Per sequence: 20 us each for 64 sequences of the replica = 1.28 ms more: 10 + 1 + 1.28 = 12.28 ms.
  set_engine_fact(v, "step_us_per_seq", "20", "test", "test");
  CHECK(engine_step_seconds(v, Plan::parse("tp8"), 0.010, 64) == Approx(0.01228));
  set_engine_fact(v, "step_us_per_seq", "0", "test", "test");
  // Overlapped: the host's 1 ms hides behind 10 ms of GPU; at 0.5 ms of GPU the host's 1 ms shows.
  set_engine_fact(v, "overlap_scheduler", "true", "test", "test");
  CHECK(engine_step_seconds(v, Plan::parse("tp8"), 0.010, 1) == Approx(0.010));
  CHECK(engine_step_seconds(v, Plan::parse("tp8"), 0.0005, 1) == Approx(0.001));
}

TEST_CASE("engine step seconds: TensorRT-LLM's 34.4 us a sequence shows only past the GPU step", "[quick][paths]")
{
  // trtllm-1.0: TensorRT-LLM PR #16564's ~8.8 ms bubble a step at 256 requests, 8.8 ms / 256 = 34.4 us
  // a sequence, no fixed part, overlapped with the GPU step.
  const EngineProfile t = load("trtllm-1.0");
  REQUIRE(t.overlap_scheduler);
  CHECK(t.step_seq_s == Approx(8.8e-3 / 256).epsilon(1e-3));
  CHECK(t.step_s == 0);
  // Qwen3-30B-A3B on one B200 at 1,538 sequences: 1,538 x 34.4 us = 52.91 ms of host work, longer
  // than a 40 ms GPU step, so the step takes 52.91 ms.
  CHECK(engine_step_seconds(t, Plan::parse("tp1"), 0.040, 1538) == Approx(1538 * 34.4e-6));
  // DeepSeek-R1 at 896 a rank under attention DP: 30.8 ms of host work hides under a 100 ms step
  // (dp_sync_us is 0 for this engine).
  CHECK(engine_step_seconds(t, Plan::parse("dp8xep8"), 0.100, 896) == Approx(0.100));
}

TEST_CASE("KV allocation: TensorRT-LLM holds the whole sequence on sliding-window layers, vLLM only the window",
          "[quick][paths]")
{
  const Model m =
      load_model_file(resolve_model_path("gpt-oss-120b", std::string(MOESIM_SOURCE_DIR) + "/workloads/models")).model;
  REQUIRE(m.attn.sliding_window == 128);
  REQUIRE(m.attn.sliding_every == 2);
  const EngineProfile trt = load("trtllm-1.0"), vllm = load("vllm-0.11");
  CHECK(trt.sliding_kv_full);
  CHECK_FALSE(vllm.sliding_kv_full);
  const Layout L = make_layout(Plan::parse("tp1"), m, 1);
  const StepShape st{Phase::decode, 1, 2048, 0};
  // One sequence decoding its 2049th token (context 2048 + the new one). gpt-oss-120b keeps 8 KV heads
  // x 64 x 2 (K and V) x 2 bytes (bf16) = 2048 B a token a layer over 36 layers, of which the 18
  // even ones slide over 128 tokens.
  // Window (vLLM): 18 x 2049 + 18 x 128 = 39186 token-layers, x 2048 B = 80,252,928 B.
  // Full (TensorRT-LLM): 36 x 2049 = 73764 token-layers, x 2048 B = 151,068,672 B.
  CHECK(memory_per_rank(kv_allocation_model(m, vllm), L, st, 0).kv_cache == Approx(80252928.0).epsilon(1e-12));
  CHECK(memory_per_rank(kv_allocation_model(m, trt), L, st, 0).kv_cache == Approx(151068672.0).epsilon(1e-12));
  // Attention still reads only the window: the model a step runs with keeps its window.
  CHECK(kv_allocation_model(m, trt).attn.sliding_window == 0);
  CHECK(m.attn.sliding_window == 128);
  // A bad value names the key and the choices.
  EngineProfile p = vllm;
  CHECK_THROWS_WITH(set_engine_fact(p, "sliding_window_kv", "half", "study.yaml:2", "study"),
                    Catch::Contains("sliding_window_kv") && Catch::Contains("window or full"));
  set_engine_fact(p, "sliding_window_kv", "full", "study.yaml:2", "study");
  CHECK(p.sliding_kv_full);
}

TEST_CASE("dp gather bytes: TensorRT-LLM gathers tokens in the expert kernel's input format", "[quick][paths]")
{
  // TensorRT-LLM's CutlassFusedMoE.forward_chunk (@000a01d): under attention DP the token is routed
  // and quantized on its own rank, then gathered with its top-k ids (int32) and weights (fp32).
  ModelDtypes d;
  d.expert_weights = Dtype::nvfp4;
  // Qwen3-235B (hidden 4096, top-8), NVFP4 experts: 4096 x 0.5 B + 4096 / 16 fp8 scales + 8 x 8 B
  // = 2048 + 256 + 64 = 2368 B.
  CHECK(dp_gather_token_bytes(d, 4096, 8, true) == Approx(2368));
  // Per-tensor fp8 experts: 4096 x 1 B + 64 = 4160 B.
  d.expert_weights = Dtype::fp8;
  CHECK(dp_gather_token_bytes(d, 4096, 8, true) == Approx(4160));
  // Block-scaled fp8 (DeepSeek-R1, hidden 7168): the kernel quantizes inside, so bf16 is gathered,
  // 7168 x 2 + 64 = 14400 B.
  d.fp8_block_scales = true;
  CHECK(dp_gather_token_bytes(d, 7168, 8, true) == Approx(14400));
  // Without post-quant gathering (vLLM, SGLang): the bf16 hidden state only, 4096 x 2 = 8192 B.
  d.fp8_block_scales = false;
  d.expert_weights = Dtype::nvfp4;
  CHECK(dp_gather_token_bytes(d, 4096, 8, false) == Approx(8192));
}

TEST_CASE("engine step: TensorRT-LLM's MoE all-gather under attention DP carries NVFP4 tokens", "[quick][paths]")
{
  // Qwen3-235B with NVFP4 experts on dp4xep4, decode batch 1024 = 256 sequences a replica. The
  // all-gather's output on each rank is 4 x 256 tokens: TensorRT-LLM 2368 B a token (above),
  // 4 x 256 x 2368 = 2,424,832 B; vLLM the bf16 hidden state, 4 x 256 x 8192 = 8,388,608 B. The
  // router runs on a rank's own 256 tokens under TensorRT-LLM (2 x 256 x 128 x 4096 flop), on all
  // 1024 gathered ones under vLLM.
  Model model = load_model_file(std::string(MOESIM_SOURCE_DIR) + "/workloads/models/qwen3-235b-a22b.yaml").model;
  model.dtypes.expert_weights = Dtype::nvfp4;
  const Plan plan = Plan::parse("dp4xep4");
  const Layout layout = make_layout(plan, model, 4);
  StepShape st{Phase::decode, 1024, 1024, 0};
  const PlatformTraits nv{4, 4, true, true};
  auto first = [&](const std::string& engine, OpRole role) {
    const EngineStep e = engine_step(load(engine), plan, nv, st, model.hidden, EngineParams{});
    BuildOptions opt;
    opt.engine = e.engine;
    opt.mech = e.mech;
    Layout l = layout;
    l.plan = e.plan;
    const Schedule s = build_schedule(model, l, e.step, opt);
    for (const Op& op : s.ranks[0].ops)
      if (op.role == role)
        return op;
    FAIL("no op of that role");
    return Op{};
  };
  CHECK(first("trtllm-1.0", OpRole::allgather).comm_bytes == Approx(4.0 * 256 * 2368));
  CHECK(first("vllm-0.11", OpRole::allgather).comm_bytes == Approx(4.0 * 256 * 8192));
  CHECK(first("trtllm-1.0", OpRole::router).flops == Approx(2.0 * 256 * 128 * 4096));
  CHECK(first("vllm-0.11", OpRole::router).flops == Approx(2.0 * 1024 * 128 * 4096));
  // TensorRT-LLM passes each rank's token count to both collectives (dp_gather_per_root): they run
  // as one NCCL broadcast / reduce per root rank. vLLM's profile leaves them NCCL's own.
  CHECK(first("trtllm-1.0", OpRole::allgather).per_root);
  CHECK(first("trtllm-1.0", OpRole::reducescatter).per_root);
  CHECK_FALSE(first("vllm-0.11", OpRole::allgather).per_root);
  CHECK_FALSE(first("vllm-0.11", OpRole::reducescatter).per_root);
}
