// Engine step: a profile's rules applied to one step (plan, step shape, build mechanisms, clock).
#include "core/engine_step.hpp"

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
