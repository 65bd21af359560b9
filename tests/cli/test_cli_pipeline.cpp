// The command line over the pipeline: engine what-ifs on run and schedule, model show and import,
// nccl-tests sizes as nccl-tests computes them, and --version.
#include "cli_run.hpp"

#include <nlohmann/json.hpp>

#include <regex>

using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

const std::string src = MOESIM_SOURCE_DIR;

std::string replace_once(std::string s, const std::string& from, const std::string& to)
{
  const auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}

} // namespace

TEST_CASE("run --set engine.KEY gives what the same key in the study's engine block gives", "[quick][cli]")
{
  // The default study with sync_us: 40 written in its engine block, against --set engine.sync_us=40:
  // the same report, after the what-if line.
  fs::path d = scratch("engine-set");
  const fs::path study = write(d, "default.yaml", replace_once(slurp(src + "/workloads/studies/default.yaml"),
                                                               "sync_us: 20", "sync_us: 40"));
  const std::string sel = " --platform ws-4x-rtxpro6000-pcie5-nop2p --plan ep4,tp4 --batch 1";
  Run file = moesim("run " + study.string() + sel);
  Run set = moesim("run default" + sel + " --set engine.sync_us=40 --json " + (d / "r.json").string());
  Run base = moesim("run default" + sel);
  REQUIRE(file.code == 0);
  REQUIRE(set.code == 0);
  const std::string prefix = "what-if (--set): engine.sync_us=40\n\n";
  REQUIRE(set.out.rfind(prefix, 0) == 0);
  CHECK(set.out.substr(prefix.size()) == file.out);
  // ep4 syncs on the host for its all-to-all-v counts, so a longer sync changes its step.
  CHECK(set.out.substr(prefix.size()) != base.out);
  // The JSON's engine is the engine that ran: 40 us = 4e-05 s.
  CHECK(nlohmann::json::parse(slurp(d / "r.json"))["engine"]["sync_s"].get<double>() == Approx(40e-6).epsilon(1e-12));
}

TEST_CASE("run --set engine.KEY: a bad key or value is one line and exit 2", "[quick][cli]")
{
  fs::path d = scratch("engine-bad");
  for (const std::string bad : {"engine.sync_us=fast", "engine.grouped_gemm=loop", "engine.cuda_graph=true"}) {
    INFO(bad);
    Run r = moesim("run default --set " + bad + " --json " + (d / "r.json").string());
    expect_usage_error(r, d / "r.json");
    CHECK_THAT(r.err, Contains("--set: engine."));
  }
  Run both = moesim("run default --cuda-graphs --set engine.cuda_graphs=false");
  expect_usage_error(both, d / "none");
  Run sched = moesim("schedule default --plan ep4 --set engine.launch_us=-1 -o " + (d / "s.json").string());
  expect_usage_error(sched, d / "s.json");
  CHECK_THAT(sched.err, Contains("engine.launch_us: must not be negative"));
}

TEST_CASE("schedule --set engine.KEY writes the engine into the schedule", "[quick][cli]")
{
  fs::path d = scratch("engine-schedule");
  Run r = moesim("schedule default --plan ep4 --batch 1 --set engine.grouped_gemm=per_expert --set engine.timed_ops=true "
                 "--set engine.sync_us=35 -o " + (d / "s.json").string());
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(slurp(d / "s.json"));
  CHECK(j["engine"]["grouped_gemm"] == "per_expert");
  CHECK(j["engine"]["timed_ops"] == true);
  CHECK(j["engine"]["sync_s"].get<double>() == Approx(35e-6).epsilon(1e-12));
  CHECK(j["engine"]["cuda_graphs"] == false); // the study's, untouched
}

TEST_CASE("run --sweep engine.KEY: tok/s per plan against the engine option", "[quick][cli]")
{
  fs::path d = scratch("engine-sweep");
  Run r = moesim("run default --platform ws-4x-rtxpro6000-pcie5-nop2p --plan tp4,ep4 --batch 1 "
                 "--sweep engine.sync_us=0,20,80 --csv " + (d / "s.csv").string());
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Contains("against engine.sync_us = 0, 20, 80"));
  // The CSV carries the value in seconds: 20 us = 2e-05 s. At 20 us it is the default study:
  // ep4's tok/s there is the pinned 76.4 (tests/cli/expected/default.txt, batch 1, ep4).
  const std::string csv = slurp(d / "s.csv");
  CHECK_THAT(csv, Contains(",ep4,engine.sync_us,20,2e-05,0,"));
  CHECK_THAT(r.out, Contains("ep4") && Contains("76.4"));
  Run both = moesim("run default --set engine.sync_us=5 --sweep engine.sync_us=0,20");
  expect_usage_error(both, d / "none");
}

