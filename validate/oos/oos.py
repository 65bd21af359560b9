#!/usr/bin/env python3
"""Out-of-sample validation on one and two GPUs (issue 10): schedules, leave-one-family-out
predictions, and the comparison with measured runs, noise floor beside every error. Debian's python3 only.

Two sets (--gpus, default 1), the same code: SETS below names each one's studies, schedules folder,
platform and prediction variants.
  --gpus 1: validate/oos/studies (tp1 on nvswitch-1x-h200), schedules in validate/oos/schedules.
  --gpus 2: validate/oos/studies-2gpu (tp2, ep2 and dp2xep2 on nvswitch-2x-h200), schedules in
            validate/oos/schedules-2gpu. Its predictions come twice, both leave-family-out for compute:
            collectives from the 2-GPU collective sweep (bench-collectives, 2026-11-27: the same logs
            as platforms/calibration/nvswitch-2x-h200.yaml's collectives), and collectives
            uncalibrated (NCCL's cost model on the platform's topology).

  --set oos4: validate/oos/studies-oos4 (tp1 on nvswitch-1x-h200, shapes oos1-3 never ran), schedules
            in validate/oos/schedules-oos4; --set takes the place of --gpus.
  --set oos5: validate/oos/studies-oos5 (tp1 on nvswitch-1x-h200, shapes oos1-4 never ran), schedules
            in validate/oos/schedules-oos5.
  --set oos6: validate/oos/studies-oos6 (tp1 on nvswitch-1x-h200, shapes oos1-5 never ran), schedules
            in validate/oos/schedules-oos6.
  --set oos7: validate/oos/studies-oos7 (tp1 on nvswitch-1x-h200, shapes oos1-6 never ran), schedules
            in validate/oos/schedules-oos7.
  --set oos8: validate/oos/studies-oos8 (tp1 on nvswitch-1x-h200, shapes oos1-7 never ran), schedules
            in validate/oos/schedules-oos8; --set oos8-h100: the same schedules on nvswitch-1x-h100.
  --set oos9: validate/oos/studies-oos9 (tp1 on nvswitch-1x-h200, shapes oos1-8 never ran), schedules
            in validate/oos/schedules-oos9; --set oos9-h100: the same schedules on nvswitch-1x-h100.
  --set oos10: validate/oos/studies-oos10 (tp1 on nvswitch-1x-h200, shapes oos1-9 never ran), schedules
            in validate/oos/schedules-oos10; --set oos10-h100: the same schedules on nvswitch-1x-h100.
  --set oos11: validate/oos/studies-oos11 (tp1 on nvswitch-1x-h200, shapes oos1-10 never ran), schedules
            in validate/oos/schedules-oos11; --set oos11-h100: the same schedules on nvswitch-1x-h100.
  --set oos12: validate/oos/studies-oos12 (tp1 on nvswitch-1x-h200, shapes oos1-11 never ran), schedules
            in validate/oos/schedules-oos12; --set oos12-h100: the same schedules on nvswitch-1x-h100.
  --set oos13: validate/oos/studies-oos13 (tp1 on nvswitch-1x-h200, shapes oos1-12 never ran and no op at a
            point of validate/oos/points-s16.txt), schedules in validate/oos/schedules-oos13; --set
            oos13-h100: the same schedules on nvswitch-1x-h100.
  --set oos14: validate/oos/studies-oos14 (tp1 on nvswitch-1x-h200, shapes oos1-13 never ran and no op at a
            point of validate/oos/points-s16.txt or of the s16b points), schedules in
            validate/oos/schedules-oos14; --set oos14-h100: the same schedules on nvswitch-1x-h100.
  --set oos15: validate/oos/studies-oos15 (tp1 on nvswitch-1x-h200, shapes oos1-14 never ran and no op at a
            point of a committed points file), schedules in validate/oos/schedules-oos15; --set
            oos15-h100: the same schedules on nvswitch-1x-h100.
  --set oos16: validate/oos/studies-oos16 (tp1 on nvswitch-1x-h200, shapes oos1-15 never ran and no op at a
            point of a committed points file), schedules in validate/oos/schedules-oos16; --set
            oos16-h100: the same schedules on nvswitch-1x-h100.
  --set oos17: validate/oos/studies-oos17 (tp1 on nvswitch-1x-h200, shapes oos1-16 never ran, no op at a
            point of a committed points file or an op of round 16), schedules in validate/oos/schedules-oos17;
            --set oos17-h100: the same schedules on nvswitch-1x-h100.
  --set oos18: validate/oos/studies-oos18 (tp1 on nvswitch-1x-h200, shapes oos1-17 never ran, no op at a
            point of a committed points file or an op of round 17), schedules in validate/oos/schedules-oos18;
            --set oos18-h100: the same schedules on nvswitch-1x-h100.

  validate/oos/oos.py schedules [--gpus N | --set NAME] --moesim build/cli/moesim
        <schedules>/<study>_b<batch>.json.gz (<study>_<plan>_b<batch> where a study lists several
        plans) and index.json (study, plan, batch, family, mode)
  validate/oos/oos.py predict [--gpus N | --set NAME] --moesim build/cli/moesim --op-bench OPS.json [OPS.json...] --name NAME
        for every family F and variant: `moesim calibrate --op-bench` leaving out every record of F's
        shapes (and --nccl-tests where the variant calibrates collectives), then `moesim run
        --timeline` of F's schedules with that calibration. Writes validate/results/NAME.{json,md} and
        the predicted timelines (NAME/<variant>/*.pred.json.gz). Commit these BEFORE measuring.
        --bracket-runs DIR...: earlier rounds' call folders, whose runs' gaps between event brackets set
        the kernel boundary the class split carves (never the predicted round's own runs).
  validate/oos/oos.py compare --moesim build/cli/moesim --predictions NAME --runs DIR [DIR...] --out OUT
        each measured run (DIR/runs/<schedule>.p2p-on.<mode>.json, from `validate/gpu_tool.py
        gpu-call --phases runs --schedules <schedules>`; one timeline for all ranks, whose step is the
        slowest rank's, as the simulator's) against its prediction with `moesim diff`. Noise: with two
        or more DIRs (separate calls), the spread of the same run between them; always, the spread of
        the timed iterations within a call. Writes validate/results/OUT.{json,md}.
  validate/oos/oos.py bands [--gpus N | --set NAME] --moesim build/cli/moesim --op-bench OPS.json [OPS.json...] --comparison CMP --out OUT
        each leave-family-out schedule of validate/results/CMP.json by its dominant compute provenance
        (its family's leave-family-out calibration), |step error| grouped by provenance and launch
        mode: validate/results/OUT.json, the numbers error-bands.yaml carries.
"""
import argparse
import dataclasses
import glob
import gzip
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OOS = os.path.join(ROOT, "validate", "oos")
CLASSES = ["GEMM", "attention", "other compute", "host"]
COLLECTIVES = "collectives"  # every class of `moesim diff` that is not in CLASSES: collectives and p2p


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str                # the predictions' subfolder and the rows' label
    leave_family_out: bool   # the op models leave out every record of the family's shapes
    collectives: bool        # the calibration carries the set's measured collective curves


