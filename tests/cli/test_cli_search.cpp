// `moesim search` from the command line: bad input is one line, exit 2 and no file; a small search
// writes its CSV, JSON and SVG; --merge of the shards' JSON gives the unsharded JSON; `run --seeds`
// gives the seeds' p50 and p90.
#include "cli_run.hpp"

using namespace cli_test;

namespace {

const std::string small = "search --model qwen3-30b-a3b --platform nvswitch-2x-h100 --batch 8 --context 1024 "
                          "--calibration none --graphs on -j 2";

} // namespace

TEST_CASE("search: bad input is one line naming the flag, exit 2, nothing written", "[quick][cli][search]")
{
  const fs::path dir = scratch("search_bad");
  const std::string outs = " --json " + (dir / "s.json").string() + " --csv " + (dir / "s.csv").string();
  const std::vector<std::pair<std::string, std::string>> cases{
      {"search --model no-such-model --platform hgx-8x-h100", "unknown model"},
      {"search --model qwen3-30b-a3b --platform no-such-platform", "no-such-platform"},
      {small + " --slo tpot=fast", "--slo"},
      {small + " --slo ttft=2s", "--slo"},
      {small + " --shard 3/2", "--shard"},
      {small + " --gpus 8", "--gpus"},
      {small + " --seeds 4", "--seeds"},
      {"search --merge " + (dir / "missing.json").string(), "--merge"},
  };
  for (const auto& [args, what] : cases) {
    INFO(args);
    const Run r = moesim(args + outs);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains(what));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
    CHECK(fs::is_empty(dir));
  }
}

TEST_CASE("search: CSV, JSON and SVG of a small search, and shards merged by the CLI equal it", "[slow][cli][search]")
{
  const fs::path dir = scratch("search_files");
  const Run r = moesim(small + " --slo tpot=50ms --json " + (dir / "all.json").string() + " --csv " +
                       (dir / "all.csv").string() + " --svg " + (dir / "all.svg").string());
  REQUIRE(r.code == 0);
  // 12 plans (test_search_run.cpp counts them) x batch 8 x graphs on = 12 candidates.
  CHECK_THAT(r.out, Catch::Contains("candidates: 12; pruned before simulating: none; simulated: 12"));
  CHECK_THAT(r.out, Catch::Contains("best under tpot <= 50 ms"));
  const std::string csv = slurp(dir / "all.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 13); // header + 12
  CHECK(slurp(dir / "all.svg").rfind("<svg", 0) == 0);
  std::string merge = "search --merge";
  for (int i = 1; i <= 2; i++) {
    const std::string f = (dir / ("s" + std::to_string(i) + ".json")).string();
    REQUIRE(moesim(small + " --slo tpot=50ms --shard " + std::to_string(i) + "/2 --json " + f).code == 0);
    merge += " " + f;
  }
  REQUIRE(moesim(merge + " --json " + (dir / "merged.json").string()).code == 0);
  CHECK(slurp(dir / "merged.json") == slurp(dir / "all.json"));
  // A shard edited to a context of 1e20 or a row's batch of 8.5 is refused, the file named: both were
  // cast to int (1e20 undefined, 8.5 cut to 8).
  const std::string shard = slurp(dir / "s1.json");
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{{"\"context\": 1024", "\"context\": 1e20"},
                                                                                 {"\"batch\": 8,", "\"batch\": 8.5,"}}) {
    INFO(to);
    std::string edited = shard;
    const size_t at = edited.find(from);
    REQUIRE(at != std::string::npos);
    edited.replace(at, from.size(), to);
    const fs::path bad = write(dir, "edited.json", edited);
    const Run m = moesim("search --merge " + bad.string() + " --json " + (dir / "m.json").string());
    CHECK(m.code == 2);
    CHECK_THAT(m.err, Catch::Contains("edited.json") && Catch::Contains("expected a whole number"));
    CHECK(std::count(m.err.begin(), m.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(dir / "m.json"));
  }
}

TEST_CASE("search: a Hugging Face config.json as the model, over a list of two platforms", "[quick][cli][search]")
{
  // A small Mixtral-style config (16 query heads, 8 KV heads, 16 experts of width 2048, top-2, 4
  // layers), named by its folder as `model import` names it. Every degree up to 4 divides 16 heads,
  // 16 experts and width 2048, and TP 1, 2, 4 divide 8 KV heads: only all_reduce's DP 1 rule, one
  // dispatch on a stage of one GPU and PP <= 4 layers bite.
  //   nvswitch-2x-h100: PP1 S=2: 2 x 2 = 4 a2a + 4 allgather + 2 allreduce = 10; PP2 S=1: 1 x 2 mb = 2   -> 12
  //   nvswitch-4x-h100: PP1 S=4: 3 x 3 = 9 + 9 + 3 = 21; PP2 S=2: 10 x 2 mb = 20; PP4 S=1: 1 x 2 mb = 2 -> 43
  // Batch 8 with graphs on: 12 + 43 = 55 candidates. Batch 8 fills every slot (at most DP4 x 1 or
  // DP1 x 8 microbatches), and the model (about 0.9 B parameters, 1.8 GB in bf16) fits every GPU, so
  // nothing is pruned. Shard 1/11 keeps keys 0, 11, 22, 33, 44: 5 simulated.
  const fs::path dir = scratch("search_hf") / "tiny-moe";
  fs::create_directories(dir);
  const fs::path config = write(dir, "config.json", R"({
    "architectures": ["MixtralForCausalLM"], "hidden_size": 1024, "num_hidden_layers": 4,
    "num_attention_heads": 16, "num_key_value_heads": 8, "intermediate_size": 2048,
    "num_local_experts": 16, "num_experts_per_tok": 2, "vocab_size": 32000, "sliding_window": null,
    "tie_word_embeddings": false, "torch_dtype": "bfloat16"})");
  const Run r = moesim("search --model " + config.string() + " --platform nvswitch-2x-h100,nvswitch-4x-h100 --batch 8 "
                       "--context 1024 --calibration none --graphs on --shard 1/11 -j 2");
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("search: tiny-moe, decode"));
  CHECK_THAT(r.out, Catch::Contains("platform nvswitch-2x-h100: 2 GPUs\nplatform nvswitch-4x-h100: 4 GPUs\n"));
  CHECK_THAT(r.out, Catch::Contains("candidates: 55 (shard 1/11: 5); pruned before simulating: none; simulated: 5"));
}