TEST_CASE("model show: parameters in B and each part per layer", "[quick][cli]")
{
  Run r = moesim("model show mixtral-8x7b");
  REQUIRE(r.code == 0);
  // tests/core/test_model_params.cpp derives Mixtral-8x7B by hand: 46,702,526,464 total and
  // 12,879,659,008 active; one expert 3 x 4096 x 14336 = 176,160,768; attention 41,943,040 per layer.
  CHECK_THAT(r.out, Contains("parameters: 46.70 B total, 12.88 B active per token"));
  CHECK_THAT(r.out, Contains("routed experts (8 x 176.16 M)"));
  CHECK(std::regex_search(r.out, std::regex("attention \\(GQA\\) +41\\.94 M +32 +1\\.34 B")));
  CHECK_THAT(r.out, Contains("official: 46.70 B total, 12.90 B active"));
  Run path = moesim("model show " + src + "/workloads/models/mixtral-8x7b.yaml");
  CHECK(path.out == r.out);
  Run bad = moesim("model show no-such-model");
  expect_usage_error(bad, "/nonexistent");
  CHECK_THAT(bad.err, Contains("unknown model 'no-such-model'") && Contains("deepseek-v3"));
}

TEST_CASE("model import: a config.json becomes a model file that runs", "[quick][cli]")
{
  // A what-if model nobody published: Mixtral-8x7B's config with 16 experts, top-2. The import
  // writes a model file without official counts; a study can then name it by path.
  fs::path d = scratch("model-import");
  const fs::path config = write(d, "config.json", R"({
    "architectures": ["MixtralForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
    "num_local_experts": 16, "num_experts_per_tok": 2, "vocab_size": 32000, "sliding_window": null,
    "tie_word_embeddings": false, "torch_dtype": "bfloat16"})");
  Run r = moesim("model import " + config.string() + " -o " + (d / "mixtral-16x7b.yaml").string());
  REQUIRE(r.code == 0);
  // 16 experts: 8 more experts of 176,160,768 and 8 more router rows of 4096 per layer over 32
  // layers: 46,702,526,464 + 32 x (8 x 176,160,768 + 8 x 4096) = 91,800,731,648 total; active
  // (top-2) grows by the router only: 12,879,659,008 + 32 x 32,768 = 12,880,707,584.
  CHECK_THAT(r.out, Contains("mixtral-16x7b, 91.80 B total, 12.88 B active"));
  Run show = moesim("model show " + (d / "mixtral-16x7b.yaml").string());
  REQUIRE(show.code == 0);
  CHECK_THAT(show.out, Contains("official: none"));
  const fs::path study = write(d, "s.yaml", "name: s\nmodel: " + (d / "mixtral-16x7b.yaml").string() +
                                                "\nplatforms: [nvswitch-4x-h100]\nphase: decode\nbatch: [1]\n"
                                                "context: 1024\nplans: [ep4]\n");
  Run run = moesim("run " + study.string());
  CHECK(run.code == 0);
  CHECK_THAT(run.out, Contains("mixtral-16x7b"));

  write(d, "llama.json", R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096})");
  Run bad = moesim("model import " + (d / "llama.json").string() + " -o " + (d / "llama.yaml").string());
  expect_usage_error(bad, d / "llama.yaml");
  CHECK_THAT(bad.err, Contains("unknown architecture 'LlamaForCausalLM'") && Contains("Glm4MoeForCausalLM"));
}

TEST_CASE("nccl-tests: alltoall of 1 KiB over 3 GPUs is nccl-tests' 1008 B", "[quick][cli]")
{
  // 1024 B = 512 bf16 elements; 512 / 3 = 170 per peer, rounded down to 16 bytes (8 elements):
  // 168 per peer, 3 x 168 x 2 B = 1008 B (nccl-tests 2.19.6, src/alltoall.cu); count is per peer.
  Run r = moesim("nccl-tests --platform nvswitch-4x-h200 --op alltoall -b 1024 -e 1024 -g 3");
  REQUIRE(r.code == 0);
  CHECK(std::regex_search(r.out, std::regex("\n +1008 +168 +bfloat16 +none")));
}

