#!/bin/sh
# Regenerates validate/public/silicon/silicon-disagg.yaml, excluded-disagg.md and silicon-disagg.md
# from the vendored silicon_sample-disagg.csv: converts the disagg rows (convert_disagg.py), simulates
# them with `moesim published` in JOBS processes at once, and writes the table with its summary.
#   validate/public/silicon/run-disagg.sh    (from the repository root; MOESIM=build/cli/moesim, JOBS=2)
set -eu
here=$(dirname "$0")
moesim=${MOESIM:-build/cli/moesim}
jobs=${JOBS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$here/convert_disagg.py" "$here/silicon_sample-disagg.csv" -o "$here/silicon-disagg.yaml" \
  --excluded "$here/excluded-disagg.md"
k=0
pids=
while [ $k -lt "$jobs" ]; do
  python3 "$here/convert_disagg.py" "$here/silicon_sample-disagg.csv" --part "$k/$jobs" -o "$tmp/part-$k.yaml" 2>/dev/null
  nice "$moesim" published "$tmp/part-$k.yaml" -o "$tmp/part-$k.md" &
  pids="$pids $!"
  k=$((k + 1))
done
for p in $pids; do wait "$p"; done
python3 "$here/summarise.py" "$here/silicon-disagg.yaml" "$tmp"/part-*.md -o "$here/silicon-disagg.md" --disagg
