#!/usr/bin/env python3
"""The eager host class, op by op (issue 10; validate/oos/diagnosis-host-eager.md). Debian's python3 only.

Pairs each predicted op (leave-family-out) with the same op of every measured run of the round (the
additive attribution, `oos.py additive_attribution`) and sorts the ops of the one-GPU decode steps into
four kinds: the step's first op; ops with a predicted wait for the host's launch past the kernel boundary
(the step's median start - ready), cuBLASLt GEMMs and other kernels apart; the rest. Per kind, per op:
the predicted wait, host (start - ready) and compute (end - start) predicted and measured, and the slot
error (predicted host + compute less measured), which no split between the two can change.

  validate/oos/host_eager.py --round PREDICTIONS RUN_PREFIX [--round ...]

RUN_PREFIX: the round's call folders' common prefix under validate/results (e.g. oos15-h100-2026-12-07-sample).
"""
import argparse
import collections
import glob
import gzip
import importlib.util
import json
import os
import statistics
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("oos", os.path.join(ROOT, "validate", "oos", "oos.py"))
oos = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oos)
RESULTS = os.path.join(ROOT, "validate", "results")


def kind_of(i, wait, event):
    """The op's kind for this table: first, waited (gemm or other), or not waited; the kernel's own kind
    for the ops that do not wait, so the gaps before GEMMs show apart."""
    if i == 0:
        return "first op"
    if wait > 1e-9:
        return "waited, " + ("cuBLASLt GEMM" if event["kind"] == "gemm" else "other")
    return "not waited, " + ("cuBLASLt GEMM" if event["kind"] == "gemm" else "other")


def round_table(predictions, prefix, tmp):
    with open(os.path.join(RESULTS, predictions + ".json")) as f:
        preds = json.load(f)
    acc = collections.defaultdict(collections.Counter)
    for r in preds["results"]:
        if r["variant"] != "leave-family-out" or r["phase"] != "decode":
            continue
        pred_gz = os.path.join(RESULTS, predictions, r["variant"], r["file"].replace(".json.gz", ".pred.json.gz"))
        with gzip.open(pred_gz, "rb") as f:
            pe = sorted(json.load(f)["events"], key=lambda e: e["op"])
        boundary = statistics.median(e["start"] - e["ready"] for e in pe)
        for call in sorted(glob.glob(os.path.join(RESULTS, prefix + "*"))):
            path = oos.measured_run(call, r)
            if not path:
                continue
            with open(oos.additive_attribution(path, os.path.join(tmp, "a.json"))) as f:
                me = sorted(json.load(f)["events"], key=lambda e: e["op"])
            if len(me) != len(pe):
                raise SystemExit(f"{path}: {len(me)} ops against the prediction's {len(pe)}")
            for i, (p, m) in enumerate(zip(pe, me)):
                wait = max(0.0, p["start"] - p["ready"] - boundary)
                c = acc[(r["mode"], kind_of(i, wait, p))]
                c["n"] += 1
                c["wait"] += wait
                c["p_host"] += p["start"] - p["ready"]
                c["m_host"] += m["start"] - m["ready"]
                c["p_op"] += p["end"] - p["start"]
                c["m_op"] += m["end"] - m["start"]
    return acc


def main():
    p = argparse.ArgumentParser(prog="validate/oos/host_eager.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--round", nargs=2, action="append", required=True, metavar=("PREDICTIONS", "RUN_PREFIX"))
    a = p.parse_args()
    print("| predictions | mode | ops | n | wait us | host predicted / measured us | compute predicted / measured us "
          "| slot error us |")
    print("|---|---|---|---:|---:|---|---|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for predictions, prefix in a.round:
            for (mode, kind), c in sorted(round_table(predictions, prefix, tmp).items()):
                n = c["n"]
                us = lambda k: c[k] / n * 1e6  # noqa: E731
                slot = us("p_host") + us("p_op") - us("m_host") - us("m_op")
                print(f"| {predictions} | {mode} | {kind} | {n} | {us('wait'):.3f} | {us('p_host'):.3f} / "
                      f"{us('m_host'):.3f} | {us('p_op'):.3f} / {us('m_op'):.3f} | {slot:+.3f} |")


if __name__ == "__main__":
    main()
