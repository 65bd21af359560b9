#!/usr/bin/env python3
"""NVIDIA AIConfigurator's measured disaggregated serving runs (silicon_sample.csv, mode disagg) as
published rows for moesim: prefill and decode on separate workers, the KV cache sent between them.

    convert_disagg.py CSV [-o silicon-disagg.yaml] [--metric tpot_ms|ttft_ms] [--subset-csv FILE]
                      [--excluded FILE] [--part K/N]

Keeps the disagg runs on H100, H200 or B200 of the models in moesim's zoo whose workers each fit one
8-GPU node, and writes them in validate/public/published.yaml's row format with a `disaggregated:`
serve workload (the row's platform and plan are the decode workers'). The per-row choices shared with
the agg rows (model, dtypes, engine profile, records, plan naming, concurrency, requests) are
convert.py's; the disagg-only ones are below and in README.md beside this file. Nothing is tuned to
the rows.
"""
import argparse

import convert as agg

# AIConfigurator's own accuracy tooling predicts a disagg row only when it states both workers' batch
# size and count (tools/accuracy_tracking/make_silicon_refs.py @095f58a5, REQUIRED_DISAGG_FIELDS).
REQUIRED = ("prefill_batch_size", "prefill_num_workers", "decode_batch_size", "decode_num_workers")
# The KV link between workers, GB/s a GPU: the rows do not say how their workers were placed or
# joined. The DGX/HGX H100, H200 and B200 systems carry one 400 Gb/s ConnectX-7 NIC a GPU (8 a node),
# and the generators' transfer backend is RDMA (NIXL: sglang.rule `kv_transfer_backend ... "nixl"`,
# TensorRT-LLM's cache transceiver), so 400 Gb/s = 50 GB/s a GPU, without latency.
KV_LINK_GBS = 50


def pool_view(row, pool):
    """The pool's columns under the agg names, so convert.plan_of reads them."""
    v = dict(row)
    for f in ("tp_size", "pp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size", "batch_size"):
        v[f] = row[f"{pool}_{f}"]
    return v


def engine_sets(row, backend):
    """(prefill, decode) engine facts from AIConfigurator's generator rules for a disagg worker
    (src/aiconfigurator/generator/rule_plugin/<backend>.rule @095f58a5), the workers' batch sizes as
    the row gives them (per attention-DP rank: the rows' concurrency is decode_batch_size x decode
    attention DP x decode workers in every row kept)."""
    isl, pb, db = int(row["isl"]), int(row["prefill_batch_size"]), int(row["decode_batch_size"])
    if backend == "trtllm":
        # prefill max_batch_size = the row's; max_num_tokens = isl + 500 rounded up to 32 (the block);
        # prefill disable_overlap_scheduler = true; a prefill worker takes whole prompts (chunked prefill
        # is off in the profile and the rule does not turn it on); decode max_batch_size = the row's.
        return ({"max_num_seqs": pb, "max_num_batched_tokens": (isl + 500 + 31) // 32 * 32, "chunked_prefill": "false",
                 "overlap_scheduler": "false"},
                {"max_num_seqs": db})
    if backend == "sglang":
        # prefill max_batch_size = the row's, max_prefill_tokens = isl + 1500; decode max_batch_size
        # 512 when the row's is below 512, else twice the row's.
        return ({"max_num_seqs": pb, "max_num_batched_tokens": isl + 1500},
                {"max_num_seqs": 512 if db < 512 else 2 * db})
    return None


def wanted(row):
    return row["mode"] == "disagg" and row["system"] in agg.SYSTEMS and row["model_path"] in agg.MODELS


