#!/usr/bin/env bash
# Dev machine: recomputes core/costs.hpp's per-channel PCIe rates (TransportTerms
# pcie_p2p_channel_gbs, shm_channel_gbs) from NVIDIA's published nccl-tests sweeps of the 8x RTX PRO
# 6000 Server (validate/public/aiconfigurator-nccl.csv), at 64-256 MiB where Simple runs on every
# channel: bus bandwidth = time-derived (nccl-tests' busbw) / channels.
#   P2P: alltoall on 2 GPUs (one peer under one PCIe switch; NCCL gives a PCIe peer 2 channels).
#   SHM: all_gather and reduce_scatter on 4 and 8 GPUs (rings whose hops between PCIe switches go
#        through host memory; 2 graph channels, run twice: 4).
# Prints each cell and the median per rate. The all-to-alls on 4 and 8 GPUs are left out (held out).
#   validate/public/fit_pcie_channels.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
awk -F, '
function median(a, n,    i, j, t) {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
!/^#/ && $1 == "rtx_pro_6000_server" && $7 >= 67108864 && $7 <= 268435456 {
  n = $6; bus = $7 / $8 / 1e9 * (n - 1) / n
  if ($4 == "alltoall" && n == 2) { p2p[++np] = bus / 2; printf "P2P %s n=%d %d MiB: %.1f GB/s / 2 channels\n", $4, n, $7 / 1048576, bus }
  if (($4 == "all_gather" || $4 == "reduce_scatter") && n >= 4) { shm[++ns] = bus / 4; printf "SHM %s n=%d %d MiB: %.1f GB/s / 4 channels\n", $4, n, $7 / 1048576, bus }
}
END { printf "P2P per channel: %.2f GB/s (median of %d)\nSHM per channel: %.2f GB/s (median of %d)\n", median(p2p, np), np, median(shm, ns), ns }' validate/public/aiconfigurator-nccl.csv
