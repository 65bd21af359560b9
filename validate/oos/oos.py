#!/usr/bin/env python3
"""Out-of-sample validation on one GPU (issue 10): schedules, leave-one-family-out predictions, and
the comparison with measured runs, noise floor beside every error. Debian's python3 only.

  validate/oos/oos.py schedules --moesim build/cli/moesim
        validate/oos/schedules/<study>_b<batch>.json.gz and index.json (study, batch, family, mode)
  validate/oos/oos.py predict --moesim build/cli/moesim --op-bench OPS.json [OPS.json...] --name NAME
        for every family F: `moesim calibrate --op-bench` leaving out every record of F's shapes,
        then `moesim run --timeline` of F's schedules with that calibration. Writes
        validate/results/NAME.{json,md} and the predicted timelines (NAME/*.pred.json.gz).
        Commit these BEFORE measuring.
  validate/oos/oos.py compare --moesim build/cli/moesim --predictions NAME --runs DIR [DIR...] --out OUT
        each measured run (DIR/runs/<schedule>.p2p-on.<mode>.json, from `validate/gpu_tool.py
        gpu-call --phases runs --schedules validate/oos/schedules`) against its prediction with
        `moesim diff`; with two or more DIRs (separate calls), the noise floor per run. Writes
        validate/results/OUT.{json,md}.
  validate/oos/oos.py bands --moesim build/cli/moesim --op-bench OPS.json [OPS.json...] --comparison CMP --out OUT
        each leave-family-out schedule of validate/results/CMP.json by its dominant compute provenance
        (its family's leave-family-out calibration), |step error| grouped by provenance and launch
        mode: validate/results/OUT.json, the numbers error-bands.yaml carries.
"""
import argparse
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
PLATFORM = "nvswitch-1x-h200"
CLASSES = ["GEMM", "attention", "other compute", "host"]


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
    """name, batches, phase, mode (eager | graph | prefill) of one study file (the few keys we wrote)."""
    with open(path) as f:
        text = f.read()
    name = re.search(r"^name: (\S+)$", text, re.M).group(1)
    batches = [int(b) for b in re.search(r"^batch: \[([^\]]*)\]$", text, re.M).group(1).split(",")]
    phase = re.search(r"^phase: (\S+)$", text, re.M).group(1)
    graphs = re.search(r"cuda_graphs: (true|false)", text).group(1) == "true"
    mode = name.rsplit("-", 1)[1]
    return {"name": name, "batches": batches, "phase": phase, "cuda_graphs": graphs, "mode": mode}


def entries():
    """One entry per schedule: file, study path, study name, model, family, batch, phase, mode."""
    fams = families()
    out = []
    for path in sorted(glob.glob(os.path.join(OOS, "studies", "*.yaml"))):
        s = study_facts(path)
        stem = s["name"][len("oos1-"):].rsplit("-", 1)[0]
        model, fam = fams[stem]
        for b in s["batches"]:
            out.append({"file": f"{s['name']}_b{b}.json.gz", "study": os.path.relpath(path, ROOT),
                        "name": s["name"], "model": model, "family": fam, "batch": b, "phase": s["phase"],
                        "mode": "graph" if s["cuda_graphs"] else "eager", "cuda_graphs": s["cuda_graphs"]})
    return out


def run(argv, **kw):
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"oos.py: {' '.join(argv)} failed (exit {r.returncode}): {r.stderr.strip()[:400]}")
    return r.stdout


def cmd_schedules(a):
    d = os.path.join(OOS, "schedules")
    os.makedirs(d, exist_ok=True)
    index = []  # a list of entries with "file", as validate/gputool/phases.py's matrix_index reads it
    with tempfile.TemporaryDirectory() as tmp:
        for e in entries():
            raw = os.path.join(tmp, "s.json")
            run([a.moesim, "schedule", e["study"], "--plan", "tp1", "--batch", str(e["batch"]), "-o", raw,
                 "--cuda-graphs" if e["cuda_graphs"] else "--eager"])
            with open(raw, "rb") as f, gzip.GzipFile(os.path.join(d, e["file"]), "wb", mtime=0) as g:
                g.write(f.read())
            index.append({k: e[k] for k in ("file", "study", "name", "model", "family", "batch", "phase", "mode")})
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(index)} schedules and index.json in {os.path.relpath(d, ROOT)}")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def by_class(diff_json):
    return {c["name"]: c for c in diff_json["by_class"]}


