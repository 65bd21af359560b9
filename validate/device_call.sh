#!/usr/bin/env bash
# One device call: oos round samples, then (H200 only, unless OPS_ANY=1) bench-ops, one archive back.
#   SET=oos12 H200_ALSO=oos11 SAMPLES="1 2 3" SAMPLES_H100="6 7" OPS=1 bash validate/device_call.sh
#   POINTS=validate/oos/points-s16.txt bash validate/device_call.sh     (named bench-ops points, any card)
# Device tool: kind nvidia-h200, carry build-gpu/gpu. The harness is built there (SimGrid-free, ~40 s)
# unless build-gpu/validate/moesim-validate is carried (then carry libyaml-cpp.so.0.7 in build-gpu/gpu).
# SET runs on any card, H200_ALSO on an H200 only; SAMPLES_H100 replaces SAMPLES on an H100. OPS benches
# decode attention then expert GEMMs in what is left of LIMIT seconds (default 560), skipping the points
# of SKIP_MEASURED (earlier side files, unpacked, e.g. build-gpu/gpu/h200-2026-12-06-call1.run.json).
# A sample starts only with SAMPLE_S seconds (default 170) left before LIMIT.
# POINTS (a bench-ops --points file) is timed on any card first, within POINTS_BUDGET s (default 240), and
# packed apart ($OUT/points.tar.gz); with POINTS_H200_ONLY=1 on an H200 only. SAMPLES_ALSO replaces SAMPLES for the sets after the first.
# Everything comes back as $OUT/call.tar.gz (+ $OUT/call.log), with clocks.csv and phases.txt (the GPU's
# clocks through the call, and when each phase began).
set -u
t_start=$(date +%s)
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 PYTHONUNBUFFERED=1
g=$PWD/build-gpu/gpu
export LD_LIBRARY_PATH=$g:${LD_LIBRARY_PATH:-}
exe=$PWD/build-gpu/validate/moesim-validate
w=/root/out; rm -rf $w; mkdir -p $w
log=$OUT/call.log
exec > >(tee -a $log) 2>&1
date -u; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
case "$name" in *H200*) c=h200 ;; *H100*) c=h100 ;; *) c=other ;; esac
echo "card: $c"
# The GPU's clocks, power and throttle reasons every CLOCK_MS (default 100) ms through the call, with
# each phase's start marked in phases.txt in the same time format (nvidia-smi's timestamp).
mark() { echo "$(date -u '+%Y/%m/%d %H:%M:%S.%3N') $*" >> $w/phases.txt; }
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu,clocks_event_reasons.active \
  --format=csv -lms ${CLOCK_MS:-100} > $w/clocks.csv 2>&1 & clk=$!
mark start
if [ ! -x $exe ]; then
  t0=$(date +%s)
  python3 validate/gpu_tool.py gpu-call --phases build --gpus 1 --arch 90 --budget 400 --out $w/build > $w/build.log 2>&1
  echo "build: status $? in $(( $(date +%s) - t0 )) s"; tail -3 $w/build.log
fi
$exe --info > $w/info.json || { echo "moesim-validate does not run"; ldd $exe; exit 1; }
t_end=$(( t_start + ${LIMIT:-560} ))
# OPS_ONLY="small:15 gemm:20": bench-ops families, each within its budget in seconds, before the rest
# (any card), into ops-only-$c/ of the call's archive.
if [ -n "${OPS_ONLY:-}" ]; then
  o=$w/ops-only-$c; mkdir -p $o; cp $w/info.json $o/system.json
  for fb in $OPS_ONLY; do
    mark "bench-ops ${fb%%:*}"
    $exe bench-ops --only ${fb%%:*} --budget ${fb##*:} --json $o/ops-${fb%%:*}.json > $o/ops-${fb%%:*}.txt 2>&1
    echo "bench-ops ${fb%%:*}: $? $(tail -1 $o/ops-${fb%%:*}.txt)"
  done
  gzip -9 $o/*.json $o/*.txt
fi
if [ -n "${POINTS:-}" ] && { [ -z "${POINTS_H200_ONLY:-}" ] || [ $c = h200 ]; }; then
  o=$w/points-$c; mkdir -p $o
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv > $o/machine.txt; date >> $o/machine.txt
  cp $w/info.json $o/system.json; cp $POINTS $o/
  mark points
  $exe bench-ops --points $POINTS --budget ${POINTS_BUDGET:-240} --json $o/ops.json > $o/ops.txt 2>&1; echo "points: $? $(tail -1 $o/ops.txt)"
  gzip -9 $o/*.json $o/*.txt
  tar -C $w -czf $OUT/points.tar.gz points-$c && rm -rf $o # apart: a round's runs can stay packed while the points are used
fi
sets=${SET:-}; [ $c = h200 ] && sets="$SET ${H200_ALSO:-}"
for SET in $sets; do
samples=${SAMPLES:-}; [ $c = h100 ] && [ -n "${SAMPLES_H100:-}" ] && samples=$SAMPLES_H100
[ "$SET" != "${sets%% *}" ] && [ -n "${SAMPLES_ALSO:-}" ] && samples=$SAMPLES_ALSO
for s in $samples; do
  if [ $(( t_end - $(date +%s) )) -lt ${SAMPLE_S:-170} ]; then echo "sample $s of $SET: skipped, $(( t_end - $(date +%s) )) s left"; continue; fi
  d=$w/${SET}-$c-$s; mkdir -p $d
  mark "sample $s of $SET"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv > $d/machine.txt; date >> $d/machine.txt
  python3 validate/gpu_tool.py gpu-call --phases runs --schedules validate/oos/schedules-$SET --gpus 1 --arch 90 --budget 200 --out $d > $d/call.log 2>&1
  echo "sample $s: status $? $(tail -1 $d/call.log)"
  cp $w/info.json $d/
done
done
left=$(( (t_end - $(date +%s) - 30) * 85 / 100 )); echo "left for bench-ops: $left s"
if [ -n "${OPS:-}" ] && [ $left -gt 60 ] && { [ $c = h200 ] || [ -n "${OPS_ANY:-}" ]; }; then
  ADB=$(( left * 2 / 5 )); GGB=$(( left * 3 / 5 - 10 ))
  o=$w/ops-$c; mkdir -p $o
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv > $o/machine.txt; date >> $o/machine.txt
  cp $w/info.json $o/system.json
  mark "bench-ops attention_decode, grouped_gemm"
  $exe bench-ops --only attention_decode --budget ${ADB:-130} --json $o/ops-ad.json > $o/ops-ad.txt 2>&1; echo "attention_decode: $? $(tail -1 $o/ops-ad.txt)"
  skip=(); for f in ${SKIP_MEASURED:-}; do skip+=(--skip-measured $PWD/$f); done
  $exe bench-ops --only grouped_gemm --budget ${GGB:-220} "${skip[@]}" --json $o/ops-gg.json > $o/ops-gg.txt 2>&1; echo "grouped_gemm: $? $(tail -1 $o/ops-gg.txt)"
  gzip -9 $o/*.json $o/*.txt
fi
mark end; kill $clk 2>/dev/null; wait $clk 2>/dev/null
date -u
tar -C $w --exclude=./call.tar.gz --exclude=./points.tar.gz -czf /tmp/call.tar.gz . && mv /tmp/call.tar.gz $OUT/ ; ls -la $OUT