TEST_CASE("moesim --version names the project version and the commit", "[quick][cli]")
{
  Run r = moesim("--version");
  REQUIRE(r.code == 0);
  CHECK(std::regex_match(r.out, std::regex("moesim [0-9]+\\.[0-9]+(\\.[0-9]+)? \\(git ([0-9a-f]{12}|unknown)\\)\n")));
  CHECK(moesim("--version").out == r.out); // deterministic
}

TEST_CASE("run: a PP decode plan's steady state lies between its one step and its bound", "[quick][cli]")
{
  // pp4 at batch 64 on the H200 node: 4 microbatches of 16 sequences for 4 stages. One step from an
  // empty pipeline takes about (M + p - 1) = 7 stage-microbatch times; back to back, stage 0 takes
  // mb0's next step as soon as its tokens are back (2 x p - 1 stage times + two trips < M + p - 1), so a
  // step costs about M = 4 of them: the interval is well under the step (4/7 = 0.57 of it, within
  // uneven stages). The bound, tokens over the busiest GPU's busy time, charges that GPU for the
  // hidden states it waits to receive and its cold start on the host; back to back both hide under
  // the previous microbatch's work, so the steady step may be shorter than the bound's by at most
  // those: world x (mean receive + mean host time).
  fs::path d = scratch("pp-steady");
  const std::string sel = " --platform nvswitch-4x-h200 --plan pp4,tp4 --batch 1,64";
  Run r = moesim("run default" + sel + " --json " + (d / "r.json").string());
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(slurp(d / "r.json"));
  int seen = 0;
  for (const auto& res : j["results"]) {
    INFO(res["plan"] << " batch " << res["batch"]);
    if (res["plan"] == "tp4") {
      CHECK_FALSE(res.contains("steady")); // PP 1: nothing added, the JSON as before
      continue;
    }
    REQUIRE(res.contains("steady"));
    const auto& st = res["steady"];
    const double step = res["step_time"], interval = st["interval"], batch = res["batch"];
    const double bound = batch / res["tok_s_pipelined"].get<double>();
    const double slack = 4 * (res["comm_time_by_kind"].value("recv", 0.0) + res["mean"]["host"].get<double>());
    CHECK(st["steps"] == 6);
    CHECK(st["warmup"] == 2);
    CHECK(st["tok_s"].get<double>() == Approx(batch / interval).epsilon(1e-12));
    CHECK(interval >= bound - slack);
    if (batch == 64) {
      // 64 sequences over 4 microbatches: the pipeline is full.
      CHECK(st["microbatches"] == 4);
      CHECK(interval < 0.62 * step);
      CHECK(interval > 0.5 * step);
    } else {
      // One sequence, one microbatch: no other work fills the bubbles. Back to back a step waits for
      // its token's trip to stage 0 but not for the host's first launch: the one step's time, within
      // 20 us.
      CHECK(st["microbatches"] == 1);
      CHECK(interval == Approx(step).margin(20e-6));
    }
    seen++;
  }
  CHECK(seen == 2);
  // The report says which it shows: the table's step from an empty pipeline, then the steady state.
  CHECK_THAT(r.out, Contains("of the step in the table, which starts from an empty pipeline"));
  CHECK_THAT(r.out, Contains("since 1 microbatch for 4 stages keeps at most 1 stage busy at once"));
}

TEST_CASE("run: pp_steady_steps 0 leaves a PP plan at its one step and its bound", "[quick][cli]")
{
  fs::path d = scratch("pp-steady-off");
  const fs::path study = write(d, "default.yaml", replace_once(slurp(src + "/workloads/studies/default.yaml"),
                                                               "plans:", "pp_steady_steps: 0\nplans:"));
  Run r = moesim("run " + study.string() + " --platform nvswitch-4x-h200 --plan pp4 --batch 64 --json " +
                 (d / "r.json").string());
  REQUIRE(r.code == 0);
  CHECK_FALSE(nlohmann::json::parse(slurp(d / "r.json"))["results"][0].contains("steady"));
  CHECK_THAT(r.out, Contains("a bound: the steady state was not simulated"));
}