def predict_one(a, e, cal, tmp, out_dir):
    pred = os.path.join(tmp, e["file"].replace(".json.gz", ".pred.json"))
    argv = [a.moesim, "run", e["study"], "--plan", "tp1", "--batch", str(e["batch"]), "--platform", PLATFORM,
            "--calibration", cal, "--timeline", pred, "--cuda-graphs" if e["cuda_graphs"] else "--eager"]
    run(argv)
    # the predicted step and its classes: the timeline diffed against itself
    dj = os.path.join(tmp, "self.diff.json")
    run([a.moesim, "diff", pred, pred, "--json", dj])
    with open(dj) as f:
        d = json.load(f)
    with open(pred, "rb") as f, gzip.GzipFile(os.path.join(out_dir, os.path.basename(pred) + ".gz"), "wb",
                                              mtime=0) as g:
        g.write(f.read())
    return {"step_s": d["predicted_step"], "classes": {k: v["predicted"] for k, v in by_class(d).items()}}


def cmd_predict(a):
    es = entries()
    out_dir = os.path.join(ROOT, "validate", "results", a.name)
    os.makedirs(out_dir, exist_ok=True)
    fams = sorted({e["family"] for e in es})
    members = {f: sorted({e["model"] for e in es if e["family"] == f}) for f in fams}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("leave-family-out", "all-records"):
            for fam in fams:
                # all records: one calibration for every family (a fit); else one per family
                cal = os.path.join(tmp, f"cal-{variant}-{fam if variant == 'leave-family-out' else 'all'}.yaml")
                if not os.path.exists(cal):
                    argv = [a.moesim, "calibrate", "--platform", PLATFORM, "-o", cal, "--sms", "132",
                            "--op-bench", *a.op_bench]
                    if variant == "leave-family-out":
                        for m in members[fam]:
                            argv += ["--exclude-model", m]
                    run(argv)
                for e in es:
                    if e["family"] != fam:
                        continue
                    sub = os.path.join(out_dir, variant)
                    os.makedirs(sub, exist_ok=True)
                    p = predict_one(a, e, cal, tmp, sub)
                    results.append(dict(e, variant=variant, calibration_sha=sha(cal), **p))
                    print(f"{variant:17s} {e['file']:52s} {p['step_s'] * 1e6:10.1f} us")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    doc = {"name": a.name, "platform": PLATFORM, "commit": commit,
           "op_bench": [os.path.relpath(p, ROOT) for p in a.op_bench],
           "op_bench_sha": [sha(p) for p in a.op_bench], "results": results}
    with open(os.path.join(ROOT, "validate", "results", a.name + ".json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    lines = [f"# Predictions {a.name} (committed before measuring)", "",
             f"Platform {PLATFORM}, simulator at {commit}; op models fitted by `moesim calibrate --op-bench "
             f"{' '.join(doc['op_bench'])}`: per family, leaving out every record of its models' shapes "
             "(leave-family-out, the out-of-sample numbers), and with all records (a fit, shown as such).", "",
             "| schedule | family | mode | leave-family-out us | all-records us |", "|---|---|---|---:|---:|"]
    lofo = {r["file"]: r for r in results if r["variant"] == "leave-family-out"}
    allr = {r["file"]: r for r in results if r["variant"] == "all-records"}
    for fname in sorted(lofo):
        r = lofo[fname]
        lines.append(f"| {fname[:-8]} | {r['family']} | {r['mode']}{' prefill' if r['phase'] == 'prefill' else ''} "
                     f"| {r['step_s'] * 1e6:.1f} | {allr[fname]['step_s'] * 1e6:.1f} |")
    with open(os.path.join(ROOT, "validate", "results", a.name + ".md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote validate/results/{a.name}.{{json,md}} ({len(results)} predictions)")


def measured_runs(d):
    """schedule file -> measured timeline path, for the runs compared (a graph schedule's eager run is
    a per-op reference only)."""
    out = {}
    for p in sorted(glob.glob(os.path.join(d, "runs", "*.json"))):
        base = os.path.basename(p)
        m = re.match(r"(.*)\.p2p-on\.(graph|eager)\.json$", base)
        if not m:
            continue
        label, mode = m.groups()
        graph_schedule = label.split("_b")[0].endswith("-graph")
        if graph_schedule != (mode == "graph"):
            continue
        out[label + ".json.gz"] = p
    return out


def pct(x):
    return f"{x * 100:+.1f}%"


def cmd_compare(a):
    with open(os.path.join(ROOT, "validate", "results", a.predictions + ".json")) as f:
        preds = json.load(f)
    pred_dir = os.path.join(ROOT, "validate", "results", a.predictions)
    calls = [measured_runs(d) for d in a.runs]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in preds["results"]:
            file = r["file"]
            got = [c[file] for c in calls if file in c]
            if not got:
                continue
            pred_gz = os.path.join(pred_dir, r["variant"], file.replace(".json.gz", ".pred.json.gz"))
            pred = os.path.join(tmp, "pred.json")
            with gzip.open(pred_gz, "rb") as g, open(pred, "wb") as f:
                f.write(g.read())
            diffs = []
            for m in got:
                dj = os.path.join(tmp, "d.json")
                run([a.moesim, "diff", pred, m, "--json", dj])
                with open(dj) as f:
                    diffs.append(json.load(f))
            meas = [d["measured_step"] for d in diffs]
            mean = statistics.fmean(meas)
            noise = (max(meas) - min(meas)) / mean if len(meas) > 1 else None
            cls = {}
            for c in CLASSES:
                mc = [by_class(d)[c]["measured"] for d in diffs if c in by_class(d)]
                pc = [by_class(d)[c]["predicted"] for d in diffs if c in by_class(d)]
                if mc and statistics.fmean(mc) > 0:
                    cls[c] = {"measured_s": statistics.fmean(mc), "predicted_s": pc[0],
                              "error": pc[0] / statistics.fmean(mc) - 1}
            rows.append({"file": file, "variant": r["variant"], "family": r["family"], "mode": r["mode"],
                         "phase": r["phase"], "batch": r["batch"], "predicted_s": r["step_s"],
                         "measured_s": meas, "error": r["step_s"] / mean - 1, "noise": noise, "classes": cls})
    summary = {}
    for variant in ("leave-family-out", "all-records"):
        for group, sel in (("all", lambda x: True), ("decode eager", lambda x: x["phase"] == "decode" and x["mode"] == "eager"),
                           ("decode graph", lambda x: x["phase"] == "decode" and x["mode"] == "graph"),
                           ("prefill", lambda x: x["phase"] == "prefill")):
            rs = [x for x in rows if x["variant"] == variant and sel(x)]
            if not rs:
                continue
            errs = [abs(x["error"]) for x in rs]
            noises = [x["noise"] for x in rs if x["noise"] is not None]
            s = {"runs": len(rs), "median_abs_error": statistics.median(errs), "worst_abs_error": max(errs),
                 "median_noise": statistics.median(noises) if noises else None,
                 "worst_noise": max(noises) if noises else None, "classes": {}}
            for c in CLASSES:
                ce = [abs(x["classes"][c]["error"]) for x in rs if c in x["classes"]]
                tot_m = sum(x["classes"][c]["measured_s"] for x in rs if c in x["classes"])
                tot_p = sum(x["classes"][c]["predicted_s"] for x in rs if c in x["classes"])
                if ce:
                    s["classes"][c] = {"median_abs_error": statistics.median(ce),
                                       "total_error": tot_p / tot_m - 1 if tot_m > 0 else None}
            summary[f"{variant}: {group}"] = s
    doc = {"predictions": a.predictions, "runs": [os.path.relpath(d, ROOT) for d in a.runs], "summary": summary,
           "rows": rows}
    with open(os.path.join(ROOT, "validate", "results", a.out + ".json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    L = [f"# {a.out}: out-of-sample step error on one H200", "",
         f"Predictions: `validate/results/{a.predictions}.md` (committed before the runs). Measured runs: "
         + ", ".join(f"`{d}`" for d in doc["runs"]) + " (separate calls: the noise floor is the spread of the "
         "same run between them, (max - min) / mean).", "",
         "| variant: runs | n | median abs error | worst | noise median | noise worst | GEMM | attention | other compute | host |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k, s in summary.items():
        cl = " | ".join(pct(s["classes"][c]["total_error"]) if c in s["classes"] and s["classes"][c]["total_error"] is not None
                        else "-" for c in CLASSES)
        nm = f"{s['median_noise'] * 100:.1f}%" if s["median_noise"] is not None else "-"
        nw = f"{s['worst_noise'] * 100:.1f}%" if s["worst_noise"] is not None else "-"
        L.append(f"| {k} | {s['runs']} | {s['median_abs_error'] * 100:.1f}% | {s['worst_abs_error'] * 100:.1f}% "
                 f"| {nm} | {nw} | {cl} |")
    L += ["", "Per op class: the error of the class's time summed over the runs (predicted / measured - 1).", "",
          "| schedule | variant | predicted us | measured us | error | noise | GEMM | attention | other | host |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in sorted(rows, key=lambda x: (x["variant"], x["file"])):
        cl = " | ".join(pct(x["classes"][c]["error"]) if c in x["classes"] else "-" for c in CLASSES)
        nz = f"{x['noise'] * 100:.1f}%" if x["noise"] is not None else "-"
        L.append(f"| {x['file'][:-8]} | {x['variant']} | {x['predicted_s'] * 1e6:.1f} | "
                 f"{statistics.fmean(x['measured_s']) * 1e6:.1f} | {pct(x['error'])} | {nz} | {cl} |")
    with open(os.path.join(ROOT, "validate", "results", a.out + ".md"), "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n".join(L[:6 + len(summary)]))


def cmd_bands(a):
    """Each compared schedule's dominant compute provenance (`moesim run --json` with its family's
    leave-family-out calibration), and the |step error| of a comparison grouped by it and by launch mode."""
    es = {e["file"]: e for e in entries()}
    with open(os.path.join(ROOT, "validate", "results", a.comparison + ".json")) as f:
        cmp = json.load(f)
    fams = sorted({e["family"] for e in es.values()})
    members = {f: sorted({e["model"] for e in es.values() if e["family"] == f}) for f in fams}
    rows = [r for r in cmp["rows"] if r["variant"] == "leave-family-out"]
    out_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fam in fams:
            cal = os.path.join(tmp, f"cal-{fam}.yaml")
            argv = [a.moesim, "calibrate", "--platform", PLATFORM, "-o", cal, "--sms", "132", "--op-bench", *a.op_bench]
            for m in members[fam]:
                argv += ["--exclude-model", m]
            run(argv)
            for r in rows:
                e = es[r["file"]]
                if e["family"] != fam:
                    continue
                js = os.path.join(tmp, "run.json")
                run([a.moesim, "run", e["study"], "--plan", "tp1", "--batch", str(e["batch"]), "--platform", PLATFORM,
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
    s.add_argument("--moesim", default="build/cli/moesim")
    r = sub.add_parser("predict")
    r.add_argument("--moesim", default="build/cli/moesim")
    r.add_argument("--op-bench", nargs="+", required=True)
    r.add_argument("--name", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--moesim", default="build/cli/moesim")
    c.add_argument("--predictions", required=True)
    c.add_argument("--runs", nargs="+", required=True)
    c.add_argument("--out", required=True)
    b = sub.add_parser("bands")
    b.add_argument("--moesim", default="build/cli/moesim")
    b.add_argument("--op-bench", nargs="+", required=True)
    b.add_argument("--comparison", required=True)
    b.add_argument("--out", required=True)
    a = p.parse_args()
    {"schedules": cmd_schedules, "predict": cmd_predict, "compare": cmd_compare, "bands": cmd_bands}[a.cmd](a)


if __name__ == "__main__":
    main()
