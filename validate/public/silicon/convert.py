#!/usr/bin/env python3
"""NVIDIA AIConfigurator's measured serving runs (silicon_sample.csv) as published rows for moesim.

    convert.py CSV [-o silicon.yaml] [--metric tpot_ms|ttft_ms] [--subset-csv FILE] [--stratified] [--part K/N]
               [--excluded FILE]

Reads ai-dynamo/aiconfigurator aic-core/src/aiconfigurator_core/systems/silicon_sample.csv (or the
vendored subset beside this file, silicon_sample-subset.csv, whose '#' header lines are skipped),
keeps the aggregated (mode agg) runs on one H100, H200 or B200 node of the models in moesim's zoo,
and writes them in validate/public/published.yaml's row format with metric tpot_ms (the CSV's
silicon_tpot_ms), or with --metric ttft_ms the same rows against silicon_ttft_ms. Rows moesim cannot run stay, labelled `missing`; rows left out (more than one
node, a parallel layout whose GPU counts disagree) are written with their reason to --excluded.
Every choice below is described in README.md beside this file; nothing is tuned to the rows.
"""
import argparse
import csv
import glob
import gzip
import json
import os
import re
import sys

SOURCE = "ai-dynamo/aiconfigurator aic-core/src/aiconfigurator_core/systems/silicon_sample.csv @095f58a5"
SYSTEMS = {"h100_sxm": "h100", "h200_sxm": "h200", "b200_sxm": "b200"}
MODELS = {
    "deepseek-ai/DeepSeek-R1": "deepseek-v3",
    "deepseek-ai/DeepSeek-V3": "deepseek-v3",
    "nvidia/DeepSeek-R1-NVFP4": "deepseek-v3",
    "nvidia/DeepSeek-V3.1-NVFP4": "deepseek-v3",
    "openai/gpt-oss-120b": "gpt-oss-120b",
    "Qwen/Qwen3-235B-A22B-FP8": "qwen3-235b-a22b",
    # Kimi-K2.5's text decoder has Kimi-K2's shape: every shape key of the text_config in
    # AIConfigurator's copy of moonshotai/Kimi-K2.5 config.json equals Kimi-K2-Instruct's (README).
    "moonshotai/Kimi-K2.5": "kimi-k2",
}
ENGINES = {"trtllm": "trtllm-1.0", "vllm": "vllm-0.11", "sglang": "sglang-0.5"}
# Our platforms by GPU and count: the NVSwitch boxes below 8 GPUs, the HGX board at 8 (as the
# published.yaml rows of the same GPU and count name them).
PLATFORMS = {(g, n): (f"hgx-8x-{g}" if n == 8 else f"nvswitch-{n}x-{g}") for g in ("h100", "h200", "b200") for n in (1, 2, 4, 8)}
# Platforms with a measured calibration (platforms/calibration/): public op records may not stand in
# for it (moesim published refuses op_records there), so their rows name the records' parts.
CALIBRATED = {"nvswitch-1x-h200", "nvswitch-2x-h200", "nvswitch-4x-h200"}
# bench_run.sh.j2 in the same repository: aiperf runs concurrency x BENCH_MULTI_ROUND (20) requests
# after 2 x concurrency warm-up requests.
ROUNDS = 20
# Rows session 24 looked at before the power-law routing change (validate/public/gpt-oss-trtllm-notes.md).
SEEN = [
    ("trtllm", "1.0.0rc3", "h100_sxm", "Qwen/Qwen3-235B-A22B-FP8", "ep8"),
    ("trtllm", "1.1.0rc2.post2", "h200_sxm", "deepseek-ai/DeepSeek-R1", "dp8xep8"),
]


