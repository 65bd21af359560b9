"""validate/oos/oos.py: its two sets (which schedules each makes, under which plans), the calibration
each prediction variant asks for, which measured run a prediction meets, and the comparison's numbers
(fixtures with hand-derived numbers; no GPU and no simulator). The committed schedules are checked
against the sets, so a set edited without regenerating its schedules fails here."""

import glob
import gzip
import importlib.util
import json
import os
import re
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "validate"))
_spec = importlib.util.spec_from_file_location("oos", os.path.join(ROOT, "validate", "oos", "oos.py"))
oos = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oos)
_rf_spec = importlib.util.spec_from_file_location("round_facts", os.path.join(ROOT, "validate", "oos", "round_facts.py"))
round_facts = importlib.util.module_from_spec(_rf_spec)
_rf_spec.loader.exec_module(round_facts)

from gputool import jobs as J  # noqa: E402  (after the path is set)
from gputool import phases as P  # noqa: E402


def committed_index(oset):
    with open(os.path.join(ROOT, oset.schedules, "index.json")) as f:
        return json.load(f)


def run_shape(e):
    """What a run measures: model, layers, context, prompt, phase, batch."""
    with open(os.path.join(ROOT, e["study"])) as f:
        text = f.read()
    keys = [re.search(rf"(?m)^{k}: (\S+)$", text) for k in ("layers", "context", "prompt")]
    return (e["model"], *(m.group(1) if m else None for m in keys), e["phase"], e["batch"])


def run_shapes(*sets):
    return {run_shape(e) for o in sets for e in oos.entries(o)}


POINTS_S16 = os.path.join(ROOT, "validate", "oos", "points-s16.txt")
POINTS_S16B = os.path.join(ROOT, "validate", "results", "h100-2026-12-06-points-s16b", "points-s16b.txt")
# Every points file bench-ops has timed or will time: the committed validate/oos/points-*.txt (s16 grouped
# GEMMs and prefill attention, s17 cold sample and embedding, s18 grouped GEMMs, s19 kernel boundaries, s20
# cold small kernels at round 14's shapes, s21 the small kernels' whole grid plain and cold; s18-call and
# s19-call are unions of these) and the s16b points filed with their run.
POINTS_FILES = sorted(glob.glob(os.path.join(ROOT, "validate", "oos", "points-*.txt"))) + [POINTS_S16B]
# The small kernels' point kinds and the words that key each (bench-ops' describe(), validate/op_bench_points.cpp;
# inputs=cold is the same op as the plain point, so it is not part of the key).
SMALL_POINT_WORDS = {"rmsnorm": ("rows", "width"), "residual_add": ("rows",), "silu_mul": ("rows", "width"),
                     "router": ("rows", "width", "experts"), "topk": ("rows", "experts", "k"),
                     "permute": ("rows", "width", "k", "experts"), "unpermute": ("rows", "width", "k"),
                     "embedding": ("rows", "width", "vocab"), "sample": ("rows", "vocab")}


