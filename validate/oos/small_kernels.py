#!/usr/bin/env python3
"""Small kernels of a round, predicted against measured, summed per kind and launch mode.

    validate/oos/small_kernels.py PRED_DIR 'RUNS_GLOB' [--title T]

PRED_DIR holds a prediction's *.pred.json.gz (e.g. validate/results/oos15-h100-predictions-v1-2026-12-07/
leave-family-out); RUNS_GLOB matches the measured sample folders (each with runs/). Each small kernel's
measured time is the median over the samples of its additive attribution (oos.py's additive_attribution:
the event bracket less the run's event cost per op). Prints a markdown table: per launch mode and kind,
the kernels counted, the predicted and measured sums (us, one instance of each step) and the error."""
import argparse
import collections
import glob
import gzip
import importlib.util
import json
import os
import statistics
import tempfile

_spec = importlib.util.spec_from_file_location(
    "oos", os.path.join(os.path.dirname(os.path.abspath(__file__)), "oos.py"))
oos = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oos)

SMALL = {"rmsnorm", "residual_add", "silu_mul", "topk", "permute", "unpermute"}


def kind_of(event):
    if event["name"].endswith("router"):
        return "router"
    return event["kind"] if event["kind"] in SMALL else None


def measured_ops(run_json):
    with tempfile.TemporaryDirectory() as t:
        out = os.path.join(t, "a.json")
        if oos.additive_attribution(run_json, out) is None:
            return {}
        with open(out) as f:
            return {e["op"]: e["end"] - e["start"] for e in json.load(f)["events"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pred_dir")
    ap.add_argument("runs_glob")
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    samples = sorted(glob.glob(a.runs_glob))
    pred_dir = os.path.normpath(a.pred_dir)
    variant = os.path.basename(pred_dir)
    with open(os.path.dirname(pred_dir) + ".json") as f:
        entries = [r for r in json.load(f)["results"] if r["variant"] == variant]
    sums = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for r in entries:
        mode = r["mode"]
        with gzip.open(os.path.join(pred_dir, r["file"].replace(".json.gz", ".pred.json.gz"))) as f:
            events = json.load(f)["events"]
        meas = collections.defaultdict(list)
        for s in samples:
            run = oos.measured_run(s, r)
            if run:
                for op, t in measured_ops(run).items():
                    meas[op].append(t)
        for e in events:
            k = kind_of(e)
            if k is None or e["op"] not in meas:
                continue
            p, m = (e["end"] - e["start"]) * 1e6, statistics.median(meas[e["op"]]) * 1e6
            for key in ((mode, k), (mode, "all small"), ("both", k), ("both", "all small")):
                sums[key][0] += p
                sums[key][1] += m
                sums[key][2] += 1
    if a.title:
        print(f"{a.title}\n")
    print("| mode | kind | kernels | predicted us | measured us | error |")
    print("|---|---|---:|---:|---:|---:|")
    order = {"both": 0, "eager": 1, "graph": 2}
    for (mode, k) in sorted(sums, key=lambda x: (order[x[0]], x[1] != "all small", x[1])):
        p, m, n = sums[(mode, k)]
        print(f"| {mode} | {k} | {n} | {p:.1f} | {m:.1f} | {p / m - 1:+.1%} |")


if __name__ == "__main__":
    main()
