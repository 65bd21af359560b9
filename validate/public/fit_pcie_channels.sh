#!/usr/bin/env bash
# Dev machine: recomputes core/costs.hpp's per-channel PCIe rates (TransportTerms
# pcie_p2p_channel_gbs, shm_ring_channel_gbs, shm_channel_gbs) from NVIDIA's published nccl-tests
# sweeps of the 8x RTX PRO 6000 Server (validate/public/aiconfigurator-nccl.csv), at 64-256 MiB where
# Simple runs on every channel. bus = nccl-tests' busbw (time-derived); channels as NCCL runs them:
#   P2P: alltoall on 2 GPUs (one peer under one PCIe switch on its 2 channels): bus / 2.
#   SHM, rings: all_gather and reduce_scatter on 8 GPUs (rings whose hops between PCIe switches go
#        through host memory; across the sockets NCCL sees the CPU link at 22 GB/s, so its search
#        fits 1 graph channel of 20 GB/s, run twice: 2 channels): bus / 2.
#   SHM, sends: alltoall on 4 GPUs (each peer's 2 parts on NCCL's channels for its round: rank 1's
#        busiest channel carries half of each of its two peers through host memory, so it moves its 3
#        peers' bytes in the time one channel takes for one peer's): bus / 3.
# Prints each cell and the median per rate. Held out (not used): the rings on 2 and 4 GPUs (on 4,
# the host-memory read bounds the ring, not its channels), all_reduce, and alltoall on 8 GPUs.
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
  if ($4 == "alltoall" && n == 2) { p2p[++np] = bus / 2; printf "P2P %s n=%d %d MiB: %.2f GB/s / 2 channels\n", $4, n, $7 / 1048576, bus }
  if (($4 == "all_gather" || $4 == "reduce_scatter") && n == 8) { ring[++nr] = bus / 2; printf "SHM ring %s n=%d %d MiB: %.2f GB/s / 2 channels\n", $4, n, $7 / 1048576, bus }
  if ($4 == "alltoall" && n == 4) { send[++ns] = bus / 3; printf "SHM send %s n=%d %d MiB: %.2f GB/s / 3\n", $4, n, $7 / 1048576, bus }
}
END { printf "P2P per channel: %.2f GB/s (median of %d)\nSHM ring per channel: %.2f GB/s (median of %d)\nSHM send per channel: %.2f GB/s (median of %d)\n", median(p2p, np), np, median(ring, nr), nr, median(send, ns), ns }' validate/public/aiconfigurator-nccl.csv
