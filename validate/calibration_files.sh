#!/usr/bin/env bash
# Dev machine: turns the calibration benches of a run_matrix.sh archive (its bench/ folder: the
# kernels.<I>.json shards of bench-kernels and the event-timed bench-collectives tables) into the
# simulator's calibration files for the lent NVSwitch machines of that card:
#   platforms/calibration/nvswitch-4x-CARD.yaml        kernels + host + collectives over 4 and 2 GPUs, P2P on
#   platforms/calibration/nvswitch-4x-CARD-nop2p.yaml  kernels + host + collectives over 4 and 2 GPUs, NCCL_P2P_DISABLE=1
#   platforms/calibration/nvswitch-2x-CARD.yaml        kernels + host + collectives over 2 GPUs, P2P on
#   platforms/calibration/nvswitch-1x-CARD.yaml        kernels + host
# Kernel tables depend on the card, not on how many GPUs the machine has; collectives over 2 GPUs of
# the 4-GPU machine stand for the 2-GPU machine (same NVSwitch fabric).
# With GPUS 8 (the archive of run_matrix.sh 8), the HGX platforms instead:
#   platforms/calibration/hgx-8x-CARD[-nop2p].yaml     kernels + host + collectives over 8, 4 and 2 GPUs
#   validate/calibration_files.sh RESULTS_DIR CARD [GPUS]     e.g. /tmp/res/bench4 h200
set -euo pipefail
cd "$(dirname "$0")/.."
res=$1 card=$2 gpus=${3:-4}
moesim=build/cli/moesim
b=$res/bench
[ -d "$b" ] || { echo "no $b" >&2; exit 2; }
kernels=("$b"/kernels.*.json)
[ -f "${kernels[0]}" ] || { echo "no kernels.*.json in $b" >&2; exit 2; }
date=$(sed -n 's/^== matrix-[^:]*: \([0-9-]*\)T.*/\1/p' "$res"/*.log 2>/dev/null | head -1)
env_of() { [ "$1" = off ] && echo ", NCCL_P2P_DISABLE=1" || echo ""; }
on_of() { # p2p: the measured_on line from the first kernels shard's system
  python3 - "${kernels[0]}" "$date" "$(env_of "$1")" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["system"]
print(f'{s["devices"][0]["name"]}, driver {s["driver_build"]}, CUDA {s["runtime_version"]}, '
      f'NCCL {s["nccl_version"]}, {sys.argv[2]}, NCCL_NVLS_ENABLE=0{sys.argv[3]}; collectives event-timed (bench-collectives --timing events)')
PY
}
mkdir -p platforms/calibration
make() { # platform p2p groups...
  local plat=$1 p2p=$2; shift 2
  local logs=() g op f
  for g in "$@"; do
    for op in all_reduce all_gather reduce_scatter all_to_all sendrecv; do
      f=$b/$op.p2p-$p2p.txt
      [ "$g" = "$gpus" ] || f=$b/$op.g$g.p2p-$p2p.txt
      logs+=("$f")
    done
  done
  local args=()
  [ ${#logs[@]} -gt 0 ] && args+=(--nccl-tests "${logs[@]}")
  "$moesim" calibrate "${args[@]}" --bench-kernels "${kernels[@]}" --platform "$plat" \
    --measured-on "$(on_of "$p2p")" -o "platforms/calibration/$plat.yaml"
}
if [ "$gpus" = 8 ]; then
  make "hgx-8x-$card" on 8 4 2
  make "hgx-8x-$card-nop2p" off 8 4 2
elif [ "$gpus" = 4 ]; then
  make "nvswitch-4x-$card" on 4 2
  make "nvswitch-4x-$card-nop2p" off 4 2
  make "nvswitch-2x-$card" on 2
  make "nvswitch-1x-$card" on
else
  echo "GPUS must be 4 or 8 (the machines run_matrix.sh calibrates)" >&2
  exit 2
fi