@dataclasses.dataclass(frozen=True)
class OosSet:
    gpus: int
    prefix: str              # every study name starts with it; the rest is <study-name in families.tsv>-<mode>
    studies: str             # folders, relative to the repository root
    schedules: str
    platform: str
    sms: int                 # `moesim calibrate --sms`: the GPU's SM count
    nccl_tests: tuple = ()   # collective logs (nccl-tests layout) for the variants with collectives
    variants: tuple = ()


# The 2-GPU collective sweep: bench-collectives on two GPUs of the 4x H200 NVSwitch machine of
# 2026-11-27 (NV18 between every pair), event-timed, 1 KiB to 256 MiB of bf16. A size sweep, no model
# in it; platforms/calibration/nvswitch-2x-h200.yaml's collectives come from the same five logs.
_G2 = "validate/results/4xh200-2026-11-27/bench/{}.g2.p2p-on.txt"
def one_gpu_round(name, platform="nvswitch-1x-h200"):
    """A later blind round on one GPU (an H200 unless `platform` names another of 132 SMs):
    validate/oos/studies-<name>, schedules-<name>, tp1 on the platform, compute leave-family-out and
    all-records."""
    return OosSet(1, f"{name}-", f"validate/oos/studies-{name}", f"validate/oos/schedules-{name}", platform,
                  132, variants=(Variant("leave-family-out", True, False), Variant("all-records", False, False)))


