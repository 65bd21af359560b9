#!/usr/bin/env bash
# Dev machine (needs the simulator): writes the validation matrix's schedules for N GPUs into
# validate/matrix/<N>gpu/ (gzipped JSON, git-ignored: regenerate them, they are deterministic) and
# the simulator's predictions for every platform of the matrix studies into
# validate/results/predictions-<N>gpu-<date>.{json,md}, to commit BEFORE anything is measured.
#   validate/make_matrix.sh 4      (1, 2, 4 or 8)
set -euo pipefail
cd "$(dirname "$0")/.."
gpus=${1:?usage: validate/make_matrix.sh GPUS}
moesim=build/cli/moesim
out=validate/matrix/${gpus}gpu
day=$(date -u +%Y-%m-%d)
rm -rf "$out" && mkdir -p "$out" validate/results
# study : plans : batches  (eager schedules; graph schedules for the plans marked below)
if [ "$gpus" = 8 ]; then
  plat=hgx-8x-h100
  matrix=(
    "val8-deepseek-v3-5l:tp8 ep8 tp4xep2 tp2xpp4 ep4xpp2:1 64 256"
    "val8-mixtral-8x7b:tp8 ep8 tp4xep2 tp2xpp4 ep4xpp2:1 64 256"
  )
  graphs="val8-mixtral-8x7b:tp8 ep8:1 64 256"
elif [ "$gpus" = 1 ]; then
  plat=nvswitch-1x-h100 # must fit one 80 GB H100: qwen3-30b-a3b stops at batch 128
  matrix=(
    "val1-qwen3-30b-a3b:tp1:1 16 64 128"
    "val1-deepseek-v3-5l:tp1:1 64"
  )
  graphs="val1-qwen3-30b-a3b:tp1:1 64"
elif [ "$gpus" = 2 ]; then
  plat=nvswitch-2x-h200
  matrix=(
    "val2-qwen3-30b-a3b:tp2 ep2 pp2:1 16 64"
    "val2-mixtral-8x7b:tp2 ep2:1 64"
  )
  graphs="val2-qwen3-30b-a3b:tp2 ep2:1 64"
else
  plat=nvswitch-4x-h100
  matrix=(
    "val-qwen3-30b-a3b:tp4 ep4 tp2xep2 tp2xpp2 pp4:1 16 64 256"
    "val-mixtral-8x7b:tp4 ep4 tp2xpp2:1 64 256"
    "val-deepseek-v3-5l:tp4 ep4:1 64"
    "val-qwen3-30b-a3b-prefill:tp4 ep4:1"
  )
  graphs="val-qwen3-30b-a3b:tp4 ep4:1 64"
fi
emit() { # study plan batch mode
  local s=$1 p=$2 b=$3 mode=$4 flag=--eager
  [ "$mode" = graph ] && flag=--cuda-graphs
  local f="$out/${s#val*-}_${p}_b${b}_${mode}.json"
  "$moesim" schedule "validate/matrix/$s.yaml" --plan "$p" --batch "$b" --platform "$plat" $flag -o "$f"
  gzip -9 -n "$f"
}
for row in "${matrix[@]}"; do
  IFS=: read -r s plans batches <<<"$row"
  for p in $plans; do for b in $batches; do emit "$s" "$p" "$b" eager; done; done
done
IFS=: read -r s plans batches <<<"$graphs"
for p in $plans; do for b in $batches; do emit "$s" "$p" "$b" graph; done; done
# Predictions: every platform of each study, eager, and graph for the graph subset.
pred=validate/results/predictions-${gpus}gpu-$day
{
  echo "# Predictions for the ${gpus}-GPU validation matrix ($day, before measurement)"
  echo
  echo "moesim $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- core sim topology report cli workloads platforms || echo +dirty), uncalibrated platforms (placeholder efficiencies), sampled routing seed 1."
  echo "Step times in ms per platform; each row is one schedule of validate/matrix/${gpus}gpu/."
  echo
} >"$pred.md"
echo "[" >"$pred.json"
first=1
for row in "${matrix[@]}" "${graphs}:graph"; do
  IFS=: read -r s plans batches mode <<<"$row"
  mode=${mode:-eager}
  flag=--eager; [ "$mode" = graph ] && flag=--cuda-graphs
  args=(); for p in $plans; do args+=(--plan "$p"); done
  for b in $batches; do args+=(--batch "$b"); done
  "$moesim" run "validate/matrix/$s.yaml" "${args[@]}" $flag --json /tmp/moesim_pred.json >/dev/null
  [ $first = 1 ] || echo "," >>"$pred.json"; first=0
  python3 - "$s" "$mode" >>"$pred.json" <<'PY'
import json, sys
d = json.load(open("/tmp/moesim_pred.json"))
print(json.dumps({"study": sys.argv[1], "mode": sys.argv[2], "results": [
  {k: r[k] for k in ("plan", "platform", "batch", "step_time", "tok_s_user", "refused")} for r in d["results"]]}, indent=1))
PY
  python3 - "$s" "$mode" >>"$pred.md" <<'PY'
import json, sys
d = json.load(open("/tmp/moesim_pred.json"))
plats = sorted({r["platform"] for r in d["results"]})
print(f"## {sys.argv[1]} ({sys.argv[2]})\n")
print("| plan | batch | " + " | ".join(plats) + " |")
print("|---|---:|" + "---:|" * len(plats))
rows = {}
for r in d["results"]:
    rows.setdefault((r["plan"], r["batch"]), {})[r["platform"]] = "refused" if r["refused"] else "%.3f" % (r["step_time"] * 1e3)
for (p, b), v in rows.items():
    print(f"| {p} | {b} | " + " | ".join(v.get(x, "-") for x in plats) + " |")
print()
PY
done
echo "]" >>"$pred.json"
ls "$out" | wc -l
du -sh "$out"
