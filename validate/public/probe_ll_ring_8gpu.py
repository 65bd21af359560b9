#!/usr/bin/env python3
"""Dev machine: why Hopper's 8-GPU all_gather at 1-4 MiB is the worst large cell of
nccl-comparison.md (H200 at 4 MiB, -30%), and what NCCL mechanisms could move it. Prints; changes
nothing. Facts from NCCL v2.29.2-1 (the sweeps' version), by file:

* The pick (src/graph/tuning.cc, src/enqueue.cc topoGetAlgoInfo): NCCL estimates each (algorithm,
  protocol) as latency + nBytes / algbw, nBytes being the whole gathered buffer
  (ncclFuncMaxSendRecvCount). On 8 H100/H200 (ring graph 12 x 30 GB/s) all_gather has ring LL
  10.8 us + nBytes / 161.1 GB/s, ring LL128 27.3 + nBytes / 378.5, Simple 32.2 + nBytes / 411.4,
  and NVLS (on by default in the sweeps; Simple only) 25 + nBytes / 238.0 (NVLS graph 8 channels x
  40 GB/s, search.cc: a channel's head carries 2x, the others 1x, 9 x 40 <= 370.8; tuning.cc
  40 x 0.85 x 7/8 x (ppn-1)/ppn per channel). LL is least up to 4.63 MB: 1, 2 and 4 MiB are LL,
  8 MiB LL128; NVLS is never least. moesim picks the same (core/nccl_model.cpp).
* The channels (enqueue.cc topoGetAlgoInfo, the 'nc' loop): the communicator's 24 are cut while
  nBytes < nc x 512 threads x 8 x nRanks (ring LL): all 24 from 768 KiB on 8 GPUs.
* The split (enqueue.cc scheduleCollTasksToPlan): a call's traffic (nBytes x 4 for LL) is cut in
  cells of 32 KiB of traffic and each channel takes ceil(cells / channels) of them, so the busiest
  channel has 6/5.33 (1 MiB), 11/10.67 (2 MiB), 22/21.33 (4 MiB) of the even share.
* The kernel (src/device/all_gather.h, reduce_scatter.h runRing; prims_ll.h LLGenericOp): up to a
  32 KiB LL chunk per call (calcCollChunking: the LL step / 2), so one pass below 6 MiB on 8 GPUs;
  each thread moves one 8-byte line per trip (512 threads: 4 KiB a trip). all_gather's calls
  (copy-send, recv-copy-send, recv) store every chunk into the output buffer as well;
  reduce_scatter's (send, recv-reduce-send, recv-reduce-copy) only the last.

H100 and H200 get the same pick, channels and split, yet the sweeps measure 33.41 and 41.31 us for
this cell (their reduce_scatter 29.88 and 30.43): no NCCL input separates them, and any model that
gives both boxes the same time misses one by at least (41.31 - 33.41) / (41.31 + 33.41) = 10.6%.

The variants below are fitted as fit_nvlink_ll_ring.py fits the shipped rate (least squares
through the origin on time - latency, the fit cells: sm90 on H100/H200 at 2 and 4 GPUs, sm100+ on
B300/GB200/GB300, sm80 on A100 at 2) and scored on the held-out LL ring cells (H100/H200 at 8,
B200, A100 at 4 and 8), medians and worst |error| from 1 MiB:
  shipped: calls x (nBytes / (n x channels)) / rate (core/costs.hpp nvlink_ring_ll_channel_gbs);
           with NCCL's latency table on Hopper (the model before) and with Hopper's fitted latency
           beyond it (nvlink_latency: the model now, worst cell -24%);
  cells:   the busiest channel's cells instead of the even share, where NCCL runs all channels;
  writes:  plus each chunk stored into the output buffer at a second fitted rate (n stores a
           chunk for all_gather and all_reduce, 1 for reduce_scatter);
  trips:   calls x trips (whole 4 KiB lines per thread) x a trip time, on NCCL's own channels and
           threads at every size.
  validate/public/probe_ll_ring_8gpu.py
"""
import math
import statistics

from fit_nvlink_simple import GRAPH, NVLINK_CALL_HOP, SM, load, pick, steps

# The latency beyond NCCL's table the variants are fitted with: nvlink_latency's (Hopper's -1.73 us a
# call, +0.334 a step), or NCCL's table on Hopper (the model before them).
LATENCIES = {'fitted latency': NVLINK_CALL_HOP, "NCCL's latency": {**NVLINK_CALL_HOP, 90: (0.0, 0.0)}}
latency = NVLINK_CALL_HOP