SETS = {
    1: OosSet(1, "oos1-", "validate/oos/studies", "validate/oos/schedules", "nvswitch-1x-h200", 132,
              variants=(Variant("leave-family-out", True, False), Variant("all-records", False, False))),
    2: OosSet(2, "oos2g-", "validate/oos/studies-2gpu", "validate/oos/schedules-2gpu", "nvswitch-2x-h200", 132,
              nccl_tests=tuple(_G2.format(op) for op in
                               ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "sendrecv")),
              variants=(Variant("leave-family-out", True, True),
                        Variant("leave-family-out-uncalibrated-collectives", True, False),
                        Variant("all-records", False, True))),
    # The next blind set on one H200 (--set oos4): shapes oos1-3 never ran (they ran decode at batch 1
    # and 64, context 1024, and 2048-token prefills): decode at batch 2-128 and context 2048-16384,
    # prefills of 512-4096 tokens, three invented geometries (MLA at 64 heads, GQA head_dim 80, 16 wide
    # experts) and gpt-oss-20b (32 experts: 4-16 rows each at batch 16-128).
    "oos4": one_gpu_round("oos4"),
    # Round 5 on one H200 (--set oos5), blind to the fixes made with round 4's runs: shapes oos1-4 never
    # ran, three invented geometries (GQA head_dim 160 at hidden 6144 with 128 experts of 768; MLA with
    # kv_lora_rank 256 at 32 heads; GQA head_dim 112 with 2 KV heads and dense first layers), decode at
    # batch 1-192 and context 1536-32768, prefills of 768-6144 tokens, and zoo models at new shapes.
    "oos5": one_gpu_round("oos5"),
    # Round 6 on one H200 (--set oos6), blind to the fixes made with round 5's runs (the sliding-window
    # prefill rule above all): shapes oos1-5 never ran, two invented geometries (GQA head_dim 64 with a
    # 512-token window on every other layer; MLA at 24 heads with kv_lora_rank 448), gpt-oss prefills
    # at 1536-3072 tokens and decode at context 12288, decode at batch 2-160 and context 2048-12288.
    "oos6": one_gpu_round("oos6"),
    # Round 6's steps on one H100 (--set oos6-h100): the device tool lent an H100 for nvidia-h200 on
    # 2026-12-05 (15:20 UTC). The op models are the H200's records carried to the H100 by `moesim
    # transfer` (docs/transfer.md): the shapes and the GPU are both out of sample.
    "oos6-h100": one_gpu_round("oos6", "nvswitch-1x-h100"),
    # Round 7 on one H200 (--set oos7), blind to round 6's H200 runs and to the grouped GEMM tile
    # term they scored: shapes oos1-6 never ran, two invented geometries (GQA head_dim 128 at 40/4
    # heads with 48 experts of 1792, top-4; MLA with kv_lora_rank 320 at 40 heads), zoo decodes at
    # batch 3-64 and context 2048-16384, and prefills of 768-2560 tokens.
    "oos7": one_gpu_round("oos7"),
    # Round 7's steps on one H100 (--set oos7-h100), predicted from the H200's records carried by
    # `moesim transfer`, for a call the device tool places on an H100.
    "oos7-h100": one_gpu_round("oos7", "nvswitch-1x-h100"),
    # Round 8 on one H200 (--set oos8), blind to round 7's runs on the H100: shapes oos1-7 never ran,
    # two invented geometries (GQA head_dim 192 at 48/6 heads with 64 experts of 1280, top-6, and a
    # shared expert of 2560; MLA at 48 heads with kv_lora_rank 448 and 96 experts of 1536, top-8),
    # zoo decodes at batch 8-96 and context 2048-20480, and prefills of 1280-3584 tokens.
    "oos8": one_gpu_round("oos8"),
    # Round 8's steps on one H100 (--set oos8-h100), for a call the device tool places on an H100:
    # predicted from the H100's own bench-ops records (a measured GPU) and, as a second set, from the
    # H200's records carried by `moesim transfer`.
    "oos8-h100": one_gpu_round("oos8", "nvswitch-1x-h100"),
    # Round 9 on one H200 (--set oos9), blind to rounds 7 and 8's H200 runs and to the decode_tiles
    # form they were hindcast with: shapes oos1-8 never ran, two invented geometries (GQA head_dim 256
    # at 32/8 heads with 40 experts of 1408, top-5; MLA at 56 heads with kv_lora_rank 512 at hidden
    # 5632, 80 experts of 1024, top-6, and a shared expert of 2048), zoo decodes at batch 6-112 and
    # context 1280-14336, and prefills of 1152-4352 tokens.
    "oos9": one_gpu_round("oos9"),
    # Round 9's steps on one H100 (--set oos9-h100), for a call the device tool places on an H100.
    "oos9-h100": one_gpu_round("oos9", "nvswitch-1x-h100"),
    # Round 10 on one H200 (--set oos10), blind to round 9's runs: shapes oos1-9 never ran, two invented
    # geometries (GQA head_dim 144, a head dim no bench-ops call measured, at 48/4 heads with 96 experts
    # of 896, top-6, and a shared expert of 1792; MLA at 72 heads with kv_lora_rank 384 at hidden 4608,
    # 160 experts of 640, top-8), zoo decodes at batch 8-120 and context 1536-15360 (four of them at
    # rows per expert between the H100's grouped-GEMM records), and prefills of 1280-5120 tokens, each
    # between two measured attention-prefill prompt lengths.
    "oos10": one_gpu_round("oos10"),
    # Round 10's steps on one H100 (--set oos10-h100), for a call the device tool places on an H100.
    "oos10-h100": one_gpu_round("oos10", "nvswitch-1x-h100"),
    # Round 11 on one H200 (--set oos11), designed against the H200's records, blind to round 10's runs:
    # shapes oos1-10 never ran, two invented geometries (GQA head_dim 176 at 44/4 heads with 20 wide
    # experts of 9,216, top-2: expert GEMMs of n 18,432 and k 9,216; MLA at 52 heads with kv_lora_rank
    # 480 at hidden 4352, 72 experts of 1664, top-6, and a shared expert), four zoo decodes at a measured
    # head configuration between the H200's decode-attention records, graph decodes at batch 4-32 and
    # context 16k-30k, expert GEMMs of n or k above 8,192 (Mixtral, Llama-4-Scout), and prefills of
    # 1152-5632 tokens.
    "oos11": one_gpu_round("oos11"),
    # Round 11's steps on one H100 (--set oos11-h100), for a call the device tool places on an H100.
    "oos11-h100": one_gpu_round("oos11", "nvswitch-1x-h100"),
    # Round 12 on one H200 (--set oos12), blind to round 11's runs: shapes oos1-11 never ran, aimed at
    # the weak spots rounds 10-11 named: expert GEMMs of 8-20 active experts with 17-29 rows each at
    # n 12,288-32,768 (two 16-row tiles per expert), at expert counts no record holds at their exact k
    # (the grid's missing corner); absorbed-MLA decode attention between records (batch 3-12, context
    # 5k-20k); two invented geometries (GQA head_dim 224 at 28/4 heads with 12 experts of 10,240, top-2;
    # MLA at 32 heads, hidden 2048, 20 experts of 6,144, top-6); decodes at contexts strictly between
    # the decode-attention plan's, and prefills of 352-2,560 tokens.
    "oos12": one_gpu_round("oos12"),
    # Round 12's steps on one H100 (--set oos12-h100), for a call the device tool places on an H100.
    "oos12-h100": one_gpu_round("oos12", "nvswitch-1x-h100"),
    # Round 13 on one H200 (--set oos13), blind to every run and record made before it and to the
    # bench-ops points of session 16 (validate/oos/points-s16.txt: no op of a step is one of them):
    # expert GEMMs of 6-20 active experts averaging 17-24 rows (two 16-row tiles each) at n
    # 13,824-32,768, in decodes and a short prefill; prefill attention at query-head counts off
    # powers of two (36/4, 40/4, 40/8, 48/8, 80/8, 20/4 at head dim 80) at prompts between the points';
    # an invented geometry (GQA at 80/8 heads, hidden 3584, 6 experts of 7,680, top-2); and zoo
    # decodes at batches and contexts no round ran, as controls.
    "oos13": one_gpu_round("oos13"),
    # Round 13's steps on one H100 (--set oos13-h100), for a call the device tool places on an H100.
    "oos13-h100": one_gpu_round("oos13", "nvswitch-1x-h100"),
    # Round 14 on one H200 (--set oos14), blind to every run and record made before it, round 13's and
    # both session-16 point sets (validate/oos/points-s16.txt and the 90 points of
    # validate/results/h100-2026-12-06-points-s16b: no expert GEMM or prefill attention of a step is one
    # of them): greedy sampling and embedding lookups read cold, at 2-240 rows over vocabularies of
    # 32,000-256,000 (two small invented models whose head is most of a step, and zoo decodes); expert
    # GEMMs of 6, 12 and 20 active experts of 17-24 rows (two 16-row tiles each) between the
    # session-16b points in n and k (two invented geometries: 12 experts of 6,144 at hidden 3,072, 20
    # of 5,120 at hidden 2,560); and zoo decodes at batches and contexts no round ran, as controls.
    "oos14": one_gpu_round("oos14"),
    # Round 14's steps on one H100 (--set oos14-h100), for a call the device tool places on an H100.
    "oos14-h100": one_gpu_round("oos14", "nvswitch-1x-h100"),
    # Round 15 on one H200 (--set oos15), blind to every run and record made before it, round 14's, and
    # every committed points file (no expert GEMM, prefill attention, small kernel, sample or embedding
    # of a step is one of their points): the small kernels' inputs read warm or cold by how many bytes
    # the big ops between them move against the 50 MiB L2: far below it (a tiny invented model, 24
    # experts of 320 at hidden 640, at small batch), near it (an invented model of 28 experts of 1,152 at
    # hidden 2,304 with a dense first layer: 20-100 MB per big op), far above it by the expert GEMMs
    # (Mixtral-8x22B, Qwen3-235B-A22B, the 28-expert model at batch 40), by a dense FFN (GLM-4.5's
    # three dense layers) or by long-context decode attention beside small GEMMs (the tiny model at
    # context 36,864), and the bytes since the previous kernel of a kind on the simulator's warm-to-cold
    # ramp (the tiny model at batch 12 and 20); and zoo decodes at batches and contexts no round ran.
    "oos15": one_gpu_round("oos15"),
    # Round 15's steps on one H100 (--set oos15-h100), for a call the device tool places on an H100.
    "oos15-h100": one_gpu_round("oos15", "nvswitch-1x-h100"),
    # Round 16 on one H200 (--set oos16), blind to every run and record made before it, round 15's, and
    # every committed points file: the fixes made after round 15 (small kernels cold or warm by what each
    # input reads, the decode combine's serial split loop, the grid interpolated across launches, prefill
    # attention tiled as the kernel tiles it). Decode attention with 20-64 key splits at d_v 64, 128,
    # 256 and MLA's 512 at 40 heads (three invented models: GQA 16/2 heads of 256, 24/2 of 64, MLA at 40
    # heads), unsplit large-batch decodes of the same models, decodes between a latency-bound and an
    # HBM-bound record at measured head configurations (Qwen3-235B 64/4, gpt-oss-20b 64/8, 16/2 at 256),
    # prefills whose 64-row tiles fall near 4, 8 and 8.2 waves of 132 SMs, and zoo controls.
    "oos16": one_gpu_round("oos16"),
    # Round 16's steps on one H100 (--set oos16-h100), for a call the device tool places on an H100.
    "oos16-h100": one_gpu_round("oos16", "nvswitch-1x-h100"),
    # Round 17 on one H200 (--set oos17), blind to every run and record made before it, round 16's, every
    # committed points file and the points timed after round 16 (validate/oos/after-runs): the fixes made
    # after round 16 (decode attention's last partial round of resident blocks, grouped GEMMs at 10-30 rows
    # an expert, top-k in a step, prefill attention as the kernel tiles it). Decode attention at a full
    # round of resident blocks, below one, and past one or two by 12-472 blocks, GQA (16-row tiles at 4, 6
    # and 8 KV heads, 4 resident an SM) and MLA (28 and 16 heads, 2 resident); two invented models (GQA
    # 48/6 heads of 128 with 40 experts of 1,216; MLA at 28 heads with 56 experts of 704 and a shared
    # expert); wide decodes at 10-27 rows an expert; prefills of 120-1,800 tokens (head dims 128, 192 and
    # 256); and zoo controls.
    "oos17": one_gpu_round("oos17"),
    # Round 17's steps on one H100 (--set oos17-h100), for a call the device tool places on an H100.
    "oos17-h100": one_gpu_round("oos17", "nvswitch-1x-h100"),
    # Round 18 on one H200 (--set oos18), blind to every run and record made before it, round 17's, every
    # committed points file and the points timed after round 16 (validate/oos/after-runs): the fixes of
    # session 26 and round 17's open residuals. Routers at expert counts not a multiple of 8 (60, 36, 52,
    # 44, 20) at widths round 17's router sweep did not take (2,048, 3,072, 5,120, 2,304, 4,864), at 2-6
    # rows and at 260-720, beside aligned controls at the same widths (128 and 64 at 2,048, 32 at 3,072,
    # 48 at 5,120); grouped GEMMs at 28-56 rows an expert at n and k no record holds (wide decodes and
    # prefills of 300-720 tokens); prefill attention at head dim 256 (24/4 heads) and MLA at 20 and 36
    # heads, one prefill under a wave of 132 SMs; Qwen1.5-MoE-A2.7B (60 experts) and three invented
    # models; and zoo controls, eager and graph.
    "oos18": one_gpu_round("oos18"),
    # Round 18's steps on one H100 (--set oos18-h100), for a call the device tool places on an H100.
    "oos18-h100": one_gpu_round("oos18", "nvswitch-1x-h100"),
}


