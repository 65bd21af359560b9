// Software paths: which engine path a step takes, derived from the profile's rules.
#include "core/engine_profile.hpp"
#include "core/error.hpp"
#include "core/software_paths.hpp"

#include <catch2/catch.hpp>

using namespace moesim;

namespace {

EngineProfile load(const std::string& name)
{
  return load_engine_profile_file(resolve_engine_path(name, MOESIM_SOURCE_DIR));
}

PlatformTraits pcie(int gpus, bool p2p)
{
  return {gpus, gpus, false, p2p};
}
PlatformTraits nvlink(int gpus)
{
  return {gpus, gpus, true, true};
}

} // namespace

TEST_CASE("vLLM: custom all-reduce off on 4 PCIe GPUs, on for 2 with P2P, by size on NVLink", "[quick][paths]")
{
  const EngineProfile v = load("vllm-0.11");
  // 4 PCIe GPUs: world_size > 2 without full NVLink disables it whatever the size.
  AllReduceChoice c = choose_all_reduce(v, 4, 12288, pcie(4, true));
  CHECK(c.impl == AllReduceImpl::nccl);
  CHECK_THAT(c.why, Catch::Contains("more than 2"));
  // 2 PCIe GPUs with P2P: one-shot always (2 ranks), fixed cost 3.7 us.
  c = choose_all_reduce(v, 2, 4e6, pcie(2, true));
  CHECK(c.impl == AllReduceImpl::one_shot);
  CHECK(c.fixed_s == Approx(3.7e-6));
  // ... but not without P2P.
  CHECK(choose_all_reduce(v, 2, 12288, pcie(2, false)).impl == AllReduceImpl::nccl);
  // 8 NVLink GPUs: one-shot below 256 KiB, two-shot up to 8 MiB, NCCL from 8 MiB.
  CHECK(choose_all_reduce(v, 8, 262143, nvlink(8)).impl == AllReduceImpl::one_shot);
  CHECK(choose_all_reduce(v, 8, 262144, nvlink(8)).impl == AllReduceImpl::two_shot);
  CHECK(choose_all_reduce(v, 8, 8388607, nvlink(8)).impl == AllReduceImpl::two_shot);
  CHECK(choose_all_reduce(v, 8, 8388608, nvlink(8)).impl == AllReduceImpl::nccl);
  CHECK(choose_all_reduce(v, 8, 1024, nvlink(8)).fixed_s == Approx(5.9e-6));
  // 4 NVLink GPUs use the 512 KiB threshold; 16 ranks across two nodes use NCCL.
  CHECK(choose_all_reduce(v, 4, 400000, nvlink(4)).impl == AllReduceImpl::one_shot);
  CHECK(choose_all_reduce(v, 16, 1024, PlatformTraits{16, 8, true, true}).impl == AllReduceImpl::nccl);
}

TEST_CASE("vLLM: EP under attention TP all-reduces, under attention DP all-gathers", "[quick][paths]")
{
  const EngineProfile v = load("vllm-0.11");
  // ep4 (attention TP4): use_all2all_kernels needs dp_size > 1, so the MoE output is all-reduced.
  StepPaths p = resolve_paths(v, Plan::parse("ep4"), false, pcie(4, false), true, 1, 12288);
  CHECK(p.dispatch == Dispatch::all_reduce);
  CHECK(expert_comm_of(p.dispatch) == ExpertComm::all_reduce);
  // dp4xep4: the all2all backend, allgather_reducescatter by default.
  p = resolve_paths(v, Plan::parse("dp4xep4"), false, nvlink(4), true, 1, 12288);
  CHECK(p.dispatch == Dispatch::allgather);
  // The plan may insist: ep4:a2a takes NCCL all-to-all (vLLM's TP rule has no all-to-all of its own).
  p = resolve_paths(v, Plan::parse("ep4:a2a"), true, nvlink(4), true, 1, 12288);
  CHECK(p.dispatch == Dispatch::nccl_a2a);
}

TEST_CASE("CUDA graphs: padded to the next captured size, eager above the largest", "[quick][paths]")
{
  const EngineProfile v = load("vllm-0.11");
  StepPaths p = resolve_paths(v, Plan::parse("tp4"), false, nvlink(4), true, 1, 12288);
  CHECK(p.graphs);
  CHECK(p.graph_batch == 1);
  p = resolve_paths(v, Plan::parse("tp4"), false, nvlink(4), true, 3, 12288);
  CHECK(p.graph_batch == 4); // 3 runs the graph captured for 4
  p = resolve_paths(v, Plan::parse("tp4"), false, nvlink(4), true, 257, 12288);
  CHECK(p.graph_batch == 272); // 256..512 step 16
  p = resolve_paths(v, Plan::parse("tp4"), false, nvlink(4), true, 513, 12288);
  CHECK_FALSE(p.graphs);
  CHECK_THAT(p.graphs_why, Catch::Contains("above the largest graph, 512"));
  // Prefill steps run eager.
  CHECK_FALSE(resolve_paths(v, Plan::parse("tp4"), false, nvlink(4), false, 1, 12288).graphs);
  // llama.cpp captures batch 1 only, without padding.
  const EngineProfile l = load("llamacpp-master");
  CHECK(resolve_paths(l, Plan::parse("tp2"), false, pcie(2, true), true, 1, 1).graphs);
  CHECK_FALSE(resolve_paths(l, Plan::parse("tp2"), false, pcie(2, true), true, 2, 1).graphs);
}

TEST_CASE("DeepEP: normal mode breaks the graph, either mode is refused without NVLink", "[quick][paths]")
{
  EngineProfile s = load("sglang-0.5");
  set_engine_fact(s, "ep_dispatch_dp_attention", "deepep_normal", "test", "test");
  StepPaths p = resolve_paths(s, Plan::parse("dp8xep8"), false, nvlink(8), true, 64, 1);
  CHECK(p.dispatch == Dispatch::deepep_normal);
  CHECK_FALSE(p.graphs);
  CHECK_THAT(p.graphs_why, Catch::Contains("deepep_normal cannot be captured"));
  set_engine_fact(s, "ep_dispatch_dp_attention", "deepep_ll", "test", "test");
  p = resolve_paths(s, Plan::parse("dp8xep8"), false, nvlink(8), true, 64, 1);
  CHECK(p.graphs);
  CHECK_THROWS_WITH(resolve_paths(s, Plan::parse("dp4xep4"), false, pcie(4, true), true, 1, 1),
                    Catch::Contains("needs NVLink"));
}
