#!/usr/bin/env bash
# Dev machine: compares measured timelines from run_matrix.sh (an extracted matrix-<N>gpu folder)
# with the simulator's timelines of the same schedules, via `moesim diff`, and writes
# validate/results/<name>.{md,json}: step error per run with its P2P setting and the op class that
# is furthest off, error per op class, median and worst, and how many runs are within 5% and 15%.
#   validate/compare_matrix.sh RESULTS_DIR GPUS PLATFORM NAME
# Runs named *.p2p-off.* (NCCL_P2P_DISABLE=1) are simulated on PLATFORM-nop2p when
# platforms/PLATFORM-nop2p.yaml exists, else on PLATFORM (one GPU has no P2P to turn off). The
# measurement date comes from the results' log ("== matrix-...: <ISO date>"), else from the
# modification time of their system.json.
# Environment:
#   CALIBRATION=none|auto|FILE  passed to `moesim run --calibration` (default none: the placeholder
#                               efficiencies; auto: platforms/calibration/<platform>.yaml where it
#                               exists). The md header says which was used.
#   GROUPED_GEMM=per_expert     simulates the studies with one GEMM launch per expert (how
#                               validate/'s harness runs grouped GEMMs) instead of one fused kernel.
#   TIMED_OPS=1                 simulates eager runs with engine.timed_ops (two CUDA event records per op
#                               on the host, as the harness times ops in eager mode).
#   DRIVER=VERSION              the driver to print, when system.json does not give it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# = 4 ] || { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
res=$1 gpus=$2 plat=$3 name=$4
moesim=build/cli/moesim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="val"; [ "$gpus" = 4 ] || prefix="val$gpus"
calibration=${CALIBRATION:-none}
cal_args=()
run_help=$("$moesim" run --help 2>/dev/null || true)
if [[ $run_help == *--calibration* ]]; then
  cal_args=(--calibration "$calibration")
elif [ -n "${CALIBRATION:-}" ]; then
  echo "this moesim has no 'run --calibration': rebuild it (cmake --build build) or unset CALIBRATION" >&2
  exit 2
else
  calibration=auto # what a moesim without the option does
