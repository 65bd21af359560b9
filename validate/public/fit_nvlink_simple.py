#!/usr/bin/env python3
"""Dev machine: recomputes core/costs.hpp's NVLink Simple terms from NVIDIA's published nccl-tests
sweeps (validate/public/aiconfigurator-nccl.csv):

  nvlink_simple_step_us: the per-step latency of a Simple ring as NCCL's kernel pipelines it,
    time = base + call + fill + max(steps x step + X (steps + 1) / (2 steps), X), least squares over
    the all_reduce, all_gather and reduce_scatter cells from 1 MiB where NCCL's pick is ring Simple;
  nvlink_simple_call_us: that pipeline's fill per call (`fill` above), fitted with the step on
    sm80 only, where a fit set of 2 GPUs alone (one or two steps a call) put everything on the step;
  nvlink_p2p_channel_gbs, nvlink_p2p_tail_us: what one channel of an all-to-all moves, and the
    fraction of its last p2p chunk's time exposed beyond the stream; the fraction by least squares
    over the all-to-all cells from 1 MiB, the rate as (bytes per peer / channels + fraction x
    512 KiB) / (time - NCCL's Simple send latency), median over 64-256 MiB; iterated.

Fit sets, as core/costs.hpp uses them (the comparison labels these cells fit, every other one out
of sample): sm100+ on b300_sxm, gb200, gb300 at 2, 4 and 8 GPUs (b200_sxm held out); sm90 on
h100_sxm and h200_sxm at 2 and 4 (alltoall: 2); sm80 on a100_sxm at 2 (the ring's step and fill: 2 and
8, the 4-GPU cells held out).

NCCL's pick and moesim's rate are those of core/nccl_model.cpp and core/costs.cpp for one HGX node
(every pair NVLink through NVSwitch): the ring search's channels (A100 12 x 20, H100/H200 12 x 30,
Blackwell 16 x 45 GB/s), tuning.cc's tables, the measured Simple fractions (TransportTerms). This
mirror covers that case only. Also printed, used nowhere: the held-out cells' own fits.
  validate/public/fit_nvlink_simple.py
"""
import csv
import math
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
SM = {'a100_sxm': 80, 'h100_sxm': 90, 'h200_sxm': 90, 'b200_sxm': 100, 'b300_sxm': 103, 'gb200': 100, 'gb300': 103}
GRAPH = {80: (12, 20.0), 90: (12, 30.0), 100: (16, 45.0), 103: (16, 45.0)}  # nccl_ring_search
NVLINK_CALL_HOP = {80: (2.68, 0.415), 90: (-1.73, 0.334), 100: (1.30, 0.68), 103: (1.30, 0.68)}  # nvlink_latency
# A send's (nvlink_latency with p2p): the same but on Hopper, whose sends keep NCCL's table.
P2P_CALL_HOP = {**NVLINK_CALL_HOP, 90: (0.0, 0.0)}
# tuning.cc (NCCL 2.29.2): per architecture index (Volta, Ampere, Hopper, Blackwell), one node.
LL_MAX = [39.0, 87.7, 141.0, 282.0]
RING_LL128_CH = [20.0, 20.0, 36.7, 34.5]
TREE_CH = [26.5, 24.0, 38.7, 70.0]
TREE_LL128_CH = [20.0, 20.0, 36.7, 55.6]
BASE = {'tree': (6.8, 14.0, 8.4), 'ring': (6.6, 14.0, 8.4)}
NVLINK_HOP = {'tree': (0.6, 1.25, 4.0), 'ring': (0.6, 1.9, 3.4)}
TREE_CORRECTION = [
    [1.0, 1.0, 1.0, 1.0, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1.0, 1.0, 1.0, 1.0],
    [1.0, 1.0, 1.0, 1.0, 1.0, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9, 1.0, 1.0],
    [.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9, .9]]
SIMPLE, P2P_CHANNELS = 2, 32  # the call's p2p channels on these boards (24 or 32, rounded up)


def arch(sm):
    return 3 if sm >= 100 else 2 if sm >= 90 else 1


def log2i(x):
    l, v = -1, math.floor(x)
    while v >= 1:
        l, v = l + 1, math.floor(v / 2)
    return l


def steps(op, n):
    return 2 * (n - 1) if op == 'all_reduce' else n - 1


