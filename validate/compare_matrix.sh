#!/usr/bin/env bash
# Dev machine: compares measured timelines from run_matrix.sh (an extracted matrix-<N>gpu folder)
# with the simulator's timelines of the same schedules, via `moesim diff`, and writes
# validate/results/<name>.{md,json}: step error per run, error per op class, median and worst.
#   validate/compare_matrix.sh RESULTS_DIR GPUS PLATFORM NAME
# GROUPED_GEMM=per_expert in the environment simulates the studies with one GEMM launch per expert
# (how validate/'s harness runs grouped GEMMs) instead of one fused kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
res=$1 gpus=$2 plat=$3 name=$4
moesim=build/cli/moesim
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=val; [ "$gpus" = 2 ] && prefix=val2; [ "$gpus" = 8 ] && prefix=val8
for m in "$res"/runs/*.json; do
  base=$(basename "$m" .json)                 # e.g. qwen3-30b-a3b_tp2_b1_graph.p2p-on.graph
  sched=${base%%.*}                           # qwen3-30b-a3b_tp2_b1_graph
  mode=${base##*.}                            # graph | eager
  # A graph schedule also runs eagerly (as a reference for its per-op times); the simulator has no
  # "graph-built schedule launched eagerly" mode, so that run is not compared.
  [[ $sched == *_graph && $mode == eager ]] && continue
  IFS=_ read -r model plan b _ <<<"$sched"
  study=validate/matrix/$prefix-$model.yaml
  if [ -n "${GROUPED_GEMM:-}" ]; then
    sed "s/sync_us: 20}/sync_us: 20, grouped_gemm: $GROUPED_GEMM}/" "$study" >"$tmp/study.yaml"
    grep -q "grouped_gemm: $GROUPED_GEMM" "$tmp/study.yaml" || { echo "cannot set grouped_gemm in $study" >&2; exit 1; }
    study=$tmp/study.yaml
  fi
  flag=--eager; [ "$mode" = graph ] && flag=--cuda-graphs
  "$moesim" run "$study" --plan "$plan" --batch "${b#b}" --platform "$plat" $flag --timeline "$tmp/pred.json" >/dev/null
  "$moesim" diff "$tmp/pred.json" "$m" --json "$tmp/$base.diff.json" >"$tmp/$base.diff.txt"
done
python3 - "$tmp" "$res" "$name" "$plat" <<'PY'
import json, glob, os, statistics, sys
tmp, res, name, plat = sys.argv[1:5]
system = json.load(open(os.path.join(res, "system.json")))
rows, classes = [], {}
for f in sorted(glob.glob(os.path.join(tmp, "*.diff.json"))):
    d = json.load(open(f))
    run = os.path.basename(f)[:-len(".diff.json")]
    rows.append((run, d["predicted_step"], d["measured_step"], d["step_error"]))
    for c in d["by_class"]:
        p, m = classes.get(c["name"], (0.0, 0.0))
        classes[c["name"]] = (p + c["predicted"], m + c["measured"])
errs = [abs(r[3]) for r in rows]
dev = system["devices"][0]["name"]
out = [f"# Measured vs simulated: {name}", "",
       f"Card {dev} x{system['device_count']}, driver {os.environ.get('DRIVER','580.159.04')}, CUDA runtime "
       f"{system['runtime_version']}, NCCL {system['nccl_version']}, measured 2026-11-27 (NCCL_NVLS_ENABLE=0, P2P on).",
       f"Simulated on platforms/{plat} without calibration (placeholder efficiencies), sampled routing seed 1;",
       "predictions were committed before the measurement (validate/results/predictions-*).", "",
       f"Median absolute step-time error {100*statistics.median(errs):.1f}%, worst {100*max(errs):.1f}% over {len(rows)} runs.", "",
       "| run | predicted ms | measured ms | error |", "|---|---:|---:|---:|"]
for run, p, m, e in rows:
    out.append(f"| {run} | {p*1e3:.3f} | {m*1e3:.3f} | {100*e:+.1f}% |")
out += ["", "Error per op class, summed over all runs (seconds per rank):", "",
        "| op class | predicted ms | measured ms | error |", "|---|---:|---:|---:|"]
for c, (p, m) in sorted(classes.items(), key=lambda kv: -kv[1][1]):
    out.append(f"| {c} | {p*1e3:.2f} | {m*1e3:.2f} | {100*(p-m)/m:+.1f}% |" if m > 0 else f"| {c} | {p*1e3:.2f} | {m*1e3:.2f} | - |")
open(f"validate/results/{name}.md", "w").write("\n".join(out) + "\n")
json.dump({"runs": [dict(zip(("run", "predicted", "measured", "error"), r)) for r in rows],
           "classes": {c: {"predicted": p, "measured": m} for c, (p, m) in classes.items()},
           "system": system}, open(f"validate/results/{name}.json", "w"), indent=1)
print("\n".join(out))
PY
cp "$tmp"/*.diff.txt "$res"/ 2>/dev/null || true
