#!/usr/bin/env python3
"""Hindcast of an attention change on the H100 rounds 6-16: each round's committed predictions
rerun with another build (the same record files, bracket runs and decode form, leave-family-out
only), scored against the same measured runs with additive attribution, and the attention ops
summarised per step.

    validate/oos/hindcast_attention.py run --moesim BUILD --tag TAG [--rounds 11 12 ...] [--variant all-records]
    validate/oos/hindcast_attention.py table --tags BEFORE AFTER [--rounds ...] [--variant all-records]

`run` writes validate/results/oos{R}-h100-hindcast-{TAG}-predictions-{DATE}(.json, .md, /) and the
comparison oos{R}-h100-hindcast-{TAG}-{DATE}(.json, .md) (TAG-all-records for that variant: a fit with
every record, where the grid answers for the head configurations the records hold). `table` prints, per round and tag, the steps'
median / worst |error|, the attention class over the round, and the per-step attention error (the
comparison's attention column: decode and prefill attention ops, predicted over measured, summed per
step) as median / worst |error|; then each step's attention error, tag by tag. Every number is a
hindcast: the runs were measured before the change.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATE = "2026-12-07"
# The committed predictions of each round (its blind command) and the comparison that scored them:
# the record files, bracket runs and measured runs are taken from these.
COMMITTED = {
    6: ("oos6-h100-predictions-2026-12-05", "oos6-h100-2026-12-05"),
    7: ("oos7-h100-predictions-2026-12-05", "oos7-h100-2026-12-05"),
    8: ("oos8-h100-predictions-2026-12-05", "oos8-h100-2026-12-06"),
    9: ("oos9-h100-predictions-tiles-2026-12-06", "oos9-h100-tiles-2026-12-06"),
    10: ("oos10-h100-predictions-tiles-2026-12-06", "oos10-h100-tiles-2026-12-06"),
    11: ("oos11-h100-predictions-tiles-2026-12-06", "oos11-h100-tiles-2026-12-06"),
    12: ("oos12-h100-predictions-tiles-2026-12-06", "oos12-h100-tiles-2026-12-06"),
    13: ("oos13-h100-predictions-v2-points-2026-12-06", "oos13-h100-v2-2026-12-06"),
    14: ("oos14-h100-predictions-v2-2026-12-07", "oos14-h100-v2-2026-12-07"),
    15: ("oos15-h100-predictions-v1-2026-12-07", "oos15-h100-v1-2026-12-07"),
    16: ("oos16-h100-predictions-v1-2026-12-07", "oos16-h100-v1-2026-12-07"),
}
VARIANTS = ("leave-family-out", "all-records")


def load(name):
    with open(os.path.join(ROOT, "validate", "results", name + ".json")) as f:
        return json.load(f)


def names(r, tag, variant="leave-family-out"):
    tag = tag if variant == "leave-family-out" else f"{tag}-{variant}"
    return f"oos{r}-h100-hindcast-{tag}-predictions-{DATE}", f"oos{r}-h100-hindcast-{tag}-{DATE}"


def cmd_run(a):
    oos = os.path.join(ROOT, "validate", "oos", "oos.py")
    # a build copied out of its tree finds workloads/ and platforms/ through MOESIM_ROOT
    env = dict(os.environ, MOESIM_ROOT=os.environ.get("MOESIM_ROOT", ROOT))
    for r in a.rounds:
        pred_name, cmp_name = COMMITTED[r]
        pred, cmp = load(pred_name), load(cmp_name)
        new_pred, new_cmp = names(r, a.tag, a.variant)
        argv = [sys.executable, oos, "predict", "--set", f"oos{r}-h100", "--moesim", a.moesim, "--op-bench",
                *[os.path.join(ROOT, p) for p in pred["op_bench"]], "--variant", a.variant, "--name", new_pred]
        if pred.get("decode_attention_form"):
            argv += ["--decode-attention-form", pred["decode_attention_form"]]
        if a.prefill_attention_form:
            argv += ["--prefill-attention-form", a.prefill_attention_form]
        if pred.get("bracket_runs"):
            argv += ["--bracket-runs", *[os.path.join(ROOT, p) for p in pred["bracket_runs"]]]
        subprocess.run(argv, check=True, cwd=ROOT, env=env)
        subprocess.run([sys.executable, oos, "compare", "--moesim", a.moesim, "--predictions", new_pred, "--runs",
                        *[os.path.join(ROOT, p) for p in cmp["runs"]], "--out", new_cmp, "--attribution", "additive"],
                       check=True, cwd=ROOT, env=env)


def steps(doc, variant):
    """{schedule: (step error, attention error)} of the variant's rows of a comparison."""
    out = {}
    for row in doc["rows"]:
        if row["variant"] != variant:
            continue
        att = row["classes"]["attention"]
        out[row["file"].replace(".json.gz", "")] = (row["error"], att["error"] if att else None, row["phase"])
    return out


def stats(v):
    v = [abs(x) for x in v if x is not None]
    return (statistics.median(v), max(v)) if v else (float("nan"), float("nan"))


def pct(x):
    return f"{x * 100:.1f}%"


def cmd_table(a):
    for r in a.rounds:
        per = {t: steps(load(names(r, t, a.variant)[1]), a.variant) for t in a.tags}
        print(f"\nRound {r}, {a.variant} (hindcast)\n")
        print("| build | steps median / worst | attention per step, median / worst abs error | decodes only | prefills only |")
        print("|---|---|---|---|---|")
        for t in a.tags:
            s = stats(e for e, _, _ in per[t].values())
            at = stats(x for _, x, _ in per[t].values())
            dec = stats(x for _, x, ph in per[t].values() if ph == "decode")
            pre = stats(x for _, x, ph in per[t].values() if ph == "prefill")
            print(f"| {t} | {pct(s[0])} / {pct(s[1])} | {pct(at[0])} / {pct(at[1])} | {pct(dec[0])} / {pct(dec[1])} | "
                  f"{pct(pre[0])} / {pct(pre[1])} |")
        print("\n| step | " + " | ".join(f"{t} attention" for t in a.tags) + " | " +
              " | ".join(f"{t} step" for t in a.tags) + " |")
        print("|---|" + "---:|" * (2 * len(a.tags)))
        for s in sorted(per[a.tags[0]]):
            att = [per[t].get(s, (None, None, None))[1] for t in a.tags]
            st = [per[t].get(s, (None, None, None))[0] for t in a.tags]
            f = lambda x: "" if x is None else f"{x * 100:+.1f}%"
            print(f"| {s} | " + " | ".join(f(x) for x in att) + " | " + " | ".join(f(x) for x in st) + " |")


def main():
    p = argparse.ArgumentParser(prog="validate/oos/hindcast_attention.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--moesim", required=True)
    r.add_argument("--tag", required=True)
    r.add_argument("--variant", choices=VARIANTS, default=VARIANTS[0])
    r.add_argument("--prefill-attention-form", choices=("prefill_tiles", "prefill_kernel_tiles"),
                   help="passed to oos.py predict (default: the committed command's, prefill_tiles)")
    r.add_argument("--rounds", type=int, nargs="+", default=sorted(COMMITTED), choices=sorted(COMMITTED))
    t = sub.add_parser("table")
    t.add_argument("--tags", nargs="+", required=True)
    t.add_argument("--variant", choices=VARIANTS, default=VARIANTS[0])
    t.add_argument("--rounds", type=int, nargs="+", default=sorted(COMMITTED), choices=sorted(COMMITTED))
    a = p.parse_args()
    {"run": cmd_run, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