def expert_rows(tokens, experts, dist):
    """bench-ops' rows per expert for one of its points (validate/op_bench_grid.cpp, expert_rows): uniform
    gives tokens // experts each and one more to the first tokens % experts; zipf weighs expert e by
    1 / (e + 1), floors, and gives the rest one by one to the largest remainders, ties in expert order
    (core/schedule.cpp, round_group_rows); sparse puts the tokens on every 8th expert."""
    if dist == "uniform":
        return [tokens // experts + (1 if e < tokens % experts else 0) for e in range(experts)]
    if dist == "zipf":
        w = [1.0 / (e + 1) for e in range(experts)]
        w = [x * tokens / sum(w) for x in w]
        rows = [int(x) for x in w]
        extra = max(0, round(sum(w)) - sum(rows))
        for e in sorted(range(experts), key=lambda e: -(w[e] - int(w[e])))[:extra]:
            rows[e] += 1
        return rows
    if dist == "sparse":
        active = (experts + 7) // 8
        rows = [0] * experts
        for j in range(active):
            rows[j * 8] = tokens // active + (1 if j < tokens % active else 0)
        return rows
    raise ValueError(f"unknown distribution {dist!r}")


def point_keys(lines):
    """The ops a points file names (one point a line, in bench-ops' describe() text; '#' comments), each as
    the key a schedule's op is compared by: a grouped GEMM by (n, k, its active experts' rows, sorted), which
    holds the active count, whatever its dtype and impl; a prefill attention by (q heads, KV heads, d_qk,
    d_v, prompt, cached, batch, window), GQA or MLA alike. A kind this does not know fails: a point it
    cannot compare must not pass as no match."""
    keys = set()
    for n, line in enumerate(lines, 1):
        line = re.sub(r"\s*\(\d+ active\)\s*$", "", line.split("#", 1)[0].strip())
        if not line:
            continue
        words = line.split()
        kv = dict(w.split("=", 1) for w in words if "=" in w)
        if words[0] == "grouped_gemm":
            rows = expert_rows(int(kv["tokens"]), int(kv["experts"]), words[-1])
            keys.add(("grouped_gemm", int(kv["n"]), int(kv["k"]), tuple(sorted(r for r in rows if r > 0))))
        elif words[0] == "attention_prefill":
            q, kvh = (int(x) for x in kv["heads"].split("/"))
            dq, dv = (int(x) for x in kv["dims"].split("/"))
            keys.add(("attention_prefill", q, kvh, dq, dv, int(kv["prompt"]), int(kv["cached"]), int(kv["batch"]),
                      int(kv.get("window", 0))))
        elif words[0] in SMALL_POINT_WORDS:
            keys.add((words[0], *(int(kv[w]) for w in SMALL_POINT_WORDS[words[0]])))
        elif words[0] == "graph_gap":
            continue  # a kernel boundary in a CUDA graph (session 19): a chain of kernels, no op of a step
        else:
            raise ValueError(f"points line {n}: no comparison for '{words[0]}'")
    return keys


def schedule_op_keys(doc):
    """(op name, key) for every grouped GEMM and prefill attention of a schedule, keyed as point_keys keys
    a point: the grouped GEMM's rows are its experts' (zeros are inactive experts)."""
    for rank in doc["ranks"]:
        for o in rank["ops"]:
            sh = o["shape"]
            if o["kind"] == "grouped_gemm":
                rows = tuple(sorted(int(r) for r in sh["rows"] if r > 0))
                yield o["name"], ("grouped_gemm", sh["n"], sh["k"], rows)
            elif o["kind"] == "attention_prefill":
                yield o["name"], ("attention_prefill", sh["q_heads"], sh["kv_heads"], sh["head_dim_qk"],
                                  sh["head_dim_v"], sh["prompt"], sh["cached"], sh["batch"], sh.get("sliding_window", 0))


def schedule_small_op_keys(doc):
    """(op name, key) for every small kernel of a schedule (norms, residual adds, SiLU, router, top-k,
    permute, unpermute, embedding, sample), keyed as point_keys keys a small point: the router is the
    gemm of role router (rows m, width k, experts n), a residual add's rows are its elements."""
    def key(o):
        sh = o["shape"]
        kind = o["kind"]
        if kind in ("rmsnorm", "silu_mul"):
            return (kind, int(sh["rows"]), sh["width"])
        if kind == "residual_add":
            return (kind, int(sh["elements"]))
        if kind == "gemm" and o["role"] == "router":
            return ("router", sh["m"], sh["k"], sh["n"])
        if kind == "topk":
            return (kind, sh["tokens"], sh["experts"], sh["k"])
        if kind == "permute":
            return (kind, sh["tokens"], sh["hidden"], sh["k"], sh["experts"])
        if kind == "unpermute":
            return (kind, sh["tokens"], sh["hidden"], sh["k"])
        if kind == "embedding":
            return (kind, sh["tokens"], sh["hidden"], sh["vocab"])
        if kind == "sample":
            return (kind, sh["rows"], sh["vocab"])
        return None
    for rank in doc["ranks"]:
        for o in rank["ops"]:
            k = key(o)
            if k is not None:
                yield o["name"], k


SMALL_KINDS = {"rmsnorm", "residual_add", "silu_mul", "topk", "permute", "unpermute", "embedding", "sample"}


def is_small(o):
    """A small kernel as round 15 means it: a norm, residual add, SiLU, router, top-k, permute, unpermute,
    embedding or sample; every other op (GEMMs, grouped GEMMs, attention) is a big op."""
    return o["kind"] in SMALL_KINDS or (o["kind"] == "gemm" and o["role"] == "router")


def big_op_gaps(ops):
    """The big ops between consecutive small kernels of one rank's ops, in order: (the big ops' roles,
    their layer, the bytes they move together) for every pair with big ops between them (the bytes the
    schedule counts for each op: weights, KV cache and activations read and written)."""
    out, between = [], []
    for o in ops:
        if is_small(o):
            if between:
                out.append((tuple(b["role"] for b in between), between[0]["layer"], sum(b["bytes"] for b in between)))
            between = []
        else:
            between.append(o)
    return out


# The kinds whose time the simulator blends between warm and cold records (core/l2_reuse.cpp, cold_blends).
L2_BLENDED = ("rmsnorm", "silu_mul", "residual_add", "topk", "permute", "unpermute")


def bytes_since_previous_of_kind(ops):
    """(kind, X) for every op of a blended kind, in order: X the bytes every op moved strictly between the
    previous op of its kind and this one, the first of a kind reaching back into the previous step (the
    same schedule again), for a rank without communication ops: the X of session 21's rule, round 15's
    design; since session 23 core/l2_reuse.cpp takes it for the inputs a kernel of the kind last touched
    (LastTouch::same_kind) and the activation as warm. round_facts.py's small_kernel_bytes computes it."""
    return [(k, x) for k, _, x, _ in round_facts.small_kernel_bytes(ops)]


def committed_schedule(oset, e):
    with gzip.open(os.path.join(ROOT, oset.schedules, e["file"]), "rt") as f:
        return json.load(f)


_RECORDS = {}


def bench_records(op):
    """Every bench-ops record of kind `op` in main: each validate/results/*/ops*.json[.gz] (H100 and H200, grids
    and points; not the .run.json side files, nor the H200 records carried to the H100 by `moesim transfer`)."""
    if not _RECORDS:
        for path in sorted(glob.glob(os.path.join(ROOT, "validate", "results", "*", "ops*.json*"))):
            if ".run.json" in path or "transfer" in path:
                continue
            with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
                for r in json.load(f)["records"]:
                    _RECORDS.setdefault(r["op"], []).append(r)
    return _RECORDS.get(op, [])


class Sets(unittest.TestCase):
    def test_one_gpu_set_keeps_its_68_schedules_and_names(self):
        # 15 models x {eager, graph} x batches {1, 64} = 60 decode schedules, plus one 2048-token
        # prefill for each of the 8 models with a prefill study (deepseek-v2-lite, glm-4.5-air,
        # gpt-oss-120b, the two invented ones, llama-4-scout, mixtral-8x22b, qwen3-30b-a3b): 68, one
        # plan (tp1), so no plan in the names: the names its measurements were filed under.
        es = oos.entries(oos.SETS[1])
        self.assertEqual(len(es), 68)
        self.assertEqual({e["plan"] for e in es}, {"tp1"})
        self.assertEqual(sorted(e["file"] for e in es), sorted(e["file"] for e in committed_index(oos.SETS[1])))
        self.assertIn("oos1-glm-4.5-air-graph_b64.json.gz", {e["file"] for e in es})

    def test_two_gpu_set_is_five_models_under_three_plans(self):
        # 5 models x 3 plans x {eager, graph} x batches {1, 64} = 60 decode schedules, plus a prefill
        # for 2 models under each of the 3 plans = 6: 66, each named with its plan.
        es = oos.entries(oos.SETS[2])
        self.assertEqual(len(es), 66)
        self.assertEqual(len({e["model"] for e in es}), 5)
        self.assertEqual({e["plan"] for e in es}, {"tp2", "ep2", "dp2xep2"})
        self.assertEqual(sum(e["phase"] == "prefill" for e in es), 6)
        self.assertEqual(sum(e["mode"] == "graph" for e in es), 30)
        for e in es:
            self.assertRegex(e["file"], rf"^{re.escape(e['name'])}_{e['plan']}_b{e['batch']}\.json\.gz$")

    def test_oos4_is_33_schedules_at_shapes_oos1_to_3_never_ran(self):
        # 7 models x {eager, graph} x 2 batches = 28 decode schedules, plus 5 prefills = 33, one plan
        # (tp1). oos1-3 ran decode at batch 1 and 64, context 1024, and prefills of 2048 tokens: every
        # oos4 decode has neither batch, and every prefill another prompt.
        oset = oos.SETS["oos4"]
        es = oos.entries(oset)
        self.assertEqual(len(es), 33)
        self.assertEqual({e["plan"] for e in es}, {"tp1"})
        self.assertEqual(sum(e["phase"] == "prefill" for e in es), 5)
        self.assertEqual(oset.platform, oos.SETS[1].platform)
        for e in es:
            if e["phase"] == "decode":
                self.assertNotIn(e["batch"], (1, 64), e["file"])
        for path in sorted({e["study"] for e in es}):
            with open(os.path.join(ROOT, path)) as f:
                text = f.read()
            if "phase: prefill" in text:
                self.assertNotRegex(text, r"(?m)^prompt: 2048$", path)

    def assert_new_round(self, name, eager_decode, graph, prefill, earlier):
        # A round of one GPU (assert_tp1_set), its H100 set the same schedules on the H100 platform,
        # and no step at a shape any of the `earlier` sets ran.
        es = self.assert_tp1_set(name, eager_decode, graph, prefill)
        self.assertEqual(oos.entries(oos.SETS[name + "-h100"]), es)
        self.assertEqual(oos.SETS[name + "-h100"].platform, "nvswitch-1x-h100")
        shapes = run_shapes(*(oos.SETS[k] for k in earlier))
        for e in es:
            self.assertNotIn(run_shape(e), shapes, e["file"])

    def assert_no_op_at_a_point_or_of(self, name, points_files, previous):
        # No op of any step of set `name` (every layer, as committed) is a point of `points_files`, nor an op of
        # the `previous` set's steps. Returns (big, small): the grouped GEMMs and prefill attentions, and the
        # small kernels (norms, residual adds, SiLU, router, top-k, permute, unpermute, embedding, sample).
        points = {}
        for path in points_files:
            with open(path) as f:
                for key in point_keys(f.readlines()):
                    points.setdefault(key, os.path.basename(path))
        seen = set()
        for e in oos.entries(oos.SETS[previous]):
            doc = committed_schedule(oos.SETS[previous], e)
            seen |= {k for _, k in schedule_op_keys(doc)} | {k for _, k in schedule_small_op_keys(doc)}
        big = small = 0
        for e in oos.entries(oos.SETS[name]):
            doc = committed_schedule(oos.SETS[name], e)
            for op, key in list(schedule_op_keys(doc)) + list(schedule_small_op_keys(doc)):
                big += key[0] in ("grouped_gemm", "attention_prefill")
                small += key[0] not in ("grouped_gemm", "attention_prefill")
                self.assertNotIn(key, points, f"{e['file']}: {op} is a point of {points.get(key)}: {key}")
                self.assertFalse(key in seen, f"{e['file']}: {op} is an op of {previous}: {key}")
        return big, small

    def assert_tp1_set(self, name, eager_decode, graph, prefill):
        # The set's entries: tp1 only, so many eager decodes, graph decodes and prefills, and
        # nothing else; committed as the set makes them. Returns the entries.
        oset = oos.SETS[name]
        es = oos.entries(oset)
        self.assertEqual(len(es), eager_decode + graph + prefill)
        self.assertEqual({e["plan"] for e in es}, {"tp1"})
        self.assertEqual(sum(e["phase"] == "decode" and e["mode"] == "eager" for e in es), eager_decode)
        self.assertEqual(sum(e["mode"] == "graph" for e in es), graph)
        self.assertEqual(sum(e["phase"] == "prefill" for e in es), prefill)
        self.assertEqual(sorted(e["file"] for e in es), sorted(e["file"] for e in committed_index(oset)))
        return es

    def test_oos5_is_22_schedules_at_shapes_no_earlier_round_ran(self):
        # decode eager: 2 batches for each of the GQA head_dim 160, MLA kv256, GQA head_dim 112 and
        # Qwen3-30B studies + 1 for Kimi-K2 = 9; decode graph: 2 each for head_dim 160 and MLA kv256 +
        # 1 each for GLM-4.5-Air, Mixtral-8x22B and DeepSeek-V2-Lite = 7; prefills: 6. 9 + 7 + 6 = 22,
        # one plan (tp1), committed as the set makes them.
        es = self.assert_tp1_set("oos5", eager_decode=9, graph=7, prefill=6)

        earlier = run_shapes(oos.SETS[1], oos.SETS[2], oos.SETS["oos4"])
        for e in es:
            self.assertNotIn(run_shape(e), earlier, e["file"])

    def test_two_gpu_schedules_are_committed_for_two_ranks_under_their_plan(self):
        oset = oos.SETS[2]
        es = {e["file"]: e for e in oos.entries(oset)}
        self.assertEqual(sorted(es), sorted(e["file"] for e in committed_index(oset)))
        for file, e in es.items():
            with gzip.open(os.path.join(ROOT, oset.schedules, file), "rt") as f:
                s = json.load(f)
            self.assertEqual((s["world"], s["plan"]["name"], s["step"]["batch"]), (2, e["plan"], e["batch"]), file)
            self.assertEqual(bool(s["engine"].get("cuda_graphs", False)), e["cuda_graphs"], file)

    def test_the_gpu_call_runs_96_jobs_with_p2p_on(self):
        # gpu_tool runs a graph schedule twice (graph, and eager as a per-op reference), an eager one
        # once: 30 graph x 2 + 30 eager + 6 prefill = 96 runs with P2P on; two GPUs add the same 96
        # with P2P off, which --only p2p-on leaves out (the platform is the P2P one).
        oset = oos.SETS[2]
        with tempfile.TemporaryDirectory() as tmp:
            c = P.GpuConfig(root=ROOT, work=tmp, gpus=2, arch="90", schedules=[os.path.join(ROOT, oset.schedules)])
            js = P.run_jobs(c)
        self.assertEqual(len(js), 192)
        self.assertEqual(len(J.select(js, only="p2p-on")), 96)

    def test_oos6_on_an_h100_is_oos6_on_another_platform(self):
        # The H100 scoring of round 6 must run the very schedules measured for it (oos6's 18) and ask
        # moesim for the H100 platform, which like the H200 has 132 SMs; only the platform differs.
        h200, h100 = oos.SETS["oos6"], oos.SETS["oos6-h100"]
        self.assertEqual((h100.platform, h100.sms), ("nvswitch-1x-h100", 132))
        self.assertEqual(h200.platform, "nvswitch-1x-h200")
        self.assertEqual(oos.entries(h100), oos.entries(h200))
        self.assertEqual(len(oos.entries(h100)), 18)

    def test_oos7_is_16_schedules_at_shapes_no_earlier_round_ran(self):
        # decode eager: Mixtral-8x22B, Llama-4-Maverick, Kimi-K2 and the invented MLA kv320 model,
        # one batch each = 4; decode graph: DeepSeek-V2-Lite, Qwen3-30B, GLM-4.5-Air,
        # Qwen3-Coder-480B, gpt-oss-20b and the invented GQA hd128 model = 6; prefills: DeepSeek-V3,
        # GLM-4.5, Llama-4-Scout, Qwen3-235B and the two invented models = 6. 4 + 6 + 6 = 16, tp1,
        # committed as the set makes them; its H100 set runs the same schedules on the H100 platform.
        self.assert_new_round("oos7", eager_decode=4, graph=6, prefill=6,
                              earlier=[1, 2, "oos4", "oos5", "oos6"])

    def test_oos8_is_16_schedules_at_shapes_no_earlier_round_ran(self):
        # decode eager: Qwen3-30B, Llama-4-Scout, gpt-oss-20b and the invented MLA h48 model, one
        # batch each = 4; decode graph: Mixtral-8x7B, GLM-4.5, gpt-oss-120b, DeepSeek-V3, Kimi-K2 and
        # the invented GQA hd192 model = 6; prefills: DeepSeek-V2-Lite, Qwen3-Coder-480B,
        # Mixtral-8x22B, GLM-4.5-Air and the two invented models = 6. 4 + 6 + 6 = 16, tp1, committed
        # as the set makes them; its H100 set runs the same schedules on the H100 platform.
        self.assert_new_round("oos8", eager_decode=4, graph=6, prefill=6,
                              earlier=[1, 2, "oos4", "oos5", "oos6", "oos7"])

    def test_oos9_is_16_schedules_at_shapes_no_earlier_round_ran(self):
        # decode eager: the invented GQA hd256 model, Qwen3-235B, Mixtral-8x22B, Qwen3-Coder-480B and
        # Kimi-K2, one batch each = 5; decode graph: the invented MLA h56 model, DeepSeek-V2-Lite,
        # GLM-4.5-Air, Llama-4-Maverick and gpt-oss-120b = 5; prefills: the two invented models,
        # Qwen3-30B, gpt-oss-20b, Llama-4-Scout and GLM-4.5 = 6. 5 + 5 + 6 = 16, tp1; its H100 set runs
        # the same schedules on the H100 platform.
        self.assert_new_round("oos9", eager_decode=5, graph=5, prefill=6,
                              earlier=[1, 2, "oos4", "oos5", "oos6", "oos7", "oos8"])

    def test_oos10_is_16_schedules_at_shapes_no_earlier_round_ran(self):
        # decode eager: the invented GQA hd144 model, Qwen3-30B, Mixtral-8x7B, gpt-oss-20b and
        # DeepSeek-V2-Lite, one batch each = 5; decode graph: the invented MLA h72 model, GLM-4.5,
        # Qwen3-235B, Llama-4-Scout and Mixtral-8x22B = 5; prefills: the two invented models,
        # gpt-oss-120b, DeepSeek-V2-Lite, Qwen3-30B and GLM-4.5-Air = 6. 5 + 5 + 6 = 16, tp1; its H100
        # set runs the same schedules on the H100 platform.
        self.assert_new_round("oos10", eager_decode=5, graph=5, prefill=6,
                              earlier=[1, 2, "oos4", "oos5", "oos6", "oos7", "oos8", "oos9"])

    def test_oos11_is_16_schedules_at_shapes_no_earlier_round_ran(self):
        # decode eager: the invented GQA hd176 model, Mixtral-8x22B, Qwen3-235B, gpt-oss-120b and
        # Mixtral-8x7B, one batch each = 5; decode graph: the invented MLA kv480 model, DeepSeek-V3,
        # gpt-oss-20b, Qwen3-235B and Llama-4-Scout = 5; prefills: the two invented models,
        # gpt-oss-20b, Qwen3-30B, Mixtral-8x7B and DeepSeek-V2-Lite = 6. 5 + 5 + 6 = 16, tp1; its H100 set
        # runs the same schedules on the H100 platform; no step at a shape rounds 1-10 ran.
        self.assert_new_round("oos11", eager_decode=5, graph=5, prefill=6,
                              earlier=[1, 2, "oos4", "oos5", "oos6", "oos7", "oos8", "oos9", "oos10"])

    def test_oos12_is_16_schedules_at_shapes_no_earlier_round_ran(self):
        # decode eager: the invented GQA hd224 (b120), Mixtral-8x22B (b84), DeepSeek-V3 (b12), the
        # invented MLA e20 (b64), gpt-oss-20b (b10) = 5; decode graph: Mixtral-8x7B (b92), the
        # invented MLA e20 (b6), Qwen3-30B-A3B (b12), gpt-oss-120b (b20), DeepSeek-V3 (b5) = 5;
        # prefills: the two invented models, Mixtral-8x22B, DeepSeek-V2-Lite, Qwen3-235B-A22B and
        # Llama-4-Scout = 6. oos12-h100 runs the same schedules on the H100 platform; no step at a
        # shape rounds 1-11 ran.
        self.assert_new_round("oos12", eager_decode=5, graph=5, prefill=6,
                              earlier=[1, 2, "oos4", "oos5", "oos6", "oos7", "oos8", "oos9", "oos10", "oos11"])

    def test_oos13_is_16_schedules_at_shapes_no_earlier_round_ran_and_no_op_at_a_point(self):
        # decode eager: the invented MoE e16 (b168), the invented GQA h80 (b60), Llama-4-Scout (b320),
        # Qwen3-235B-A22B (b24), gpt-oss-120b (b40) = 5; decode graph: the invented GQA hd176 (b184),
        # Mixtral-8x22B (b76), DeepSeek-V2-Lite (b48), Qwen3-30B-A3B (b28) = 4; prefills: Llama-4-Scout,
        # Mixtral-8x22B, Mixtral-8x7B and the invented MoE e16, GQA h80, GQA hd80 and GQA hd128-kv4 = 7.
        # oos13-h100 runs the same schedules on the H100 platform; no step at a shape rounds 1-12 ran.
        self.assert_new_round("oos13", eager_decode=5, graph=4, prefill=7,
                              earlier=[1, 2, "oos4", "oos5", "oos6", "oos7", "oos8", "oos9", "oos10", "oos11",
                                       "oos12"])
        # ... and no expert GEMM or prefill attention of any step (every layer, as committed) is one of
        # the points bench-ops times for session 16, which will calibrate the simulator before the
        # round is predicted: 16 schedules x 4 layers hold 2 x 4 expert GEMMs and 4 attentions each
        # (DeepSeek-V2-Lite: 3 MoE layers after its dense one), all compared.
        with open(POINTS_S16) as f:
            points = point_keys(f.readlines())
        oset = oos.SETS["oos13"]
        compared = 0
        for e in oos.entries(oset):
            for name, key in schedule_op_keys(committed_schedule(oset, e)):
                compared += 1
                self.assertFalse(key in points, f"{e['file']}: {name} is a point of points-s16.txt: {key}")
        # 7 prefills x 4 attentions + 16 steps x 8 expert GEMMs - DeepSeek-V2-Lite's 2 of its dense layer
        self.assertEqual(compared, 7 * 4 + 16 * 8 - 2)

    def test_oos13_two_tile_steps_put_most_experts_in_two_16_row_tiles(self):
        # What round 13 aims at: the harness kernel takes 16-row tiles when total rows <= 24 x active
        # experts (kernels/grouped_gemm.cu), and an expert of 17-32 rows then takes two. In the first
        # MoE layer of each of these six steps more than half the active experts do (rows from the
        # committed schedules, routing seed 1), on 6-20 active experts at n 13,824-32,768.
        oset = oos.SETS["oos13"]
        steps = {"oos13-invented-moe-e16-eager_b168.json.gz": (16, 13824),
                 "oos13-invented-gqa-h80-eager_b60.json.gz": (6, 15360),
                 "oos13-llama-4-scout-r13-eager_b320.json.gz": (16, 16384),
                 "oos13-invented-gqa-hd176-graph_b184.json.gz": (20, 18432),
                 "oos13-mixtral-8x22b-r13-graph_b76.json.gz": (8, 32768),
                 "oos13-mixtral-8x7b-r13-prefill_b1.json.gz": (8, 28672)}
        for e in oos.entries(oset):
            if e["file"] not in steps:
                continue
            ups = [o for o in committed_schedule(oset, e)["ranks"][0]["ops"] if o["role"] == "experts_up"]
            rows = [int(r) for r in ups[0]["shape"]["rows"] if r > 0]
            self.assertEqual((len(rows), ups[0]["shape"]["n"]), steps[e["file"]], e["file"])
            self.assertLessEqual(sum(rows), 24 * len(rows), e["file"])
            self.assertGreater(2 * sum(16 < r <= 32 for r in rows), len(rows), e["file"])
            del steps[e["file"]]
        self.assertEqual(steps, {})

    def test_oos14_is_14_schedules_at_shapes_no_earlier_round_ran_and_no_op_at_a_point(self):
        # decode eager: the invented v256k (b240), the invented v64k (b5), Qwen3-235B-A22B (b144),
        # Mixtral-8x7B (b3), the invented e12 (b122) = 5; decode graph: the invented v256k (b2), the
        # invented v64k (b176), gpt-oss-20b (b2), DeepSeek-V2-Lite (b120), Llama-4-Scout (b6), the
        # invented GQA h80 (b66), the invented e20 (b206) = 7; prefills: the invented v256k (batch 2 x
        # 2,816) and v64k (batch 3 x 1,792) = 2. oos14-h100 runs the same schedules on the H100
        # platform; no step at a shape rounds 1-13 ran.
        self.assert_new_round("oos14", eager_decode=5, graph=7, prefill=2,
                              earlier=[1, 2, "oos4", "oos5", "oos6", "oos7", "oos8", "oos9", "oos10", "oos11",
                                       "oos12", "oos13"])
        # ... and no expert GEMM or prefill attention of any step (every layer, as committed) is a point
        # of points-s16.txt (timed before round 13) or of the 90 s16b points (timed after it), which
        # calibrate the simulator before this round is predicted.
        with open(POINTS_S16) as f, open(POINTS_S16B) as g:
            s16, s16b = point_keys(f.readlines()), point_keys(g.readlines())
        # the s16b file: 6, 12 and 20 experts x 3 totals x 3 n x 3 k = 81, plus 3 x 3 more totals at
        # n 16,384 k 4,096 = 9: 90 grouped GEMMs, none of them a points-s16 line (4, 8 and 16 experts)
        self.assertEqual((len(s16b), len(s16 & s16b)), (90, 0))
        oset = oos.SETS["oos14"]
        compared = 0
        for e in oos.entries(oset):
            for name, key in schedule_op_keys(committed_schedule(oset, e)):
                compared += 1
                self.assertFalse(key in s16 or key in s16b, f"{e['file']}: {name} is a session-16 point: {key}")
        # 2 prefills x 4 attentions + 14 steps x 4 layers x 2 expert GEMMs - DeepSeek-V2-Lite's 2 of
        # its dense first layer = 8 + 112 - 2
        self.assertEqual(compared, 8 + 14 * 8 - 2)

    def test_oos14_two_tile_steps_sit_between_the_s16b_points(self):
        # Aim (b): the harness kernel takes 16-row tiles when total rows <= 24 x active experts
        # (kernels/grouped_gemm.cu), and an expert of 17-32 rows then takes two. The s16b points time 6,
        # 12 and 20 experts at 17-24 rows on a grid of n and k; in the first MoE layer of each of these
        # three steps (rows from the committed schedules, routing seed 1) the active count is one of the
        # points' counts, more than half the experts take two tiles, and the up GEMM's n and k (and the
        # down GEMM's k) lie strictly between two grid values of the points at that count, on none.
        with open(POINTS_S16B) as f:
            lines = [ln.split() for ln in f if ln.startswith("grouped_gemm")]
        grid = {}
        for w in lines:
            kv = dict(x.split("=", 1) for x in w if "=" in x)
            ns, ks = grid.setdefault(int(kv["experts"]), (set(), set()))
            ns.add(int(kv["n"]))
            ks.add(int(kv["k"]))
        def between(x, values):
            return x not in values and min(values) < x < max(values)
        oset = oos.SETS["oos14"]
        steps = {"oos14-invented-gqa-h80-graph_b66.json.gz": (6, 15360, 3584),
                 "oos14-invented-e12-eager_b122.json.gz": (12, 12288, 3072),
                 "oos14-invented-e20-graph_b206.json.gz": (20, 10240, 2560)}
        for e in oos.entries(oset):
            if e["file"] not in steps:
                continue
            ops = committed_schedule(oset, e)["ranks"][0]["ops"]
            up = [o for o in ops if o["role"] == "experts_up"][0]["shape"]
            down = [o for o in ops if o["role"] == "experts_down"][0]["shape"]
            rows = [int(r) for r in up["rows"] if r > 0]
            self.assertEqual((len(rows), up["n"], up["k"]), steps[e["file"]], e["file"])
            self.assertLessEqual(sum(rows), 24 * len(rows), e["file"])
            self.assertGreater(2 * sum(16 < r <= 32 for r in rows), len(rows), e["file"])
            ns, ks = grid[len(rows)]
            self.assertTrue(between(up["n"], ns) and between(up["k"], ks), e["file"])
            self.assertTrue(between(down["k"], ks), e["file"])
            del steps[e["file"]]
        self.assertEqual(steps, {})

    def test_oos15_is_16_schedules_at_shapes_no_earlier_round_ran_and_no_op_at_a_point(self):
        # decode eager: the invented e24 (b5, context 1,152; b20, 4,608), the invented e28 (b3),
        # Qwen3-235B-A22B (b10), DeepSeek-V2-Lite (b3), gpt-oss-20b (b20) = 6; decode graph: the invented
        # e24 (b3, 1,664; b12, 2,304; b48, 36,864), the invented e28 (b2) and e28 wide (b40),
        # Mixtral-8x22B (b3), GLM-4.5 (b6), Llama-4-Scout (b10) = 8; prefills: the invented e24 (batch 2 x
        # 1,280) and e28 (2 x 1,408) = 2. oos15-h100 runs the same schedules on the H100 platform; no step
        # at a shape rounds 1-14 ran.
        self.assert_new_round("oos15", eager_decode=6, graph=8, prefill=2,
                              earlier=[1, 2, "oos4", "oos5", "oos6", "oos7", "oos8", "oos9", "oos10", "oos11",
                                       "oos12", "oos13", "oos14"])
        # ... and no op of any step (every layer, as committed) is a point of any points file: expert GEMMs
        # and prefill attention against s16, s16b and s18, the small kernels (norms, residual adds, SiLU,
        # router, top-k, permute, unpermute) against s20's cold-input points and the embedding and
        # sample against s17's, which calibrate the simulator (s20's as its cold records) before this
        # round is predicted.
        points = {}
        for path in POINTS_FILES:
            with open(path) as f:
                for key in point_keys(f.readlines()):
                    points.setdefault(key, os.path.basename(path))
        # the small points are all compared: s20's 42 (6 shapes x 7 kernels at round 14's shapes; cold and
        # plain are one op) and s21's 650 (the kernels' whole bench-ops grid), none of them shared
        small_kinds = ("rmsnorm", "residual_add", "silu_mul", "router", "topk", "permute", "unpermute")
        def small_points(name):
            with open(os.path.join(ROOT, "validate", "oos", name)) as f:
                return {k for k in point_keys(f.readlines()) if k[0] in small_kinds}
        s20, s21 = small_points("points-s20-cold-small.txt"), small_points("points-s21-cold-grid.txt")
        self.assertEqual((len(s20), len(s21), len(s20 & s21)), (42, 650, 0))
        self.assertEqual({k for k in points if k[0] in small_kinds}, s20 | s21)
        oset = oos.SETS["oos15"]
        big = small = 0
        for e in oos.entries(oset):
            doc = committed_schedule(oset, e)
            for name, key in schedule_op_keys(doc):
                big += 1
                self.assertNotIn(key, points, f"{e['file']}: {name} is a point of {points.get(key)}: {key}")
            for name, key in schedule_small_op_keys(doc):
                small += 1
                self.assertNotIn(key, points, f"{e['file']}: {name} is a point of {points.get(key)}: {key}")
        # big: 2 prefills x 4 attentions + 16 steps x 4 layers x 2 expert GEMMs, less the dense layers' (the
        # e28's first layer in its 4 steps, DeepSeek-V2-Lite's first, GLM-4.5's first three): 8 + 128 - 2 x 8
        self.assertEqual(big, 8 + 128 - 2 * 8)
        # small: a MoE layer runs 9 (attention norm and residual; FFN norm, router, top-k, permute, SiLU,
        # unpermute, residual), a dense layer 5 (no router, top-k, permute, unpermute), a shared expert one
        # more SiLU, MLA's kv norm one more norm; every step 3 more (embedding, head norm, sample).
        # e24 x 6 and Mixtral, Qwen3, gpt-oss: 9 x (4 x 9 + 3); e28 x 4: 4 x (5 + 3 x 9 + 3); GLM-4.5:
        # 3 x 5 + 10 + 3; Scout: 4 x 10 + 3; DeepSeek-V2-Lite: 6 + 3 x 11 + 3.
        self.assertEqual(small, 9 * 39 + 4 * 35 + 28 + 43 + 42)

    def test_oos15_big_ops_between_small_kernels_span_the_l2(self):
        # Aim (a): a small kernel's inputs are evicted when the big ops run since they were last touched
        # move more than the 50 MiB L2 (52.4 MB; platforms/gpus.yaml, H100 and H200 alike). Between
        # consecutive small kernels of a layer sit the attention block (qkv, core, o), an expert GEMM, a
        # dense or shared FFN GEMM; the bytes each moves as the committed schedules count them (weights,
        # KV cache, activations) put the round's steps in three bands, with different ops evicting.
        MB = 1e6
        oset = oos.SETS["oos15"]
        gaps = {}
        for e in oos.entries(oset):
            ops = committed_schedule(oset, e)["ranks"][0]["ops"]
            gaps[e["file"]] = [(roles, b) for roles, layer, b in big_op_gaps(ops) if layer >= 0]  # not the head
        def every(f, test):
            return bool(gaps[f]) and all(test(roles, b) for roles, b in gaps[f])
        attention = lambda roles: "core" in roles
        experts = lambda roles: roles == ("experts_up",) or roles == ("experts_down",)
        # (i) far below: the e24 at batch 3 and 5, short context: its largest op, the expert up GEMM,
        # reads at most 10 experts (5 tokens x top-2) x 640 x 640 x 2 B = 8.2 MB (b5); its KV 2 x 2 heads
        # x 64 x 2 B x 1,152 x 5 = 2.9 MB a layer. Every gap < 10 MB, in an eager and a graph decode.
        for f in ("oos15-invented-e24-graph_b3.json.gz", "oos15-invented-e24-eager_b5.json.gz"):
            self.assertTrue(every(f, lambda r, b: b < 10 * MB), f)
        # (ii) near: every gap of a layer 10-100 MB: the e28 at batch 2 and 3 (an expert's up GEMM 2,304 x
        # 2,304 x 2 B = 10.6 MB, 2-6 active; the dense layer's up 42.5 MB, down 21.2 MB), the e24's prefill
        # (2,560 tokens: activations beside 19.7 MB of up weights).
        for f in ("oos15-invented-e28-graph_b2.json.gz", "oos15-invented-e28-eager_b3.json.gz",
                  "oos15-invented-e24-prefill_b2.json.gz"):
            self.assertTrue(every(f, lambda r, b: 10 * MB <= b <= 100 * MB), f)
        # (iii) far above, by decode attention beside small GEMMs: the e24 at long context, KV 2 x 2 x 64 x
        # 2 B x 36,864 x 48 = 906 MB a layer, while its expert GEMMs (every expert active: up 24 x 0.82 MB
        # = 19.7 MB) stay under 25 MB; at batch 20, context 4,608 the same model's attention is near (KV
        # 512 B x 4,608 x 20 = 47 MB), its GEMMs below.
        f = "oos15-invented-e24-long-graph_b48.json.gz"
        self.assertTrue(every(f, lambda r, b: b > 300 * MB if attention(r) else b < 25 * MB), f)
        f = "oos15-invented-e24-mid-eager_b20.json.gz"
        self.assertTrue(every(f, lambda r, b: 25 * MB < b < 100 * MB if attention(r) else b < 25 * MB), f)
        # ... by expert GEMMs: every MoE layer's up GEMM > 300 MB (Mixtral-8x22B at batch 3: 6 experts of
        # 6,144 x 32,768 x 2 B = 403 MB each at most).
        for f in ("oos15-mixtral-8x22b-r15-graph_b3.json.gz", "oos15-qwen3-235b-a22b-r15-eager_b10.json.gz",
                  "oos15-llama-4-scout-r15-graph_b10.json.gz", "oos15-gpt-oss-20b-r15-eager_b20.json.gz",
                  "oos15-glm-4.5-r15-graph_b6.json.gz"):
            ups = [b for r, b in gaps[f] if r == ("experts_up",)]
            self.assertTrue(ups and min(ups) > 300 * MB, f)
        # ... and by a dense FFN on both sides of the L2: GLM-4.5's three dense layers (up weights 5,120 x
        # 24,576 x 2 B = 251.7 MB) against DeepSeek-V2-Lite's one (2,048 x 21,888 x 2 B = 89.7 MB) and the
        # e28's (2,304 x 9,216 x 2 B = 42.5 MB); each gap is those weights and at most 1 MB of activations.
        for f, layers, weights in (("oos15-glm-4.5-r15-graph_b6.json.gz", 3, 5120 * 24576 * 2),
                                   ("oos15-deepseek-v2-lite-r15-eager_b3.json.gz", 1, 2048 * 21888 * 2),
                                   ("oos15-invented-e28-graph_b2.json.gz", 1, 2304 * 9216 * 2)):
            ups = [b for r, b in gaps[f] if r == ("up",)]
            self.assertEqual(len(ups), layers, f)
            self.assertTrue(all(weights < b < weights + 1 * MB for b in ups), f)
        # the e24's short decodes and the e24 at long context differ by the attention alone: their expert
        # gaps are in one band (< 25 MB), their attention gaps 4.5 MB against 908 MB
        for f in ("oos15-invented-e24-graph_b3.json.gz", "oos15-invented-e24-long-graph_b48.json.gz"):
            self.assertTrue(all(b < 25 * MB for r, b in gaps[f] if experts(r)), f)

    def test_oos15_puts_every_blended_kind_below_on_and_above_the_l2_ramp(self):
        # The simulator blends each rmsnorm, silu_mul, residual_add, topk, permute and unpermute between its
        # warm and cold records by X, the bytes moved since the previous op of its kind: warm up to half the
        # L2 (26.2 MB), cold from twice it (104.9 MB), a log ramp between (core/l2_reuse.hpp; the L2 50 MiB).
        # Round 15 is that rule's blind test, so over its 16 committed schedules every kind has ops on the
        # ramp and on both sides of it. The kinds a layer runs once (topk, permute, unpermute; silu_mul in
        # a layer without a shared expert or dense FFN) have X about a layer's bytes: on the ramp only in
        # the e24's decodes at batch 12 and 20 (a layer 34-109 MB), the e28's at batch 2 (78-94 MB) and
        # the first layer of the e24's short decodes (reaching back across the LM head, 31 MB); the norms
        # and residual adds, twice a layer, across the attention block or the FFN block.
        half, twice = 25 * 2 ** 20, 100 * 2 ** 20
        oset = oos.SETS["oos15"]
        counts = {k: [0, 0, 0] for k in L2_BLENDED}  # below, on, above the ramp
        ramp_steps = {k: set() for k in L2_BLENDED}
        for e in oos.entries(oset):
            for kind, x in bytes_since_previous_of_kind(committed_schedule(oset, e)["ranks"][0]["ops"]):
                band = 0 if x <= half else 2 if x >= twice else 1
                counts[kind][band] += 1
                if band == 1:
                    ramp_steps[kind].add(e["file"])
        for kind, (below, on, above) in counts.items():
            self.assertGreaterEqual(min(below, on, above), 6, (kind, below, on, above))
            self.assertGreaterEqual(len(ramp_steps[kind]), 4, (kind, sorted(ramp_steps[kind])))
        # the once-a-layer kinds on the ramp: the steps named above
        for kind in ("topk", "permute", "unpermute"):
            self.assertEqual(ramp_steps[kind], {"oos15-invented-e24-mid-graph_b12.json.gz",
                                                "oos15-invented-e24-mid-eager_b20.json.gz",
                                                "oos15-invented-e28-graph_b2.json.gz",
                                                "oos15-invented-e24-graph_b3.json.gz",
                                                "oos15-invented-e24-eager_b5.json.gz"}, kind)

    def test_oos16_is_19_schedules_at_shapes_no_earlier_round_ran_and_no_op_at_a_point(self):
        # decode eager: the invented e36 (b5, context 10,240), e44 (b9, 7,424) and e44 wide (b160, 2,304),
        # the MLA h40 (b6, 5,120), gpt-oss-20b (b12, 9,984), DeepSeek-V2-Lite (b272, 1,088) = 6; decode
        # graph: the e36 (b2, 24,576) and e36 wide (b136, 1,536), e44 (b3, 45,056), MLA h40 (b2, 16,640) and
        # h40 wide (b140, 1,280), round 15's e28 (b1, 38,912) and e24 (b4 and b7, 1,400), Qwen3-235B-A22B (b7,
        # 12,800), Mixtral-8x7B (b7, 3,328) = 10; prefills: the e36 (1 x 2,120), e44 (2 x 1,416), MLA h40 (1 x
        # 1,700) = 3. oos16-h100 runs the same schedules on the H100 platform; no step at a shape rounds 1-15
        # ran.
        self.assert_new_round("oos16", eager_decode=6, graph=10, prefill=3,
                              earlier=[1, 2, "oos4", "oos5", "oos6", "oos7", "oos8", "oos9", "oos10", "oos11",
                                       "oos12", "oos13", "oos14", "oos15"])
        # ... no op of any step (every layer, as committed) is a point of any points file (as round 15), and
        # none is an op of round 15's steps (measured blind before this round was designed; a first draft's
        # Qwen3-235B at batch 6 failed it: 48 routed rows of 1,536 is GLM-4.5's SiLU at batch 6; the e24 at batch
        # 2 too: its norms of 2 rows of 640 are round 15's e24 prefill's head norm)
        big, small = self.assert_no_op_at_a_point_or_of("oos16", POINTS_FILES, "oos15")
        # big: 3 prefills x 4 attentions + 19 steps x 4 layers x 2 expert GEMMs, less the dense first layers'
        # (the e28's, DeepSeek-V2-Lite's): 12 + 152 - 4
        self.assertEqual(big, 12 + 152 - 4)
        # small: a MoE layer runs 9 (attention norm and residual; FFN norm, router, top-k, permute, SiLU,
        # unpermute, residual), a dense layer 5, every step 3 more (embedding, head norm, sample). The MLA h40
        # adds a q norm and a kv norm and its shared expert's SiLU (12 a layer); DeepSeek-V2-Lite a kv norm (its
        # dense layer 6) and the shared SiLU (11). e24 x 2, e36 x 4, e44 x 4, gpt-oss, Mixtral, Qwen3: 13 x
        # (4 x 9 + 3); the e28: 5 + 3 x 9 + 3; the h40 x 4: 4 x (4 x 12 + 3); DeepSeek-V2-Lite: 6 + 3 x 11 + 3.
        self.assertEqual(small, 13 * 39 + 35 + 4 * 51 + 42)

    def test_decode_launch_mirrors_the_kernels_splits(self):
        # validate/oos/round_facts.py's attention_launch mirrors kernels/attention.cu (attention_splits, row
        # tiles, chunk) on 132 SMs; checked against the launches diagnosis-oos15-attention.md read off round
        # 15's ops. DeepSeek-V2-Lite b3 at 9,729 keys (MLA 16 heads, one 32-row tile): units 3, splits
        # min(ceil(528 / 3) = 176, ceil(9,729 / 256) = 39, 64) = 39, chunk ceil(9,729 / 39) = 250 -> 256 (32-key
        # tiles), blocks 117, split columns 39 x ceil(512 / 128) = 156. Qwen3-235B b10 at 4,609 (64/4, group 16:
        # one 16-row tile): units 40, splits min(14, 19) = 14, chunk 330 -> 384 (64-key tiles), 560 blocks. The
        # e24 b48 at 36,865 (10/2): units 96, splits min(6, 145) = 6, chunk 6,145 -> 6,208. The e28 b40 at 1,281:
        # units 80, splits min(7, 6) = 6. 272 units or more (2 x 132) never split.
        def gqa(batch, q, kv, d, keys, window=0):
            return {"batch": batch, "q_heads": q, "kv_heads": kv, "head_dim_qk": d, "head_dim_v": d, "prompt": 1,
                    "cached": keys - 1, "sliding_window": window}
        mla = {"batch": 3, "q_heads": 16, "kv_heads": 16, "head_dim_qk": 192, "head_dim_v": 128, "prompt": 1,
               "cached": 9728, "mla": {"kv_lora_rank": 512, "rope_dim": 64}}
        got = round_facts.attention_launch(mla, "attention_decode")
        self.assertEqual((got["units"], got["splits"], got["chunk"], got["blocks"], got["split_columns"]),
                         (3, 39, 256, 117, 156))
        got = round_facts.attention_launch(gqa(10, 64, 4, 128, 4609), "attention_decode")
        self.assertEqual((got["units"], got["splits"], got["chunk"], got["blocks"]), (40, 14, 384, 560))
        got = round_facts.attention_launch(gqa(48, 10, 2, 64, 36865), "attention_decode")
        self.assertEqual((got["splits"], got["chunk"]), (6, 6208))
        self.assertEqual(round_facts.attention_launch(gqa(40, 18, 2, 128, 1281), "attention_decode")["splits"], 6)
        self.assertEqual(round_facts.attention_launch(gqa(132, 16, 2, 256, 30000), "attention_decode")["splits"], 64 // 64)
        # a 128-key window (gpt-oss-20b's odd layers) leaves 128 keys: no split
        self.assertEqual(round_facts.attention_launch(gqa(12, 64, 8, 64, 9985, window=128), "attention_decode")["splits"], 1)
        # prefill: ceil(prompt x group / 64) tiles of 64 rows per KV head and sequence, never split: 40/8 heads at
        # one sequence of 768 tokens: ceil(768 x 5 / 64) = 60 x 8 = 480 blocks
        pre = dict(gqa(1, 40, 8, 128, 768), prompt=768, cached=0)
        got = round_facts.attention_launch(pre, "attention_prefill")
        self.assertEqual((got["tiles"], got["blocks"], got["splits"]), (60, 480, 1))

    def _oos16_launches(self):
        oset = oos.SETS["oos16"]
        out = {}
        for e in oos.entries(oset):
            ops = committed_schedule(oset, e)["ranks"][0]["ops"]
            out[e["file"][len("oos16-"):-len(".json.gz")]] = [
                (o["shape"], round_facts.attention_launch(o["shape"], o["kind"])) for o in ops
                if o["kind"] in ("attention_decode", "attention_prefill") and not o["shape"].get("sliding_window")]
        return out

    def test_oos16_decode_attention_splits_at_four_value_widths_and_unsplit_beside_them(self):
        # Aim (b): the combine kernel loops over the key splits, ceil(d_v / 128) value columns a thread, so its
        # time goes with splits x ceil(d_v / 128). The round's decodes split the keys 20-64 ways at d_v 64 (the
        # e44), 128 (the e28), 256 (the e36) and MLA's 512 (the h40 at 40 heads: two 32-row tiles), each beside an
        # unsplit decode of the same model at batch >= 136 (>= 264 units), where a fix of the combine must not
        # move the prediction. Splits = min(ceil(528 / units), ceil(keys / 256), 64):
        launches = self._oos16_launches()
        want = {  # step: (d_v, units, splits, split columns)
            "invented-e44-graph_b3": (64, 6, 64, 64),          # 1 tile x 2 KV heads x 3; 45,057 keys
            "invented-e44-eager_b9": (64, 18, 30, 30),         # ceil(528 / 18) = 30, ceil(7,425 / 256) = 30
            "invented-e28-long-graph_b1": (128, 2, 64, 64),    # 38,913 keys
            "invented-e36-graph_b2": (256, 4, 64, 128),        # 24,577 keys; 2 columns a thread
            "invented-e36-eager_b5": (256, 10, 41, 82),        # min(53, ceil(10,241 / 256) = 41)
            "invented-mla-h40-graph_b2": (512, 4, 64, 256),    # 2 tiles of 32 heads x 2; 16,641 keys
            "invented-mla-h40-eager_b6": (512, 12, 21, 84),    # min(44, ceil(5,121 / 256) = 21)
            "invented-e44-wide-eager_b160": (64, 320, 1, 0),   # >= 264 units: no split
            "invented-e36-wide-graph_b136": (256, 272, 1, 0),
            "invented-mla-h40-wide-graph_b140": (512, 280, 1, 0),
            "deepseek-v2-lite-r16-eager_b272": (512, 272, 1, 0),
        }
        for step, (dv, units, splits, cols) in want.items():
            (l,) = {(l["d_v"], l["units"], l["splits"], l["split_columns"]) for _, l in launches[step]}
            self.assertEqual(l, (dv, units, splits, cols), step)
        # every value width has a step of >= 20 splits, and the split columns span 30-256 (round 15's: 10-156)
        many = [want[s] for s in want if want[s][2] >= 20]
        self.assertEqual({dv for dv, _, _, _ in many}, {64, 128, 256, 512})
        self.assertEqual((min(c for *_, c in many), max(c for *_, c in many)), (30, 256))

    def test_oos16_grid_steps_sit_between_a_latency_bound_and_an_hbm_bound_record(self):
        # Aim (c): at a head configuration bench-ops measured, the grid corrects the form between the four H100
        # records around a shape. Each of these decodes lies strictly inside a batch x context rectangle of
        # records of its head configuration (Qwen3-235B's 64/4 at 128, gpt-oss-20b's 64/8 at 64, the e36's 16/2 at
        # 256; stream-launch records of the 14 files round 15 was predicted from), whose low-context corner at the
        # larger batch splits into chunks of <= 512 keys (latency-bound) and whose high-context corner streams
        # chunks of >= 1,984 keys (HBM-bound): different launches, which round 15's Qwen3-235B interpolated across
        # (+32%). (Leave-family-out drops a family's own head configurations, so these steps are read in the
        # all-records variant.)
        files = ["h100-2026-12-05-call3", "h100-2026-12-05-call4"] + [f"h100-2026-12-06-call{i}" for i in (1, 3, 4, 5, 6, 7, 8)]
        recs = {}
        for name in files:
            path = os.path.join(ROOT, "validate", "results", name, "ops.json.gz")
            with gzip.open(path, "rt") as f:
                for r in json.load(f).get("records", []):
                    if r["op"] == "attention_decode" and r["attn"] == "gqa" and r["window"] == 0 and r["launch"] == "stream":
                        recs.setdefault((r["q_heads"], r["kv_heads"], r["head_dim_v"]), set()).add((r["batch"], r["context"]))
        launches = self._oos16_launches()
        steps = {"qwen3-235b-a22b-r16-graph_b7": ((64, 4, 128), (1, 16), (2048, 32768)),
                 "gpt-oss-20b-r16-eager_b12": ((64, 8, 64), (1, 16), (2048, 32768)),
                 "invented-e36-graph_b2": ((16, 2, 256), (1, 16), (2048, 32768)),
                 "invented-e36-eager_b5": ((16, 2, 256), (1, 16), (2048, 32768))}
        for step, (heads, (b0, b1), (c0, c1)) in steps.items():
            (sh, l), *_ = launches[step]
            self.assertEqual((sh["q_heads"], sh["kv_heads"], sh["head_dim_v"]), heads, step)
            batch, keys = sh["batch"], sh["cached"] + 1
            self.assertTrue(b0 < batch < b1 and c0 < keys < c1, step)
            self.assertTrue({(b0, c0), (b1, c0), (b0, c1), (b1, c1)} <= recs[heads], step)
            self.assertFalse({(batch, c) for c in (c0, c1)} & recs[heads], step)
            corner = lambda b, c: round_facts.attention_launch(dict(sh, batch=b, cached=c), "attention_decode")
            self.assertLessEqual(corner(b1, c0)["chunk"], 512, step)
            self.assertGreaterEqual(corner(b1, c1)["chunk"], 1984, step)

    def test_oos16_prefill_tiles_fall_at_different_waves(self):
        # Aim (d): the kernel's prefill runs ceil(prompt x group / 64) x KV heads x batch tiles of 64 rows; on 132
        # SMs the e36 (16/2 heads of 256, one sequence of 2,120) has ceil(2,120 x 8 / 64) = 265 x 2 = 530 (4.02
        # waves: just over 4, where the H100's record at 2,048 tokens has 512, 3.88), the e44 (24/2 of 64, two of 1,416) ceil(1,416 x 12 / 64) = 266 x 2 x 2 = 1,064
        # (8.06: just over 8), the MLA h40 (40 heads, one of 1,700) ceil(1,700 / 64) = 27 x 40 = 1,080 (8.18).
        # prefill_tiles's own units (batch x q heads x ceil(prompt / 256)) are 16 x 9 = 144, 2 x 24 x 6 = 288 and
        # 40 x 7 = 280: 1.09, 2.18 and 2.12 of its waves, other points than the kernel's.
        launches = self._oos16_launches()
        got = {s: launches[s][0][1]["blocks"] for s in launches if s.endswith(("prefill_b1", "prefill_b2"))}
        self.assertEqual(got, {"invented-e36-prefill_b1": 530, "invented-e44-prefill_b2": 1064,
                               "invented-mla-h40-prefill_b1": 1080})

    def test_oos16_small_kernels_read_state_from_tiny_to_gigabytes_away(self):
        # Aim (a): a small kernel reads the activation the op just before it wrote or read, and state of its own
        # kind (a residual add's residual, a norm's weight, permute's routing) last touched a block or a layer
        # ago. Over the round every blended kind has ops whose bytes since the previous op of its kind (X) fall
        # below (<= 25 MiB), on (25-100 MiB) and above (>= 100 MiB) the ramp; the residual add and SiLU also
        # span the op just before them: SiLU after an up GEMM of 4.9 MB (the e24 at batch 4: 6 active experts of
        # 640 x 640 x 2 B = 0.82 MB) to 1.88 GB (Mixtral-8x7B at batch 7: 8 experts of 4,096 x 28,672 x 2 B =
        # 235 MB), the residual add after 14 KB (the e28 at batch 1: an unpermute of 1 x 2,304) to 67 MB (Qwen3-235B's
        # output projection, 8,192 x 4,096 x 2 B) with X from 4.9 MB (the e24 at batch 4) to 2.8 GB (Mixtral-8x7B).
        half, twice = 25 * 2 ** 20, 100 * 2 ** 20
        oset = oos.SETS["oos16"]
        counts = {k: [0, 0, 0] for k in L2_BLENDED}
        before = {k: [] for k in L2_BLENDED}
        for e in oos.entries(oset):
            ops = committed_schedule(oset, e)["ranks"][0]["ops"]
            for kind, x in bytes_since_previous_of_kind(ops):
                counts[kind][0 if x <= half else 2 if x >= twice else 1] += 1
            for kind, jb, x, _ in round_facts.small_kernel_bytes(ops):
                before[kind].append((jb, x))
        for kind, (below, on, above) in counts.items():
            self.assertGreaterEqual(min(below, on, above), 4, (kind, below, on, above))
        MB = 1e6
        silu = before["silu_mul"]
        self.assertLess(min(jb for jb, _ in silu), 10 * MB)
        self.assertGreater(max(jb for jb, _ in silu), 1000 * MB)
        res = before["residual_add"]
        self.assertLess(min(jb for jb, _ in res), 0.1 * MB)
        self.assertGreater(max(jb for jb, _ in res), 50 * MB)
        # the op just before tiny, the kind's state far back (the attention block between): residual adds after
        # < 1 MB with X > 1 GB; and the reverse, an op just before of > 1 GB (the SiLU's up GEMM)
        self.assertTrue(any(jb < 1 * MB and x > 1000 * MB for jb, x in res))
        self.assertTrue(any(jb > 1000 * MB for jb, _ in silu))
        self.assertTrue(any(x < 10 * MB for _, x in res))

    def test_oos17_is_19_schedules_at_shapes_no_earlier_round_ran_and_no_op_at_a_point(self):
        # decode eager: the invented e40 (b4, context 6,000) and e40 wide (b230, 1,000), the MLA h28 (b160, 1,536),
        # Qwen3-30B-A3B (b200, 900), GLM-4.5-Air (b70, 2,500), gpt-oss-120b (b48, 4,000) = 6; decode graph: the
        # e40 (b1, 20,480) and e40 wide (b100, 2,048), the h28 (b3, 12,288) and h28 wide (b250, 1,024), Qwen3-30B
        # (b40, 3,000), GLM-4.5-Air (b24, 9,000), Mixtral-8x22B (b20, 5,000), Qwen3-235B-A22B (b100, 1,536),
        # DeepSeek-V2-Lite (b180, 2,000) = 9; prefills: the e40 (1 x 1,800), the h28 (1 x 1,400), Qwen3-30B
        # (2 x 104), round 9's head-dim-256 model (3 x 520) = 4. oos17-h100 runs the same schedules on the H100
        # platform; no step at a shape rounds 1-16 ran.
        self.assert_new_round("oos17", eager_decode=6, graph=9, prefill=4,
                              earlier=[1, 2] + [f"oos{i}" for i in range(4, 17)])
        # ... no op of any step is a point of any points file, the points timed after round 16's runs
        # (validate/oos/after-runs) included, and none is an op of round 16's steps (measured before this round
        # was designed). First drafts failed it three ways: Qwen3-30B's 120-token prefill (residual adds of
        # 120 x 2,048 elements and a head norm of (1, 2,048) are s20/s21 cold points), the head-dim-256 prefill at
        # batch 2 (head norm (2, 4,096), an s20 point), and the e40 at a vocabulary of 72,000 (a sample of
        # (1, 72,000) is round 16's e28's).
        after = sorted(glob.glob(os.path.join(ROOT, "validate", "oos", "after-runs", "points-*.txt")))
        self.assertEqual([os.path.basename(p) for p in after], ["points-s23-router-sweep.txt", "points-s23-router.txt"])
        big, small = self.assert_no_op_at_a_point_or_of("oos17", POINTS_FILES + after, "oos16")
        # big: 4 prefills x 4 attentions + 19 steps x 4 layers x 2 expert GEMMs, less the dense first layers'
        # (DeepSeek-V2-Lite's, GLM-4.5-Air's twice): 16 + 152 - 6
        self.assertEqual(big, 16 + 152 - 6)
        # small: a MoE layer runs 9 (as round 16), a dense layer 5, every step 3 more. The MLA h28 adds a q norm,
        # a kv norm and its shared expert's SiLU (12 a layer); DeepSeek-V2-Lite a kv norm (its dense layer 6) and
        # the shared SiLU (11); GLM-4.5-Air the shared SiLU (10). e40 x 5, Qwen3-30B x 3, hd256, Mixtral-8x22B,
        # Qwen3-235B, gpt-oss-120b: 12 x (4 x 9 + 3); the h28 x 4: 4 x (4 x 12 + 3); DeepSeek-V2-Lite: 6 + 3 x 11 + 3;
        # GLM-4.5-Air x 2: 2 x (5 + 3 x 10 + 3).
        self.assertEqual(small, 12 * 39 + 4 * 51 + 42 + 2 * 38)

    def _oos17_decodes(self):
        oset = oos.SETS["oos17"]
        out = {}
        for e in oos.entries(oset):
            ops = committed_schedule(oset, e)["ranks"][0]["ops"]
            ls = {(l["units"], l["splits"], l["chunk"], l["blocks"], l["resident"]) for l in
                  (round_facts.attention_launch(o["shape"], o["kind"]) for o in ops
                   if o["kind"] == "attention_decode" and not o["shape"].get("sliding_window"))}
            if ls:
                (out[e["file"][len("oos17-"):-len(".json.gz")]],) = ls
        return out

    def test_oos17_decode_blocks_fall_below_at_and_past_a_round_of_resident_blocks(self):
        # Aim (a): decode_tiles prices full rounds of c x 132 resident blocks at the HBM rate and the last,
        # partial round at one block's own stream; round 16's Qwen3-235B and Mixtral-8x7B (b7: 532 and 560
        # blocks, 4 and 32 past one round of 528) were 41-43% slow. Resident blocks c: a 16-row GQA block of head
        # dim 128 takes 16 x 136 x 2 (Q) + 64 x 136 x 2 x 2 (K, V) + 16 x 68 x 4 + 16 x 72 x 2 + 16 x 12 = 46,016 B,
        # so floor(228 KiB / (46,016 + 1,024)) = 4 (128 threads: 16 by threads) -> 528; at head dim 64, 16 x 72 x 2
        # + 64 x 72 x 4 + 6,848 = 27,584 B -> 8 (1,056); MLA's 32-row latent block 32 x 584 x 2 x 2 + 32 x 36 x 4
        # + 32 x 40 x 2 + 32 x 12 = 82,304 B -> 2 (264). The round's decodes (units, splits, chunk keys, blocks, c):
        got = self._oos17_decodes()
        want = {
            "invented-e40-graph_b1": (6, 64, 384, 384, 4),         # 6 KV heads x 1; 20,481 keys: below one round
            "invented-e40-eager_b4": (24, 22, 320, 528, 4),        # ceil(528 / 24) = 22 splits: exactly one round
            "invented-e40-wide-graph_b100": (600, 1, 2112, 600, 4),    # unsplit: 528 + 72
            "invented-e40-wide-eager_b230": (1380, 1, 1024, 1380, 4),  # 2 x 528 + 324
            "invented-mla-h28-graph_b3": (3, 49, 256, 147, 2),     # ceil(12,289 / 256) = 49 splits: below one round
            "invented-mla-h28-eager_b160": (160, 4, 416, 640, 2),  # 2 x 264 + 112
            "invented-mla-h28-wide-graph_b250": (250, 3, 352, 750, 2),  # 2 x 264 + 222
            "qwen3-30b-a3b-r17-graph_b40": (160, 4, 768, 640, 4),  # 528 + 112
            "qwen3-30b-a3b-r17-eager_b200": (800, 1, 960, 800, 4),  # 528 + 272
            "glm-4.5-air-r17-eager_b70": (560, 1, 2560, 560, 4),   # 528 + 32 blocks of 2,560 keys
            "glm-4.5-air-r17-graph_b24": (192, 3, 3008, 576, 4),   # 528 + 48 of 3,008 keys
            "mixtral-8x22b-r17-graph_b20": (160, 4, 1280, 640, 4),  # 528 + 112
            "qwen3-235b-a22b-r17-graph_b100": (400, 1, 1600, 400, 4),  # below one round
            "gpt-oss-120b-r17-eager_b48": (384, 1, 4032, 384, 8),  # head dim 64: below one round of 1,056
            "deepseek-v2-lite-r17-graph_b180": (180, 3, 672, 540, 2),  # 2 x 264 + 12
        }
        self.assertEqual(got, want)
        # the blocks past the last full round span 0 (one exact round) to 324, and seven decodes are 12-112 past
        past = {s: b % (132 * c) for s, (_, _, _, b, c) in want.items() if b >= 132 * c}
        self.assertEqual((min(past.values()), max(past.values())), (0, 324))
        self.assertEqual(sorted(v for v in past.values() if 0 < v <= 112), [12, 32, 48, 72, 112, 112, 112])

    def test_oos17_wide_decodes_put_10_to_30_rows_on_an_expert(self):
        # Aim (b): round 16's fused grouped GEMMs at 10-30 rows an expert were 15-23% slow (and DeepSeek-V2-Lite
        # b272 11-20% fast). Rows an active expert, first MoE layer (sampled routing, seed 1; mean = batch x top-k /
        # experts): the e40 at b100 400 / 40 = 10 and b230 920 / 40 = 23; the h28 at b160 960 / 56 = 17.1 and b250
        # 1,500 / 56 = 26.8; DeepSeek-V2-Lite b180 1,080 / 64 = 16.9; Qwen3-30B b200 1,600 / 128 = 12.5.
        oset = oos.SETS["oos17"]
        means = {}
        for e in oos.entries(oset):
            doc = committed_schedule(oset, e)
            gg = [k for _, k in schedule_op_keys(doc) if k[0] == "grouped_gemm"]
            means[e["file"][len("oos17-"):-len(".json.gz")]] = sum(gg[0][3]) / len(gg[0][3])
        wide = {s: round(m, 1) for s, m in means.items() if 10 <= m <= 30}
        self.assertEqual(wide, {"invented-e40-wide-graph_b100": 10.0, "invented-e40-wide-eager_b230": 23.0,
                                "invented-mla-h28-eager_b160": 17.1, "invented-mla-h28-wide-graph_b250": 26.8,
                                "deepseek-v2-lite-r17-graph_b180": 16.9, "qwen3-30b-a3b-r17-eager_b200": 12.5,
                                "qwen3-30b-a3b-r17-prefill_b2": 13.0})

    def test_oos18_is_20_schedules_at_shapes_no_earlier_round_ran_and_no_op_at_a_point(self):
        # decode eager: Qwen1.5-MoE-A2.7B (b52, context 2,500), the hd256 e36 wide (b300, 1,200), the MLA h20 wide
        # (b260, 1,024), the MLA h36 (b2, 6,144), round 7's hd128-kv4 (b3, 12,000), DeepSeek-V2-Lite (b44,
        # 5,000), GLM-4.5-Air (b9, 7,000) = 7; decode graph: Qwen1.5 (b5, 4,096) and Qwen1.5 wide (b420, 600),
        # the e36 (b2, 16,384), the h20 (b5, 10,240), the h36 wide (b480, 640), round 11's hd176 (b5, 8,192),
        # round 5's hd112 (b5, 6,000), Qwen3-30B-A3B (b7, 7,000), Mixtral-8x7B (b12, 3,500) = 9; prefills:
        # Qwen1.5 (5 x 144), the e36 (1 x 500), the h20 (1 x 300), the h36 (1 x 500) = 4. oos18-h100 runs the
        # same schedules on the H100 platform; no step at a shape rounds 1-17 ran.
        self.assert_new_round("oos18", eager_decode=7, graph=9, prefill=4,
                              earlier=[1, 2] + [f"oos{i}" for i in range(4, 18)])
        # The device harness runs every schedule file of the folder (validate/gputool/phases.py, schedule_files),
        # so the folder holds the 20 and no draft's left behind (`oos.py schedules` writes, never deletes).
        folder = os.path.join(ROOT, oos.SETS["oos18"].schedules)
        self.assertEqual(sorted(f for f in os.listdir(folder) if f != "index.json"),
                         sorted(e["file"] for e in committed_index(oos.SETS["oos18"])))
        # ... no op of any step is a point of any points file, the points timed after round 16's runs
        # (validate/oos/after-runs) included, and none is an op of round 17's steps (measured before this round
        # was designed). First drafts failed it six ways: DeepSeek-V2-Lite at b40 (norms of (40, 2,048), round
        # 17's Qwen3-30B b40), the h36 at b3 (q and kv norms of (3, 768) and (3, 512), round 17's h28 b3),
        # Qwen1.5 at b48 and b6 (SiLU of (192, 1,408) and (24, 1,408), round 17's GLM-4.5-Air b24), round 11's
        # hd176 at b4 (a sample of (4, 131,072), an s17 cold point), and Qwen1.5's prefill at 2 x 360, 3 x 240
        # and 4 x 180 (samples of (2, 151,936) and (3, 151,936), round 17's; a head norm of (4, 2,048), an s21
        # point).
        after = sorted(glob.glob(os.path.join(ROOT, "validate", "oos", "after-runs", "points-*.txt")))
        self.assertEqual([os.path.basename(p) for p in after], ["points-s23-router-sweep.txt", "points-s23-router.txt"])
        big, small = self.assert_no_op_at_a_point_or_of("oos18", POINTS_FILES + after, "oos17")
        # big: 4 prefills x 4 attentions + 20 steps x 4 layers x 2 expert GEMMs, less the dense layers'
        # (DeepSeek-V2-Lite's and GLM-4.5-Air's first, round 5's hd112's first two): 16 + 160 - 8
        self.assertEqual(big, 16 + 160 - 8)
        # small: every step 3 (embedding, head norm, sample); a MoE layer 9 (norms 2, residual adds 2, router,
        # top-k, permute, SiLU, unpermute), a dense layer 5. A shared expert adds its SiLU (Qwen1.5: 10 a layer;
        # GLM-4.5-Air: 10), MLA a q norm and a kv norm (the h20 and h36, with their shared experts: 12;
        # DeepSeek-V2-Lite, without a q LoRA, a kv norm only: 11, its dense layer 6). The e36 x 3, hd128-kv4, hd176,
        # Mixtral-8x7B, Qwen3-30B: 7 x (4 x 9 + 3); Qwen1.5 x 4: 4 x (4 x 10 + 3); the h20 and h36 x 6:
        # 6 x (4 x 12 + 3); DeepSeek-V2-Lite 6 + 3 x 11 + 3; GLM-4.5-Air 5 + 3 x 10 + 3; the hd112 2 x 5 + 2 x 9 + 3.
        self.assertEqual(small, 7 * 39 + 4 * 43 + 6 * 51 + 42 + 38 + 31)

    def _oos18_by_step(self, fn):
        oset = oos.SETS["oos18"]
        return {e["file"][len("oos18-"):-len(".json.gz")]: fn(committed_schedule(oset, e)["ranks"][0]["ops"])
                for e in oos.entries(oset)}

    def test_oos18_routers_off_8_at_widths_the_sweep_did_not_take_beside_aligned_controls(self):
        # Aim (a): round 17's router sweep (H100) found every expert count n % 8 != 0 slow at few rows (bf16
        # output rows of 2n bytes, not 16-byte aligned: 18.7-18.9 us against 4.9 us at width 1,792, 6.7-7.4
        # against 5.8-6.0 at 4,096). The router GEMM of every step (rows m, width k, experts n), the same in
        # every layer:
        got = self._oos18_by_step(lambda ops: {(o["shape"]["m"], o["shape"]["k"], o["shape"]["n"]) for o in ops
                                               if o["kind"] == "gemm" and o["role"] == "router"})
        want = {
            "qwen1.5-moe-a2.7b-graph_b5": (5, 2048, 60), "qwen1.5-moe-a2.7b-eager_b52": (52, 2048, 60),
            "qwen1.5-moe-a2.7b-wide-graph_b420": (420, 2048, 60), "qwen1.5-moe-a2.7b-prefill_b5": (720, 2048, 60),
            "invented-hd256-e36-graph_b2": (2, 3072, 36), "invented-hd256-e36-wide-eager_b300": (300, 3072, 36),
            "invented-hd256-e36-prefill_b1": (500, 3072, 36),
            "invented-mla-h20-graph_b5": (5, 5120, 52), "invented-mla-h20-wide-eager_b260": (260, 5120, 52),
            "invented-mla-h20-prefill_b1": (300, 5120, 52),
            "invented-mla-h36-eager_b2": (2, 2304, 44), "invented-mla-h36-wide-graph_b480": (480, 2304, 44),
            "invented-mla-h36-prefill_b1": (500, 2304, 44),
            "invented-gqa-hd176-r18-graph_b5": (5, 4864, 20),
            # aligned controls
            "invented-gqa-hd112-r18-graph_b5": (5, 3072, 32), "invented-gqa-hd128-kv4-r18-eager_b3": (3, 5120, 48),
            "qwen3-30b-a3b-r18-graph_b7": (7, 2048, 128), "deepseek-v2-lite-r18-eager_b44": (44, 2048, 64),
            "mixtral-8x7b-r18-graph_b12": (12, 4096, 8), "glm-4.5-air-r18-eager_b9": (9, 4096, 128),
        }
        self.assertEqual(got, {s: {r} for s, r in want.items()})
        off = {(k, n) for m, k, n in want.values() if n % 8}
        self.assertEqual(off, {(2048, 60), (3072, 36), (5120, 52), (2304, 44), (4864, 20)})
        # no width of an off-8 router is one any router point took at an off-8 count (the sweep's 1,792 and
        # 4,096, the s23 points' 1,280 and 1,792, round 14's 2,560 x 20) ...
        swept = set()
        for path in POINTS_FILES + glob.glob(os.path.join(ROOT, "validate", "oos", "after-runs", "points-*.txt")):
            with open(path) as f:
                swept |= {(k, n) for kind, m, k, n in (key for key in point_keys(f.readlines()) if key[0] == "router")}
        self.assertEqual({k for k, n in swept if n % 8}, {1280, 1792, 2560, 4096})
        self.assertFalse({k for k, _ in off} & {k for k, n in swept if n % 8})
        # ... three of the five widths have an aligned control in the round (2,048: 128 and 64 experts; 3,072: 32;
        # 5,120: 48), and every off-8 count runs at 2-5 rows (the cliff's rows) and at 260-720
        aligned = {k for m, k, n in want.values() if n % 8 == 0}
        self.assertEqual({k for k, _ in off} & aligned, {2048, 3072, 5120})
        for k, n in off:
            rows = sorted(m for m, kk, nn in want.values() if (kk, nn) == (k, n))
            self.assertLessEqual(rows[0], 5)
            if k != 4864:
                self.assertTrue(260 <= rows[-1] <= 720, (k, n, rows))

    def test_oos18_wide_steps_put_25_to_60_rows_on_an_expert_at_n_and_k_no_record_holds(self):
        # Aim (b): grouped GEMMs past ~25 rows an expert (round 17's h28 b250, 26.8 rows, was -10% in its GEMMs:
        # the L2 rule's second tile no longer free). Mean rows an active expert, first MoE layer (sampled
        # routing, seed 1; tokens x top-k / experts, every expert active): Qwen1.5 b420 1,680 / 60 = 28 and its
        # prefill of 5 x 144 2,880 / 60 = 48; the e36 b300 1,200 / 36 = 33.3 and its 500-token prefill 2,000 / 36
        # = 55.6; the h20 b260 1,560 / 52 = 30 and its 300-token prefill 1,800 / 52 = 34.6; the h36 b480 1,920 /
        # 44 = 43.6 and its 500-token prefill 2,000 / 44 = 45.5.
        def first(ops):
            rows = [r for r in next(o for o in ops if o["kind"] == "grouped_gemm")["shape"]["rows"] if r > 0]
            return round(sum(rows) / len(rows), 1)
        means = self._oos18_by_step(first)
        wide = {s: m for s, m in means.items() if m >= 25}
        self.assertEqual(wide, {"qwen1.5-moe-a2.7b-wide-graph_b420": 28.0, "qwen1.5-moe-a2.7b-prefill_b5": 48.0,
                                "invented-hd256-e36-wide-eager_b300": 33.3, "invented-hd256-e36-prefill_b1": 55.6,
                                "invented-mla-h20-wide-eager_b260": 30.0, "invented-mla-h20-prefill_b1": 34.6,
                                "invented-mla-h36-wide-graph_b480": 43.6, "invented-mla-h36-prefill_b1": 45.5})
        # Their expert GEMMs (gate and up fused: n = 2 x width, k = hidden; down: n = hidden, k = width) are at
        # n and k no bench-ops record holds (the grid's n and k are powers of two, 12,288 and 24,576).
        nk = self._oos18_by_step(lambda ops: {(o["shape"]["n"], o["shape"]["k"]) for o in ops
                                              if o["kind"] == "grouped_gemm"})
        held = {(r["n"], r["k"]) for r in bench_records("grouped_gemm")}
        self.assertGreater(len(held), 50)
        for s in wide:
            self.assertFalse(nk[s] & held, s)
        self.assertEqual(set().union(*(nk[s] for s in wide)),
                         {(2816, 2048), (2048, 1408), (2048, 3072), (3072, 1024), (2560, 5120), (5120, 1280),
                          (1792, 2304), (2304, 896)})

    def test_oos18_prefills_at_head_configurations_no_record_holds_one_under_a_wave(self):
        # Aim (c): round 17's prefill attention was +57% at head dim 256 (32/8) and +42% for MLA at 28 heads.
        # Here head dim 256 at 24/4 (group 6: 500 x 6 = 3,000 rows, ceil(3,000 / 64) = 47 tiles x 4 KV heads =
        # 188), MLA prefill (36 and 20 heads of (192, 128), MHA: ceil(500 / 64) x 36 = 288 and ceil(300 / 64)
        # x 20 = 100 tiles, under one wave of 132 SMs), and Qwen1.5's MHA at 16 heads of 128 (5 x ceil(144 /
        # 64) x 16 = 240): (q heads, KV heads, d_qk, d_v) and the 64-row tiles.
        def prefill(ops):
            a = [o["shape"] for o in ops if o["kind"] == "attention_prefill"]
            return {((s["q_heads"], s["kv_heads"], s["head_dim_qk"], s["head_dim_v"]),
                     round_facts.attention_launch(s, "attention_prefill")["blocks"]) for s in a}
        got = {s: v for s, v in self._oos18_by_step(prefill).items() if v}
        self.assertEqual(got, {"invented-hd256-e36-prefill_b1": {((24, 4, 256, 256), 188)},
                               "invented-mla-h36-prefill_b1": {((36, 36, 192, 128), 288)},
                               "invented-mla-h20-prefill_b1": {((20, 20, 192, 128), 100)},
                               "qwen1.5-moe-a2.7b-prefill_b5": {((16, 16, 128, 128), 240)}})
        held = {(r["q_heads"], r["kv_heads"], r["head_dim_qk"], r["head_dim_v"]) for r in bench_records("attention_prefill")}
        # the three aimed at hold no record at their head configuration; Qwen1.5's 16/16 of 128 is a measured one
        self.assertEqual({s for s, v in got.items() if next(iter(v))[0] in held}, {"qwen1.5-moe-a2.7b-prefill_b5"})
        self.assertEqual(sorted(round(b / 132, 2) for v in got.values() for _, b in v), [0.76, 1.42, 1.82, 2.18])

    def test_the_l2_rule_reaches_back_into_the_previous_step(self):
        # norm (1) | gemm 100 | norm (2) | gemm 10 | residual (4) | norm (3), bytes in brackets: the first
        # norm reaches back to the last, which ends the step: 0 bytes after it and none before the first,
        # X = 0; the second 100; the third 10 + 4 = 14. The one residual add counts the whole step less
        # itself: 1 + 100 + 2 + 10 + 3 = 116.
        def op(kind, b):
            return {"kind": kind, "bytes": b}
        ops = [op("rmsnorm", 1.0), op("gemm", 100.0), op("rmsnorm", 2.0), op("gemm", 10.0),
               op("residual_add", 4.0), op("rmsnorm", 3.0)]
        self.assertEqual(bytes_since_previous_of_kind(ops),
                         [("rmsnorm", 0.0), ("rmsnorm", 100.0), ("residual_add", 116.0), ("rmsnorm", 14.0)])

    def test_oos14_samples_spread_over_rows_and_vocabularies_off_the_records(self):
        # Aim (a): every step ends in a greedy sample over [rows, vocab]. The round's samples take 2 to
        # 240 rows (a decode's batch, a prefill's sequences) over ten vocabularies from Mixtral's 32,000 to
        # the invented 256,000, and no sample is at a vocabulary the committed sample records hold (8,192,
        # 32,768, 131,072, 262,144 on both cards), so each is read between records.
        records = set()
        for path in ("h100-2026-12-05-call3/ops.json.gz", "h100-2026-12-05-call4/ops.json.gz",
                     "h100-2026-12-06-call6/ops.json.gz", "h200-2026-12-04/ops.json"):
            full = os.path.join(ROOT, "validate", "results", path)
            with (gzip.open(full, "rt") if path.endswith(".gz") else open(full)) as f:
                records |= {r["vocab"] for r in json.load(f)["records"] if r["op"] == "sample"}
        self.assertEqual(records, {8192, 32768, 131072, 262144})
        oset = oos.SETS["oos14"]
        samples = []
        for e in oos.entries(oset):
            (s,) = [o["shape"] for o in committed_schedule(oset, e)["ranks"][0]["ops"] if o["kind"] == "sample"]
            self.assertEqual(s["rows"], e["batch"], e["file"])
            self.assertNotIn(s["vocab"], records, e["file"])
            samples.append((s["rows"], s["vocab"]))
        vocabs = {v for _, v in samples}
        self.assertEqual(vocabs, {32000, 48000, 64000, 100000, 102400, 151936, 176000, 201088, 202048, 256000})
        self.assertEqual((min(r for r, _ in samples), max(r for r, _ in samples)), (2, 240))

    def test_the_card_a_result_names_comes_from_the_platform(self):
        # "nvswitch-1x-h100" -> H100 (the result heading said "one H200" for every platform); a name
        # with a suffix keeps the card; a name without "<n>x-<card>" is given back as it is.
        self.assertEqual(oos.platform_card("nvswitch-1x-h100"), "H100")
        self.assertEqual(oos.platform_card("nvswitch-4x-h200-nop2p"), "H200")
        self.assertEqual(oos.platform_card("hgx-8x-b200"), "B200")
        self.assertEqual(oos.platform_card("my-box"), "my-box")

class Points(unittest.TestCase):
    def test_bench_ops_rows_per_expert(self):
        # uniform: 80 tokens on 4 experts, 20 each; 10 on 4: 3, 3, 2, 2 (the first two take the rest).
        self.assertEqual(expert_rows(80, 4, "uniform"), [20, 20, 20, 20])
        self.assertEqual(expert_rows(10, 4, "uniform"), [3, 3, 2, 2])
        # zipf: 160 tokens on 8 experts, weights 1/(e+1) summing to 2.717857: 58.87, 29.43, 19.62, 14.72,
        # 11.77, 9.81, 8.41, 7.36; floors sum to 155, the 5 left go to the largest remainders, experts 0
        # (.87), 5 (.81), 4 (.77), 3 (.72), 2 (.62): 59, 29, 20, 15, 12, 10, 8, 7.
        self.assertEqual(expert_rows(160, 8, "zipf"), [59, 29, 20, 15, 12, 10, 8, 7])
        # sparse: 16 experts, 2 active (0 and 8), 33 tokens: 17 and 16.
        self.assertEqual(expert_rows(33, 16, "sparse"), [17] + [0] * 7 + [16] + [0] * 7)

    def test_the_session_16_points_parse_to_their_ops(self):
        # grouped GEMMs: 7 n x 4 k x 3 expert counts x 3 totals = 252, plus 6 (n, k) pairs (n 4096,
        # 16384, 32768 x k 2048, 4096) x 2 expert counts x 5 totals (one zipf) = 60, all distinct: 312.
        # prefill attention: 10 head configurations x 5 prompts = 50, 3 configurations x 3 other dims = 9,
        # 2 at batch 2 and 2 with a cache: 63.
        with open(POINTS_S16) as f:
            keys = point_keys(f.readlines())
        self.assertEqual(sum(k[0] == "grouped_gemm" for k in keys), 312)
        self.assertEqual(sum(k[0] == "attention_prefill" for k in keys), 63)
        self.assertIn(("grouped_gemm", 2048, 1024, (20, 20, 20, 20)), keys)
        self.assertIn(("attention_prefill", 40, 8, 128, 128, 768, 768, 1, 0), keys)

    def test_an_op_at_a_point_is_found_and_a_neighbour_is_not(self):
        # A schedule whose first expert GEMM puts 20 rows on each of 4 active experts (one inactive) at
        # n 2048, k 1024 is the point "experts=4 tokens=80 uniform" there; 21, 19, 20, 20 (also 80 rows
        # on 4) is not; a 768-token prefill at 40/8 heads of 128 is a point, at 769 tokens it is not.
        points = point_keys(["grouped_gemm bf16 fused n=2048 k=1024 experts=4 tokens=80 uniform (4 active)",
                             "# a comment", "",
                             "attention_prefill gqa batch=1 heads=40/8 dims=128/128 prompt=768 cached=0"])
        def gg(rows):
            return {"kind": "grouped_gemm", "name": "g", "shape": {"n": 2048, "k": 1024, "rows": rows}}
        def ap(prompt):
            return {"kind": "attention_prefill", "name": "a",
                    "shape": {"q_heads": 40, "kv_heads": 8, "head_dim_qk": 128, "head_dim_v": 128,
                              "prompt": prompt, "cached": 0, "batch": 1, "sliding_window": 0}}
        doc = {"ranks": [{"ops": [gg([20.0, 0.0, 20.0, 20.0, 20.0]), gg([21.0, 19.0, 20.0, 20.0]), ap(768), ap(769),
                                  {"kind": "rmsnorm", "name": "n", "shape": {"rows": 1, "width": 8}}]}]}
        hits = [key in points for _, key in schedule_op_keys(doc)]
        self.assertEqual(hits, [True, False, True, False])
        # a kind the comparison does not know is refused, not passed as no match
        with self.assertRaises(ValueError):
            point_keys(["attention_decode gqa batch=1 heads=8/8 dims=128/128 context=128"])

    def test_a_small_kernel_at_a_point_is_found_and_a_neighbour_is_not(self):
        # The s20 points' forms: a plain point and its inputs=cold twin are one op; a residual add's rows
        # are its elements (2 x 4,096 = 8,192); the router is the gemm of role router (m rows, k width, n
        # experts); top-k's width is its experts. A graph_gap line is a kernel chain, no op: skipped.
        points = point_keys(["rmsnorm rows=2 width=4096", "rmsnorm rows=2 width=4096 inputs=cold",
                             "residual_add rows=8192", "router rows=6 width=5120 experts=16",
                             "topk rows=2 width=8 k=2 experts=8", "sample rows=16 vocab=131072",
                             "graph_gap kernels=16 distinct=2"])
        self.assertEqual(len(points), 5)
        def op(kind, shape, role="x"):
            return {"kind": kind, "name": kind, "role": role, "shape": shape}
        doc = {"ranks": [{"ops": [
            op("rmsnorm", {"rows": 2.0, "width": 4096}), op("rmsnorm", {"rows": 3.0, "width": 4096}),
            op("residual_add", {"elements": 8192.0}), op("residual_add", {"elements": 12288.0}),
            op("gemm", {"batch": 1, "m": 6, "k": 5120, "n": 16}, "router"),
            op("gemm", {"batch": 1, "m": 6, "k": 5120, "n": 16}, "qkv"),  # a big GEMM: not compared here
            op("topk", {"tokens": 2, "experts": 8, "k": 2}), op("topk", {"tokens": 2, "experts": 8, "k": 1}),
            op("sample", {"rows": 16, "vocab": 131072}), op("sample", {"rows": 16, "vocab": 131073})]}]}
        hits = [key in points for _, key in schedule_small_op_keys(doc)]
        self.assertEqual(hits, [True, False, True, False, True, True, False, True, False])

    def test_big_op_gaps_sum_the_big_ops_between_small_kernels(self):
        # norm | qkv 10 + core 20 | residual | norm | router | up 5 | act | down 3 | residual | head 7 | sample:
        # gaps (qkv, core) 30 at layer 0, (experts_up,) 5, (experts_down,) 3, (lm_head,) 7 at layer -1;
        # no gap between two small kernels with nothing between them.
        def op(kind, role, layer, b=0.0):
            return {"kind": kind, "role": role, "layer": layer, "bytes": b}
        ops = [op("rmsnorm", "norm", 0), op("gemm", "qkv", 0, 10.0), op("attention_decode", "core", 0, 20.0),
               op("residual_add", "residual", 0), op("rmsnorm", "norm", 0), op("gemm", "router", 0, 1.0),
               op("grouped_gemm", "experts_up", 0, 5.0), op("silu_mul", "experts_act", 0),
               op("grouped_gemm", "experts_down", 0, 3.0), op("residual_add", "residual", 0),
               op("gemm", "lm_head", -1, 7.0), op("sample", "sample", -1)]
        self.assertEqual(big_op_gaps(ops), [(("qkv", "core"), 0, 30.0), (("experts_up",), 0, 5.0),
                                            (("experts_down",), 0, 3.0), (("lm_head",), -1, 7.0)])


class Calibration(unittest.TestCase):
    def test_variants_ask_for_collectives_and_leave_out_the_family_as_named(self):
        oset = oos.SETS[2]
        by = {v.name: v for v in oset.variants}
        ops = ["a/ops.json", "b/ops.json"]
        cal = oos.calibrate_argv("moesim", oset, by["leave-family-out"], ["m1", "m2"], ops, "out.yaml")
        self.assertEqual(cal[:9], ["moesim", "calibrate", "--platform", "nvswitch-2x-h200", "-o", "out.yaml",
                                   "--sms", "132", "--op-bench"])
        self.assertEqual(cal[cal.index("--nccl-tests") + 1:][:5], list(oset.nccl_tests))
        self.assertEqual(cal[-4:], ["--exclude-model", "m1", "--exclude-model", "m2"])
        bare = oos.calibrate_argv("moesim", oset, by["leave-family-out-uncalibrated-collectives"], ["m1"], ops, "o")
        self.assertNotIn("--nccl-tests", bare)
        self.assertEqual(bare[-2:], ["--exclude-model", "m1"])
        fit = oos.calibrate_argv("moesim", oset, by["all-records"], ["m1"], ops, "o")
        self.assertNotIn("--exclude-model", fit)
        self.assertIn("--nccl-tests", fit)
        # the one-GPU set has no collectives to calibrate
        self.assertTrue(all(not v.collectives for v in oos.SETS[1].variants))
        # decode attention's form goes to calibrate only when asked for
        self.assertNotIn("--decode-attention-form", cal)
        tiles = oos.calibrate_argv("moesim", oset, by["all-records"], ["m1"], ops, "o", "decode_tiles")
        self.assertEqual(tiles[tiles.index("--decode-attention-form") + 1], "decode_tiles")
        # earlier rounds' runs go to calibrate only when given, every file after --bracket-runs
        self.assertNotIn("--bracket-runs", cal)
        br = oos.calibrate_argv("moesim", oset, by["all-records"], ["m1"], ops, "o", None, ["r/a.json", "r/b.json"])
        self.assertEqual(br[br.index("--bracket-runs") + 1:][:2], ["r/a.json", "r/b.json"])
        # prefill attention's form likewise: only when asked for
        self.assertNotIn("--prefill-attention-form", cal)
        pk = oos.calibrate_argv("moesim", oset, by["all-records"], ["m1"], ops, "o", None, (), "prefill_kernel_tiles")
        self.assertEqual(pk[pk.index("--prefill-attention-form") + 1], "prefill_kernel_tiles")

    def test_bracket_run_files_are_every_run_of_the_calls_sorted(self):
        # Two calls: c1 holds runs/x.eager.json and runs/a.graph.json plus a .txt log, c2 runs/b.eager.json:
        # the three .json files, sorted by path (c1's a, c1's x, c2's b).
        with tempfile.TemporaryDirectory() as tmp:
            for rel in ("c1/runs/x.eager.json", "c1/runs/a.graph.json", "c1/runs/x.eager.txt", "c2/runs/b.eager.json"):
                os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
                open(os.path.join(tmp, rel), "w").close()
            got = oos.bracket_run_files([os.path.join(tmp, "c2"), os.path.join(tmp, "c1")])
            self.assertEqual([os.path.relpath(p, tmp) for p in got],
                             ["c1/runs/a.graph.json", "c1/runs/x.eager.json", "c2/runs/b.eager.json"])

    def test_collective_logs_are_those_of_the_platform_calibration(self):
        # platforms/calibration/nvswitch-2x-h200.yaml says which logs its collectives came from;
        # the calibrated variant uses the same five, which are committed.
        with open(os.path.join(ROOT, "platforms", "calibration", "nvswitch-2x-h200.yaml")) as f:
            source = re.search(r'^source: "moesim calibrate --nccl-tests ([^"]*?) --', f.read(), re.M).group(1)
        logs = oos.SETS[2].nccl_tests
        self.assertEqual(source.split(), [os.path.basename(p) for p in logs])
        for p in logs:
            self.assertTrue(os.path.exists(os.path.join(ROOT, p)), p)


class Compare(unittest.TestCase):
    def test_a_prediction_meets_the_run_in_its_own_mode(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "runs"))
            for name in ["s-graph_tp2_b1.p2p-on.graph", "s-graph_tp2_b1.p2p-on.eager", "s-graph_tp2_b1.p2p-off.graph"]:
                open(os.path.join(d, "runs", name + ".json"), "w").close()
            graph = {"file": "s-graph_tp2_b1.json.gz", "mode": "graph"}
            self.assertEqual(oos.measured_run(d, graph), os.path.join(d, "runs", "s-graph_tp2_b1.p2p-on.graph.json"))
            self.assertIsNone(oos.measured_run(d, {"file": "s-eager_tp2_b1.json.gz", "mode": "eager"}))

    def test_collective_classes_are_summed_into_one(self):
        # all_reduce 1 + all_to_all 0.5 + p2p 0.25 predicted = 1.75; measured 2 + 1 + 0.5 = 3.5
        d = {"by_class": [{"name": "GEMM", "predicted": 3.0, "measured": 4.0},
                          {"name": "all_reduce", "predicted": 1.0, "measured": 2.0},
                          {"name": "all_to_all", "predicted": 0.5, "measured": 1.0},
                          {"name": "p2p", "predicted": 0.25, "measured": 0.5}]}
        g = oos.grouped_classes(d)
        self.assertEqual(sorted(g), ["GEMM", "collectives"])
        self.assertAlmostEqual(g["collectives"]["predicted"], 1.75, places=12)
        self.assertAlmostEqual(g["collectives"]["measured"], 3.5, places=12)
        self.assertEqual(g["GEMM"]["measured"], 4.0)

    @staticmethod
    def _timeline(raw, plain_last_end):
        """A one-rank timeline whose unscaled event brackets are `raw` [(start, end), ...] in us, scaled
        as the harness scales it: every time by plain last end / unscaled last end."""
        scale = plain_last_end / raw[-1][1]
        evs = [{"op": i, "rank": 0, "stream": 0, "ready": s * 1e-6 * scale, "start": s * 1e-6 * scale,
                "sync": s * 1e-6 * scale, "end": e * 1e-6 * scale} for i, (s, e) in enumerate(raw)]
        return {"events": evs, "measurement": {"event_scale": scale, "step_time_median": plain_last_end * 1e-6}}

    def _additive(self, doc):
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "m.json"), os.path.join(d, "a.json")
            with open(src, "w") as f:
                json.dump(doc, f)
            self.assertEqual(oos.additive_attribution(src, dst), dst)
            with open(dst) as f:
                return [(e["start"] * 1e6, e["end"] * 1e6) for e in json.load(f)["events"]]

    def test_additive_attribution_takes_the_same_event_cost_off_every_op(self):
        # unscaled brackets [1, 6], [7, 27], [28, 33] (5, 20 and 5 us, gaps of 1 us); the plain run
        # ends at 24 us, so the events cost (33 - 24) / 3 = 3 us per op. Additive: durations 2, 17, 2,
        # each later op 3 us earlier per op before it: [1, 3], [4, 21], [22, 24], gaps still 1 us.
        # (Scaled by 24/33 instead, the 5 us ops would keep 3.64 us and the 20 us op 14.5 us.)
        got = self._additive(self._timeline([(1, 6), (7, 27), (28, 33)], 24))
        for (s, e), (ws, we) in zip(got, [(1, 3), (4, 21), (22, 24)]):
            self.assertAlmostEqual(s, ws, places=9)
            self.assertAlmostEqual(e, we, places=9)

    def test_additive_attribution_never_makes_an_op_negative(self):
        # brackets 1, 20 and 5 us, plain end 24 of 30 unscaled ([0, 1], [2, 22], [25, 30]): 6 us to take
        # off. min(E, 1) + min(E, 20) + min(E, 5) = 6 gives 1 + 2E = 6, E = 2.5: durations 0, 17.5, 2.5;
        # op 1 starts 1 us earlier, op 2 3.5 us earlier: [0, 0], [1, 18.5], [21.5, 24].
        got = self._additive(self._timeline([(0, 1), (2, 22), (25, 30)], 24))
        for (s, e), (ws, we) in zip(got, [(0, 0), (1, 18.5), (21.5, 24)]):
            self.assertAlmostEqual(s, ws, places=6)
            self.assertAlmostEqual(e, we, places=6)

    def test_additive_attribution_leaves_several_ranks_alone(self):
        doc = self._timeline([(1, 6), (7, 27)], 20)
        doc["events"][1]["rank"] = 1
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "m.json")
            with open(src, "w") as f:
                json.dump(doc, f)
            self.assertIsNone(oos.additive_attribution(src, os.path.join(d, "a.json")))

    def _instrument(self, events):
        """instrument_split of a predicted one-rank timeline given as [(ready, start, end), ...] in us."""
        doc = {"events": [{"op": i, "rank": 0, "stream": 0, "ready": r * 1e-6, "start": s * 1e-6, "sync": s * 1e-6,
                           "end": e * 1e-6} for i, (r, s, e) in enumerate(events)]}
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "p.json"), os.path.join(d, "i.json")
            with open(src, "w") as f:
                json.dump(doc, f)
            if oos.instrument_split(src, dst) is None:
                return None
            with open(dst) as f:
                return [(e["ready"] * 1e6, e["start"] * 1e6, e["sync"] * 1e6, e["end"] * 1e6)
                        for e in json.load(f)["events"]]

    def test_instrument_split_moves_a_launch_wait_inside_the_op(self):
        # An eager step as the simulator predicts it, boundary 1.45 us: op 0 waits for the first kernel
        # launch (3.83 us) and its boundary, starts at 5.28, runs 2 us to 7.28; op 1 starts a boundary
        # after it (8.73) and ends at 10.73; op 2 (a cuBLASLt GEMM) waits 4.0 us for its call past the
        # boundary: starts at 10.73 + 1.45 + 4.0 = 16.18, runs 10 us to 26.18; op 3 is shorter than the
        # boundary (1.0 us: gap 1.0, it ends where it starts), 26.18 -> 27.18; op 4 at the boundary,
        # 27.18 + 1.45 = 28.63 to 30.63. start - ready sorted: 1.0, 1.45, 1.45, 5.28, 5.45: median 1.45.
        # Instrument: host is min(start - ready, 1.45): op 0 starts at 0 + 1.45 (its bracket 1.45 -> 7.28,
        # 5.83 us: the launch inside), op 2 at 10.73 + 1.45 = 12.18 (bracket 14 us), op 3 keeps its 1.0 us,
        # ops 1 and 4 do not move; every end stays, so the step (30.63) does not move.
        pred = [(0, 5.28, 7.28), (7.28, 8.73, 10.73), (10.73, 16.18, 26.18), (26.18, 27.18, 27.18),
                (27.18, 28.63, 30.63)]
        want = [(0, 1.45, 1.45, 7.28), (7.28, 8.73, 8.73, 10.73), (10.73, 12.18, 12.18, 26.18),
                (26.18, 27.18, 27.18, 27.18), (27.18, 28.63, 28.63, 30.63)]
        got = self._instrument(pred)
        for g, w in zip(got, want):
            for a, b in zip(g, w):
                self.assertAlmostEqual(a, b, places=6)
        # host before: 5.28 + 1.45 + 5.45 + 1.0 + 1.45 = 14.63 us; after: 1.45 * 4 + 1.0 = 6.8 us, the
        # 7.83 us of launch waits (3.83 + 4.0) now in ops 0 and 2
        self.assertAlmostEqual(sum(s - r for r, s, _, _ in got), 6.8, places=6)

    def test_instrument_split_leaves_several_ranks_alone(self):
        doc = [(0, 5.0, 6.0), (6.0, 7.0, 8.0)]
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "p.json")
            with open(src, "w") as f:
                json.dump({"events": [{"op": i, "rank": i, "stream": 0, "ready": r, "start": s, "sync": s, "end": e}
                                      for i, (r, s, e) in enumerate(doc)]}, f)
            self.assertIsNone(oos.instrument_split(src, os.path.join(d, "i.json")))

    def test_error_and_noise(self):
        # two calls measured 100 and 104 us: mean 102, noise (104 - 100) / 102 = 0.0392157;
        # predicted 90: error 90 / 102 - 1 = -0.117647
        self.assertAlmostEqual(oos.step_error(90e-6, [100e-6, 104e-6]), 90 / 102 - 1, places=12)
        self.assertAlmostEqual(oos.spread([100e-6, 104e-6]), 4 / 102, places=12)
        self.assertIsNone(oos.spread([100e-6]))

    def test_summary_per_plan_for_a_multi_plan_set(self):
        def row(plan, err, phase="decode", mode="eager"):
            return {"variant": "v", "plan": plan, "phase": phase, "mode": mode, "error": err, "noise": None,
                    "iteration_spread": 0.01, "classes": {}}
        rows = [row("tp2", -0.10), row("tp2", 0.30), row("ep2", 0.05, mode="graph")]
        s = oos.summarise(rows, ["v"], ["ep2", "tp2"])
        # all: |errors| 0.10, 0.30, 0.05 -> median 0.10, worst 0.30; tp2: median of 0.10 and 0.30 = 0.20
        self.assertAlmostEqual(s["v: all"]["median_abs_error"], 0.10, places=12)
        self.assertAlmostEqual(s["v: all"]["worst_abs_error"], 0.30, places=12)
        self.assertAlmostEqual(s["v: tp2"]["median_abs_error"], 0.20, places=12)
        self.assertEqual(s["v: ep2"]["runs"], 1)
        self.assertNotIn("v: prefill", s)
        self.assertIsNone(s["v: all"]["median_noise"])
        # one plan: no per-plan groups
        self.assertNotIn("v: tp2", oos.summarise(rows[:2], ["v"], ["tp2"]))


if __name__ == "__main__":
    unittest.main()
