#!/usr/bin/env python3
"""The host class of a blind round taken apart (issue 10; validate/oos/diagnosis-host.md). Debian's python3 only.

`oos.py compare --attribution additive` scores as host, per op, start - ready: on the measured side the
gap between the previous op's after-event and this op's before-event in the event-timed run (the
additive attribution keeps the gaps unscaled), on the predicted side the simulator's wait before the
op (the kernel boundary `graph_gap_us` plus any wait for the host's launch). This splits both into
the step's first op (the launch, or the graph launch, before anything runs) and the rest, per op,
and counts the measured gaps' shape: their mode, their mean and the share of ops whose gap is an
excursion (> 1.45 us, a little more than the event-to-event gap's 1.28 us plus its 32 ns ticks).

  validate/oos/host_split.py --predictions NAME --runs DIR [DIR...] [--reference DIR [DIR...]]

--reference: other rounds' runs (never the scored round's) whose mean gaps per launch mode stand in for
the predicted ones, first op and rest apart: how much of the class error the instrument's gaps
explain, a closure check, not a prediction.
"""
import argparse
import collections
import gzip
import importlib.util
import json
import os
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("oos", os.path.join(ROOT, "validate", "oos", "oos.py"))
oos = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oos)

EXCURSION_S = 1.45e-6
GROUPS = ("decode eager", "decode graph", "prefill")


def group_of(phase, mode):
    """A row's group, as oos.py's summary names them."""
    return "prefill" if phase == "prefill" else f"decode {mode}"


def raw_gaps(doc):
    """A measured timeline's gaps before each op in the event-timed run, unscaled (what the additive
    attribution keeps), in op order; None for a timeline of several ranks or streams or no scale."""
    m = doc.get("measurement", {})
    scale = m.get("event_scale")
    evs = sorted(doc.get("events", []), key=lambda e: e["op"])
    if not scale or not evs or len({(e["rank"], e["stream"]) for e in evs}) != 1:
        return None
    return [(e["start"] - e["ready"]) / scale for e in evs]


def host_parts(events):
    """(first op's wait, sum of the others' waits, their count) of a timeline's events: start - ready,
    as `moesim diff` counts a compute op's host time."""
    evs = sorted(events, key=lambda e: e["op"])
    waits = [e["start"] - e["ready"] for e in evs]
    return waits[0], sum(waits[1:]), len(waits) - 1


def gap_shape(gaps):
    """Mode (the median), mean and excursion share of a list of gaps, the step's first op left out."""
    rest = [g for gaps_ in gaps for g in gaps_[1:]]
    return {"ops": len(rest), "median": statistics.median(rest), "mean": statistics.fmean(rest),
            "excursions": sum(g > EXCURSION_S for g in rest) / len(rest),
            "first_mean": statistics.fmean(g[0] for g in gaps)}


def reference_gaps(dirs):
    """Mean gaps per launch mode (eager, graph) over other rounds' measured runs: first op and rest."""
    acc = collections.defaultdict(list)
    for d in dirs:
        rd = os.path.join(d, "runs")
        for name in sorted(os.listdir(rd)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(rd, name)) as f:
                doc = json.load(f)
            g = raw_gaps(doc)
            if g:
                acc[doc["measurement"]["mode"]].append(g)
    return {mode: gap_shape(v) for mode, v in acc.items()}


