// `moesim serve`: one plan on one platform serving a request mix with the study's engine profile;
// the JSON's rate follows from its own step table, and bad input is one line, exit 2, nothing written.
#include "cli_run.hpp"

#include "../temp_dir.hpp"

using namespace cli_test;

namespace {

// A tp1 study on vLLM 0.11's profile (`platforms` as YAML).
std::string small_study(const moesim::test::TempDir& d, const std::string& platforms)
{
  return d.write("small.yaml", "name: small\nmodel: qwen3-30b-a3b\nplatforms: " + platforms +
                                   "\nphase: decode\nbatch: [1]\ncontext: 1024\nrouting: {kind: uniform}\n"
                                   "engine: vllm-0.11\nplans: [tp1]\n");
}

void check_refused(const std::string& args, const std::string& word, const fs::path& json)
{
  INFO(args);
  const Run r = cli_test::moesim("serve " + args + " --json " + json.string());
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Catch::Contains(word));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_FALSE(fs::exists(json));
}

} // namespace

TEST_CASE("moesim serve: concurrency 1 serves at one prefill plus output-1 decode steps per request",
          "[cli][serve]")
{
  moesim::test::TempDir d("serve_cli");
  const std::string study = small_study(d, "[nvswitch-1x-h200]");
  const fs::path json = d.path / "serve.json";
  const Run r = cli_test::moesim("serve " + study + " --requests 2 --input 256 --output 32 --concurrency 1 --json " +
                                 json.string());
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("| tp1 | 1 | 1 | concurrency |"));
  CHECK_THAT(r.out, Catch::Contains("Throughput is bounded by the concurrency"));
  const nlohmann::json j = nlohmann::json::parse(slurp(json));
  REQUIRE(j["simulated"] == true);
  // One request at a time: a prefill step P = max(prefill_seconds, decode at batch 1, context 256)
  // gives the first token, then 31 decode steps at contexts 257..287, whose mean 272 is the table's
  // context_hi (256 + 32/2): with the step linear in context they sum to 31 x seconds_hi[0]. So
  // output tok/s = 32 / (P + 31 s_hi), TTFT = P and TPOT = s_hi.
  const auto& t = j["step_table"];
  const double P = std::max(t["prefill_seconds"].get<double>(), t["seconds_lo"][0].get<double>());
  const double s_hi = t["seconds_hi"][0].get<double>();
  CHECK(j["output_tok_s"].get<double>() == Approx(32 / (P + 31 * s_hi)).epsilon(1e-9));
  CHECK(j["ttft_s"]["p50"].get<double>() == Approx(P).epsilon(1e-9));
  CHECK(j["tpot_s"]["p50"].get<double>() == Approx(s_hi).epsilon(1e-9));
  CHECK(j["limited_by"] == "concurrency");
  CHECK(j["gpus"] == 1);
}

TEST_CASE("moesim serve: bad input is one line, exit 2, nothing written", "[quick][cli][serve]")
{
  moesim::test::TempDir d("serve_cli_bad");
  const std::string two = small_study(d, "[nvswitch-1x-h200, nvswitch-1x-h100]");
  const fs::path json = d.path / "out.json";
  const std::string w = " --requests 4 --input 16 --output 4";
  // The default study names no engine profile.
  check_refused("default --plan tp4 --platform nvswitch-4x-h200" + w, "engine", json);
  check_refused("default --plan tp4 --platform nvswitch-4x-h200" + w, "default.yaml", json);
  check_refused(two + " --platform nvswitch-1x-h200 --requests 0 --input 16 --output 4", "--requests", json);
  check_refused(two + " --platform nvswitch-1x-h200 --requests 4 --input -1 --output 4", "--input", json);
  check_refused(two + " --platform nvswitch-1x-h200 --requests 4 --input 16 --output 0", "--output", json);
  check_refused(two + " --platform nvswitch-1x-h200 --concurrency 0" + w, "--concurrency", json);
  check_refused(two + " --platform nvswitch-1x-h200 --plan warp9" + w, "--plan", json);
  check_refused(two + " --platform no-such-box" + w, "no-such-box", json);
  // 1M-token prompts: one request's KV cache (~98 GB) does not fit beside the weights.
  check_refused(two + " --platform nvswitch-1x-h200 --requests 1 --input 1000000 --output 1", "does not fit", json);
  // Two platforms and no --platform: two scenarios, serve simulates one.
  check_refused(two + w, "selects 2 scenarios", json);
}