def records(engine, gpu, model, platform):
    """The public records a row names, as the published.yaml rows of its GPU, engine and model do."""
    table = f"platforms/public/aiconfigurator/{gpu}_sxm.trtllm-1.3.0rc20.json.gz"
    if engine != "trtllm":
        # The vLLM and SGLang rows of published.yaml on one node name no table (gpustack-*): the
        # vLLM tables are of 0.14/0.24, SGLang's H200 one times DeepEP wide-EP MoE layers.
        return {}
    if model == "qwen3-235b-a22b" or (model == "gpt-oss-120b" and platform in CALIBRATED):
        # trt-qwen3-235b-h100-dep8 / trt-qwen3-235b-h200-dep4 / trt-gptoss120b-h200-tp1: GQA
        # attention beyond op_records' grid, or a measured platform.
        return {"moe_records": table, "gemm_records": table, "attention_records": table}
    if platform in CALIBRATED:  # DeepSeek (MLA) on a measured H200 box: no GQA attention to name
        return {"moe_records": table, "gemm_records": table}
    return {"op_records": table}  # trt-dsr1-*, trt-gptoss120b-h100-dep4 / -b200-dep2


def dtypes_of(model, row):
    """(dtypes, note) for the row's checkpoint as the CSV's quant modes name it."""
    gemm, moe = row["gemm_quant_mode"], row["moe_quant_mode"]
    if model == "deepseek-v3":
        if moe == "nvfp4":  # NVIDIA's FP4 export: NVFP4 experts, the rest FP8 (trt-dsr1-b200-dep4)
            return {"expert_weights": "nvfp4", "dense_weights": "fp8"}, ""
        return {}, ""  # the release checkpoint: block-scaled FP8 (the model file's dtypes)
    if model == "gpt-oss-120b":
        # The checkpoint's experts are MXFP4 whatever the CSV's label (fp4/nvfp4, or fp8 on Hopper):
        # published.yaml's gpt-oss rows run the model file's dtypes.
        return {}, ""
    if model == "qwen3-235b-a22b":
        # Qwen/Qwen3-235B-A22B-FP8's config.json: quant_method fp8, weight_block_size [128, 128]
        # (AIConfigurator's copy, model_configs/Qwen--Qwen3-235B-A22B-FP8_config.json @095f58a5).
        return {"expert_weights": "fp8", "dense_weights": "fp8", "fp8_scales": "block"}, ""
    if model == "kimi-k2":
        if moe == "int4_wo":
            # compressed-tensors int4, group 32, experts only (attention, shared experts and the
            # dense MLP unquantized bf16): moesim's int4 (W4A16, since session 26; before: mxfp4 bytes).
            return {"expert_weights": "int4", "dense_weights": "bf16"}, \
                "int4 W4A16 experts (compressed-tensors, group 32)"
        return {"expert_weights": "nvfp4", "dense_weights": "bf16"}, \
            "NVFP4 export: attention bf16 (ignored by its quantization); its NVFP4 shared experts and dense MLP run as bf16 here"
    raise ValueError(model)


def plan_of(row):
    """(plan, GPUs) or (None, reason). AIConfigurator's agg layout: tp_size x attention_dp_size GPUs
    for attention, moe_tp_size x moe_ep_size for the MoE layers, the same GPUs."""
    tp, pp = int(row["tp_size"]), int(row["pp_size"])
    adp = int(row["attention_dp_size"] or 1)
    mtp, mep = int(row["moe_tp_size"] or 1), int(row["moe_ep_size"] or 1)
    gpus = tp * adp
    if mtp * mep != gpus:
        return None, f"attention tp {tp} x dp {adp} = {gpus} GPUs but MoE tp {mtp} x ep {mep} = {mtp * mep}"
    if pp != 1:
        return None, f"pp {pp}"
    if gpus * pp > 8:
        why = f"{gpus * pp} GPUs: more than one 8-GPU node"
        if mtp > 1 and mep > 1:
            # tp 64 = moe tp 8 x ep 8 (or its attention-DP twin): as written eight nodes, though the
            # product of two per-node degrees may be meant (SGLang's --tp 8 --ep 8 is 8 GPUs); not guessed.
            why += f" as written (tp {tp} x dp {adp} = moe tp {mtp} x ep {mep}: perhaps {max(mtp, mep)} GPUs meant; not guessed)"
        return None, why
    parts = ([f"dp{adp}"] if adp > 1 else []) + ([f"tp{mtp}"] if mtp > 1 else []) + ([f"ep{mep}"] if mep > 1 else [])
    return ("x".join(parts) or "tp1"), gpus