def platform_card(platform):
    """The card a platform name holds, as the results write it: nvswitch-1x-h100 -> H100."""
    m = re.search(r"\dx-([a-z]+\d+)", platform)
    return m.group(1).upper() if m else platform


def the_set(a):
    """The set a command names: --set where given, else the set of --gpus GPUs."""
    return SETS[a.set] if a.set else SETS[a.gpus]


def families():
    """study stem (without oos1- and mode) -> (model reference, family), from families.tsv."""
    out = {}
    with open(os.path.join(OOS, "families.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, model, fam = line.rstrip("\n").split("\t")
            out[name] = (model, fam)
    return out


def study_facts(path):
    """name, batches, phase, plans, mode (eager | graph | prefill) of one study file (the few keys we wrote)."""
    with open(path) as f:
        text = f.read()
    name = re.search(r"^name: (\S+)$", text, re.M).group(1)
    batches = [int(b) for b in re.search(r"^batch: \[([^\]]*)\]$", text, re.M).group(1).split(",")]
    plans = [p.strip() for p in re.search(r"^plans: \[([^\]]*)\]$", text, re.M).group(1).split(",")]
    phase = re.search(r"^phase: (\S+)$", text, re.M).group(1)
    graphs = re.search(r"cuda_graphs: (true|false)", text).group(1) == "true"
    mode = name.rsplit("-", 1)[1]
    return {"name": name, "batches": batches, "plans": plans, "phase": phase, "cuda_graphs": graphs, "mode": mode}


def schedule_file(study, plan, batch, plans):
    """A schedule's file name: the plan is named only where the study lists several (the 1-GPU set's
    names stay what its measurements were filed under)."""
    return f"{study}_b{batch}.json.gz" if len(plans) == 1 else f"{study}_{plan}_b{batch}.json.gz"


def entries(oset):
    """One entry per schedule: file, study path, study name, plan, model, family, batch, phase, mode."""
    fams = families()
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, oset.studies, "*.yaml"))):
        s = study_facts(path)
        stem = s["name"][len(oset.prefix):].rsplit("-", 1)[0]
        model, fam = fams[stem]
        for plan in s["plans"]:
            for b in s["batches"]:
                out.append({"file": schedule_file(s["name"], plan, b, s["plans"]), "study": os.path.relpath(path, ROOT),
                            "name": s["name"], "plan": plan, "model": model, "family": fam, "batch": b,
                            "phase": s["phase"], "mode": "graph" if s["cuda_graphs"] else "eager",
                            "cuda_graphs": s["cuda_graphs"]})
    return out


def run(argv, **kw):
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"oos.py: {' '.join(argv)} failed (exit {r.returncode}): {r.stderr.strip()[:400]}")
    return r.stdout


