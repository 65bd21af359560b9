#!/bin/sh
# Regenerates validate/public/silicon/silicon.yaml, excluded.md and silicon.md from the vendored
# silicon_sample-subset.csv: converts the rows, simulates them with `moesim published` in JOBS
# processes at once, and writes the table with its summary (summarise.py).
#   validate/public/silicon/run.sh [--stratified]     (from the repository root; MOESIM=build/cli/moesim,
#   JOBS=2, PARTS=dir)
# Every row (about 20 min of one core, 12.5 min on two); with --stratified, per group (GPU, engine and
# version, model, quantization, plan, lengths) only the lowest, a middle and the highest concurrency.
set -eu
here=$(dirname "$0")
moesim=${MOESIM:-build/cli/moesim}
jobs=${JOBS:-2}
strat=
[ "${1:-}" = "--stratified" ] && strat=--stratified
# PARTS=dir keeps the per-process tables there (summarise.py can then be rerun alone).
if [ -n "${PARTS:-}" ]; then
  tmp=$PARTS
  mkdir -p "$tmp"
else
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
fi
python3 "$here/convert.py" "$here/silicon_sample-subset.csv" -o "$here/silicon.yaml" --excluded "$here/excluded.md"
k=0
pids=
while [ $k -lt "$jobs" ]; do
  python3 "$here/convert.py" "$here/silicon_sample-subset.csv" $strat --part "$k/$jobs" -o "$tmp/part-$k.yaml" 2>/dev/null
  nice "$moesim" published "$tmp/part-$k.yaml" -o "$tmp/part-$k.md" &
  pids="$pids $!"
  k=$((k + 1))
done
for p in $pids; do wait "$p"; done
python3 "$here/summarise.py" "$here/silicon.yaml" "$tmp"/part-*.md -o "$here/silicon.md" ${strat:+--stratified}