LL = 0
FIT = {'sm100+': ({'b300_sxm', 'gb200', 'gb300'}, {2, 4, 8}), 'sm90': ({'h100_sxm', 'h200_sxm'}, {2, 4}),
       'sm80': ({'a100_sxm'}, {2})}
HELD = {'sm100+': ({'b200_sxm'}, {2, 4, 8}), 'sm90': ({'h100_sxm', 'h200_sxm'}, {8}), 'sm80': ({'a100_sxm'}, {4, 8})}
CELL_TRAFFIC = 32 << 10  # enqueue.cc MinTrafficPerChannel
LL_CHUNK = 32 << 10      # calcCollChunking: LL step (512 KiB buffer / NCCL_STEPS) / 2
LINE = 8                 # payload bytes of one LL line (prims_ll.h EltPerLine x sizeof(T))


def divup(a, b):
    return -(-a // b)


def nccl_times(sm, op, n, size):
    """NCCL's estimate (us) per entry on one uniform NVLink node, NVLS included (all_gather)."""
    nch, bw = GRAPH[sm]
    ns = steps(op, n)
    out = {'LL': 6.6 + ns * 0.6 + size / (1000 * min(141.0, nch * bw * .5) * n / ns),
           'LL128': 14.0 + ns * 1.9 + size / (1000 * min(nch * bw * .92, nch * 36.7) * n / ns),
           'Simple': 8.4 + ns * 3.4 + size / (1000 * nch * bw * n / ns)}
    if sm >= 90 and op == 'all_gather':
        per_ch = 40.0 * 0.85 * (8 - 1) / 8 * (n - 1) / n  # NVLS graph 8 x 40 GB/s (one node of 8)
        out['NVLS'] = 25.0 + size / (1000 * 8 * per_ch * n / ns)
    return out


def nccl_channels(sm, n, size):
    """topoGetAlgoInfo for ring LL: (channels, threads)."""
    nc, nt, thr = 2 * GRAPH[sm][0], 512, 8 * n
    while size < nc * nt * thr and nc >= 2:
        nc -= 1
    while size < nc * nt * thr and nt % 128 == 0:
        nt //= 2
    return nc, max(nt, 96)


def busiest_part(op, n, size, nc):
    """Bytes of a rank's slice the busiest channel carries (scheduleCollTasksToPlan's cells)."""
    per_byte = (2 if op == 'all_reduce' else n) * 4  # ncclFuncTrafficPerByte x 4 for LL
    part = size if op == 'all_reduce' else size // n
    cell = divup(divup(CELL_TRAFFIC, per_byte), 16) * 16
    cells = divup(part, cell)
    per_channel = divup(part * per_byte // nc, 16) * 16
    return min(cells, divup(per_channel, cell * per_byte)) * cell


def calls(op, n):
    return 2 * n - 1 if op == 'all_reduce' else n


def writes(op, n):
    return 1 if op == 'reduce_scatter' else n


def features(variant, sm, op, n, size):
    """(fixed us, [terms whose coefficients are fitted])."""
    call, hop = latency[sm]
    ns = steps(op, n)
    fixed = 6.6 + call + ns * (0.6 + hop)
    channels = 2 * GRAPH[sm][0]
    chunk = size / (n * channels)
    if variant in ('cells', 'writes+cells') and nccl_channels(sm, n, size)[0] == channels:
        part = busiest_part(op, n, size, channels)
        chunk = part / n if op == 'all_reduce' else min(part, size / n)
    if variant == 'trips':
        nc, nt = nccl_channels(sm, n, size)
        part = busiest_part(op, n, size, nc)
        per_call = part / n if op == 'all_reduce' else part
        trips = 0
        while per_call > 0:  # one pass per LL chunk
            trips += math.ceil(min(per_call, LL_CHUNK) / (nt * LINE))
            per_call -= LL_CHUNK
        return fixed, [calls(op, n) * trips]
    x = [calls(op, n) * chunk / 1000]
    if variant.startswith('writes'):
        x.append(writes(op, n) * chunk / 1000)
    return fixed, x


def ring_ll_cells(meas, gpus, counts):
    out = []
    for (g, op, n, size), t in sorted(meas.items()):
        if g not in gpus or n not in counts or op == 'alltoall' or not (8192 <= size <= 1 << 28):
            continue
        if op == 'all_reduce' and n == 8 and g != 'a100_sxm' and size >= 1 << 20:
            continue  # NVLS in the sweeps
        alg, p, _ = pick(SM[g], op, n, size)
        if alg == 'ring' and p == LL:
            out.append((g, op, n, size, t))
    return out


def solve(rows):
    """Least squares through the origin, one or two coefficients."""
    if len(rows[0][0]) == 1:
        return [sum(x[0] * y for x, y in rows) / sum(x[0] ** 2 for x, _ in rows)]
    s11 = sum(x[0] * x[0] for x, _ in rows)
    s12 = sum(x[0] * x[1] for x, _ in rows)
    s22 = sum(x[1] * x[1] for x, _ in rows)
    b1 = sum(x[0] * y for x, y in rows)
    b2 = sum(x[1] * y for x, y in rows)
    det = s11 * s22 - s12 * s12
    return [(b1 * s22 - b2 * s12) / det, (s11 * b2 - s12 * b1) / det]


def fit(variant, cs):
    rows = []
    for g, op, n, size, t in cs:
        fixed, x = features(variant, SM[g], op, n, size)
        rows.append((x, t - fixed))
    return solve(rows)


def predict(variant, coef, g, op, n, size):
    fixed, x = features(variant, SM[g], op, n, size)
    return fixed + sum(c * v for c, v in zip(coef, x))


def score(variant, coef, cs, lo=1 << 20):
    errs = [abs(predict(variant, coef, g, op, n, s) / t - 1) for g, op, n, s, t in cs if s >= lo]
    return 100 * statistics.median(errs), 100 * max(errs), len(errs)


def main():
    meas = load()
    print('NCCL 2.29 on 8 H100/H200, all_gather (us): LL / LL128 / Simple / NVLS, channels, busiest share')
    for size in (1 << 19, 1 << 20, 1 << 21, 1 << 22, 1 << 23):
        t = nccl_times(90, 'all_gather', 8, size)
        nc, nt = nccl_channels(90, 8, size)
        share = busiest_part('all_gather', 8, size, nc) / (size / 8 / nc)
        print(f'  {size >> 10:5d} KiB: ' + ' / '.join(f'{k} {v:5.1f}' for k, v in t.items()) +
              f' -> {min(t, key=t.get)}; {nc} channels x {nt} threads; busiest channel x{share:.3f}')
    for op in ('all_gather', 'reduce_scatter'):
        print(f'  measured {op} on 8, 1/2/4/8 MiB: ' + '; '.join(
            f'{g[:4]} ' + ' '.join(f"{meas[(g, op, 8, 1 << k)]:.2f}" for k in (20, 21, 22, 23))
            for g in ('h100_sxm', 'h200_sxm')))
    h100, h200 = meas[('h100_sxm', 'all_gather', 8, 1 << 22)], meas[('h200_sxm', 'all_gather', 8, 1 << 22)]
    print(f'  same inputs, two boxes: floor (h200 - h100) / (h200 + h100) = {100 * (h200 - h100) / (h200 + h100):.1f}%;'
          f' H200 within 25% needs >= {0.75 * h200:.2f} us, H100 then {100 * (0.75 * h200 / h100 - 1):+.1f}%')
    global latency
    for name, latency in LATENCIES.items():
        print(f'LL ring variants with {name}, fitted on the fit cells, |error| from 1 MiB: median / worst (cells)')
        variants(meas, h100, h200)


def variants(meas, h100, h200):
    for variant in ('shipped', 'cells', 'writes', 'writes+cells', 'trips'):
        for arch in FIT:
            coef = fit(variant, ring_ll_cells(meas, *FIT[arch]))
            held = ring_ll_cells(meas, *HELD[arch])
            f = '%.1f%% / %.1f%% (%d)'
            terms = ' '.join(f'{c:.3f}' if variant == 'trips' else f'{1 / c:.2f}' for c in coef)
            line = (f'  {variant:12s} {arch:6s} [{terms}] fit ' + f % score(variant, coef, ring_ll_cells(meas, *FIT[arch]))
                    + '; held out ' + f % score(variant, coef, held))
            if arch == 'sm90':
                cell = predict(variant, coef, 'h200_sxm', 'all_gather', 8, 1 << 22)
                line += f'; H200 all_gather 8 at 4 MiB {100 * (cell / h200 - 1):+.1f}%, H100 {100 * (cell / h100 - 1):+.1f}%'
            print(line)


if __name__ == '__main__':
    main()
