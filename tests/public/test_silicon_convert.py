"""validate/public/silicon/convert.py: nine rows of NVIDIA's silicon_sample.csv (ai-dynamo/aiconfigurator
@095f58a5) become published rows with the plan, platform, records, dtypes, workload, metric, engine_set
and missing labels the converter's rules give, a row on more than one node is left out with its
reason, and --metric ttft_ms gives the same rows against silicon_ttft_ms."""
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONVERT = os.path.join(ROOT, "validate", "public", "silicon", "convert.py")

# Four rows of the vendored subset, verbatim: Qwen3-235B FP8 TEP8 on H100 under TensorRT-LLM
# 1.0.0rc3, DeepSeek-R1 ADP8 on H200 under 1.1.0rc2.post2 (batch_size 32 per DP rank, the client's
# concurrency 256), DeepSeek-V3 NVFP4 under SGLang on B200 at tp 64 x moe tp 8 x ep 8 (64 GPUs), and
# gpt-oss-120b on one H200 under vLLM 0.18.0; then DeepSeek-V3 NVFP4 TP8 on B200 under TensorRT-LLM at
# input 8192 (the generator's max_num_tokens), a gap-analysis gpt-oss H100 TensorRT-LLM row whose
# silicon_concurrency 160 = batch_size 40 x tp 4 with attention dp 1, a vLLM 0.11.2 gpt-oss H100
# row at concurrency 512 with a TTFT of 118 s, a Qwen3-235B FP8 TP2 row on H200 under vLLM 0.12.0, and
# Kimi-K2.5 int4 TP8 on B200 under vLLM 0.15.1 at concurrency 64.
CSV = """id,silicon_data_source,backend,backend_version,model_path,system,precision,mode,isl,osl,gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,prefill_batch_size,prefill_num_workers,prefill_tp_size,prefill_pp_size,prefill_attention_dp_size,prefill_moe_tp_size,prefill_moe_ep_size,decode_batch_size,decode_num_workers,decode_tp_size,decode_pp_size,decode_attention_dp_size,decode_moe_tp_size,decode_moe_ep_size,silicon_ttft_ms,silicon_tpot_ms
qwen_qwen3_235b_a22b_fp8_qwen_qwen3_235b_a22b_fp8_h100_sxm_trtllm_agg_128x128_c32_tp8_epnone_91,source_file=/Users/harrli/projects/aic-auto-gap-analysis/data/h100_sxm/trtllm/1.0.0rc3/Qwen_Qwen3-235B-A22B-FP8.csv; silicon_concurrency=32,trtllm,1.0.0rc3,Qwen/Qwen3-235B-A22B-FP8,h100_sxm,fp8,agg,128,128,fp8_block,fp8_block,32,8,1,,1,8,,,,,,,,,,,,,,,251.2551357453125,17.4342056640625
2026_03_25_deepseek_r1_h200_sxm_trtllm_fp8_agg_1024x8192_c256_tp8_0_ep8_0_1238,source_file=2026-03-25.csv; model=DeepSeek-R1; silicon_concurrency=256; measured=2026-01-28T06:18:44Z; wip=False; image=nvcr.io#nvidia/tensorrt-llm/release:1.1.0rc2.post2,trtllm,1.1.0rc2.post2,deepseek-ai/DeepSeek-R1,h200_sxm,fp8,agg,1024,8192,fp8,fp8,32,1,1,8,1,8,,,,,,,,,,,,,,,5180.248964850034,30.398513386321937
dsr1_b200_sglang_fp4_agg_1024x8192_c4_cfg201,db-dump/2026-04-27; config_id=201; silicon_concurrency=4; measured=2026-03-25T00:00:00.000Z; workflow_run_id=337; lmsysorg/sglang:v0.5.9-cu130,sglang,0.5.9,deepseek-ai/DeepSeek-V3,b200_sxm,fp4,agg,1024,8192,nvfp4,nvfp4,4,64,1,1,8,8,,,,,,,,,,,,,,,191.50308338575996,8.120207514012586
2026_03_25_gpt_oss_120b_h200_sxm_vllm_fp4_agg_1024x1024_c4_tp1_0_ep1_0_199,source_file=2026-03-25.csv; model=GPT-OSS-120B; silicon_concurrency=4; measured=2026-03-27T08:01:51Z; wip=False; image=vllm/vllm-openai:v0.18.0,vllm,0.18.0,openai/gpt-oss-120b,h200_sxm,fp4,agg,1024,1024,nvfp4,nvfp4,4,1,1,1,1,1,,,,,,,,,,,,,,,85.73688613250852,6.331747622917966
dsr1_b200_trtllm_fp4_agg_8192x1024_c128_cfg91,db-dump/2026-04-27; config_id=91; silicon_concurrency=128; measured=2025-11-02T00:00:00.000Z; workflow_run_id=103,trtllm,,deepseek-ai/DeepSeek-V3,b200_sxm,fp4,agg,8192,1024,nvfp4,nvfp4,128,8,1,1,8,1,,,,,,,,,,,,,,,2744.8580625788964,31.989826396185464
openai_gpt_oss_120b_openai_gpt_oss_120b_h100_sxm_trtllm_agg_4000x1000_c160_tp4_epnone_5,source_file=/Users/harrli/projects/aic-auto-gap-analysis/data/h100_sxm/trtllm/1.3.0rc1/openai_gpt-oss-120b.csv; gtl_job_id=23879486; gtl_task_id=103834814; silicon_concurrency=160; measured=2026-03-18; image=nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.9.0; dynamo_version=0.9.0,trtllm,1.3.0rc1,openai/gpt-oss-120b,h100_sxm,fp8,agg,4000,1000,fp8,fp8,40,4,1,,2,2,,,,,,,,,,,,,,,1371.8671288195312,47.26231487779628
2026_04_06_gpt_oss_120b_h100_sxm_vllm_fp4_agg_1024x8192_c512_tp8_ep1_1128,source_file=2026-04-06.csv; model=GPT-OSS-120B; silicon_concurrency=512; measured=2025-12-08T00:00:00.000Z; wip=False; image=vllm/vllm-openai:v0.11.2,vllm,0.11.2,openai/gpt-oss-120b,h100_sxm,fp4,agg,1024,8192,nvfp4,nvfp4,512,8,1,1,8,1,,,,,,,,,,,,,,,117788.20557035506,3.5714276398102736
qwen_qwen3_235b_a22b_fp8_qwen_qwen3_235b_a22b_fp8_h200_sxm_vllm_agg_1000x100_c16_tp2_epnone_1,source_file=/Users/harrli/projects/aic-auto-gap-analysis/data/h200_sxm/vllm/0.12.0/Qwen_Qwen3-235B-A22B-FP8.csv; silicon_concurrency=16,vllm,0.12.0,Qwen/Qwen3-235B-A22B-FP8,h200_sxm,fp8,agg,1000,100,fp8,fp8,16,2,1,,2,1,,,,,,,,,,,,,,,243.96,52.16
2026_03_25_kimi_k2_5_b200_sxm_vllm_int4_agg_1024x1024_c64_tp8_0_ep1_0_327,source_file=2026-03-25.csv; model=Kimi-K2.5; silicon_concurrency=64; measured=2026-03-24T20:03:09Z; wip=False; image=vllm/vllm-openai:v0.15.1,vllm,0.15.1,moonshotai/Kimi-K2.5,b200_sxm,int4,agg,1024,1024,int4_wo,int4_wo,64,8,1,1,8,1,,,,,,,,,,,,,,,328.86881737613294,28.544296542598246
"""