def cmd_schedules(a):
    oset = the_set(a)
    d = os.path.join(ROOT, oset.schedules)
    os.makedirs(d, exist_ok=True)
    index = []  # a list of entries with "file", as validate/gputool/phases.py's matrix_index reads it
    with tempfile.TemporaryDirectory() as tmp:
        for e in entries(oset):
            raw = os.path.join(tmp, "s.json")
            run([a.moesim, "schedule", e["study"], "--plan", e["plan"], "--batch", str(e["batch"]), "-o", raw,
                 "--cuda-graphs" if e["cuda_graphs"] else "--eager"])
            with open(raw, "rb") as f, gzip.GzipFile(os.path.join(d, e["file"]), "wb", mtime=0) as g:
                g.write(f.read())
            index.append({k: e[k] for k in ("file", "study", "name", "plan", "model", "family", "batch", "phase",
                                            "mode")})
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(index)} schedules and index.json in {os.path.relpath(d, ROOT)}")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def predict_one(a, oset, e, cal, tmp, out_dir):
    pred = os.path.join(tmp, e["file"].replace(".json.gz", ".pred.json"))
    argv = [a.moesim, "run", e["study"], "--plan", e["plan"], "--batch", str(e["batch"]), "--platform",
            oset.platform, "--calibration", cal, "--timeline", pred,
            "--cuda-graphs" if e["cuda_graphs"] else "--eager"]
    run(argv)
    # the predicted step and its classes: the timeline diffed against itself
    dj = os.path.join(tmp, "self.diff.json")
    run([a.moesim, "diff", pred, pred, "--json", dj])
    with open(dj) as f:
        d = json.load(f)
    with open(pred, "rb") as f, gzip.GzipFile(os.path.join(out_dir, os.path.basename(pred) + ".gz"), "wb",
                                              mtime=0) as g:
        g.write(f.read())
    return {"step_s": d["predicted_step"], "classes": {k: v["predicted"] for k, v in grouped_classes(d).items()}}


def bracket_run_files(dirs):
    """Every measured run of the call folders `dirs` (DIR/runs/*.json), sorted: the runs whose gaps
    between event brackets `moesim calibrate --bracket-runs` takes as the kernel boundary."""
    return sorted(p for d in dirs for p in glob.glob(os.path.join(d, "runs", "*.json")))


def calibrate_argv(moesim, oset, variant, members, op_bench, out, decode_form=None, bracket_runs=(), prefill_form=None):
    """`moesim calibrate` for one variant and family: the op models from op_bench (leaving out the
    family's models where the variant says so), and the set's collective logs where it calibrates them;
    without them, moesim times collectives by NCCL's cost model on the platform's topology. decode_form:
    decode attention's form (None: calibrate's default); prefill_form likewise for prefill attention. bracket_runs: measured runs of earlier rounds
    whose gaps between event brackets set the kernel boundary (docs/perf-models.md)."""
    argv = [moesim, "calibrate", "--platform", oset.platform, "-o", out, "--sms", str(oset.sms), "--op-bench",
            *op_bench]
    if decode_form:
        argv += ["--decode-attention-form", decode_form]
    if prefill_form:
        argv += ["--prefill-attention-form", prefill_form]
    if bracket_runs:
        argv += ["--bracket-runs", *bracket_runs]
    if variant.collectives:
        argv += ["--nccl-tests", *oset.nccl_tests]
    if variant.leave_family_out:
        for m in members:
            argv += ["--exclude-model", m]
    return argv


