"""Measured against simulated (dev machine): every measured timeline of a GPU call's results is
simulated again with `moesim run --timeline` (the same study, plan, batch and launch mode, on the
platform of its P2P setting) and compared with `moesim diff`, then written as
validate/results/<name>.{md,json}: the step error per run with the op class furthest off, the error
per op class, per-call errors of collectives of 1 MiB and more, median and worst, and how many runs
are within 5% and 15%.

What each run is comes from data, never from file names: a run's study, plan and batch from the call's
manifest (the facts of its job, read from the schedule's JSON), or for results without one, from the
matrix's index.json by the schedule the run recorded; its launch mode, CUDA-graph schedule and P2P
setting from the measured timeline itself.
"""

import datetime
import glob
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile


class CompareError(Exception):
    pass


def run_facts(res, index_path=None):
    """measured file -> {study, plan, batch, schedule} for every run of the results folder."""
    facts = {}
    manifest = os.path.join(res, "manifest.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            for job in json.load(f).get("jobs", []):
                fa = job.get("facts")
                if fa and "timeline" in fa:
                    facts[os.path.basename(fa["timeline"])] = fa
    index = {}
    if index_path:
        with open(index_path) as f:
            for e in json.load(f):
                name = e["file"][: -len(".gz")] if e["file"].endswith(".gz") else e["file"]
                index[name] = e
    return facts, index


def study_of(fa, index, measured, file):
    """The study, plan and batch to simulate a measured run with."""
    m = measured["measurement"]
    if file in fa:
        f = fa[file]
        if "study" in f:
            return f["study"], f["plan"], f["batch"], f["schedule"]
    key = os.path.basename(m["schedule"])
    if key in index:
        e = index[key]
        return e["study"], e["plan"], e["batch"], e["file"]
    raise CompareError(f"{file}: no study for schedule {key} (pass --index validate/matrix/<N>gpu/index.json, "
                       "written by `gpu_tool.py matrix`)")


def p2p_off(measured):
    return measured["measurement"].get("nccl_env", {}).get("NCCL_P2P_DISABLE") == "1"


def measured_on(res):
    """The day the results were measured: the manifest's start, else (older results, from the shell
    driver this tool replaced) the log line "== matrix-<N>gpu...: <ISO date>", else the modification
    date of system.json (in words that the tables of validate/results keep)."""
    manifest = os.path.join(res, "manifest.json")
    if os.path.exists(manifest):
        with open(manifest) as f:
            started = json.load(f).get("started", "")
        if re.match(r"^\d{4}-\d\d-\d\d", started):
            return started[:10]
    for log in sorted(glob.glob(os.path.join(res, "matrix-*.log"))):
        with open(log, errors="replace") as f:
            for line in f:
                hit = re.match(r"== matrix-\S*: (\d{4}-\d\d-\d\d)T", line)
                if hit:
                    return hit.group(1)
    mtime = os.path.getmtime(os.path.join(res, "system.json"))
    return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).strftime("%Y-%m-%d") + \
        " (date of system.json; no run_matrix.sh log in the results)"


def simulate(moesim, root, tmp, res, gpus, plat, plat_off, calibration, grouped, timed_ops, index_path, log=print):
    """Simulates and diffs every measured run into tmp; returns {run: platform}, {run: "on" | "off"}."""
    facts, index = run_facts(res, index_path)
    platform_of, p2p_of = {}, {}
    for m_path in sorted(glob.glob(os.path.join(res, "runs", "*.json"))):
        file = os.path.basename(m_path)
        run = file[: -len(".json")]
        with open(m_path) as f:
            measured = json.load(f)
        mm = measured["measurement"]
        # A graph schedule also runs eagerly (as a reference for its per-op times); the simulator has no
        # "graph-built schedule launched eagerly" mode, so that run is not compared.
        if mm.get("schedule_cuda_graphs") and mm["mode"] == "eager":
            continue
        study, plan, batch, schedule = study_of(facts, index, measured, file)
        if plan != measured.get("plan") or batch != mm["step"]["batch"]:
            raise CompareError(f"{file}: measured plan {measured.get('plan')} batch {mm['step']['batch']}, "
                               f"but its schedule's are {plan} and {batch}")
        p = plat_off if p2p_off(measured) else plat
        platform_of[run] = p
        p2p_of[run] = "off" if p2p_off(measured) else "on"
        args = [moesim, "run", study, "--plan", plan, "--batch", str(batch), "--platform", p,
                "--cuda-graphs" if mm["mode"] == "graph" else "--eager", "--calibration", calibration,
                "--timeline", os.path.join(tmp, run + ".pred.json")]
        if grouped:
            args += ["--set", f"engine.grouped_gemm={grouped}"]
        if timed_ops and mm["mode"] == "eager":
            args += ["--set", "engine.timed_ops=true"]
        subprocess.run(args, cwd=root, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(tmp, run + ".diff.txt"), "w") as out:
            subprocess.run([moesim, "diff", os.path.join(tmp, run + ".pred.json"), m_path, "--json",
                            os.path.join(tmp, run + ".diff.json")], cwd=root, check=True, stdout=out)
        # the schedule, for the bytes of each collective (per-call errors)
        src = os.path.join(root, "validate", "matrix", f"{gpus}gpu", schedule)
        for cand in (src, src + ".gz" if not src.endswith(".gz") else src):
            if os.path.exists(cand):
                opener = gzip.open if cand.endswith(".gz") else open
                with opener(cand, "rb") as f, open(os.path.join(tmp, run + ".schedule.json"), "wb") as g:
                    g.write(f.read())
                break
    return platform_of, p2p_of