def rows_of(text):
    """{id: {key: value text}} of the converter's YAML (one level; flow maps kept as text)."""
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("  - id: "):
            cur = out.setdefault(line[len("  - id: "):], {})
        elif cur is not None and line.startswith("    "):
            k, _, v = line.strip().partition(": ")
            cur[k] = v
    return out


class SiliconConvertTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        src = os.path.join(cls.dir.name, "rows.csv")
        with open(src, "w") as f:
            f.write(CSV)
        cls.excluded = os.path.join(cls.dir.name, "excluded.md")
        def convert(*args):
            return rows_of(subprocess.run([sys.executable, CONVERT, src, *args], check=True,
                                          capture_output=True, text=True).stdout)
        cls.rows = convert("--excluded", cls.excluded)
        cls.ttft_rows = convert("--metric", "ttft_ms")

    def test_qwen3_tep8_h100(self):
        r = self.rows["qwen_qwen3_235b_a22b_fp8_qwen_qwen3_235b_a22b_fp8_h100_sxm_trtllm_agg_128x128_c32_tp8_epnone_91"]
        # tp 8, attention dp 1, moe tp 1 x ep 8: attention TP8 over the 8 GPUs the experts split by EP.
        self.assertEqual(r["plan"], "ep8")
        self.assertEqual(r["platform"], "hgx-8x-h100")
        self.assertEqual(r["engine"], "trtllm-1.0")
        self.assertEqual(r["engine_version"], '"1.0.0rc3"')
        # Qwen's FP8 checkpoint is 128x128 block-scaled; its MoE, GEMMs and GQA attention from the
        # H100 TensorRT-LLM table, as trt-qwen3-235b-h100-dep8.
        self.assertEqual(r["dtypes"], "{expert_weights: fp8, dense_weights: fp8, fp8_scales: block}")
        table = "platforms/public/aiconfigurator/h100_sxm.trtllm-1.3.0rc20.json.gz"
        for k in ("moe_records", "gemm_records", "attention_records"):
            self.assertEqual(r[k], table)
        self.assertNotIn("op_records", r)
        # 20 rounds of the concurrency (bench_run.sh.j2): 20 x 32 = 640 requests.
        self.assertEqual(r["workload"], "{kind: serve, input: 128, output: 128, requests: 640, concurrency: 32}")
        self.assertEqual(r["metric"], "tpot_ms")
        self.assertAlmostEqual(float(r["measured"]), 17.4342056640625)
        self.assertIn("seen: session 24", r["note"])

    def test_deepseek_adp8_h200_takes_the_client_concurrency(self):
        r = self.rows["2026_03_25_deepseek_r1_h200_sxm_trtllm_fp8_agg_1024x8192_c256_tp8_0_ep8_0_1238"]
        self.assertEqual(r["plan"], "dp8xep8")
        self.assertEqual(r["platform"], "hgx-8x-h200")
        self.assertEqual(r["op_records"], "platforms/public/aiconfigurator/h200_sxm.trtllm-1.3.0rc20.json.gz")
        self.assertNotIn("dtypes", r)  # the model file's block-scaled FP8
        # batch_size 32 is per DP rank: silicon_concurrency=256 = 32 x 8 is the client's; 20 x 256 = 5120.
        self.assertEqual(r["workload"], "{kind: serve, input: 1024, output: 8192, requests: 5120, concurrency: 256}")
        self.assertIn("seen: session 24", r["note"])

    def test_vllm_gptoss_one_h200(self):
        r = self.rows["2026_03_25_gpt_oss_120b_h200_sxm_vllm_fp4_agg_1024x1024_c4_tp1_0_ep1_0_199"]
        self.assertEqual(r["plan"], "tp1")
        self.assertEqual(r["platform"], "nvswitch-1x-h200")
        # 0.18.0 >= 0.14.0, the first release with async scheduling on by default: the overlapped profile.
        self.assertEqual(r["engine"], "vllm-0.14")
        self.assertEqual(r["engine_version"], '"0.18.0"')
        # docs/engines.md's rule (session 26): the row's own version's fused-MoE table holds gpt-oss's
        # MXFP4 layer at moe tp 1 x ep 1 (power_law_1.2, the model file's routing: 0.152 ms at 4 tokens);
        # 36 layers x 0.152 ms = 5.5 ms is below the measured 6.33 ms, so it is named, its MoE only.
        self.assertEqual(r["moe_records"], "platforms/public/aiconfigurator/h200_sxm.vllm-0.18.0.moe.json.gz")
        self.assertIn("vllm 0.18.0 fused-MoE table", r["note"])
        for k in ("op_records", "gemm_records", "attention_records", "missing"):
            self.assertNotIn(k, r)
        self.assertEqual(r["metric"], "tpot_ms")

    def test_vllm_kimi_int4_b200_skips_a_table_above_the_measured_step(self):
        r = self.rows["2026_03_25_kimi_k2_5_b200_sxm_vllm_int4_agg_1024x1024_c64_tp8_0_ep1_0_327"]
        self.assertEqual(r["plan"], "tp8")
        self.assertEqual(r["dtypes"], "{expert_weights: int4, dense_weights: bf16}")
        # No B200 table of 0.15.1; the nearest holding Kimi's int4 layer at moe tp 8 is 0.19.0 (series 19,
        # 4 away), whose Marlin layer at 64 tokens (power_law_1.01) is 0.8354 ms: x 60 MoE layers = 50.1 ms,
        # above the measured TPOT 28.5 ms, so it is dropped; next 0.24.0 (9 away): 0.2823 ms x 60 = 16.9 ms.
        self.assertEqual(r["moe_records"], "platforms/public/aiconfigurator/b200_sxm.vllm-0.24.0.moe.json.gz")

    def test_labelled_rows_take_no_part_in_the_tpot_check(self):
        # The H100 vLLM 0.11.2 c512 row is labelled; 0.24.0's layer at 512 tokens x 36 is above its 3.57 ms,
        # but with no unlabelled row in its configuration the nearest holding table stands.
        r = self.rows["2026_04_06_gpt_oss_120b_h100_sxm_vllm_fp4_agg_1024x8192_c512_tp8_ep1_1128"]
        self.assertEqual(r["moe_records"], "platforms/public/aiconfigurator/h100_sxm.vllm-0.24.0.moe.json.gz")

    def test_multi_node_row_left_out_with_its_reason(self):
        self.assertNotIn("dsr1_b200_sglang_fp4_agg_1024x8192_c4_cfg201", self.rows)
        with open(self.excluded) as f:
            text = f.read()
        # tp 64 x attention dp 1 = 64 GPUs = moe tp 8 x ep 8: eight nodes as written, perhaps 8 GPUs meant.
        self.assertIn("| dsr1_b200_sglang_fp4_agg_1024x8192_c4_cfg201 | 64 GPUs: more than one 8-GPU node as written "
                      "(tp 64 x dp 1 = moe tp 8 x ep 8: perhaps 8 GPUs meant; not guessed) |", text)
        self.assertEqual(len(self.rows), 8)  # the nine CSV rows less this one

    def test_trtllm_long_prompt_takes_the_generators_token_budget(self):
        r = self.rows["dsr1_b200_trtllm_fp4_agg_8192x1024_c128_cfg91"]
        # AIConfigurator's generator (rule_plugin/trtllm.rule @095f58a5): max_num_tokens = batch_size 128
        # + isl 8192 + 500 = 8820, rounded up to 32 tokens: 276 x 32 = 8832; chunked prefill off.
        # isl 8192 > 128 + 1500, so one whole prompt fits beside every decode with + 500 or + 1500.
        self.assertEqual(r["engine_set"], "{max_num_batched_tokens: 8832, chunked_prefill: false}")
        self.assertIn("generator rule", r["note"])
        self.assertNotIn("missing", r)

    def test_short_prompt_keeps_the_profile_budget(self):
        # Qwen3 at isl 128 <= batch_size 32 + 1500: + 500 and + 1500 admit different prompt counts, so
        # no budget is set (the profile's 8192 stays).
        r = self.rows["qwen_qwen3_235b_a22b_fp8_qwen_qwen3_235b_a22b_fp8_h100_sxm_trtllm_agg_128x128_c32_tp8_epnone_91"]
        self.assertNotIn("engine_set", r)

    def test_concurrency_tp_times_batch_without_attention_dp_is_labelled(self):
        r = self.rows["openai_gpt_oss_120b_openai_gpt_oss_120b_h100_sxm_trtllm_agg_4000x1000_c160_tp4_epnone_5"]
        # 160 = 40 x 4 with attention dp 1: labelled, simulated at the client's concurrency, and no
        # generator budget (its batch_size per rank is not known); the Hopper gpt-oss fractions stay.
        self.assertIn("layout columns contradict the concurrency", r["missing"])
        self.assertIn("batch_size 40 x tp_size 4", r["missing"])
        self.assertEqual(r["engine_set"], "{moe_bandwidth_fraction: 0.58, moe_flops_fraction: 0.40}")
        self.assertIn("concurrency: 160}", r["workload"])

    def test_vllm_c512_with_minutes_of_ttft_is_labelled(self):
        r = self.rows["2026_04_06_gpt_oss_120b_h100_sxm_vllm_fp4_agg_1024x8192_c512_tp8_ep1_1128"]
        # TTFT 117,788 ms = 118 s at concurrency 512.
        self.assertIn("running-batch limit not stated: TTFT 118 s at concurrency 512", r["missing"])
        self.assertNotIn("missing", self.rows["2026_03_25_gpt_oss_120b_h200_sxm_vllm_fp4_agg_1024x1024_c4_tp1_0_ep1_0_199"])

    def test_vllm_before_0_14_keeps_the_serial_host_profile(self):
        # 0.11.2 and 0.12.0 predate async scheduling's default (vLLM 0.14.0): vllm-0.11.
        self.assertEqual(self.rows["2026_04_06_gpt_oss_120b_h100_sxm_vllm_fp4_agg_1024x8192_c512_tp8_ep1_1128"]["engine"], "vllm-0.11")
        self.assertEqual(self.rows["qwen_qwen3_235b_a22b_fp8_qwen_qwen3_235b_a22b_fp8_h200_sxm_vllm_agg_1000x100_c16_tp2_epnone_1"]["engine"], "vllm-0.11")

    def test_qwen3_vllm_0_12_series_is_labelled_by_its_series(self):
        # Labelled by model, engine and version (UNEXPLAINED), whatever the row's load: this row's own
        # columns agree (concurrency 16 = batch_size 16, attention dp 1), so suspect() gives nothing.
        r = self.rows["qwen_qwen3_235b_a22b_fp8_qwen_qwen3_235b_a22b_fp8_h200_sxm_vllm_agg_1000x100_c16_tp2_epnone_1"]
        self.assertIn("vLLM 0.12.0 Qwen3-235B-A22B-FP8 series", r["missing"])
        self.assertNotIn("layout columns contradict", r["missing"])
        self.assertEqual(r["plan"], "tp2")

    def test_ttft_metric_gives_the_same_rows_against_silicon_ttft_ms(self):
        self.assertEqual(set(self.ttft_rows), set(self.rows))
        r = self.ttft_rows["2026_03_25_gpt_oss_120b_h200_sxm_vllm_fp4_agg_1024x1024_c4_tp1_0_ep1_0_199"]
        self.assertEqual(r["metric"], "ttft_ms")
        self.assertAlmostEqual(float(r["measured"]), 85.73688613250852)
        self.assertEqual(r["workload"], self.rows["2026_03_25_gpt_oss_120b_h200_sxm_vllm_fp4_agg_1024x1024_c4_tp1_0_ep1_0_199"]["workload"])



