#!/usr/bin/env python3
"""Dev machine: recomputes core/costs.hpp's nvlink_ring_ll_channel_gbs from NVIDIA's published
nccl-tests sweeps (validate/public/aiconfigurator-nccl.csv).

An LL ring on one NVLink node is bound by its channels' thread blocks, not by NCCL's llMaxBw (a
planning figure of tuning.cc: 141 GB/s of bus bandwidth on Hopper, which the sweeps' 8-GPU
reduce_scatter beats). NCCL's ring kernels (src/device/all_gather.h, reduce_scatter.h,
all_reduce.h, runRing) make one primitive call per step on each chunk of a channel, plus the first
send: n calls for all_gather and reduce_scatter (send, n - 2 recv-copy-send or recv-reduce-send, a
last recv or recv-reduce-copy), 2n - 1 for all_reduce. With LL each call streams the chunk's
lines through the channel's block (every thread stores lines with their flags and polls the ones
it receives), so a channel takes calls x chunk / rate, the chunk being size / (n x channels):
  time = NCCL's LL ring latency + nvlink_latency's call and hops + calls x size / (n x channels x rate)
with the communicator's channels (twice the ring graph's: A100 24, H100/H200 24, Blackwell 32).
The rate is fitted by least squares through the origin over the cells from 8 KiB where NCCL's
pick is ring LL (core/nccl_model.cpp, mirrored by fit_nvlink_simple.pick). Fit sets, as
fit_nvlink_ll.py and the comparison label them: sm100+ on b300_sxm, gb200, gb300 at 2, 4 and 8
GPUs (b200_sxm held out); sm90 on h100_sxm and h200_sxm at 2 and 4 (8 held out); sm80 on a100_sxm
at 2 (4 and 8 held out). All-reduce on 8 NVSwitch GPUs from 1 MiB ran NVLS in the sweeps: left
out. Also printed, used nowhere: each held-out set's own fit and its median |error| with the
fitted rate and with NCCL's llMaxBw (the model before).
  validate/public/fit_nvlink_ll_ring.py
"""
import statistics

from fit_nvlink_simple import GRAPH, NVLINK_CALL_HOP, SM, load, pick, steps

LL = 0
FIT = {'sm100+': ({'b300_sxm', 'gb200', 'gb300'}, {2, 4, 8}), 'sm90': ({'h100_sxm', 'h200_sxm'}, {2, 4}),
       'sm80': ({'a100_sxm'}, {2})}
HELD = {'sm100+': ({'b200_sxm'}, {2, 4, 8}), 'sm90': ({'h100_sxm', 'h200_sxm'}, {8}), 'sm80': ({'a100_sxm'}, {4, 8})}


def calls(op, n):
    return 2 * n - 1 if op == 'all_reduce' else n


def cells(meas, gpus, counts):
    """(measured us, fixed us, calls x size / (n x channels) in us x GB/s, NCCL's own LL time us)."""
    out = []
    for (g, op, n, size), t in sorted(meas.items()):
        if g not in gpus or n not in counts or op == 'alltoall' or not (8192 <= size <= 1 << 28):
            continue
        if op == 'all_reduce' and n == 8 and g != 'a100_sxm' and size >= 1 << 20:
            continue  # NVLS
        sm = SM[g]
        alg, p, algbw = pick(sm, op, n, size)
        if alg != 'ring' or p != LL:
            continue
        ns = steps(op, n)
        call, hop = NVLINK_CALL_HOP[sm]
        fixed = 6.6 + ns * 0.6 + call + ns * hop
        x = calls(op, n) * size / (n * 2 * GRAPH[sm][0]) / 1000
        out.append((t, fixed, x, fixed + size / (1000 * algbw)))
    return out


def fit(cs):
    return sum(x * x for _, _, x, _ in cs) / sum(x * (t - f) for t, f, x, _ in cs)


def errors(cs, rate):
    new = [abs((f + x / rate) / t - 1) for t, f, x, _ in cs]
    old = [abs(o / t - 1) for t, _, _, o in cs]
    return (f'median |error| {100 * statistics.median(new):.1f}% (worst {100 * max(new):.1f}%), '
            f'with llMaxBw {100 * statistics.median(old):.1f}% ({100 * max(old):.1f}%), {len(cs)} cells')


def main():
    meas = load()
    for label, (gpus, counts) in FIT.items():
        fc = cells(meas, gpus, counts)
        rate = fit(fc)
        hc = cells(meas, *HELD[label])
        print(f'{label:7s} LL ring rate {rate:5.2f} GB/s per channel; fit: {errors(fc, rate)}')
        print(f'        held out: {errors(hc, rate)}; their own fit {fit(hc):5.2f}')


if __name__ == '__main__':
    main()
