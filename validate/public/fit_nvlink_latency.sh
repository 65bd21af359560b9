#!/usr/bin/env bash
# Dev machine: recomputes core/costs.hpp's nvlink_latency terms from NVIDIA's published nccl-tests
# sweeps (validate/public/aiconfigurator-nccl.csv). At 4-16 KiB NCCL runs all_reduce, all_gather and
# reduce_scatter as ring LL, whose latency in NCCL's table is 6.6 + 0.6 x steps us (2(n-1) steps for
# all_reduce, n-1 for the others); a least-squares line through measured - that gives the extra per
# call (intercept) and per step (slope). Fit sets, as core/costs.hpp uses them:
#   NVLink5: b300_sxm gb200 gb300 at 2, 4, 8 GPUs (b200_sxm held out);
#   NVLink3: a100_sxm at 2 GPUs (4 and 8 held out);
#   Hopper: h100_sxm h200_sxm at 2 and 4 GPUs (8 held out), collectives only (a send on Hopper keeps
#   NCCL's table: fitted with it, fit_nvlink_ll.py, its LL send rate does worse with these terms).
# Also printed, for comparison and used nowhere: the held-out GPUs' own lines.
#   validate/public/fit_nvlink_latency.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
csv=validate/public/aiconfigurator-nccl.csv
fit() { # label, GPUs (space-separated), GPU counts (space-separated)
  awk -F, -v label="$1" -v set="$2" -v counts="$3" '
  BEGIN { split(set, g, " "); for (i in g) want[g[i]] = 1; split(counts, c, " "); for (i in c) sizes[c[i]] = 1 }
  !/^#/ && ($1 in want) && ($6 in sizes) && $7 >= 4096 && $7 <= 16384 && $4 != "alltoall" {
    steps = $4 == "all_reduce" ? 2 * ($6 - 1) : $6 - 1; y = $8 * 1e6 - (6.6 + 0.6 * steps)
    k++; sx += steps; sy += y; sxx += steps * steps; sxy += steps * y }
  END { slope = (k * sxy - sx * sy) / (k * sxx - sx * sx); icept = (sy - slope * sx) / k
        printf "%-34s +%.2f us per call, %+.3f us per step (%d cells)\n", label, icept, slope, k }' "$csv"
}
fit "NVLink5 fit (B300, GB200, GB300):" "b300_sxm gb200 gb300" "2 4 8"
fit "NVLink3 fit (A100, 2 GPUs):" "a100_sxm" "2"
fit "held out, B200 alone:" "b200_sxm" "2 4 8"
fit "held out, A100 at 2-8 GPUs:" "a100_sxm" "2 4 8"
fit "Hopper fit (H100, H200, 2 and 4):" "h100_sxm h200_sxm" "2 4"
fit "held out, H100/H200 at 8 alone:" "h100_sxm h200_sxm" "8"