CONVERT_DISAGG = os.path.join(ROOT, "validate", "public", "silicon", "convert_disagg.py")
DISAGG_CSV = os.path.join(ROOT, "validate", "public", "silicon", "silicon_sample-disagg.csv")


class SiliconConvertDisaggTest(unittest.TestCase):
    """convert_disagg.py on three rows of the vendored disagg subset: a TensorRT-LLM (Dynamo) DeepSeek-R1
    FP8 run on B200 with one 8-GPU prefill worker (attention DP 8, MoE TP 8) and one decode worker
    (attention DP 8, EP 8) at concurrency 128; an SGLang one at concurrency 4 (EP 8 on both); and a
    row that states no worker counts."""

    @classmethod
    def setUpClass(cls):
        ids = ("dsr1_b200_trtllm_fp8_disagg_8192x1024_c128_cfg666", "dsr1_b200_sglang_fp8_disagg_1024x1024_c4_cfg455",
               "2026_03_25_deepseek_r1_h200_sxm_trtllm_fp8_disagg_1024x1024_c13_tp8_0_ep8_0_354")
        with open(DISAGG_CSV) as f:
            lines = [l for l in f if not l.startswith("#")]
        picked = [lines[0]] + [l for l in lines[1:] if l.split(",", 1)[0] in ids]
        assert len(picked) == 4, picked
        cls.dir = tempfile.TemporaryDirectory()
        src = os.path.join(cls.dir.name, "rows.csv")
        with open(src, "w") as f:
            f.writelines(picked)
        cls.excluded = os.path.join(cls.dir.name, "excluded.md")
        cls.rows = rows_of(subprocess.run([sys.executable, CONVERT_DISAGG, src, "--excluded", cls.excluded], check=True,
                                          capture_output=True, text=True).stdout)

    def test_trtllm_pools_engine_facts_and_link(self):
        r = self.rows["dsr1_b200_trtllm_fp8_disagg_8192x1024_c128_cfg666"]
        # The row's platform and plan are the decode worker's: attention DP 8 x EP 8 on one HGX B200.
        self.assertEqual(r["platform"], "hgx-8x-b200")
        self.assertEqual(r["plan"], "dp8xep8")
        self.assertEqual(r["op_records"], "platforms/public/aiconfigurator/b200_sxm.trtllm-1.3.0rc20.json.gz")
        w = r["workload"]
        # 20 rounds of the concurrency: 2,560 requests; the prefill worker attention DP 8 x MoE TP 8.
        self.assertIn("requests: 2560, concurrency: 128", w)
        self.assertIn("prefill_platform: hgx-8x-b200, prefill_plan: dp8xtp8, prefill_instances: 1, decode_instances: 1", w)
        self.assertIn("kv_link: 50", w)
        # trtllm.rule: prefill max_num_tokens = 8192 + 500 = 8692, up to a multiple of 32: 8704; overlap off.
        self.assertIn("prefill_engine_set: {max_num_seqs: 1, max_num_batched_tokens: 8704, chunked_prefill: false, "
                      "overlap_scheduler: false}", w)
        # decode max_batch_size = the row's 16 (per attention-DP rank: 16 x 8 x 1 worker = 128).
        self.assertIn("decode_engine_set: {max_num_seqs: 16}", w)

    def test_sglang_pools_engine_facts(self):
        w = self.rows["dsr1_b200_sglang_fp8_disagg_1024x1024_c4_cfg455"]["workload"]
        # sglang.rule: prefill max_prefill_tokens = 1024 + 1500 = 2524; decode max_batch_size 512 below 512.
        self.assertIn("prefill_plan: ep8", w)
        self.assertIn("prefill_engine_set: {max_num_seqs: 1, max_num_batched_tokens: 2524}", w)
        self.assertIn("decode_engine_set: {max_num_seqs: 512}", w)

    def test_row_without_worker_counts_left_out(self):
        self.assertEqual(len(self.rows), 2)
        with open(self.excluded) as f:
            text = f.read()
        self.assertIn("| 2026_03_25_deepseek_r1_h200_sxm_trtllm_fp8_disagg_1024x1024_c13_tp8_0_ep8_0_354 | does not state "
                      "prefill_batch_size, prefill_num_workers, decode_batch_size, decode_num_workers", text)


if __name__ == "__main__":
    unittest.main()
