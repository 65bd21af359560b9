#!/usr/bin/env bash
# Dev machine (needs the simulator): writes the KERNEL CALIBRATION schedules for the N-GPU matrix into
# validate/matrix/<N>gpu-calibration/ (gzipped JSON, git-ignored, deterministic). For every (model,
# plan) of validate/matrix/<N>gpu/ (run validate/make_matrix.sh N first), the same study at other
# batches (1, 4, 8, 32, 128, 512 for decode; 1, 2 for prefill) and with routing seed 7 instead of
# the validation's seed 1, so that the kernel tables interpolate between measured points and the
# validation runs themselves are never calibration data. Batches that do not fit are skipped.
# moesim-validate bench-kernels times every distinct compute op of these schedules on the GPU.
#   validate/make_calibration.sh 4
set -euo pipefail
cd "$(dirname "$0")/.."
gpus=${1:?usage: validate/make_calibration.sh GPUS}
moesim=build/cli/moesim
src=validate/matrix/${gpus}gpu
out=validate/matrix/${gpus}gpu-calibration
[ -d "$src" ] || { echo "no $src: run validate/make_matrix.sh $gpus first" >&2; exit 2; }
prefix=val; [ "$gpus" = 1 ] && prefix=val1; [ "$gpus" = 2 ] && prefix=val2; [ "$gpus" = 8 ] && prefix=val8
rm -rf "$out" && mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
skipped=0
for pair in $(ls "$src" | sed -n 's/^\(.*\)_\([a-z0-9x]*\)_b[0-9]*_eager\.json\.gz$/\1:\2/p' | sort -u); do
  model=${pair%%:*} plan=${pair##*:}
  study=validate/matrix/$prefix-$model.yaml
  [ -f "$study" ] || { echo "no study $study for $pair" >&2; exit 1; }
  sed 's/seed: 1}/seed: 7}/' "$study" >"$tmp/study.yaml"
  grep -q 'seed: 7}' "$tmp/study.yaml" || { echo "cannot set the routing seed in $study" >&2; exit 1; }
  batches="1 4 8 32 128 512"
  grep -q '^phase: prefill' "$study" && batches="1 2"
  for b in $batches; do
    f=$out/${model}_${plan}_b${b}.json
    if "$moesim" schedule "$tmp/study.yaml" --plan "$plan" --batch "$b" --eager -o "$f" 2>"$tmp/err"; then
      gzip -9 -n "$f"
    else
      skipped=$((skipped + 1))
      echo "skipped $model $plan batch $b: $(head -c 200 "$tmp/err")"
    fi
  done
done
echo "$(ls "$out" | wc -l) calibration schedules in $out ($(du -sh "$out" | cut -f1)), $skipped skipped"