def calibration_used(calibration, p, root):
    if calibration == "none":
        return "none"
    if calibration == "auto":
        f = f"platforms/calibration/{p}.yaml"
        return f if os.path.exists(os.path.join(root, f)) else "none (no " + f + ")"
    return calibration


def tables(tmp, res, name, plat, plat_off, calibration, grouped, gpus, timed_ops, platform_of, p2p_of, root,
           driver_env=""):
    """The md text and the JSON of the comparison, in the layout of the tables in validate/results."""
    with open(os.path.join(res, "system.json")) as f:
        system = json.load(f)
    on = measured_on(res)
    plats = sorted(set(platform_of.values()))
    cal_text = "; ".join(f"{p}: {calibration_used(calibration, p, root)}" for p in plats)
    uncalibrated = all(calibration_used(calibration, p, root).startswith("none") for p in plats)

    rows, classes = [], {}
    for f in sorted(glob.glob(os.path.join(tmp, "*.diff.json"))):
        with open(f) as fh:
            d = json.load(fh)
        run = os.path.basename(f)[: -len(".diff.json")]
        p2p = "-" if gpus == "1" else p2p_of[run]
        worst = max(d["by_class"], key=lambda c: abs(c["predicted"] - c["measured"]), default=None)
        rows.append({"run": run, "p2p": p2p, "platform": platform_of[run], "predicted": d["predicted_step"],
                     "measured": d["measured_step"], "error": d["step_error"],
                     "worst_class": worst["name"] if worst else "",
                     "worst_class_predicted": worst["predicted"] if worst else 0.0,
                     "worst_class_measured": worst["measured"] if worst else 0.0})
        for c in d["by_class"]:
            p, m = classes.get(c["name"], (0.0, 0.0))
            classes[c["name"]] = (p + c["predicted"], m + c["measured"])
    if not rows:
        raise CompareError(f"no measured runs in {res}/runs")
    errs = [abs(r["error"]) for r in rows]
    within = lambda x: sum(e <= x for e in errs)  # noqa: E731
    by_mode = {}
    for r in rows:
        by_mode.setdefault(r["run"].rsplit(".", 1)[-1], []).append(abs(r["error"]))

    big = {}  # kind -> list of (predicted, measured): collectives of 1 MiB and more, per call
    for f in sorted(glob.glob(os.path.join(tmp, "*.schedule.json"))):
        run = os.path.basename(f)[: -len(".schedule.json")]
        with open(f) as fh:
            sched = json.load(fh)
        sizes = {(rk["rank"], op["id"]): (op["kind"], op.get("comm_bytes", op.get("bytes", 0)))
                 for rk in sched["ranks"] for op in rk["ops"]
                 if op["kind"] in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")}

        def spans(path):
            with open(path) as fh:
                d = json.load(fh)
            ev = d["timeline"]["events"] if "timeline" in d else d["events"]
            return {(e["rank"], e["op"]): e["end"] - e.get("sync", e["start"]) for e in ev}
        pred = spans(os.path.join(tmp, run + ".pred.json"))
        meas = spans(os.path.join(res, "runs", run + ".json"))
        for key, (kind, nbytes) in sizes.items():
            if nbytes >= (1 << 20) and key in pred and key in meas and meas[key] > 0:
                big.setdefault(kind, []).append((pred[key], meas[key]))
    driver = driver_env or system.get("driver_build", "")
    if not re.match(r"^\d+(\.\d+)+$", driver):
        driver = f"unknown (system.json says '{driver}'; set DRIVER)"
    dev = system["devices"][0]["name"]
    p2p_text = ("one GPU: no P2P" if gpus == "1" else
                "P2P on and off per run (off: NCCL_P2P_DISABLE=1)" if any(r["p2p"] == "off" for r in rows) else "P2P on")
    sim_text = f"platforms/{plat}" + (f" (P2P-off runs on platforms/{plat_off})" if plat_off != plat else "")
    out = [f"# Measured vs simulated: {name}", "",
           f"Card {dev} x{gpus}" + (f" (of {system['device_count']} visible)" if str(system['device_count']) != gpus else "")
           + f", driver {driver}, CUDA runtime {system['runtime_version']}, "
           f"NCCL {system['nccl_version']}, measured {on} (NCCL_NVLS_ENABLE=0, {p2p_text}).",
           f"Simulated on {sim_text}, sampled routing seed 1"
           + (f", engine.grouped_gemm: {grouped}" if grouped else "")
           + (", engine.timed_ops for eager runs (two event records per op on the host, as the harness times them)"
              if timed_ops else "") + ".",
           f"Calibration (moesim run --calibration {calibration}): {cal_text}"
           + (" (placeholder efficiencies)." if uncalibrated else "."),
           "Predictions were committed before the measurement (validate/results/predictions-*).", "",
           f"Median absolute step-time error {100*statistics.median(errs):.1f}%, worst {100*max(errs):.1f}% over {len(rows)} runs.", "",
           "| run | P2P | predicted ms | measured ms | error | class furthest off | its predicted ms | its measured ms |",
           "|---|---|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        out.append(f"| {r['run']} | {r['p2p']} | {r['predicted']*1e3:.3f} | {r['measured']*1e3:.3f} | {100*r['error']:+.1f}% "
                   f"| {r['worst_class']} | {r['worst_class_predicted']*1e3:.3f} | {r['worst_class_measured']*1e3:.3f} |")
    out += ["", f"Within 5%: {within(0.05)} of {len(rows)} runs ({100*within(0.05)/len(rows):.0f}%); "
            f"within 15%: {within(0.15)} of {len(rows)} ({100*within(0.15)/len(rows):.0f}%).",
            "Median absolute step-time error by launch mode: " + "; ".join(
                f"{m} {100*statistics.median(v):.1f}% (worst {100*max(v):.1f}%, {len(v)} runs)" for m, v in sorted(by_mode.items())) + ".",
            "", "Collectives of 1 MiB and more, per call (every rank's call; time from the last member's arrival to the end):", ""]
    if big:
        out += ["| collective | calls | median abs error | within 10% | predicted ms (sum) | measured ms (sum) |",
                "|---|---:|---:|---:|---:|---:|"]
        for kind, v in sorted(big.items()):
            e = [abs(p - m) / m for p, m in v]
            out.append(f"| {kind} | {len(v)} | {100*statistics.median(e):.1f}% | {sum(x <= 0.10 for x in e)} of {len(v)} "
                       f"| {1e3*sum(p for p, _ in v):.2f} | {1e3*sum(m for _, m in v):.2f} |")
    else:
        out += ["none in these runs."]
    out += ["", "Error per op class, summed over all runs (seconds per rank):", "",
            "| op class | predicted ms | measured ms | error |", "|---|---:|---:|---:|"]
    for c, (p, m) in sorted(classes.items(), key=lambda kv: -kv[1][1]):
        out.append(f"| {c} | {p*1e3:.2f} | {m*1e3:.2f} | {100*(p-m)/m:+.1f}% |" if m > 0 else f"| {c} | {p*1e3:.2f} | {m*1e3:.2f} | - |")
    md = "\n".join(out) + "\n"
    data = {"measured_on": on, "calibration": {p: calibration_used(calibration, p, root) for p in plats},
            "grouped_gemm": grouped or None, "timed_ops": bool(timed_ops), "runs": rows,
            "within": {"5%": within(0.05), "15%": within(0.15), "runs": len(rows)},
            "by_mode": {m: {"median": statistics.median(v), "worst": max(v), "runs": len(v)} for m, v in by_mode.items()},
            "collectives_1mib": {k: {"calls": len(v), "median_abs_error": statistics.median([abs(p - m) / m for p, m in v]),
                                     "within_10pct": sum(abs(p - m) / m <= 0.10 for p, m in v)} for k, v in big.items()},
            "classes": {c: {"predicted": p, "measured": m} for c, (p, m) in classes.items()},
            "system": system}
    return md, data


def compare(root, res, gpus, plat, name, calibration="none", grouped="", timed_ops=False, index=None, driver="",
            moesim=None, log=print):
    """The whole comparison; writes validate/results/<name>.{md,json} and copies the diffs into res."""
    moesim = moesim or os.path.join(root, "build", "cli", "moesim")
    plat_off = plat + "-nop2p" if os.path.exists(os.path.join(root, "platforms", plat + "-nop2p.yaml")) else plat
    with tempfile.TemporaryDirectory() as tmp:
        platform_of, p2p_of = simulate(moesim, root, tmp, res, gpus, plat, plat_off, calibration, grouped, timed_ops,
                                       index, log)
        md, data = tables(tmp, res, name, plat, plat_off, calibration, grouped, str(gpus), timed_ops, platform_of,
                          p2p_of, root, driver)
        with open(os.path.join(root, "validate", "results", f"{name}.md"), "w") as f:
            f.write(md)
        with open(os.path.join(root, "validate", "results", f"{name}.json"), "w") as f:
            json.dump(data, f, indent=1)
        for d in glob.glob(os.path.join(tmp, "*.diff.txt")):
            shutil.copy(d, res)
    log(md, end="")
    return md