def convert(rows, metric="tpot_ms"):
    out, excluded = [], []
    for r in rows:
        if not wanted(r):
            continue
        lacking = [f for f in REQUIRED if not r[f]]
        if lacking:
            excluded.append((r["id"], "does not state " + ", ".join(lacking) +
                             " (AIConfigurator's accuracy tooling skips such rows too)"))
            continue
        if "silicon_concurrency=" not in r["silicon_data_source"]:
            excluded.append((r["id"], "no concurrency stated"))
            continue
        sets = engine_sets(r, r["backend"])
        if sets is None:
            excluded.append((r["id"], f"no generator rule read for {r['backend']} disagg workers"))
            continue
        plans = {}
        for pool in ("prefill", "decode"):
            plan, gpus = agg.plan_of(pool_view(r, pool))
            if plan is None:
                excluded.append((r["id"], f"{pool} worker: {gpus}"))
                break
            plans[pool] = (plan, gpus)
        if len(plans) < 2:
            continue
        gpu = agg.SYSTEMS[r["system"]]
        model = agg.MODELS[r["model_path"]]
        (pplan, pgpus), (dplan, dgpus) = plans["prefill"], plans["decode"]
        pplat, dplat = agg.PLATFORMS[(gpu, pgpus)], agg.PLATFORMS[(gpu, dgpus)]
        dt, note = agg.dtypes_of(model, r)
        conc = agg.concurrency_of(r)
        pn, dn = int(r["prefill_num_workers"]), int(r["decode_num_workers"])
        row = {
            "id": r["id"],
            "category": "nvlink",
            "source": f"{agg.SOURCE}: {r['id']}",
            "date": agg.measured_date(r),
            "engine": agg.ENGINES[r["backend"]],
            "engine_version": agg.version_of(r),
            "model": model,
            "dtypes": dt,
            "platform": dplat,
            "interconnect": (f"prefill {pn} x {pgpus} {r['system']}, decode {dn} x {dgpus}; "
                             f"KV at {KV_LINK_GBS} GB/s a GPU (assumed)"),
            "plan": dplan,
        }
        # Records as the agg rows of the GPU, engine and model name them, and only where the two
        # pools' platforms would name the same (else each pool would need its own).
        rec = agg.records(r["backend"], gpu, model, dplat)
        if rec != agg.records(r["backend"], gpu, model, pplat):
            excluded.append((r["id"], f"the pools' platforms ({pplat}, {dplat}) name different records"))
            continue
        row.update(rec)

        def flow(d):
            return "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"

        row["workload"] = (f"{{kind: serve, input: {int(r['isl'])}, output: {int(r['osl'])}, "
                           f"requests: {agg.ROUNDS * conc}, concurrency: {conc}, disaggregated: "
                           f"{{prefill_platform: {pplat}, prefill_plan: {pplan}, prefill_instances: {pn}, "
                           f"decode_instances: {dn}, kv_link: {KV_LINK_GBS}, prefill_engine_set: {flow(sets[0])}, "
                           f"decode_engine_set: {flow(sets[1])}}}}}")
        row["metric"] = metric
        row["measured"] = float(r["silicon_" + metric])
        notes = [n for n in (note, "engine sets: AIConfigurator's generator rules for disagg workers, not stated by "
                             "the row; KV link assumed") if n]
        row["note"] = "; ".join(notes)
        # For the moe_records rule's check (convert.py records_vllm_sglang): a decode instance's share
        # of the concurrency, the tokens its MoE layers run a step, against the measured TPOT.
        row["_conc"] = max(1, conc // dn)
        row["_tpot"] = float(r["silicon_tpot_ms"])
        out.append(row)
    # vLLM and SGLang rows name their engine's fused-MoE table by the rule of docs/engines.md (the
    # agg rows' rule, written before these rows were converted), applied to the decode plan's split.
    agg.records_vllm_sglang(out)
    return out, excluded


HEADER = """\
# NVIDIA AIConfigurator's measured disaggregated serving runs as published rows: written by
# validate/public/silicon/convert_disagg.py from silicon_sample-disagg.csv (the rows of
# """ + agg.SOURCE + """
# with mode disagg this set uses); do not edit by hand. Row format and rules:
# validate/public/published.yaml's header; `platform` and `plan` are the decode workers', the
# workload's `disaggregated:` map the prefill workers', the counts, the KV link and each pool's engine
# facts. metric tpot_ms: the serving loop's mean TPOT; + = moesim too fast. Choices: README.md beside
# this file."""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("--metric", choices=("tpot_ms", "ttft_ms"), default="tpot_ms")
    ap.add_argument("--subset-csv", help="also write the disagg rows read (all columns) to this CSV, with a source header")
    ap.add_argument("--excluded", help="write the rows left out with their reason (markdown table) to this file")
    ap.add_argument("--part", help="K/N: only rows K, K+N, K+2N ... (from 0)")
    a = ap.parse_args(argv)
    src = agg.read_rows(a.csv)
    rows, excluded = convert(src, a.metric)
    rows = agg.part_of(rows, a.part, ap)
    header = HEADER if a.metric == "tpot_ms" else HEADER.replace("metric tpot_ms: the serving loop's mean TPOT",
                                                                 "metric ttft_ms: the serving loop's mean TTFT")
    agg.write_outputs(a, agg.render(rows, header), src, wanted, "mode disagg", "convert_disagg.py", rows, excluded)


if __name__ == "__main__":
    main()
