#!/usr/bin/env python3
"""The facts a round's design tables are made of, read from its committed schedules (Debian's python3
only; no simulator, no GPU): per step, each attention op's launch as the harness's kernel picks it
(kernels/attention.cu: attention_splits, row tiles, chunk; the 64-row prefill tiles), the bytes of the op
just before each small kernel and since the previous kernel of its kind, the memory and the roofline.

    validate/oos/round_facts.py --set oos16 [--l2-mb 52.4]

Launch rules mirrored from kernels/attention.cu (pick, row_tiles, key_lo, attention_splits, attention):
a GQA decode (q_len 1) of at most 16 query heads a KV head takes 16-row tiles of 64 keys; more rows take
64-row tiles (32 above d_v 256); MLA's absorbed decode (values inside the keys) 32-row tiles of 32 keys.
units = row tiles x KV heads x batch; no split at >= 2 x SMs units or <= 256 keys, else splits =
min(ceil(4 x SMs / units), ceil(keys / 256), 64); chunk = ceil(keys / splits) rounded up to the tile's keys.
"""
import argparse
import gzip
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oos  # noqa: E402

HBM = 3.35e12    # H100 SXM5 bytes/s, as round 15's roofline
FLOPS = 990e12   # bf16 dense
SMS = 132
SMALL = ("rmsnorm", "residual_add", "silu_mul", "topk", "permute", "unpermute")


SMEM_SM, SMEM_BLOCK, SMEM_RESERVED, THREADS_SM = 228 * 1024, 227 * 1024, 1024, 2048  # compute capability 9.0


def block_smem(rows, keys, dqk, dv, latent, registers):
    """One decode block's shared memory (core/perf/forms/decode_tiles.cpp block_smem, the kernel's
    smem_layout): Q and K rows of d_qk + 8 elements, V rows of d_v + 8 (none for a latent), and the score,
    probability and row-statistic buffers where the warps split the value columns."""
    b = rows * (dqk + 8) * 2 + keys * (dqk + 8) * 2
    if not latent:
        b += keys * (dv + 8) * 2
    if not registers:
        b += rows * (keys + 4) * 4 + rows * (keys + 8) * 2 + rows * 3 * 4
    return b