TEST_CASE("moesim serve: lengths from a file or drawn from distributions", "[cli][serve]")
{
  moesim::test::TempDir d("serve_cli_lengths");
  const std::string study = small_study(d, "[nvswitch-1x-h200]");
  const fs::path json = d.path / "serve.json";
  // Two requests at once, outputs 8 and 80: 88 output tokens over the makespan.
  const std::string csv = d.write("two.csv", "input,output\n512,8\n512,80\n");
  Run r = cli_test::moesim("serve " + study + " --requests 2 --lengths " + csv + " --json " + json.string());
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("2 requests of lengths " + csv + " (2 requests) (seed 1; mean 512.0 input + 44.0 output tokens)"));
  nlohmann::json j = nlohmann::json::parse(slurp(json));
  CHECK(j["mean_output"].get<double>() == 44);
  CHECK(j["output_tok_s"].get<double>() == Approx(88 / j["makespan_s"].get<double>()).epsilon(1e-12));
  CHECK(j["step_table"]["context_lo"].get<double>() == 512);
  // Drawn: the same seed gives the same bytes; the rate is the drawn outputs over the makespan. The
  // output's sigma from mean 300 and median 200: sqrt(2 ln 1.5) = sqrt(0.810930) = 0.900517.
  const std::string args = "serve " + study + " --requests 64 --input-dist uniform:100:2000 --output-dist "
                                              "lognormal:300:median=200:1:2048 --seed 5";
  r = cli_test::moesim(args + " --json " + json.string());
  REQUIRE(r.code == 0);
  const std::string first = slurp(json);
  CHECK_THAT(r.out, Catch::Contains("input uniform 100-2000, output lognormal mean 300 sigma 0.900517 in 1-2048 (seed 5"));
  CHECK(cli_test::moesim(args + " --json " + json.string()).out == r.out);
  CHECK(slurp(json) == first);
  j = nlohmann::json::parse(first);
  CHECK(j["workload"]["seed"] == 5);
  CHECK(j["output_tok_s"].get<double>() ==
        Approx(64 * j["mean_output"].get<double>() / j["makespan_s"].get<double>()).epsilon(1e-12));
}

TEST_CASE("moesim serve: bad lengths are one line, exit 2, nothing written", "[quick][cli][serve]")
{
  moesim::test::TempDir d("serve_cli_bad_lengths");
  const std::string study = small_study(d, "[nvswitch-1x-h200]") + " --requests 4";
  const fs::path json = d.path / "out.json";
  const std::string csv = d.write("ok.csv", "16,4\n");
  check_refused(study + " --output 4", "--input: missing", json);
  check_refused(study + " --input 16 --input-dist uniform:1:5 --output 4", "--input: given with --input-dist", json);
  check_refused(study + " --lengths " + csv + " --input 16", "--input: given with --lengths", json);
  check_refused(study + " --input 16 --output-dist lognormal:100:-0.5:1:400", "sigma -0.5 is negative", json);
  check_refused(study + " --input 16 --output-dist uniform:400:1", "min 400 is above max 1", json);
  check_refused(study + " --input 16 --output-dist uniform:4.5:9", "--output-dist", json);
  check_refused(study + " --input-dist zipf:3 --output 4", "--input-dist", json);
  check_refused(study + " --input 16 --output 4 --seed -1", "--seed", json);
  check_refused(study + " --lengths " + d.write("empty.csv", "input,output\n"), "holds no request", json);
  check_refused(study + " --lengths " + d.write("bad.csv", "16,4\n16,four\n"), "bad.csv:2: lengths", json);
  check_refused(study + " --lengths " + d.write("big.csv", "16,4\n99999999,4\n"), "outside [1, 16777216]", json);
  check_refused(study + " --lengths " + (d.path / "none.csv").string(), "none.csv", json);
  // Within the limits but too long for the memory: the largest request's KV.
  check_refused(study + " --lengths " + d.write("long.csv", "16,4\n1000000,1\n"), "does not fit", json);
}

