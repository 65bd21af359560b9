#!/usr/bin/env python3
"""Dev machine: recomputes core/costs.hpp's nvlink_p2p_ll_channel_gbs from NVIDIA's published
nccl-tests sweeps (validate/public/aiconfigurator-nccl.csv).

NCCL 2.29 sends a peer's bytes with LL only where they fit 16 KiB per channel (enqueue.cc
addP2pToPlan, NCCL_P2P_LL_THRESHOLD), and over NVLink on one node a send up to 64 KiB
(P2P_NVL_CHUNKSIZE / 8) runs on one channel: an alltoall of nccl-tests size S on n GPUs, S / n
bytes per peer, is LL up to S / n = 16 KiB, each peer on its own channel. Before 2.29 (the A100's
sweep ran 2.27.3) the threshold is the peer's channel count (p2pnChannelsPerPeer, 32 on these
boards) x 16 KiB, and an LL send runs on one channel per 8 KiB (the LL step, 64 KiB, / 8), at most
nccl_p2p_min_channels. core/nccl_model.cpp nccl_p2p_send has both rules. moesim's time for it is
  NCCL's LL send latency (ring LL base 6.6 + NVLink hop 0.6, plus nvlink_latency's call and hop)
  + bytes per peer / (channels x rate),
and the rate is fitted by least squares through the origin over the alltoall cells from 8 KiB
(the comparison's sizes) that are LL. Fit sets, as the comparison labels them (every other cell
out of sample): sm100+ on b300_sxm, gb200, gb300 at 2, 4 and 8 GPUs (b200_sxm held out); sm90 on
h100_sxm and h200_sxm at 2 and 4; sm80 on a100_sxm at 2. Also printed, used nowhere: the
held-out cells' own fit and their median |error| with the fitted rate and without the term.
  validate/public/fit_nvlink_ll.py
"""
import csv
import math
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
LL_THRESHOLD = 16384  # NCCL_P2P_LL_THRESHOLD, per channel
PEER_CHANNELS = 32  # p2pnChannelsPerPeer on these boards (NVLink: 2 x links, rounded up), and the call's
VERSION = {}  # the NCCL version each GPU's sweep ran, from the CSV
LATENCY_US = {80: 7.2 + 2.68 + 0.415, 90: 7.2, 100: 7.2 + 1.30 + 0.68}  # LL send: table + nvlink_latency
FIT = {100: [('b300_sxm', (2, 4, 8)), ('gb200', (2, 4, 8)), ('gb300', (2, 4, 8))],
       90: [('h100_sxm', (2, 4)), ('h200_sxm', (2, 4))],
       80: [('a100_sxm', (2,))]}
HELD = {100: [('b200_sxm', (2, 4, 8))], 90: [('h100_sxm', (8,)), ('h200_sxm', (8,))],
        80: [('a100_sxm', (4, 8))]}


def load():
    with open(os.path.join(HERE, 'aiconfigurator-nccl.csv')) as f:
        rows = list(csv.reader(line for line in f if not line.startswith('#')))
    for r in rows[1:]:
        VERSION[r[0]] = tuple(int(x) for x in r[2].split('.'))
    return {(r[0], r[3], int(r[5]), int(r[6])): float(r[7]) * 1e6 for r in rows[1:]}


def min_channels(n):
    """nccl_p2p_min_channels: the peer's channels halved while n peers do not fit the call's."""
    c = PEER_CHANNELS
    while c * n > PEER_CHANNELS and c > 1:
        c //= 2
    return c


def ll_channels(g, n, per_peer):
    """The channels of an LL send of `per_peer` bytes, or None where NCCL sends it Simple."""
    if VERSION[g] < (2, 29):
        if per_peer > PEER_CHANNELS * LL_THRESHOLD:
            return None
        return max(1, min(min_channels(n), math.ceil(per_peer / 8192)))
    ch = max(1, min(min_channels(n), math.ceil(per_peer / 65536)))
    return ch if per_peer <= ch * LL_THRESHOLD else None


def cells(meas, sets):
    """(bytes per channel, measured us) of the LL alltoall cells from 8 KiB."""
    return [(size / n / ll_channels(g, n, size / n), t) for (g, op, n, size), t in sorted(meas.items())
            for gpu, counts in sets
            if g == gpu and op == 'alltoall' and n in counts and size >= 8192 and ll_channels(g, n, size / n)]


def fit(cs, lat):
    """GB/s: least squares of time - lat = bytes / rate."""
    inv = sum(p * (t - lat) for p, t in cs) / sum(p * p for p, t in cs)  # us per byte
    return 1 / inv / 1e3


def median_error(cs, lat, gbs):
    return statistics.median(abs((lat + (p / (gbs * 1e3) if gbs else 0)) / t - 1) for p, t in cs)


def main():
    meas = load()
    for sm in (100, 90, 80):
        lat, fitted, held = LATENCY_US[sm], cells(meas, FIT[sm]), cells(meas, HELD[sm])
        gbs = fit(fitted, lat)
        print(f'sm{sm}: {gbs:.2f} GB/s per channel ({len(fitted)} cells, median |error| '
              f'{100 * median_error(fitted, lat, gbs):.1f}%); held out ({len(held)} cells): own fit '
              f'{fit(held, lat):.2f}, median |error| {100 * median_error(held, lat, gbs):.1f}% '
              f'(without the term {100 * median_error(held, lat, 0):.1f}%)')


if __name__ == '__main__':
    main()