def resident(sh):
    """Decode blocks resident on one SM (decode_tiles' c): min(smem_per_sm / (smem + reserved), threads)."""
    mla = "mla" in sh
    if mla:
        dqk, dv = sh["mla"]["kv_lora_rank"] + sh["mla"]["rope_dim"], sh["mla"]["kv_lora_rank"]
        rows, keys, threads, reg = 32, 32, 256, False
    else:
        dqk, dv = sh["head_dim_qk"], sh["head_dim_v"]
        group = sh["q_heads"] // sh["kv_heads"]
        if group <= 16:
            rows, keys, threads, reg = 16, 64, 128, False
        elif dv <= 256:
            rows, keys, threads, reg = 64, 64, 128, True
        else:
            rows, keys, threads, reg = 32, (64 if dv <= 384 else 32), 256, False
    smem = block_smem(rows, keys, dqk, dv, mla, reg)
    if keys == 64 and smem > SMEM_BLOCK:
        smem = block_smem(rows, 32, dqk, dv, mla, reg)
    return max(1, min(SMEM_SM // (smem + SMEM_RESERVED), THREADS_SM // threads))


def attention_launch(sh, kind, sms=SMS):
    """(row tiles, KV heads, units, splits, chunk keys, blocks, split columns) of one attention op."""
    batch = sh["batch"]
    mla = "mla" in sh
    q_len = sh["prompt"]
    kv_len = sh["cached"] + sh["prompt"]
    dv = sh["head_dim_v"] if not (mla and kind == "attention_decode") else sh["mla"]["kv_lora_rank"]
    if mla and kind == "attention_decode":
        bm, bn, kvh = 32, 32, 1
    else:
        kvh = sh["kv_heads"]
        rows = q_len * (sh["q_heads"] // kvh)
        if rows <= 16:
            bm, bn = 16, 64
        else:
            bm, bn = (64 if dv <= 256 else 32), 64
    rows = q_len * (sh["q_heads"] // kvh)
    tiles = -(-rows // bm)
    units = tiles * kvh * batch
    window = sh.get("sliding_window", 0)
    lo = max(0, kv_len - q_len - window + 1) if window > 0 else 0
    keys = kv_len - lo
    if kind != "attention_decode" or units >= 2 * sms or keys <= 256:
        splits = 1
    else:
        splits = max(1, min(-(-4 * sms // units), -(-keys // 256), 64))
    chunk = -(-(-(-keys // splits)) // bn) * bn
    return {"tiles": tiles, "kv_heads": kvh, "units": units, "splits": splits, "chunk": chunk,
            "blocks": units * splits, "split_columns": splits * -(-dv // 128) if splits > 1 else 0,
            "keys": keys, "d_v": dv, "rows_per_tile": bm,
            "resident": resident(sh) if kind == "attention_decode" else None}


def small_kernel_bytes(ops):
    """(kind, bytes of the op just before, X since the previous op of its kind) per blended small kernel,
    the first op of the step reaching back to the step's last (the same schedule again)."""
    before = [0.0]
    for o in ops:
        before.append(before[-1] + o["bytes"])
    last = {o["kind"]: i for i, o in enumerate(ops) if o["kind"] in SMALL}
    prev, out = {}, []
    for i, o in enumerate(ops):
        k = o["kind"]
        if k not in SMALL:
            continue
        x = before[i] - before[prev[k] + 1] if k in prev else before[-1] - before[last[k] + 1] + before[i]
        just_before = ops[i - 1]["bytes"] if i > 0 else ops[-1]["bytes"]
        out.append((k, just_before, x, o.get("name")))
        prev[k] = i
    return out


def step_facts(doc):
    ops = doc["ranks"][0]["ops"]
    att = [(o["kind"], o["shape"], attention_launch(o["shape"], o["kind"]), o["bytes"]) for o in ops
           if o["kind"] in ("attention_decode", "attention_prefill")]
    roof = sum(max(o["bytes"] / HBM, o["flops"] / FLOPS) for o in ops)
    return {"ops": ops, "attention": att, "roofline_us": roof * 1e6, "small": small_kernel_bytes(ops)}


def rng(xs, scale=1e6):
    xs = sorted(xs)
    if not xs:
        return "-"
    a, b = xs[0] / scale, xs[-1] / scale
    f = (lambda v: f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 1 else f"{v:.2f}")
    return f(a) if f(a) == f(b) else f"{f(a)}-{f(b)}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", required=True)
    a = p.parse_args()
    oset = oos.SETS[a.set]
    total = 0.0
    print("| step | attention: kind, heads, d_v, keys | units | splits | chunk | blocks (waves of 132) | split x ceil(d_v/128) | KV or attention MB a layer | roofline us |")
    print("|---|---|---:|---:|---:|---|---:|---:|---:|")
    rows_small = []
    for e in oos.entries(oset):
        with gzip.open(os.path.join(oos.ROOT, oset.schedules, e["file"]), "rt") as f:
            doc = json.load(f)
        s = step_facts(doc)
        total += s["roofline_us"]
        seen = {}
        for kind, sh, l, b in s["attention"]:
            key = (sh.get("sliding_window", 0), sh["cached"])
            seen.setdefault(key, (kind, sh, l, b))
        for kind, sh, l, b in seen.values():
            heads = "MLA {}".format(sh["q_heads"]) if "mla" in sh else f"{sh['q_heads']}/{sh['kv_heads']}"
            print(f"| {e['file'][6:-8]} | {kind[10:]}, {heads}, {l['d_v']}, {l['keys']:,}"
                  f"{' (window)' if sh.get('sliding_window', 0) else ''} | {l['units']} | {l['splits']} | {l['chunk']:,} "
                  f"| {l['blocks']:,} ({l['blocks'] / SMS:.2f}) | {l['split_columns']} | {b / 1e6:.1f} | {s['roofline_us']:,.0f} |")
        by = {}
        for k, jb, x, name in s["small"]:
            by.setdefault(k, ([], []))
            by[k][0].append(jb)
            by[k][1].append(x)
        rows_small.append((e["file"][6:-8], by))
    print(f"\nroofline total {total:,.0f} us")
    print("\n| step | " + " | ".join(SMALL) + " |  (op just before / X since the previous of its kind, MB)")
    print("|---|" + "---|" * len(SMALL))
    for name, by in rows_small:
        print(f"| {name} | " + " | ".join(f"{rng(by[k][0])} / {rng(by[k][1])}" if k in by else "-" for k in SMALL) + " |")


if __name__ == "__main__":
    main()