def cmd_predict(a):
    oset = the_set(a)
    es = entries(oset)
    out_dir = os.path.join(ROOT, "validate", "results", a.name)
    os.makedirs(out_dir, exist_ok=True)
    fams = sorted({e["family"] for e in es})
    members = {f: sorted({e["model"] for e in es if e["family"] == f}) for f in fams}
    results = []
    variants = [v for v in oset.variants if not a.variant or v.name in a.variant]
    with tempfile.TemporaryDirectory() as tmp:
        for variant in variants:
            for fam in fams:
                # all records: one calibration for every family (a fit); else one per family
                cal = os.path.join(tmp, f"cal-{variant.name}-{fam if variant.leave_family_out else 'all'}.yaml")
                if not os.path.exists(cal):
                    run(calibrate_argv(a.moesim, oset, variant, members[fam], a.op_bench, cal, a.decode_attention_form,
                                       bracket_run_files(a.bracket_runs or []), a.prefill_attention_form))
                for e in es:
                    if e["family"] != fam:
                        continue
                    sub = os.path.join(out_dir, variant.name)
                    os.makedirs(sub, exist_ok=True)
                    p = predict_one(a, oset, e, cal, tmp, sub)
                    results.append(dict(e, variant=variant.name, calibration_sha=sha(cal), **p))
                    print(f"{variant.name:17s} {e['file']:56s} {p['step_s'] * 1e6:10.1f} us")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    # the binary's own build (its --version names the commit it was built from): a later simulator's
    # predictions may come from another checkout's build than this repository's HEAD
    simulator = run([a.moesim, "--version"]).strip()
    doc = {"name": a.name, "gpus": oset.gpus, "platform": oset.platform, "commit": commit, "simulator": simulator,
           "op_bench": [os.path.relpath(p, ROOT) for p in a.op_bench],
           "op_bench_sha": [sha(p) for p in a.op_bench],
           "variants": [dataclasses.asdict(v) for v in variants],
           "nccl_tests": list(oset.nccl_tests), "results": results}
    if a.decode_attention_form:
        doc["decode_attention_form"] = a.decode_attention_form
    if a.prefill_attention_form:
        doc["prefill_attention_form"] = a.prefill_attention_form
    if a.bracket_runs:
        doc["bracket_runs"] = [os.path.relpath(d, ROOT) for d in a.bracket_runs]
    with open(os.path.join(ROOT, "validate", "results", a.name + ".json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    names = [v.name for v in variants]
    lines = [f"# Predictions {a.name} (committed before measuring)", "",
             f"Platform {oset.platform}, simulator {simulator} (run from the repository at {commit}); op models fitted by `moesim calibrate --op-bench "
             f"{' '.join(doc['op_bench'])}`: per family, leaving out every record of its models' shapes "
             "(leave-family-out, the out-of-sample numbers), and with all records (a fit, shown as such)."]
    if oset.nccl_tests:
        lines += ["", "Collectives: calibrated from the 2-GPU collective sweep (`moesim calibrate --nccl-tests "
                  + " ".join(oset.nccl_tests) + "`; a size sweep, no model in it) in the variants "
                  + ", ".join(v.name for v in oset.variants if v.collectives) + "; NCCL's cost model on the "
                  "platform's topology (uncalibrated) in " + ", ".join(v.name for v in oset.variants if not v.collectives)
                  + "."]
    lines += ["", "| schedule | plan | family | mode | " + " | ".join(f"{n} us" for n in names) + " |",
              "|---|---|---|---|" + "---:|" * len(names)]
    by = {(r["variant"], r["file"]): r for r in results}
    for e in sorted(es, key=lambda e: e["file"]):
        steps = " | ".join(f"{by[(n, e['file'])]['step_s'] * 1e6:.1f}" for n in names)
        lines.append(f"| {e['file'][:-8]} | {e['plan']} | {e['family']} | {e['mode']}"
                     f"{' prefill' if e['phase'] == 'prefill' else ''} | {steps} |")
    with open(os.path.join(ROOT, "validate", "results", a.name + ".md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote validate/results/{a.name}.{{json,md}} ({len(results)} predictions)")


def grouped_classes(diff_json):
    """`moesim diff`'s classes with every collective and p2p class summed into one, COLLECTIVES."""
    out = {}
    for c in diff_json["by_class"]:
        name = c["name"] if c["name"] in CLASSES else COLLECTIVES
        acc = out.setdefault(name, {"name": name, "predicted": 0.0, "measured": 0.0})
        acc["predicted"] += c["predicted"]
        acc["measured"] += c["measured"]
    return out


def additive_attribution(src, dst):
    """The measured timeline `src` with each op's time taken as its event bracket less a fixed cost per
    op, written to `dst`; None where that cannot be done (several ranks or streams, or no scale).

    The harness times ops in a second run with two event records per op and scales that run's whole
    timeline by event_scale = plain step / event step (validate/runner_plan.cpp), so the event cost,
    the same few microseconds for every op, is spread in proportion to each op's time: a 2 us kernel
    keeps ~3 us of event records and a 3 ms GEMM almost none. Here the cost is taken off additively
    instead: E = (event step - plain step) / ops (the last op's end, unscaled and scaled), every bracket
    (unscaled) shortened by E and every later op moved E earlier, the gaps between brackets kept
    unscaled. The last end stays where the scaled timeline has it, and no free parameter enters: E
    comes from the two measured steps. It assumes the event records land inside the
    brackets, which the unscaled gaps support (1.3-1.5 us per op, about what a kernel boundary costs
    without events: bench-ops' graph_gap is 1.0 us)."""
    with open(src) as f:
        doc = json.load(f)
    scale = doc.get("measurement", {}).get("event_scale")
    evs = doc.get("events", [])
    if not scale or scale <= 0 or not evs or len({(e["rank"], e["stream"]) for e in evs}) != 1:
        return None
    order = sorted(range(len(evs)), key=lambda i: (evs[i]["start"], evs[i]["op"]))
    last = max(e["end"] for e in evs)  # the scaled timeline's last end, at or before the plain step
    total = max(last / scale - last, 0.0)
    brackets = [(e["end"] - e["start"]) / scale for e in evs]
    # the cost per op, E: sum of min(E, bracket) = total (a bracket shorter than E loses all of itself)
    lo, hi = 0.0, max(brackets)
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(min(mid, b) for b in brackets) < total else (lo, mid)
    per_op = hi
    shift = 0.0
    for i in order:
        e = evs[i]
        raw = {k: e[k] / scale for k in ("ready", "start", "sync", "end")}
        cut = min(per_op, brackets[i])
        e["ready"], e["start"], e["sync"] = (max(raw[k] - shift, 0.0) for k in ("ready", "start", "sync"))
        shift += cut
        e["end"] = min(max(raw["end"] - shift, e["start"]), last)
    doc["measurement"]["attribution"] = f"additive: {per_op * 1e6:.3f} us per op off each event bracket"
    with open(dst, "w") as f:
        json.dump(doc, f)
    return dst


def instrument_split(src, dst):
    """The predicted timeline `src` split as the harness's event brackets would split it, written to `dst`;
    None where nothing moves (a graph step, several ranks or streams).

    In an eager event-timed run each op's before-event is recorded ahead of its launch call
    (validate/runner.cpp, enqueue_step: record_bracket_event, then exec_->launch), so when the GPU waits
    for the host's launch the wait lies inside the op's bracket, and the gap before it (what `moesim diff`
    counts as host) stays the kernel boundary. The simulator counts the same wait as host. Here each op
    keeps as host only min(start - ready, boundary), the boundary being the step's median start - ready
    (the kernel boundary nearly every op has; an op shorter than it keeps its own), and the rest of the
    wait moves into the op (start earlier, end where it was); the step does not move. It holds while each
    wait is at most the op's own launch call (a longer lag would put the excess before the before-event);
    on the H100 rounds 11-15 the largest is 4.6 us before a cuBLASLt GEMM (the call costs 6.3-9.6 us) and
    3.8 us before the first op (one kernel launch). A graph step is left alone: its events are recorded
    inside the graph, so the graph launch lies before the first bracket, as host."""
    with open(src) as f:
        doc = json.load(f)
    evs = doc.get("events", [])
    if not evs or len({(e["rank"], e["stream"]) for e in evs}) != 1:
        return None
    boundary = statistics.median(e["start"] - e["ready"] for e in evs)
    for e in evs:
        e["start"] = e["ready"] + min(e["start"] - e["ready"], boundary)
        e["sync"] = min(e["sync"], e["start"]) if "sync" in e else e["start"]
    with open(dst, "w") as f:
        json.dump(doc, f)
    return dst


def measured_run(call_dir, entry):
    """The measured timeline of one schedule in one call's results, or None: the run in the
    schedule's own mode (a graph schedule's eager run is a per-op reference only)."""
    path = os.path.join(call_dir, "runs", f"{entry['file'][:-len('.json.gz')]}.p2p-on.{entry['mode']}.json")
    return path if os.path.exists(path) else None


def spread(values):
    """(max - min) / mean: the noise of one run between calls, or of its timed iterations in one call."""
    return (max(values) - min(values)) / statistics.fmean(values) if len(values) > 1 else None


def step_error(predicted, measured):
    """The prediction against the mean of the calls' measured steps (each the slowest rank's)."""
    return predicted / statistics.fmean(measured) - 1


def pct(x):
    return f"{x * 100:+.1f}%"


def fmt_noise(x):
    return f"{x * 100:.1f}%" if x is not None else "-"


def summarise(rows, variants, plans):
    """Per variant and group of runs: median and worst |step error|, the noise beside them, and each
    class's error of its time summed over the runs."""
    groups = [("all", lambda x: True),
              ("decode eager", lambda x: x["phase"] == "decode" and x["mode"] == "eager"),
              ("decode graph", lambda x: x["phase"] == "decode" and x["mode"] == "graph"),
              ("prefill", lambda x: x["phase"] == "prefill")]
    if len(plans) > 1:
        groups += [(plan, lambda x, plan=plan: x["plan"] == plan) for plan in plans]
    summary = {}
    for variant in variants:
        for group, sel in groups:
            rs = [x for x in rows if x["variant"] == variant and sel(x)]
            if not rs:
                continue
            errs = [abs(x["error"]) for x in rs]
            noises = [x["noise"] for x in rs if x["noise"] is not None]
            spreads = [x["iteration_spread"] for x in rs if x["iteration_spread"] is not None]
            s = {"runs": len(rs), "median_abs_error": statistics.median(errs), "worst_abs_error": max(errs),
                 "median_noise": statistics.median(noises) if noises else None,
                 "worst_noise": max(noises) if noises else None,
                 "median_iteration_spread": statistics.median(spreads) if spreads else None,
                 "worst_iteration_spread": max(spreads) if spreads else None, "classes": {}}
            for c in CLASSES + [COLLECTIVES]:
                ce = [abs(x["classes"][c]["error"]) for x in rs if c in x["classes"]]
                tot_m = sum(x["classes"][c]["measured_s"] for x in rs if c in x["classes"])
                tot_p = sum(x["classes"][c]["predicted_s"] for x in rs if c in x["classes"])
                if ce:
                    s["classes"][c] = {"median_abs_error": statistics.median(ce),
                                       "total_error": tot_p / tot_m - 1 if tot_m > 0 else None}
            summary[f"{variant}: {group}"] = s
    return summary


def cmd_compare(a):
    with open(os.path.join(ROOT, "validate", "results", a.predictions + ".json")) as f:
        preds = json.load(f)
    pred_dir = os.path.join(ROOT, "validate", "results", a.predictions)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in preds["results"]:
            got = [p for p in (measured_run(d, r) for d in a.runs) if p]
            if not got:
                continue
            pred_gz = os.path.join(pred_dir, r["variant"], r["file"].replace(".json.gz", ".pred.json.gz"))
            pred = os.path.join(tmp, "pred.json")
            with gzip.open(pred_gz, "rb") as g, open(pred, "wb") as f:
                f.write(g.read())
            if a.predicted_split == "instrument" and r["mode"] == "eager":
                pred = instrument_split(pred, os.path.join(tmp, "pred-instrument.json")) or pred
            diffs, iteration_spreads = [], []
            for m in got:
                dj = os.path.join(tmp, "d.json")
                timeline = m
                if a.attribution == "additive":
                    timeline = additive_attribution(m, os.path.join(tmp, "additive.json")) or m
                run([a.moesim, "diff", pred, timeline, "--json", dj])
                with open(dj) as f:
                    diffs.append(json.load(f))
                with open(m) as f:
                    iteration_spreads.append(spread(json.load(f)["measurement"]["step_times"]))
            meas = [d["measured_step"] for d in diffs]
            cls = {}
            for c in CLASSES + [COLLECTIVES]:
                mc = [grouped_classes(d)[c]["measured"] for d in diffs if c in grouped_classes(d)]
                pc = [grouped_classes(d)[c]["predicted"] for d in diffs if c in grouped_classes(d)]
                if mc and statistics.fmean(mc) > 0:
                    cls[c] = {"measured_s": statistics.fmean(mc), "predicted_s": pc[0],
                              "error": pc[0] / statistics.fmean(mc) - 1}
            known = [x for x in iteration_spreads if x is not None]
            rows.append({"file": r["file"], "variant": r["variant"], "family": r["family"], "mode": r["mode"],
                         "plan": r.get("plan", "tp1"), "phase": r["phase"], "batch": r["batch"],
                         "predicted_s": r["step_s"], "measured_s": meas, "error": step_error(r["step_s"], meas),
                         "noise": spread(meas), "iteration_spread": max(known) if known else None, "classes": cls})
    variants = [v["name"] for v in preds["variants"]] if "variants" in preds else ["leave-family-out", "all-records"]
    plans = sorted({x["plan"] for x in rows})
    summary = summarise(rows, variants, plans)
    doc = {"predictions": a.predictions, "runs": [os.path.relpath(d, ROOT) for d in a.runs], "summary": summary,
           "attribution": a.attribution, "predicted_split": a.predicted_split, "rows": rows}
    with open(os.path.join(ROOT, "validate", "results", a.out + ".json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    gpus = preds.get("gpus", 1)
    cls_names = CLASSES + ([COLLECTIVES] if gpus > 1 else [])
    card = platform_card(preds["platform"])
    L = [f"# {a.out}: out-of-sample step error on {f'one {card}' if gpus == 1 else f'{gpus} {card}'}"
         f" ({preds['platform']})", "",
         f"Predictions: `validate/results/{a.predictions}.md` (committed before the runs). Measured runs: "
         + ", ".join(f"`{d}`" for d in doc["runs"]) + " (separate calls: the noise floor is the spread of the "
         "same run between them, (max - min) / mean; the iteration spread is that of the timed iterations "
         "within a call, the worst call's). A step is the slowest rank's, measured and predicted."
         + (" Measured per-op times: additive attribution (each event bracket less the run's event cost per "
            "op, (event step - plain step) / ops; `additive_attribution` in validate/oos/oos.py); the steps are "
            "the same as with the harness's scaled brackets." if a.attribution == "additive" else "")
         + (" Predicted eager steps split as the event brackets see them: each op's wait for the host's launch "
            "counted inside the op, the gap before it kept at the kernel boundary (`instrument_split` in "
            "validate/oos/oos.py); the steps are the same." if a.predicted_split == "instrument" else ""), "",
         "| variant: runs | n | median abs error | worst | noise median | noise worst | iterations median "
         "| iterations worst | " + " | ".join(cls_names) + " |",
         "|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(cls_names)]
    for k, s in summary.items():
        cl = " | ".join(pct(s["classes"][c]["total_error"]) if c in s["classes"] and s["classes"][c]["total_error"] is not None
                        else "-" for c in cls_names)
        L.append(f"| {k} | {s['runs']} | {s['median_abs_error'] * 100:.1f}% | {s['worst_abs_error'] * 100:.1f}% "
                 f"| {fmt_noise(s['median_noise'])} | {fmt_noise(s['worst_noise'])} "
                 f"| {fmt_noise(s['median_iteration_spread'])} | {fmt_noise(s['worst_iteration_spread'])} | {cl} |")
    L += ["", "Per op class: the error of the class's time summed over the runs (predicted / measured - 1); "
          "classes are per-rank means.", "",
          "| schedule | variant | predicted us | measured us | error | noise | iterations | "
          + " | ".join(cls_names) + " |",
          "|---|---|---:|---:|---:|---:|---:|" + "---:|" * len(cls_names)]
    for x in sorted(rows, key=lambda x: (x["variant"], x["file"])):
        cl = " | ".join(pct(x["classes"][c]["error"]) if c in x["classes"] else "-" for c in cls_names)
        L.append(f"| {x['file'][:-8]} | {x['variant']} | {x['predicted_s'] * 1e6:.1f} | "
                 f"{statistics.fmean(x['measured_s']) * 1e6:.1f} | {pct(x['error'])} | {fmt_noise(x['noise'])} "
                 f"| {fmt_noise(x['iteration_spread'])} | {cl} |")
    with open(os.path.join(ROOT, "validate", "results", a.out + ".md"), "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n".join(L[:6 + len(summary)]))


def cmd_bands(a):
    """Each compared schedule's dominant compute provenance (`moesim run --json` with its family's
    leave-family-out calibration), and the |step error| of a comparison grouped by it and by launch mode.
    The set (--set or --gpus) must be the comparison's."""
    oset = the_set(a)
    es = {e["file"]: e for e in entries(oset)}
    with open(os.path.join(ROOT, "validate", "results", a.comparison + ".json")) as f:
        cmp = json.load(f)
    fams = sorted({e["family"] for e in es.values()})
    members = {f: sorted({e["model"] for e in es.values() if e["family"] == f}) for f in fams}
    rows = [r for r in cmp["rows"] if r["variant"] == "leave-family-out"]
    out_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fam in fams:
            cal = os.path.join(tmp, f"cal-{fam}.yaml")
            argv = [a.moesim, "calibrate", "--platform", oset.platform, "-o", cal, "--sms", str(oset.sms), "--op-bench", *a.op_bench]
            for m in members[fam]:
                argv += ["--exclude-model", m]
            run(argv)
            for r in rows:
                e = es[r["file"]]
                if e["family"] != fam:
                    continue
                js = os.path.join(tmp, "run.json")
                run([a.moesim, "run", e["study"], "--plan", e["plan"], "--batch", str(e["batch"]), "--platform", oset.platform,
                     "--calibration", cal, "--json", js, "--cuda-graphs" if e["cuda_graphs"] else "--eager"])
                with open(js) as f:
                    shares = json.load(f)["results"][0]["compute_provenance"]
                out_rows.append({"file": r["file"], "mode": r["mode"], "error": r["error"], "shares": shares,
                                 "provenance": max(sorted(shares), key=lambda k: shares[k])})
    groups = {}
    for x in out_rows:
        for launch in (x["mode"], "any"):
            groups.setdefault(f"{x['provenance']} {launch}", []).append(abs(x["error"]))
    summary = {k: {"runs": len(v), "median_abs_error": statistics.median(v), "worst_abs_error": max(v)}
               for k, v in sorted(groups.items())}
    doc = {"comparison": a.comparison, "op_bench": a.op_bench, "summary": summary,
           "rows": sorted(out_rows, key=lambda x: x["file"])}
    with open(os.path.join(ROOT, "validate", "results", a.out + ".json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    for k, v in summary.items():
        print(f"{k:20s} {v['runs']:3d} runs  median {v['median_abs_error'] * 100:.1f}%  worst {v['worst_abs_error'] * 100:.1f}%")


def main():
    p = argparse.ArgumentParser(prog="validate/oos/oos.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("schedules")
    s.add_argument("--gpus", type=int, choices=sorted(k for k in SETS if isinstance(k, int)), default=1)
    s.add_argument("--set", choices=sorted(k for k in SETS if isinstance(k, str)))
    s.add_argument("--moesim", default="build/cli/moesim")
    r = sub.add_parser("predict")
    r.add_argument("--gpus", type=int, choices=sorted(k for k in SETS if isinstance(k, int)), default=1)
    r.add_argument("--set", choices=sorted(k for k in SETS if isinstance(k, str)))
    r.add_argument("--moesim", default="build/cli/moesim")
    r.add_argument("--op-bench", nargs="+", required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--decode-attention-form", choices=("decode_splitk", "decode_tiles", "decode_tiles_staggered"),
                   help="passed to moesim calibrate (default: its default)")
    r.add_argument("--prefill-attention-form", choices=("prefill_tiles", "prefill_kernel_tiles"),
                   help="passed to moesim calibrate (default: its default, prefill_tiles)")
    r.add_argument("--variant", nargs="+", help="only these variants of the set (default: all)")
    r.add_argument("--bracket-runs", nargs="+", metavar="DIR",
                   help="earlier rounds' call folders: their measured runs' mean gap between event brackets, per "
                        "launch mode, is the kernel boundary (moesim calibrate --bracket-runs)")
    c = sub.add_parser("compare")
    c.add_argument("--moesim", default="build/cli/moesim")
    c.add_argument("--predictions", required=True)
    c.add_argument("--runs", nargs="+", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--attribution", choices=("scaled", "additive"), default="scaled",
                   help="measured per-op times: the harness's (event brackets scaled to the plain step) or "
                        "the brackets less a fixed event cost per op (additive_attribution); steps are the same")
    c.add_argument("--predicted-split", choices=("simulator", "instrument"), default="simulator",
                   help="the predicted eager steps' class split: the simulator's (a wait for the host's launch "
                        "is host) or the event brackets' (that wait inside the op, instrument_split); steps are the same")
    b = sub.add_parser("bands")
    b.add_argument("--gpus", type=int, choices=sorted(k for k in SETS if isinstance(k, int)), default=1)
    b.add_argument("--set", choices=sorted(k for k in SETS if isinstance(k, str)))
    b.add_argument("--moesim", default="build/cli/moesim")
    b.add_argument("--op-bench", nargs="+", required=True)
    b.add_argument("--comparison", required=True)
    b.add_argument("--out", required=True)
    a = p.parse_args()
    {"schedules": cmd_schedules, "predict": cmd_predict, "compare": cmd_compare, "bands": cmd_bands}[a.cmd](a)


if __name__ == "__main__":
    main()
