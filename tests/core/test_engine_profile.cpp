// Engine profiles: the five shipped files load strictly, their derived values follow the rules they
// cite, and overrides go through the same handlers with the same refusals.
#include "core/engine_profile.hpp"
#include "core/error.hpp"
#include "core/model.hpp"
#include "core/schedule_builder.hpp"

#include "../temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <yaml-cpp/yaml.h>

using namespace moesim;

namespace {

const std::string root = MOESIM_SOURCE_DIR;

EngineProfile load(const std::string& name)
{
  return load_engine_profile_file(resolve_engine_path(name, root));
}

} // namespace

TEST_CASE("Every shipped engine profile loads, with a source for every fact", "[quick][engine]")
{
  for (const char* name : {"vllm-0.11", "vllm-0.14", "sglang-0.5", "trtllm-1.0", "llamacpp-master"}) {
    INFO(name);
    const EngineProfile p = load(name);
    CHECK(p.name == name);
    CHECK(p.sources.size() == engine_fact_docs().size());
    for (const auto& [key, source] : p.sources)
      CHECK(!source.empty());
  }
}

TEST_CASE("vLLM 0.14's profile is 0.11's with the host step overlapped (async scheduling on by default)",
          "[quick][engine]")
{
  // vLLM 0.14.0 turned async scheduling on by default (PR #27614); nothing else differs between the two
  // files: every other fact's value is the same YAML, and only 0.14 overlaps its host time.
  const YAML::Node a = YAML::LoadFile(resolve_engine_path("vllm-0.11", root))["facts"];
  const YAML::Node b = YAML::LoadFile(resolve_engine_path("vllm-0.14", root))["facts"];
  REQUIRE(a.size() == b.size());
  for (const auto& kv : a) {
    const std::string key = kv.first.as<std::string>();
    INFO(key);
    REQUIRE(b[key].IsDefined());
    if (key != "overlap_scheduler")
      CHECK(YAML::Dump(kv.second["value"]) == YAML::Dump(b[key]["value"]));
  }
  CHECK_FALSE(load("vllm-0.11").overlap_scheduler);
  CHECK(load("vllm-0.14").overlap_scheduler);
  CHECK(load("vllm-0.14").version == "0.14");
}

TEST_CASE("vLLM's capture sizes are its rule for a largest size of 512", "[quick][engine]")
{
  // vllm/config/vllm.py _set_cudagraph_sizes: [1, 2, 4] + range(8, 256, 8) + range(256, 512 + 1, 16):
  // 3 + 31 + 17 = 51 sizes.
  std::vector<int> rule = {1, 2, 4};
  for (int s = 8; s < 256; s += 8)
    rule.push_back(s);
  for (int s = 256; s <= 512; s += 16)
    rule.push_back(s);
  REQUIRE(rule.size() == 51);
  CHECK(load("vllm-0.11").capture_sizes == rule);
}

TEST_CASE("SGLang's capture sizes are its rule for cuda_graph_max_bs 256", "[quick][engine]")
{
  // server_args.py _generate_cuda_graph_batch_sizes: [1, 2, 4, 8, 12] + range(16, 257, 8): 5 + 31 = 36.
  std::vector<int> rule = {1, 2, 4, 8, 12};
  for (int s = 16; s <= 256; s += 8)
    rule.push_back(s);
  REQUIRE(rule.size() == 36);
  CHECK(load("sglang-0.5").capture_sizes == rule);
}

TEST_CASE("vLLM's eager cost per op is the vllm-omni measurement over moesim's op count", "[quick][engine]")
{
  // The profile's launch_us derives from an eager TPOT of 22.5 ms for a 28-layer dense GQA decoder
  // (Qwen2.5-7B shape: hidden 3584, 28 heads / 4 KV heads of 128, FFN 18944, vocab 152064). moesim
  // schedules per layer: attn.norm, attn.qkv, attn.core, attn.o, attn.residual, ffn.norm, ffn.up,
  // ffn.act, ffn.down, ffn.residual = 10 ops, plus embed, head.norm, head.lm_head, head.sample = 4:
  // 28 x 10 + 4 = 284 ops, and 22.5 ms / 284 = 79.2 us, written as 79.
  Model m;
  m.name = "qwen2.5-7b-shape";
  m.hidden = 3584;
  m.layers = 28;
  m.dense_layers = 28;
  m.dense_intermediate = 18944;
  m.vocab = 152064;
  m.attn.kind = AttentionKind::gqa;
  m.attn.q_heads = 28;
  m.attn.kv_heads = 4;
  m.attn.head_dim = 128;
  const Layout L = make_layout(Plan::parse("tp1"), m, 1);
  const Schedule s = build_schedule(m, L, StepShape{Phase::decode, 1, 1024, 0}, BuildOptions{});
  REQUIRE(s.ranks[0].ops.size() == 284);
  CHECK(load("vllm-0.11").launch_s * 1e6 == Approx(std::floor(22.5e-3 / 284 * 1e6)));
}