TEST_CASE("moesim serve, disaggregated: one request at a time is prefill, KV transfer, then decode steps",
          "[cli][serve]")
{
  moesim::test::TempDir d("serve_cli_pd");
  const std::string study = small_study(d, "[nvswitch-1x-h200]");
  const fs::path json = d.path / "pd.json";
  const Run r = cli_test::moesim("serve " + study + " --prefill-plan tp1 --decode-plan tp1 --kv-link 25 --requests 2 "
                                 "--input 256 --output 32 --concurrency 1 --json " + json.string());
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("| prefill | tp1 | 1 | 1 |"));
  CHECK_THAT(r.out, Catch::Contains("| decode | tp1 | 1 | 1 |"));
  const nlohmann::json j = nlohmann::json::parse(slurp(json));
  REQUIRE(j["simulated"] == true);
  // The prefill instance's step: P = max(256 x its prefill cost a token, its decode at batch 1).
  const auto& pt = j["prefill"]["step_table"];
  const double P = std::max(256 * pt["prefill_seconds"].get<double>() / pt["prefill_tokens"].get<double>(),
                            pt["seconds_lo"][0].get<double>());
  // The KV: Qwen3-30B-A3B's 48 layers x 4 KV heads x (128 + 128) x 2 bytes = 98,304 bytes a token,
  // 256 tokens over one path (tp1 on both sides) at 25 GB/s, no latency.
  const double T = 256 * 98304 / 25e9;
  CHECK(j["kv_link"]["streams"] == 1);
  // Then 31 decode steps at contexts 257..287 on the decode instance: their mean 272 is its table's
  // context_hi (256 + 32/2), so they sum to 31 x seconds_hi[0]. TTFT = P + T, TPOT = s_hi.
  const double s_hi = j["decode"]["step_table"]["seconds_hi"][0].get<double>();
  CHECK(j["kv_transfer_s"]["p50"].get<double>() == Approx(T).epsilon(1e-9));
  CHECK(j["ttft_s"]["p50"].get<double>() == Approx(P + T).epsilon(1e-9));
  CHECK(j["tpot_s"]["p50"].get<double>() == Approx(s_hi).epsilon(1e-9));
  CHECK(j["decode_wait_s"]["max"].get<double>() == Approx(0).margin(1e-12));
  // Concurrency 1: the second request arrives as the first ends; 64 tokens in 2 (P + T + 31 s_hi).
  CHECK(j["output_tok_s"].get<double>() == Approx(64 / (2 * (P + T + 31 * s_hi))).epsilon(1e-9));
  CHECK(j["gpus"] == 2);
}

TEST_CASE("moesim serve, disaggregated: the KV link comes from the decode platform's NICs", "[cli][serve]")
{
  moesim::test::TempDir d("serve_cli_pd_nic");
  const std::string study = small_study(d, "[nvswitch-1x-h200]");
  const fs::path json = d.path / "pd.json";
  const Run r = cli_test::moesim("serve " + study + " --prefill-plan tp1 --decode-plan dp16xep16 --prefill-platform "
                                 "nvswitch-1x-h200 --decode-platform cluster-2x8-h200-ib400 --requests 16 --input 128 "
                                 "--output 8 --json " + json.string());
  REQUIRE(r.code == 0);
  const nlohmann::json j = nlohmann::json::parse(slurp(json));
  // cluster-2x8-h200-ib400: 400 Gb/s NICs, 8 a node of 8 GPUs: 400e9 / 8 x 8 / 8 = 50 GB/s a GPU.
  CHECK(j["kv_link"]["gbs_per_gpu"].get<double>() == Approx(50));
  CHECK_THAT(j["kv_link"]["source"].get<std::string>(), Catch::Contains("cluster-2x8-h200-ib400"));
  // A request lives on one GPU on both sides (tp1; 16 attention-DP replicas of one GPU): one path.
  CHECK(j["kv_link"]["streams"] == 1);
  CHECK(j["gpus"] == 17);
  CHECK(j["decode"]["gpus_per_instance"] == 16);
}

TEST_CASE("moesim serve, disaggregated: bad input is one line, exit 2, nothing written", "[quick][cli][serve]")
{
  moesim::test::TempDir d("serve_cli_pd_bad");
  const std::string study = small_study(d, "[nvswitch-1x-h200]");
  const fs::path json = d.path / "out.json";
  const std::string w = " --requests 4 --input 16 --output 4";
  check_refused(study + " --prefill-plan tp1 --kv-link 50" + w, "--decode-plan", json);
  check_refused(study + " --plan tp1 --prefill-plan tp1 --decode-plan tp1 --kv-link 50" + w, "--plan", json);
  check_refused(study + " --prefill-plan tp1 --decode-plan tp1 --kv-link 0" + w, "--kv-link", json);
  check_refused(study + " --prefill-plan tp1 --decode-plan tp1 --kv-link nan" + w, "--kv-link", json);
  check_refused(study + " --prefill-plan tp1 --decode-plan tp1 --kv-link 1e-320" + w, "--kv-link", json);
  check_refused(study + " --prefill-plan tp1 --decode-plan tp1 --prefill-instances 0 --kv-link 50" + w,
                "--prefill-instances", json);
  // One GPU in one box: no network to take the KV link from.
  check_refused(study + " --prefill-plan tp1 --decode-plan tp1" + w, "no network", json);
  check_refused(study + " --prefill-plan tp1 --decode-plan tp1 --prefill-platform nvswitch-1x-h200 --kv-link 50" + w,
                "--decode-platform", json);
}