def pick(sm, op, n, size):
    """NCCL's (algorithm, protocol, algorithm bandwidth GB/s) for one uniform NVLink node."""
    nch, bw = GRAPH[sm]
    a, ns = arch(sm), steps(op, n)
    best = None
    for alg in (['tree', 'ring'] if op == 'all_reduce' else ['ring']):
        for p in range(3):
            bus = nch * bw
            if alg == 'ring' and p == 0:
                bus = min(LL_MAX[a], bus * .5)
            if alg == 'ring' and p == 1:
                bus = min(bus * .92, nch * RING_LL128_CH[a])
            if alg == 'tree':
                bus = min(bus * .92, nch * TREE_CH[a])
            if alg == 'tree' and p == 0:
                bus = min(bus / 3.8, LL_MAX[a])
            if alg == 'tree' and p == 1:
                bus = min(bus * 7 / 9, nch * TREE_LL128_CH[a])
            algbw = bus * n / ns if alg == 'ring' else bus * .5
            hops = ns if alg == 'ring' else 2 * (n - 1)
            lat = BASE[alg][p] + hops * NVLINK_HOP[alg][p]
            if alg == 'tree' and 0 <= log2i(size / 64) < 23:
                algbw *= TREE_CORRECTION[p][log2i(size / 64)]
            t = lat + size / (1000 * algbw)
            if best is None or t < best[0]:
                best = (t, alg, p, algbw)
    return best[1:]


def simple_fraction(op, n):  # TransportTerms
    if op == 'all_reduce':
        return 0.84 if n == 2 else 0.95
    return 0.66 if n == 2 else 0.85


def ring_simple_time(sm, op, n, size, step_us, fill_us=0.0):
    _, _, algbw = pick(sm, op, n, size)
    ns = steps(op, n)
    rate = algbw * ns / n * simple_fraction(op, n) * 1000  # bytes per us
    x = size * ns / n / rate
    return 8.4 + NVLINK_CALL_HOP[sm][0] + fill_us + max(ns * step_us + x * (ns + 1) / (2 * ns), x)


def p2p_min_channels(n, per_peer=32):  # nccl_p2p_min_channels on these boards
    c = per_peer
    while c * n > P2P_CHANNELS and c > 1:
        c //= 2
    return c


def load():
    path = os.path.join(HERE, 'aiconfigurator-nccl.csv')
    with open(path) as f:
        rows = list(csv.reader(line for line in f if not line.startswith('#')))
    for r in rows[1:]:
        VERSION[r[0]] = tuple(int(x) for x in r[2].split('.'))
    return {(r[0], r[3], int(r[5]), int(r[6])): float(r[7]) * 1e6 for r in rows[1:]}


VERSION = {}  # the NCCL version each GPU's sweep ran, from the CSV


def p2p_ll(g, n, size):
    """Whether NCCL sent an alltoall's peers with LL (nccl_p2p_send): before 2.29 up to the peer's
    channels (32 on these boards) x 16 KiB; from 2.29 up to the channels the send runs on (one per
    64 KiB on one node) x 16 KiB."""
    per_peer = size / n
    if VERSION[g] < (2, 29):
        return per_peer <= 32 * 16384
    return per_peer <= max(1, min(p2p_min_channels(n), math.ceil(per_peer / 65536))) * 16384


def ring_cells(meas, gpus, counts):
    out = []
    for (g, op, n, size), t in sorted(meas.items()):
        if g in gpus and n in counts and op != 'alltoall' and (1 << 20) <= size <= (1 << 28):
            alg, p, _ = pick(SM[g], op, n, size)
            if alg == 'ring' and p == SIMPLE:
                out.append((g, op, n, size, t))
    return out


def fit_step(cells):
    def sse(step):
        return sum((ring_simple_time(SM[g], op, n, s, step) / t - 1) ** 2 for g, op, n, s, t in cells)
    best = min(range(0, 400), key=lambda k: sse(k / 20))
    step = best / 20
    errs = [abs(ring_simple_time(SM[g], op, n, s, step) / t - 1) for g, op, n, s, t in cells]
    return step, statistics.median(errs)


def fit_step_fill(cells):
    """The step and the fill together, least squares (steps of 0.05 us, fills of 0.1 us)."""
    def sse(step, fill):
        return sum((ring_simple_time(SM[g], op, n, s, step, fill) / t - 1) ** 2 for g, op, n, s, t in cells)
    _, step, fill = min((sse(k / 20, f / 10), k / 20, f / 10) for k in range(0, 400) for f in range(0, 300))
    return step, fill


def errors(cells, step, fill):
    errs = [abs(ring_simple_time(SM[g], op, n, s, step, fill) / t - 1) for g, op, n, s, t in cells]
    return f'median |error| {100 * statistics.median(errs):.1f}%, worst {100 * max(errs):.1f}% ({len(errs)} cells)'


def p2p_time(sm, n, size, channel_gbs, tail):
    """moesim's all-to-all of `size` (nccl-tests' size) on one HGX node, Simple (per peer > 16 KiB
    a channel), us: NCCL's send latency, the stream at min(0.81 x NVLink, channels x rate), and
    the last chunk's exposed fraction `tail` at the channel's rate."""
    call, hop = P2P_CALL_HOP[sm]
    per_peer, used = size / n, p2p_min_channels(n)
    link = {80: 240.0, 90: 370.8}.get(sm, 721.8)
    rate = min(0.81 * link, (n - 1) * min(used, P2P_CHANNELS / (n - 1)) * channel_gbs) * 1000
    exposed = tail * min(per_peer / used, 512 * 1024) / (channel_gbs * 1000)
    return 8.4 + 3.4 + call + hop + per_peer * (n - 1) / rate + exposed