fi
plat_off=$plat
[ -f "platforms/$plat-nop2p.yaml" ] && plat_off=$plat-nop2p
: >"$tmp/platforms.tsv"
for m in "$res"/runs/*.json; do
  base=$(basename "$m" .json)                 # e.g. qwen3-30b-a3b_tp2_b1_graph.p2p-on.graph
  sched=${base%%.*}                           # qwen3-30b-a3b_tp2_b1_graph
  mode=${base##*.}                            # graph | eager
  # A graph schedule also runs eagerly (as a reference for its per-op times); the simulator has no
  # "graph-built schedule launched eagerly" mode, so that run is not compared.
  [[ $sched == *_graph && $mode == eager ]] && continue
  p=$plat
  [[ $base == *.p2p-off.* ]] && p=$plat_off
  printf '%s\t%s\n' "$base" "$p" >>"$tmp/platforms.tsv"
  IFS=_ read -r model plan b _ <<<"$sched"
  study=validate/matrix/$prefix-$model.yaml
  engine_set=()
  [ -n "${GROUPED_GEMM:-}" ] && engine_set+=(--set "engine.grouped_gemm=$GROUPED_GEMM")
  [ "${TIMED_OPS:-}" = 1 ] && [ "$mode" = eager ] && engine_set+=(--set engine.timed_ops=true)
  flag=--eager; [ "$mode" = graph ] && flag=--cuda-graphs
  "$moesim" --root . run "$study" --plan "$plan" --batch "${b#b}" --platform "$p" $flag "${cal_args[@]}" "${engine_set[@]}" \
    --timeline "$tmp/$base.pred.json" --json "$tmp/$base.result.json" >/dev/null
  "$moesim" diff "$tmp/$base.pred.json" "$m" --json "$tmp/$base.diff.json" >"$tmp/$base.diff.txt"
  # the schedule, for the bytes of each collective (per-call errors below)
  src=validate/matrix/${gpus}gpu/$sched.json
  [ -f "$src.gz" ] && gzip -dc "$src.gz" >"$tmp/$base.schedule.json"
  [ -f "$src" ] && cp "$src" "$tmp/$base.schedule.json"
done
# Per-call error of collectives of 1 MiB and more: every collective op of the schedule with
# comm_bytes >= 1 MiB, matched by (rank, op id) in both timelines; its time is end - sync (from the
# moment the last member arrived, so that waiting for peers is not counted as the collective's).
python3 - "$tmp" "$res" "$name" "$plat" "$plat_off" "$calibration" "${GROUPED_GEMM:-}" "$gpus" "${TIMED_OPS:-}" <<'PY'
import datetime, glob, json, os, re, statistics, sys
tmp, res, name, plat, plat_off, calibration, grouped, gpus, timed_ops = sys.argv[1:10]
system = json.load(open(os.path.join(res, "system.json")))
platform_of = dict(line.rstrip("\n").split("\t") for line in open(os.path.join(tmp, "platforms.tsv")))

# When it was measured: run_matrix.sh's log starts with "== matrix-<N>gpu...: <ISO date>, <commit>".
measured_on = None
for log in sorted(glob.glob(os.path.join(res, "matrix-*.log"))):
    for line in open(log, errors="replace"):
        hit = re.match(r"== matrix-\S*: (\d{4}-\d\d-\d\d)T", line)
        if hit:
            measured_on = hit.group(1)
            break
    if measured_on:
        break
if not measured_on:
    mtime = os.path.getmtime(os.path.join(res, "system.json"))
    measured_on = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).strftime("%Y-%m-%d") + \
        " (date of system.json; no run_matrix.sh log in the results)"

# The calibration each platform was simulated with, as moesim reports it (the rule lives in
# core/calibration_choice.hpp).
calibration_of = {}
for run, p in platform_of.items():
    result = json.load(open(os.path.join(tmp, run + ".result.json")))["results"][0]
    f = result.get("calibration_file", "")
    calibration_of[p] = f[2:] if f.startswith("./") else f
def calibration_used(p):
    if calibration_of.get(p):
        return calibration_of[p]
    return "none (no platforms/calibration/" + p + ".yaml)" if calibration == "auto" else "none"
plats = sorted(set(platform_of.values()))
cal_text = "; ".join(f"{p}: {calibration_used(p)}" for p in plats)
uncalibrated = all(calibration_used(p).startswith("none") for p in plats)

rows, classes = [], {}
for f in sorted(glob.glob(os.path.join(tmp, "*.diff.json"))):
    d = json.load(open(f))
    run = os.path.basename(f)[:-len(".diff.json")]
    p2p = "-" if gpus == "1" else "off" if ".p2p-off." in run else "on"
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
    sys.exit(f"no measured runs in {res}/runs")
errs = [abs(r["error"]) for r in rows]
within = lambda x: sum(e <= x for e in errs)
by_mode = {}
for r in rows:
    by_mode.setdefault(r["run"].rsplit(".", 1)[-1], []).append(abs(r["error"]))

# Collectives of 1 MiB and more, per call.
big = {}  # kind -> list of (predicted, measured)
for f in sorted(glob.glob(os.path.join(tmp, "*.schedule.json"))):
    run = os.path.basename(f)[:-len(".schedule.json")]
    sched = json.load(open(f))
    sizes = {(rk["rank"], op["id"]): (op["kind"], op.get("comm_bytes", op.get("bytes", 0))) for rk in sched["ranks"] for op in rk["ops"]
             if op["kind"] in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")}
    def spans(path):
        d = json.load(open(path))
        ev = d["timeline"]["events"] if "timeline" in d else d["events"]
        return {(e["rank"], e["op"]): e["end"] - e.get("sync", e["start"]) for e in ev}
    pred = spans(os.path.join(tmp, run + ".pred.json"))
    meas = spans(os.path.join(res, "runs", run + ".json"))
    for key, (kind, nbytes) in sizes.items():
        if nbytes >= (1 << 20) and key in pred and key in meas and meas[key] > 0:
            big.setdefault(kind, []).append((pred[key], meas[key]))
driver = os.environ.get("DRIVER") or system.get("driver_build", "")
if not re.match(r"^\d+(\.\d+)+$", driver):
    driver = f"unknown (system.json says '{driver}'; set DRIVER)"
dev = system["devices"][0]["name"]
p2p_text = ("one GPU: no P2P" if gpus == "1" else
            "P2P on and off per run (off: NCCL_P2P_DISABLE=1)" if any(r["p2p"] == "off" for r in rows) else "P2P on")
sim_text = f"platforms/{plat}" + (f" (P2P-off runs on platforms/{plat_off})" if plat_off != plat else "")
out = [f"# Measured vs simulated: {name}", "",
       f"Card {dev} x{gpus}" + (f" (of {system['device_count']} visible)" if str(system['device_count']) != gpus else "") + f", driver {driver}, CUDA runtime {system['runtime_version']}, "
       f"NCCL {system['nccl_version']}, measured {measured_on} (NCCL_NVLS_ENABLE=0, {p2p_text}).",
       f"Simulated on {sim_text}, sampled routing seed 1"
       + (f", engine.grouped_gemm: {grouped}" if grouped else "")
       + (", engine.timed_ops for eager runs (two event records per op on the host, as the harness times them)" if timed_ops == "1" else "") + ".",
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
open(f"validate/results/{name}.md", "w").write("\n".join(out) + "\n")
json.dump({"measured_on": measured_on, "calibration": {p: calibration_used(p) for p in plats},
           "grouped_gemm": grouped or None, "timed_ops": timed_ops == "1", "runs": rows,
           "within": {"5%": within(0.05), "15%": within(0.15), "runs": len(rows)},
           "by_mode": {m: {"median": statistics.median(v), "worst": max(v), "runs": len(v)} for m, v in by_mode.items()},
           "collectives_1mib": {k: {"calls": len(v), "median_abs_error": statistics.median([abs(p - m) / m for p, m in v]),
                                    "within_10pct": sum(abs(p - m) / m <= 0.10 for p, m in v)} for k, v in big.items()},
           "classes": {c: {"predicted": p, "measured": m} for c, (p, m) in classes.items()},
           "system": system}, open(f"validate/results/{name}.json", "w"), indent=1)
print("\n".join(out))
PY
cp "$tmp"/*.diff.txt "$res"/ 2>/dev/null || true