TEST_CASE("run --seeds 2: p50 is the faster seed's step and p90 the slower (each as a run of that seed alone)", "[quick][cli][search]")
{
  // skewed-routing is Zipf 1.2 with seed 1. `--seeds 2` reruns it with seed 2; nearest-rank over two
  // values: p50 is rank ceil(0.5 x 2) = 1 (the smaller step time), p90 rank ceil(0.9 x 2) = 2 (the
  // larger). Each must equal the step time of a plain run at that seed (the study copied with seed 2).
  const fs::path dir = scratch("run_seeds");
  std::string yaml = slurp(fs::path(MOESIM_SOURCE_DIR) / "workloads/studies/skewed-routing.yaml");
  const size_t at = yaml.find("seed: 1}");
  REQUIRE(at != std::string::npos);
  yaml.replace(at, 8, "seed: 2}");
  const fs::path seed2 = write(dir, "skewed-seed2.yaml", yaml);
  const std::string narrow = " --plan ep8 --batch 64 -j 1";
  const auto step_ms = [&](const std::string& study, const std::string& json) {
    REQUIRE(moesim("run " + study + narrow + " --json " + (dir / json).string()).code == 0);
    return 1e3 * nlohmann::json::parse(slurp(dir / json)).at("results").at(0).at("step_time").get<double>();
  };
  const double s1 = step_ms("skewed-routing", "seed1.json"), s2 = step_ms(seed2.string(), "seed2.json");
  CHECK(s1 != s2); // the seeds make different experts hot, or the test shows nothing
  const Run r = moesim("run skewed-routing" + narrow + " --seeds 2");
  REQUIRE(r.code == 0);
  char want[64];
  std::snprintf(want, sizeof want, "%.3f / %.3f", std::min(s1, s2), std::max(s1, s2));
  CHECK_THAT(r.out, Catch::Contains("Over 2 routing seeds (") && Catch::Contains("seeds 1..2)"));
  CHECK_THAT(r.out, Catch::Contains(want));
  // Uniform routing draws nothing, so several seeds would repeat one step: refused in one line.
  expect_usage_error(moesim("run default --seeds 2"), dir / "none");
}
