// The records `moesim-validate bench-ops` writes are read by core's one op-bench reader and fitted.
// The harness needs a GPU and CUDA; this fixture is its output as its writer code lays it out
// (validate/op_bench_record.cpp and validate/op_bench.cpp, op_bench_system), so that a change on
// either side that breaks the other fails here.
#include "core/op_fit.hpp"
#include "core/op_measurements.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace moesim;

namespace {

// How the fixture was derived from the writer:
// - The file is write_json_file(op_bench_document(...)): j.dump(1), one-space indent; the records
//   are nlohmann::json objects, so their keys come out sorted.
// - system (op_bench_system): driver, cuda, nccl, cublas, date, then gpu, sms (cudaDevAttr
//   multiprocessor count), cc as the string "major.minor", sm_clock_mhz and mem_clock_mhz (kHz / 1000),
//   mem_bw = 2 x mem clock x bus width / 8 (H200: 2 x 3.201e9 x 6144 / 8 = 4.9167e12), l2_bytes.
// - gemm_record: op, dtype, launch, m, n, k, batch 1, then seconds, reps, spread (timed()).
// - grouped_record: impl fused|loop, n, k, rows per local expert.
// - attention_record, MLA decode: attn mla, kv_heads 1, head_dim_qk = kv_lora + rope = 512 + 64 =
//   576, head_dim_v = kv_lora = 512, kv_lora_rank 512, rope_dim 64, window 0, context.
// - attention_record, prefill: attn gqa even for an MLA model, cached, prompt and context = cached +
//   prompt (0 + 2048), kv_lora_rank 0, rope_dim 0.
// - small_record: elements and bytes from small_kernel_elements / small_kernel_bytes (rmsnorm 64 x 7168:
//   elements 458752, bytes 2*64*7168*2 + 7168*2 = 1849344; topk 64 tokens x 256 experts, k 8:
//   elements 16384, bytes 64*256*4 + 64*8*8 = 69632), dtype fp32 for topk and sample.
// - gap_record: op, kernels, seconds (no launch, reps or spread); host_record: api, gpu_state, threads.
// The two gemm points at m = 64 and 128 (n 4096, k 7168) and launch stream are the same measured
// numbers as the graph ones minus 1 us.
const char* const harness_output = R"({
 "format": "moesim-op-bench-1",
 "records": [
  {"batch": 1, "dtype": "bf16", "k": 7168, "launch": "stream", "m": 64, "n": 4096, "op": "gemm", "reps": 50, "seconds": 2.4e-05, "spread": 0.021},
  {"batch": 1, "dtype": "bf16", "k": 7168, "launch": "graph", "m": 64, "n": 4096, "op": "gemm", "reps": 50, "seconds": 2.3e-05, "spread": 0.012},
  {"batch": 1, "dtype": "bf16", "k": 7168, "launch": "stream", "m": 128, "n": 4096, "op": "gemm", "reps": 50, "seconds": 2.6e-05, "spread": 0.018},
  {"batch": 1, "dtype": "bf16", "k": 7168, "launch": "graph", "m": 128, "n": 4096, "op": "gemm", "reps": 50, "seconds": 2.5e-05, "spread": 0.015},
  {"dtype": "bf16", "impl": "fused", "k": 2048, "launch": "stream", "n": 1536, "op": "grouped_gemm", "reps": 50, "rows": [3, 0, 7, 1], "seconds": 4.1e-05, "spread": 0.03},
  {"dtype": "bf16", "impl": "loop", "k": 2048, "launch": "stream", "n": 1536, "op": "grouped_gemm", "reps": 50, "rows": [3, 0, 7, 1], "seconds": 6.2e-05, "spread": 0.04},
  {"attn": "mla", "batch": 8, "context": 4096, "dtype": "bf16", "head_dim_qk": 576, "head_dim_v": 512, "kv_heads": 1, "kv_lora_rank": 512, "launch": "stream", "op": "attention_decode", "q_heads": 16, "reps": 50, "rope_dim": 64, "seconds": 3.1e-05, "spread": 0.02, "window": 0},
  {"attn": "gqa", "batch": 1, "cached": 0, "context": 2048, "dtype": "bf16", "head_dim_qk": 192, "head_dim_v": 128, "kv_heads": 16, "kv_lora_rank": 0, "launch": "stream", "op": "attention_prefill", "prompt": 2048, "q_heads": 16, "reps": 20, "rope_dim": 0, "seconds": 0.00031, "spread": 0.01, "window": 0},
  {"bytes": 1849344, "dtype": "bf16", "elements": 458752, "launch": "stream", "op": "rmsnorm", "reps": 50, "rows": 64, "seconds": 3.6e-06, "spread": 0.05, "width": 7168},
  {"bytes": 69632, "dtype": "fp32", "elements": 16384, "experts": 256, "k": 8, "launch": "stream", "op": "topk", "reps": 50, "seconds": 4.2e-06, "spread": 0.06, "tokens": 64},
  {"kernels": 64, "op": "graph_gap", "seconds": 1.1e-06},
  {"api": "kernel_launch", "gpu_state": "busy", "op": "host", "seconds": 2.9e-06, "threads": 1}
 ],
 "source": "moesim-validate bench-ops",
 "system": {"cc": "9.0", "cublas": "13.1.0", "cuda": "13.0", "date": "2026-12-04", "driver": "580.159.04", "gpu": "NVIDIA H200", "l2_bytes": 62914560, "mem_bw": 4916736000000.0, "mem_clock_mhz": 3201.0, "nccl": "2.28.3", "sm_clock_mhz": 1980.0, "sms": 132}
}
)";

} // namespace