def p2p_cells(meas, gpus, counts, lo=1 << 20):
    """The Simple alltoall cells from `lo` (the LL ones are fit_nvlink_ll.py's)."""
    return [(g, n, s, t) for (g, op, n, s), t in sorted(meas.items())
            if g in gpus and n in counts and op == 'alltoall' and lo <= s <= (1 << 28) and not p2p_ll(g, n, s)]


def fit_channel(meas, gpus, counts, tail):
    """Each architecture's per-channel rate at 64-256 MiB, the tail's chunk counted."""
    vals = []
    for g, n, size, t in p2p_cells(meas, gpus, counts, 1 << 26):
        call, hop = P2P_CALL_HOP[SM[g]]
        latency = 8.4 + 3.4 + call + hop  # NCCL's Simple send: ring base + one NVLink hop
        vals.append((size / n / p2p_min_channels(n) + tail * 512 * 1024) / (t - latency) / 1000)
    return round(statistics.median(vals), 2), len(vals)


def fit_p2p(meas, sets):
    """The tail's fraction (least squares over every set's cells from 1 MiB) and each set's rate,
    iterated to a fixed point."""
    tail, rates = 0.0, {}
    for _ in range(10):
        rates = {label: fit_channel(meas, gpus, counts, tail)[0] for label, gpus, counts in sets}
        cells = [(label, c) for label, gpus, counts in sets for c in p2p_cells(meas, gpus, counts)]

        def sse(f):
            return sum((p2p_time(SM[g], n, s, rates[label], f) / t - 1) ** 2 for label, (g, n, s, t) in cells)
        new = min(range(0, 101), key=lambda k: sse(k / 100)) / 100
        if new == tail:
            break
        tail = new
    return tail, rates


def main():
    meas = load()
    rings = [
        ('sm100+ fit (B300, GB200, GB300):', {'b300_sxm', 'gb200', 'gb300'}, {2, 4, 8}),
        ('sm90 fit (H100, H200):', {'h100_sxm', 'h200_sxm'}, {2, 4}),
        ('held out, B200:', {'b200_sxm'}, {2, 4, 8}),
        ('held out, H100/H200 at 8:', {'h100_sxm', 'h200_sxm'}, {8}),
    ]
    for label, gpus, counts in rings:
        cells = ring_cells(meas, gpus, counts)
        # All-reduce on 8 NVSwitch GPUs ran with NVLS in these sweeps: not a ring.
        cells = [c for c in cells if not (c[1] == 'all_reduce' and c[2] == 8 and c[0] != 'a100_sxm')]
        step, med = fit_step(cells)
        print(f'{label:34s} Simple ring step {step:5.2f} us ({len(cells)} cells, median |error| {100 * med:.1f}%)')
    # sm80: the step and the fill per call, on A100 at 2 and 8 GPUs; the 4-GPU cells held out.
    def ring(counts):
        return ring_cells(meas, {'a100_sxm'}, counts)
    step, fill = fit_step_fill(ring({2, 8}))
    print(f'sm80 fit (A100, 2 and 8 GPUs):     Simple ring step {step:5.2f} us, fill {fill:4.1f} us a call: '
          f'{errors(ring({2, 8}), step, fill)}')
    print(f'  held out, A100 at 4: {errors(ring({4}), step, fill)}')
    sends = [('sm100+', {'b300_sxm', 'gb200', 'gb300'}, {2, 4, 8}), ('sm90', {'h100_sxm', 'h200_sxm'}, {2}),
             ('sm80', {'a100_sxm'}, {2})]
    tail, rates = fit_p2p(meas, sends)
    print(f'all-to-all, fit sets: the last chunk exposed {tail:.2f}; per-channel rate ' +
          ', '.join(f'{label} {rate:.2f} GB/s' for label, rate in rates.items()))
    held = [('B200', {'b200_sxm'}, {2, 4, 8}, 'sm100+'), ('H100/H200 at 4 and 8', {'h100_sxm', 'h200_sxm'}, {4, 8}, 'sm90'),
            ('A100 at 4 and 8', {'a100_sxm'}, {4, 8}, 'sm80')]
    for label, gpus, counts, arch_label in held:
        errs = [abs(p2p_time(SM[g], n, s, rates[arch_label], tail) / t - 1) for g, n, s, t in p2p_cells(meas, gpus, counts)]
        print(f'  held out, {label}: median |error| {100 * statistics.median(errs):.1f}%, worst {100 * max(errs):.1f}% '
              f'({len(errs)} cells from 1 MiB)')


if __name__ == '__main__':
    main()