TEST_CASE("Overrides use the profile's handlers and refuse bad values with the key", "[quick][engine]")
{
  EngineProfile p = load("vllm-0.11");
  set_engine_fact(p, "cuda_graphs", "false", "study.yaml:3", "study");
  CHECK_FALSE(p.cuda_graphs);
  set_engine_fact(p, "capture_sizes", "[1, 8, 64]", "study.yaml:4", "study");
  CHECK(p.capture_sizes == std::vector<int>{1, 8, 64});
  set_engine_fact(p, "one_shot_max_bytes", "{4: 1000, 8: 500}", "study.yaml:5", "study");
  CHECK(p.one_shot_max_bytes.at(8) == 500);
  set_engine_fact(p, "launch_us", "12.5", "x", "study");
  CHECK(p.launch_s == Approx(12.5e-6));
  CHECK(p.sources.at("launch_us") == "study");
  CHECK_THROWS_WITH(set_engine_fact(p, "capture_sizes", "[8, 4]", "study.yaml:9", "study"),
                    Catch::Contains("study.yaml:9: capture_sizes") && Catch::Contains("rise strictly"));
  CHECK_THROWS_WITH(set_engine_fact(p, "launch_us", "-1", "x", "s"), Catch::Contains("launch_us"));
  CHECK_THROWS_WITH(set_engine_fact(p, "moe_kernel", "magic", "x", "s"), Catch::Contains("per_expert_sync"));
  // The MoE backend: TensorRT-LLM 1.0's default is CUTLASS; a row that ran TRTLLM says so.
  CHECK(p.moe_backend == MoeBackend::fastest);
  CHECK(load("trtllm-1.0").moe_backend == MoeBackend::cutlass);
  set_engine_fact(p, "moe_backend", "trtllm", "x", "s");
  CHECK(p.moe_backend == MoeBackend::trtllm);
  CHECK_THROWS_WITH(set_engine_fact(p, "moe_backend", "triton", "study.yaml:6", "s"),
                    Catch::Contains("study.yaml:6: moe_backend") && Catch::Contains("fastest, cutlass or trtllm"));
  CHECK_THROWS_WITH(set_engine_fact(p, "ep_dispatch_dp_attention", "pigeon", "x", "s"),
                    Catch::Contains("deepep_ll"));
  CHECK_THROWS_WITH(set_engine_fact(p, "no_such_fact", "1", "x", "s"), Catch::Contains("unknown engine fact"));
  CHECK_THROWS_WITH(set_engine_fact(p, "launch_us", "[1", "x", "s"), Catch::Contains("not a value"));
  // The facts of two named values take either name and refuse any other with both names as the fix.
  set_engine_fact(p, "sliding_window_kv", "full", "x", "s");
  CHECK(p.sliding_kv_full);
  set_engine_fact(p, "sliding_window_kv", "window", "x", "s");
  CHECK_FALSE(p.sliding_kv_full);
  set_engine_fact(p, "batch_limits", "trtllm_bench", "x", "s");
  CHECK(p.bench_batch_limits);
  set_engine_fact(p, "batch_limits", "fixed", "x", "s");
  CHECK_FALSE(p.bench_batch_limits);
  CHECK_THROWS_WITH(set_engine_fact(p, "sliding_window_kv", "half", "study.yaml:7", "s"),
                    Catch::Equals("study.yaml:7: sliding_window_kv: unknown KV allocation 'half' (fix: use window or full)"));
  CHECK_THROWS_WITH(set_engine_fact(p, "batch_limits", "auto", "study.yaml:8", "s"),
                    Catch::Equals("study.yaml:8: batch_limits: unknown batch limit rule 'auto' (fix: use fixed or "
                                  "trtllm_bench)"));
}

TEST_CASE("A profile file is refused for a missing source, an unknown key or another name", "[quick][engine]")
{
  test::TempDir dir("engine-profile");
  // Start from the shipped vLLM file and break one thing at a time.
  const YAML::Node good = YAML::LoadFile(resolve_engine_path("vllm-0.11", root));
  auto write = [&](const YAML::Node& n, const std::string& name) {
    const std::string path = (dir.path / (name + ".yaml")).string();
    std::ofstream(path) << n;
    return path;
  };
  {
    YAML::Node n = YAML::Clone(good);
    n["facts"]["launch_us"].remove("source");
    CHECK_THROWS_WITH(load_engine_profile_file(write(n, "vllm-0.11")), Catch::Contains("facts.launch_us.source"));
  }
  {
    YAML::Node n = YAML::Clone(good);
    n["facts"]["magic"]["value"] = 1;
    n["facts"]["magic"]["source"] = "x";
    CHECK_THROWS_WITH(load_engine_profile_file(write(n, "vllm-0.11")),
                      Catch::Contains("facts.magic") && Catch::Contains("unknown key"));
  }
  {
    YAML::Node n = YAML::Clone(good);
    n["facts"].remove("sampler");
    CHECK_THROWS_WITH(load_engine_profile_file(write(n, "vllm-0.11")),
                      Catch::Contains("facts.sampler") && Catch::Contains("missing"));
  }
  CHECK_THROWS_WITH(load_engine_profile_file(write(YAML::Clone(good), "other")), Catch::Contains("file name"));
  CHECK_THROWS_WITH(resolve_engine_path("vllm-9", root), Catch::Contains("vllm-0.11"));
}

TEST_CASE("TensorRT-LLM runs a step with context requests eagerly, vLLM replays piecewise graphs", "[quick][engine]")
{
  // scheduler.py: a batch can run a graph only without context requests; vLLM V1's default
  // FULL_AND_PIECEWISE keeps mixed batches in (piecewise) graphs.
  CHECK_FALSE(load("trtllm-1.0").mixed_step_graphs);
  CHECK(load("vllm-0.11").mixed_step_graphs);
  CHECK(load("trtllm-1.0").sources.at("mixed_step_graphs").find("scheduler.py") != std::string::npos);
}