TEST_CASE("bench-ops side file named after the records' stem is read", "[quick][perf]")
{
  // A results folder files the side file as ops.run.json(.gz) beside ops.json(.gz): the reader finds it
  // under the stem as well as under RECORDS.run.json, so a cut run is still reported.
  test::TempDir dir("moesim_harness_side_stem");
  const std::string f = dir.write("ops.json", harness_output);
  CHECK(load_op_measurements(f).complete != false); // no side file yet: nothing says it was cut
  dir.write("ops.run.json", R"({"tool": "moesim-validate bench-ops", "complete": false, "budget_s": 600})");
  CHECK(load_op_measurements(f).complete == false);
}

TEST_CASE("bench-ops output, side file included, is read by core's reader and fitted", "[quick][perf]")
{
  test::TempDir dir("moesim_harness_bench");
  const std::string f = dir.write("ops.json", harness_output);
  // The side file as bench-ops writes it while running or after a cut run: complete false.
  dir.write("ops.json.run.json", R"({"tool": "moesim-validate bench-ops", "complete": false, "budget_s": 600})");
  const OpMeasurements m = load_op_measurements(f);
  // 10 timed records; the graph gap and the host call go to their own lists.
  REQUIRE(m.ops.size() == 10);
  REQUIRE(m.complete == false);
  CHECK(m.system.number("sms") == 132);
  CHECK(m.system.word("cc") == "9.0");
  CHECK(m.ops[0].dims == std::vector<double>{1, 64, 4096, 7168});
  CHECK_FALSE(m.ops[0].key.graph);
  CHECK(m.ops[1].key.graph);
  // Fused grouped: {n, k, active experts, total rows} = {1536, 2048, 3 (rows 3, 7, 1), 11}.
  CHECK(m.ops[4].dims == std::vector<double>{1536, 2048, 3, 11});
  CHECK(m.ops[5].key.variant == "loop");
  // MLA decode: {d_qk 576, d_v 512, 1 KV head, 16 q heads, batch 8, context 4096}.
  CHECK(m.ops[6].dims == std::vector<double>{576, 512, 1, 16, 8, 4096});
  // Prefill, context 2048 = cached 0 + prompt 2048: {192, 128, 16, 16, batch 1, cached 0, prompt 2048}.
  CHECK(m.ops[7].dims == std::vector<double>{192, 128, 16, 16, 1, 0, 2048});
  // rmsnorm: rows x width = 64 x 7168 = 458752 elements; topk {tokens 64, experts 256, k 8}.
  CHECK(m.ops[8].dims == std::vector<double>{458752});
  CHECK(m.ops[8].bytes == 1849344);
  CHECK(m.ops[9].dims == std::vector<double>{64, 256, 8});
  CHECK(m.graph_gaps == std::vector<double>{1.1e-6});
  REQUIRE(m.host.size() == 1);
  CHECK(m.host[0].busy);

  const OpBenchFit fit = fit_op_bench_files({f}, {}, {}, std::string(MOESIM_SOURCE_DIR) + "/workloads/models");
  REQUIRE(fit.incomplete == std::vector<std::string>{f});
  CHECK(fit.models.sms == 132);
  CHECK(fit.models.graph_gap_s == 1.1e-6);
  // One model per (op, variant, dtype, launch) with fitted records: gemm stream and graph, grouped
  // fused, attention decode mla, prefill gqa, rmsnorm, topk = 7 (loop records check the gemm sum).
  CHECK(fit.models.models.size() == 7);
  // At a measured point the model answers the measurement itself (the grid is exact there).
  for (size_t i : {0, 1, 2, 3}) {
    const std::optional<perf::Estimate> e = estimate_record(fit.models, m.ops[i]);
    REQUIRE(e);
    CHECK(e->provenance == perf::Provenance::measured);
    CHECK(e->seconds == Approx(m.ops[i].seconds).epsilon(1e-9));
  }
}

TEST_CASE("an op-bench file without system.sms takes the SM count from the GPU catalogue", "[quick][perf]")
{
  // The same records without sms: the fit asks the catalogue for "NVIDIA H200" (platforms/gpus.yaml
  // gives h200-sxm-141gb sms 132; here a stand-in lookup returns 132 for that name only).
  std::string text = harness_output;
  const std::string sms = ", \"sms\": 132";
  text.erase(text.find(sms), sms.size());
  test::TempDir dir("moesim_harness_nosms");
  const std::string f = dir.write("ops.json", text);
  const std::string models = std::string(MOESIM_SOURCE_DIR) + "/workloads/models";
  CHECK_THROWS_WITH(fit_op_bench_files({f}, {}, {}, models), Catch::Matchers::Contains("system.sms"));
  const auto catalogue = [](const std::string& gpu) { return gpu == "NVIDIA H200" ? 132.0 : 0.0; };
  const OpBenchFit fit = fit_op_bench_files({f}, {}, {}, models, 0, catalogue);
  CHECK(fit.models.sms == 132);
  CHECK_THAT(fit.models.system, Catch::Matchers::Contains("SM count 132 from the GPU catalogue"));
  // --sms overrides both.
  CHECK(fit_op_bench_files({f}, {}, {}, models, 100, catalogue).models.sms == 100);
}