def generator_engine_set(row):
    """AIConfigurator's generator for a TensorRT-LLM agg worker (README): chunked prefill off (the
    extra_engine_args templates' default) and max_num_tokens = max_batch_size (the row's batch_size, per
    attention-DP rank) + isl + 500, rounded up to 32 tokens (rule_plugin/trtllm.rule @095f58a5; + 1500
    from 95ddf241 to 1cc3526b). Applied only where both margins admit the same prompts a step (isl >
    batch_size + 1500: one whole prompt beside every decode), so the rule's version does not matter;
    None elsewhere (the profile's 8192 stays)."""
    isl, bs = int(row["isl"]), int(row["batch_size"])
    if row["backend"] != "trtllm" or isl <= bs + 1500:
        return None
    return {"max_num_batched_tokens": (bs + isl + 500 + 31) // 32 * 32, "chunked_prefill": "false"}


def engine_of(row):
    """The engine profile of a row (README, "Engines"). vLLM: `vllm-0.14` (async scheduling on, the
    host's step time overlapping the GPU's) from release 0.14.0, the first whose default turns it on
    (its release notes, PR #27614); `vllm-0.11` (serial host time) for earlier releases and for rows
    whose version is not stated (all measured 2025-11-02 or 2025-12-05, before 0.14.0's release in
    January 2026). Other engines: one profile each."""
    if row["backend"] != "vllm":
        return ENGINES[row["backend"]]
    m = re.match(r"(\d+)\.(\d+)", version_of(row))
    return "vllm-0.14" if m and (int(m.group(1)), int(m.group(2))) >= (0, 14) else ENGINES["vllm"]


# Series whose mechanism moesim lacks, labelled whole by a rule fixed on the series (never on a row's
# error): (backend, backend_version, model_path) -> reason. small-batch-notes.md section 2.
UNEXPLAINED = {
    ("vllm", "0.12.0", "Qwen/Qwen3-235B-A22B-FP8"): (
        "vLLM 0.12.0 Qwen3-235B-A22B-FP8 series (every row of it labelled, by model, engine and version): its "
        "TPOT is flat in concurrency (tp2 c4-c20, tp4 c14-c48) at about twice moesim's, which neither the "
        "fused-MoE layer's measured floor nor host time, all-reduce or sampling explains "
        "(validate/public/silicon/small-batch-notes.md section 2): a per-step cost that does not scale with "
        "the batch, not established (eager execution, a non-default backend or the block-FP8 Linear path)"),
}


def unexplained(row):
    """`missing` reasons for the series of UNEXPLAINED."""
    reason = UNEXPLAINED.get((row["backend"], row["backend_version"], row["model_path"]))
    return [reason] if reason else []


def suspect(row, conc):
    """`missing` reasons for rows whose own columns say the run is not the layout or load written."""
    adp = int(row["attention_dp_size"] or 1)
    if adp == 1 and conc != int(row["batch_size"]):
        return [f"the layout columns contradict the concurrency: silicon_concurrency {conc} = batch_size "
                f"{row['batch_size']} x tp_size {row['tp_size']} with attention dp 1 (attention-DP rows give "
                "batch_size x attention_dp_size): the run's attention layout is not stated"]
    ttft = float(row["silicon_ttft_ms"] or 0)
    if row["backend"] == "vllm" and conc >= 512 and ttft > 10000:
        return [f"the engine's running-batch limit not stated: TTFT {ttft / 1000:.0f} s at concurrency {conc} "
                "shows the requests queued, and the TPOT is a small batch's (the same setup's concurrency-4 "
                "figure), so fewer than the concurrency ran at once"]
    return []


def concurrency_of(row):
    """The client's concurrency: silicon_concurrency in silicon_data_source, else batch_size. Under
    attention DP, batch_size is per DP rank (silicon_concurrency = batch_size x attention_dp_size in
    every such row); a few other rows also give batch_size per rank (README)."""
    m = re.search(r"silicon_concurrency=(\d+)", row["silicon_data_source"])
    return int(m.group(1)) if m else int(row["batch_size"])


def version_of(row):
    if row["backend_version"]:
        return row["backend_version"]
    m = re.search(r"(?:release|openai|sglang):v?([0-9][^;\s-]*(?:-cu\d+)?|gpt-oss-dev)", row["silicon_data_source"])
    return f"{m.group(1)} (the source's image)" if m else "not stated"


def measured_date(row):
    m = re.search(r"measured=(\d{4}-\d\d-\d\d)", row["silicon_data_source"])
    if m:
        return m.group(1)
    m = re.search(r"source_file=(\d{4}-\d\d-\d\d)\.csv", row["silicon_data_source"])
    return f"before {m.group(1)}" if m else "before 2026-08-21"


def read_rows(path):
    with open(path, newline="") as f:
        lines = [l for l in f if not l.startswith("#")]
    return list(csv.DictReader(lines))


def wanted(row):
    return row["mode"] == "agg" and row["system"] in SYSTEMS and row["model_path"] in MODELS


def q(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def convert(rows, metric="tpot_ms"):
    """(yaml rows as dicts in order, excluded [(id, reason)])."""
    out, excluded = [], []
    for r in rows:
        if not wanted(r):
            continue
        plan, gpus = plan_of(r)
        if plan is None:
            excluded.append((r["id"], gpus))
            continue
        gpu = SYSTEMS[r["system"]]
        model = MODELS[r["model_path"]]
        platform = PLATFORMS[(gpu, gpus)]
        dt, note = dtypes_of(model, r)
        conc = concurrency_of(r)
        row = {
            "id": r["id"],
            "category": "nvlink",
            "source": f"{SOURCE}: {r['id']}",
            "date": measured_date(r),
            "engine": engine_of(r),
            "engine_version": version_of(r),
            "model": model,
            "dtypes": dt,
            "platform": platform,
            "interconnect": f"NVLink/NVSwitch ({r['system']}, {gpus} GPU{'s' if gpus > 1 else ''})",
            "plan": plan,
        }
        row.update(records(r["backend"], gpu, model, platform))
        es = {}
        if model == "gpt-oss-120b" and r["backend"] == "trtllm" and gpu in ("h100", "h200"):
            # published.yaml's Hopper TensorRT-LLM gpt-oss rows: the Triton W4A16 MXFP4 MoE kernel's
            # measured fractions (validate/public/gpt-oss-trtllm-notes.md).
            es.update({"moe_bandwidth_fraction": "0.58", "moe_flops_fraction": "0.40"})
        missing = suspect(r, conc) + unexplained(r)
        gen = None if missing else generator_engine_set(r)
        if gen:
            es.update(gen)
        if es:
            row["engine_set"] = "{" + ", ".join(f"{k}: {v}" for k, v in es.items()) + "}"
        row["workload"] = (f"{{kind: serve, input: {int(r['isl'])}, output: {int(r['osl'])}, "
                           f"requests: {ROUNDS * conc}, concurrency: {conc}}}")
        row["metric"] = metric
        row["measured"] = float(r["silicon_" + metric])
        seen = any((r["backend"], r["system"], r["model_path"], plan) == (s[0], s[2], s[3], s[4])
                   and version_of(r).startswith(s[1]) for s in SEEN)
        notes = [n for n in (note, "seen: session 24 (before the power-law routing change)" if seen else "") if n]
        if gen:
            notes.append("engine_set: AIConfigurator's generator rule for a TensorRT-LLM agg worker, not stated by the row")
        if notes:
            row["note"] = "; ".join(notes)
        if missing:
            row["missing"] = missing
        row["_key"] = (r["system"], r["backend"], r["backend_version"], r["model_path"], r["gemm_quant_mode"],
                       r["moe_quant_mode"], plan, int(r["isl"]), int(r["osl"]))
        row["_conc"] = conc
        row["_tpot"] = float(r["silicon_tpot_ms"])
        out.append(row)
    records_vllm_sglang(out)
    return out, excluded


# ---- vLLM and SGLang rows: the engine's own fused-MoE table as moe_records (session 26) ----------
# The rule is docs/engines.md "AIConfigurator's silicon rows: vLLM and SGLang MoE layers from the
# engines' own tables", chosen after seeing errors in small-batch-notes.md (session 25). Candidates are
# the imported `<gpu>_sxm.<engine>-<version>.moe.json.gz` files (tools/aic-import/selection.json says why
# no other table at 095f58a5 could be picked).
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
MOE_TABLES = "platforms/public/aiconfigurator"


def model_facts(model):
    """(MoE layers, (hidden, inter, topk, experts), power-law alpha or 0, model dtypes) from the zoo's file."""
    text = open(os.path.join(ROOT, "workloads", "models", model + ".yaml")).read()

    def num(key):
        m = re.search(rf"^\s*{key}:\s*([0-9.]+)", text, re.M)
        return float(m.group(1)) if m else 0

    def word(key):
        m = re.search(rf"^\s+{key}:\s*(\w+)", text, re.M)
        return m.group(1) if m else ""
    shape = (int(num("hidden")), int(num("expert_intermediate")), int(num("top_k")), int(num("experts")))
    return (int(num("layers") - num("dense_layers")), shape, num("routing_power_law_alpha"),
            {"expert_weights": word("expert_weights"), "fp8_scales": word("fp8_scales")})


def release_series(engine, version):
    """vLLM 0.N -> N, SGLang 0.5.N -> N (0.5.6.post2 is 0.5.6's series); None if no version is stated."""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if not m:
        return None
    return int(m.group(2)) if engine == "vllm" else int(m.group(3) or 0)


_TABLES = {}


def moe_curves(path):
    """{(dtype, scales, shape, moe_tp, moe_ep, distribution): [(tokens, seconds)]} of one table."""
    if path not in _TABLES:
        with gzip.open(os.path.join(ROOT, path), "rt") as f:
            doc = json.load(f)
        curves = {}
        for r in doc["records"]:
            if r["op"] != "moe":
                continue
            k = (r["dtype"], r.get("scales", ""), (r["hidden"], r["inter"], r["topk"], r["experts"]),
                 r["moe_tp"], r["moe_ep"], r["distribution"])
            curves.setdefault(k, []).append((r["tokens"], r["seconds"]))
        for c in curves.values():
            c.sort()
        _TABLES[path] = curves
    return _TABLES[path]


def layer_seconds(curve, tokens):
    """As core/moe_layer moe_layer_seconds: the first record below the grid, linear between records,
    the last segment past it."""
    if tokens <= curve[0][0] or len(curve) == 1:
        return curve[0][1] if tokens <= curve[0][0] else curve[-1][1]
    for (t0, s0), (t1, s1) in zip(curve, curve[1:]):
        if tokens <= t1 or (t1, s1) == curve[-1]:
            return max(0.0, s0 + (s1 - s0) / (t1 - t0) * (tokens - t0))


def records_vllm_sglang(out):
    """Names `moe_records` on the vLLM and SGLang rows by the rule (docs/engines.md); returns
    {configuration: (table or None, [(table, why dropped)])} for the README."""
    groups = {}
    for row in out:
        if row["engine"].split("-")[0] not in ("vllm", "sglang"):
            continue
        gpu = row["platform"].split("-")[-1]
        key = (row["engine"].split("-")[0], gpu, row["engine_version"], row["model"],
               json.dumps(row["dtypes"], sort_keys=True), row["plan"])
        groups.setdefault(key, []).append(row)
    chosen = {}
    for key, group in groups.items():
        engine, gpu, version, model, dtypes, plan = key
        series = release_series(engine, version)
        if series is None:
            chosen[key] = (None, [])
            continue
        layers, shape, alpha, model_dt = model_facts(model)
        dt = {**model_dt, **json.loads(dtypes)}
        expert = dt["expert_weights"]
        scales = "block" if expert == "fp8" and dt.get("fp8_scales") == "block" else ""
        tp = int((re.search(r"tp(\d+)", plan) or [0, 1])[1])
        ep = int((re.search(r"ep(\d+)", plan) or [0, 1])[1])
        dists = ([f"power_law_{alpha:g}"] if alpha > 0 else []) + ["balanced"]
        cands = []
        for path in sorted(glob.glob(os.path.join(ROOT, MOE_TABLES, f"{gpu}_sxm.{engine}-*.moe.json.gz"))):
            ver = re.match(rf"{gpu}_sxm\.{engine}-(.+)\.moe\.json\.gz$", os.path.basename(path)).group(1)
            rel = os.path.relpath(path, ROOT)
            curves = moe_curves(rel)
            curve = next((curves[k] for d in dists
                          if (k := (expert, scales, shape, tp, ep, d)) in curves), None)
            if curve:
                s = release_series(engine, ver)
                cands.append((abs(s - series), s, rel, curve))
        cands.sort(key=lambda c: (c[0], c[1]))  # nearest series first, ties to the older
        dropped, pick = [], None
        checked = [r for r in group if not r.get("missing")]  # labelled rows take no part in the check
        for _, _, rel, curve in cands:
            if not checked:
                pick = rel
                break
            worst = max(checked, key=lambda r: layer_seconds(curve, r["_conc"]) * layers / (r["_tpot"] / 1e3))
            moe_s = layer_seconds(curve, worst["_conc"]) * layers
            if moe_s * 1e3 > worst["_tpot"]:
                dropped.append((rel, f"{layers} layers x {layer_seconds(curve, worst['_conc']) * 1e6:.0f} us at "
                                     f"{worst['_conc']} tokens = {moe_s * 1e3:.1f} ms > measured TPOT {worst['_tpot']:g} ms"))
                continue
            pick = rel
            break
        chosen[key] = (pick, dropped)
        for row in group:
            if pick:
                row["moe_records"] = pick
                v = re.search(r"-(\d[^/]*)\.moe\.json\.gz$", pick).group(1)
                n = f"moe_records: {engine} {v} fused-MoE table by the rule of docs/engines.md (session 26)"
                row["note"] = f"{row['note']}; {n}" if row.get("note") else n
    return chosen


def stratify(rows):
    """Per group (system, engine and version, model, quant, plan, lengths): the lowest, a middle and
    the highest concurrency (the first CSV row of each)."""
    groups = {}
    for r in rows:
        groups.setdefault(r["_key"], []).append(r)
    keep = set()
    for g in groups.values():
        concs = sorted({r["_conc"] for r in g})
        pick = {concs[0], concs[len(concs) // 2], concs[-1]}
        for c in pick:
            keep.add(id(next(r for r in g if r["_conc"] == c)))
    return [r for r in rows if id(r) in keep]


def render(rows, header):
    lines = [header, "rows:"]
    for r in rows:
        lines.append(f"  - id: {r['id']}")
        for k in ("category", "source", "date", "engine", "engine_version", "model"):
            v = r[k]
            lines.append(f"    {k}: {q(v) if k in ('source', 'date', 'engine_version') else v}")
        if r["dtypes"]:
            lines.append("    dtypes: {" + ", ".join(f"{k}: {v}" for k, v in r["dtypes"].items()) + "}")
        for k in ("platform", "interconnect", "plan", "op_records", "moe_records", "gemm_records",
                  "attention_records", "engine_set", "workload", "metric", "measured", "note"):
            if k in r:
                v = r[k]
                lines.append(f"    {k}: {q(v) if k in ('interconnect', 'note') else v}")
        if "missing" in r:
            lines.append("    missing: [" + ", ".join(q(m) for m in r["missing"]) + "]")
    return "\n".join(lines) + "\n"


HEADER = """\
# NVIDIA AIConfigurator's measured serving runs as published rows: written by
# validate/public/silicon/convert.py from silicon_sample-subset.csv (the rows of
# """ + SOURCE + """
# this set uses); do not edit by hand. Row format and rules: validate/public/published.yaml's header.
# metric tpot_ms: the mean time per output token after the first, per request (the serving loop's
# mean TPOT); the error of a time is published / moesim - 1 (+ = moesim too fast). Choices (platform,
# records, dtypes, plan, requests, engine_set, missing): README.md beside this file."""
TTFT_HEADER = HEADER.replace("tpot_ms: the mean time per output token after the first, per request (the serving loop's\n# mean TPOT)",
                             "ttft_ms (silicon_ttft_ms): the mean time to the first token, per request (the serving\n# loop's mean TTFT)")


def part_of(rows, part, ap):
    """--part K/N: rows K, K+N, K+2N ... (from 0); all rows without it."""
    if not part:
        return rows
    k, n = (int(x) for x in part.split("/"))
    if not 0 <= k < n:
        ap.error(f"--part {part}: K must be in 0..N-1")
    return rows[k::n]


def write_outputs(a, text, src, wanted_fn, mode, script, rows, excluded):
    """The YAML (a.output, - for stdout), the CSV rows read (a.subset_csv) and the rows left out
    (a.excluded), as convert.py and convert_disagg.py write them."""
    if a.output == "-":
        sys.stdout.write(text)
    else:
        with open(a.output, "w") as f:
            f.write(text)
    if a.subset_csv:
        kept = [r for r in src if wanted_fn(r)]
        with open(a.subset_csv, "w", newline="") as f:
            f.write(f"# The rows of {SOURCE}\n# with {mode}, system h100_sxm/h200_sxm/b200_sxm and a model in moesim's zoo "
                    f"(validate/public/silicon/{script}); figures only, Apache-2.0.\n")
            w = csv.DictWriter(f, fieldnames=list(src[0].keys()), lineterminator="\n")
            w.writeheader()
            w.writerows(kept)
    if a.excluded:
        with open(a.excluded, "w") as f:
            f.write("| id | reason left out |\n|---|---|\n")
            for i, why in excluded:
                f.write(f"| {i} | {why} |\n")
    print(f"{len(rows)} rows written, {len(excluded)} left out", file=sys.stderr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("--metric", choices=("tpot_ms", "ttft_ms"), default="tpot_ms",
                    help="the measured figure: silicon_tpot_ms (default) or silicon_ttft_ms")
    ap.add_argument("--subset-csv", help="also write the rows kept (all columns) to this CSV, with a source header")
    ap.add_argument("--excluded", help="write the rows left out with their reason (markdown table) to this file")
    ap.add_argument("--stratified", action="store_true",
                    help="per group the lowest, a middle and the highest concurrency only")
    ap.add_argument("--part", help="K/N: only rows K, K+N, K+2N ... (from 0), to simulate N parts at once")
    a = ap.parse_args(argv)
    src = read_rows(a.csv)
    rows, excluded = convert(src, a.metric)
    if a.stratified:
        rows = stratify(rows)
    rows = part_of(rows, a.part, ap)
    text = render(rows, (HEADER if a.metric == "tpot_ms" else TTFT_HEADER) + ("\n# Stratified: per group the lowest, a middle and the highest concurrency."
                                  if a.stratified else ""))
    write_outputs(a, text, src, wanted, "mode agg", "convert.py", rows, excluded)

if __name__ == "__main__":
    main()