def split(predictions, runs, variant="leave-family-out"):
    """Per group: predicted and measured host, first op and rest, the predicted waits past the kernel
    boundary (launch waits), and the measured gaps' shape."""
    with open(os.path.join(ROOT, "validate", "results", predictions + ".json")) as f:
        preds = json.load(f)
    out = {}
    gaps = collections.defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for r in preds["results"]:
            if r["variant"] != variant:
                continue
            got = [p for p in (oos.measured_run(d, r) for d in runs) if p]
            if not got:
                continue
            pred_gz = os.path.join(ROOT, "validate", "results", predictions, variant,
                                   r["file"].replace(".json.gz", ".pred.json.gz"))
            with gzip.open(pred_gz, "rb") as f:
                pred = json.load(f)
            p_first, p_rest, n = host_parts(pred["events"])
            boundary = statistics.median(e["start"] - e["ready"] for e in pred["events"])  # the kernel boundary
            p_waits = sum(max(0.0, e["start"] - e["ready"] - boundary) for e in pred["events"][1:])
            m_first, m_rest = [], []
            for m in got:
                with open(m) as f:
                    gaps[group_of(r["phase"], r["mode"])].append(raw_gaps(json.load(f)))
                add = oos.additive_attribution(m, os.path.join(tmp, "additive.json"))
                with open(add or m) as f:
                    a, b, _ = host_parts(json.load(f)["events"])
                m_first.append(a)
                m_rest.append(b)
            g = out.setdefault(group_of(r["phase"], r["mode"]), collections.Counter())
            g["steps"] += 1
            g["ops"] += n
            g["p_first"] += p_first
            g["p_rest"] += p_rest
            g["p_waits"] += p_waits
            g["m_first"] += statistics.fmean(m_first)
            g["m_rest"] += statistics.fmean(m_rest)
            g["mode"] = r["mode"]
    return {k: dict(v, shape=gap_shape(gaps[k])) for k, v in out.items()}


def closure(g, ref):
    """The predicted host of a group with the reference rounds' mean gaps in place of the predicted
    ones (first op and rest apart), against the measured host: the share the instrument's gaps explain."""
    r = ref[g["mode"]]
    return g["steps"] * r["first_mean"] + g["ops"] * r["mean"]


def main():
    p = argparse.ArgumentParser(prog="validate/oos/host_split.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--predictions", required=True)
    p.add_argument("--runs", nargs="+", required=True)
    p.add_argument("--reference", nargs="+", help="other rounds' run folders (closure check)")
    a = p.parse_args()
    groups = split(a.predictions, a.runs)
    ref = reference_gaps(a.reference) if a.reference else None
    print("| group | steps | ops | host predicted us | measured us | error | first op predicted / measured us "
          "| rest per op predicted / measured us | predicted launch waits per op us "
          "| measured gaps: median / mean us, excursions | with the reference's gaps: host us, error |")
    print("|---|---:|---:|---:|---:|---:|---|---|---:|---|---|")
    tot = collections.Counter()
    for name in GROUPS + ("all",):
        if name == "all":
            g = tot
        elif name in groups:
            g = groups[name]
            for k in ("steps", "ops", "p_first", "p_rest", "p_waits", "m_first", "m_rest"):
                tot[k] += g[k]
        else:
            continue
        pred, meas = g["p_first"] + g["p_rest"], g["m_first"] + g["m_rest"]
        sh = g.get("shape")
        shape = (f"{sh['median'] * 1e6:.3f} / {sh['mean'] * 1e6:.3f}, {sh['excursions'] * 100:.1f}%" if sh else "-")
        cl = "-"
        if ref and name != "all":
            c = closure(g, ref)
            tot["closure"] += c
            cl = f"{c * 1e6:.1f}, {(c / meas - 1) * 100:+.1f}%"
        elif ref:
            cl = f"{tot['closure'] * 1e6:.1f}, {(tot['closure'] / meas - 1) * 100:+.1f}%"
        print(f"| {name} | {g['steps']} | {g['ops']} | {pred * 1e6:.1f} | {meas * 1e6:.1f} | {(pred / meas - 1) * 100:+.1f}% "
              f"| {g['p_first'] / g['steps'] * 1e6:.2f} / {g['m_first'] / g['steps'] * 1e6:.2f} "
              f"| {g['p_rest'] / g['ops'] * 1e6:.3f} / {g['m_rest'] / g['ops'] * 1e6:.3f} "
              f"| {g['p_waits'] / g['ops'] * 1e6:.3f} | {shape} | {cl} |")
    if ref:
        for mode, r in sorted(ref.items()):
            print(f"reference {mode}: {r['ops']} ops, gap median {r['median'] * 1e6:.3f} us, mean {r['mean'] * 1e6:.3f} us, "
                  f"excursions {r['excursions'] * 100:.1f}%, first op mean {r['first_mean'] * 1e6:.2f} us", file=sys.stderr)


if __name__ == "__main__":
    main()
