#!/usr/bin/env python3
"""Joins `moesim published` tables of silicon rows into silicon.md with its summary.

    summarise.py silicon.yaml PART.md... -o silicon.md [--stratified]

The error of a row is published / moesim - 1 of its TPOT (+ = moesim too fast), from the tables'
published and moesim columns. Rows marked `seen: session 24` in their note are shown apart, not in
the summary (they were looked at before a modelling change), and so are rows labelled `missing`
(their columns contradict the load or layout written). Run by run.sh.
"""
import argparse
import re
import statistics

import yaml


def band(c):
    return "1-16" if c <= 16 else "17-128" if c <= 128 else ">128"


def gpu_of(platform):
    return platform.rsplit("-", 1)[-1]


def quant(r):
    d = r.get("dtypes") or {}
    return d.get("expert_weights", {"deepseek-v3": "fp8", "gpt-oss-120b": "mxfp4", "kimi-k2": "fp8"}.get(r["model"], "bf16"))


def pct(x):
    return f"{x * 100:+.0f}%"


def apct(x):
    return f"{x * 100:.0f}%"


def stats_row(name, errs, extra=""):
    a = [abs(e) for e in errs]
    return (f"| {name} | {len(errs)} | {apct(statistics.median(a))} | {apct(max(a))} | "
            f"{pct(statistics.median(errs))} | {sum(e > 0 for e in errs)}/{len(errs)} |{extra}")


def table(title, groups):
    out = [f"\n### {title}\n", "| group | rows | median abs error | worst | median signed | moesim too fast |",
           "|---|---|---|---|---|---|"]
    for k in sorted(groups, key=str):
        out.append(stats_row(k, groups[k]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows")
    ap.add_argument("parts", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--stratified", action="store_true")
    ap.add_argument("--disagg", action="store_true", help="the disaggregated rows (run-disagg.sh)")
    a = ap.parse_args()
    meta = {r["id"]: r for r in yaml.safe_load(open(a.rows))["rows"]}
    order = {i: n for n, i in enumerate(meta)}
    header, lines = None, {}
    for p in a.parts:
        for line in open(p):
            if line.startswith("| id |"):
                header = line
            if not line.startswith("| "):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] in meta:
                lines[cells[0]] = (cells, line)
    ok, seen, labelled, failed = {}, {}, {}, []
    for i, (cells, _) in lines.items():
        if cells[8] == "-":
            failed.append((i, cells[11]))
            continue
        e = meta[i]["measured"] / float(cells[8]) - 1
        if meta[i].get("missing"):
            labelled[i] = e
        else:
            (seen if "seen: session 24" in (meta[i].get("note") or "") else ok)[i] = e

    def by(f):
        g = {}
        for i, e in ok.items():
            g.setdefault(f(meta[i]), []).append(e)
        return g

    out = ["# NVIDIA AIConfigurator's measured serving runs against moesim (TPOT)", "",
           "Written by `validate/public/silicon/run.sh" + (" --stratified" if a.stratified else "") + "` (README.md beside "
           "this file) from silicon.yaml, the rows of ai-dynamo/aiconfigurator "
           "aic-core/src/aiconfigurator_core/systems/silicon_sample.csv @095f58a5 on one H100, H200 or B200 node "
           "(mode agg) of the models in moesim's zoo. Metric: mean TPOT per request in ms (time per output token "
           "after the first); error = published / moesim - 1, so + means moesim too fast (a shorter TPOT than "
           "measured). Out of sample: nothing was tuned to these rows.", ""]
    if a.disagg:
        out[0] = "# NVIDIA AIConfigurator's measured disaggregated serving runs against moesim (TPOT)"
        out[2] = ("Written by `validate/public/silicon/run-disagg.sh` (README.md beside this file) from silicon-disagg.yaml, "
                  "the rows of ai-dynamo/aiconfigurator aic-core/src/aiconfigurator_core/systems/silicon_sample.csv "
                  "@095f58a5 with mode disagg (prefill and decode on separate workers, each one H100, H200 or B200 "
                  "node or part of one) of the models in moesim's zoo, simulated by `moesim published` with "
                  "prefill and decode apart (pipeline/serve_disagg). Metric: mean TPOT per request in ms; error = "
                  "published / moesim - 1, so + means moesim too fast. Out of sample: nothing was tuned to these rows.")
    if a.stratified:
        out.append(f"Simulated: the stratified subset (per group of GPU, engine and version, model, quantization, plan "
                   f"and lengths, the lowest, a middle and the highest concurrency): {len(lines)} of the {len(meta)} "
                   "rows of silicon.yaml.\n")
    all_e = list(ok.values())
    out.append(f"Summary: {len(all_e)} rows simulated (not counting {len(seen)} seen in session 24, "
               f"{len(labelled)} labelled missing and {len(failed)} not simulated): median |error| {apct(statistics.median(map(abs, all_e)))}, "
               f"worst {apct(max(map(abs, all_e)))}, median signed {pct(statistics.median(all_e))}.")
    # The loop's mean decode batch against the client's concurrency: far below it, the requests ran
    # mostly one after another in the loop (a prompt admitted only whole, into a step its decodes left
    # room for), so its TPOT is a lone request's.
    loop_mean = {}
    for i in ok:
        m = re.search(r"loop mean ([0-9.]+)", lines[i][0][5])
        if m:
            loop_mean[i] = float(m.group(1))
    # (Prefill and decode apart: the loop mean is one decode instance's, beside its share of the concurrency.)
    def per_instance(w):
        return w["concurrency"] / (w.get("disaggregated") or {}).get("decode_instances", 1)

    starved = {i for i, b in loop_mean.items() if b < per_instance(meta[i]["workload"]) / 4}
    batched = [e for i, e in ok.items() if i not in starved]
    out.append(f"Without the {len(starved)} rows whose loop was starved (below): {len(batched)} rows, median |error| "
               f"{apct(statistics.median(map(abs, batched)))}, worst {apct(max(map(abs, batched)))}, median signed "
               f"{pct(statistics.median(batched))}.")
    out += table("By engine", by(lambda r: r["engine"]))
    out += table("The loop's mean decode batch below a quarter of the concurrency (starved) or not",
                 by(lambda r: f"{r['engine']} {'starved' if r['id'] in starved else 'batched'}"))
    out += table("By GPU", by(lambda r: gpu_of(r["platform"])))
    out += table("By model", by(lambda r: r["model"]))
    out += table("By concurrency band", by(lambda r: band(r["workload"]["concurrency"])))
    out += table("By engine and GPU", by(lambda r: f"{r['engine']} {gpu_of(r['platform'])}"))
    out += table("By engine, GPU and concurrency band",
                 by(lambda r: f"{r['engine']} {gpu_of(r['platform'])} {band(r['workload']['concurrency'])}"))
    # Config groups: the error at the lowest and at the highest concurrency of each.
    # Rows whose loop was starved are counted apart.
    groups, starved_of = {}, {}
    for i, e in ok.items():
        r = meta[i]
        k = (gpu_of(r["platform"]), r["engine"], r["engine_version"], r["model"], quant(r), r["plan"])
        if i in starved:
            starved_of.setdefault(k, []).append(e)
            continue
        groups.setdefault(k, []).append((r["workload"]["concurrency"], r["workload"]["input"], r["workload"]["output"], e))
    # How the error moves with concurrency: per configuration and lengths with two concurrencies or
    # more (starved rows left out), the error at the highest minus the error at the lowest.
    trend = {}
    for i, e in ok.items():
        if i in starved:
            continue
        r = meta[i]
        k = (gpu_of(r["platform"]), r["engine"], r["engine_version"], r["model"], quant(r), r["plan"],
             r["workload"]["input"], r["workload"]["output"])
        trend.setdefault(k, []).append((r["workload"]["concurrency"], e))
    moves = {}
    for k, v in trend.items():
        if len({c for c, _ in v}) < 2:
            continue
        v.sort()
        moves.setdefault(f"{k[1]} {k[0]}", []).append((v[-1][1] - v[0][1], v[0][0], v[-1][0]))
    out += ["\n### How the error moves from the lowest to the highest concurrency\n",
            "Per configuration and lengths (rows whose loop was starved left out): the error at the highest "
            "concurrency minus the error at the lowest. Falling (negative): moesim's TPOT grows more with batch than "
            "the measured one, i.e. moesim is too fast at small batch relative to large (a fixed per-step cost "
            "missing, or a cost growing with batch too large); rising (positive): moesim's TPOT grows less with "
            "batch than the measured one (a cost growing with batch missing, or a fixed per-step cost too "
            "large).\n",
            "| engine GPU | series | median change | falling | rising | median lowest c | median highest c |",
            "|---|---|---|---|---|---|---|"]
    for k in sorted(moves):
        d = [x for x, _, _ in moves[k]]
        out.append(f"| {k} | {len(d)} | {pct(statistics.median(d))} | {sum(x < 0 for x in d)} | {sum(x > 0 for x in d)} | "
                   f"c{statistics.median(lo for _, lo, _ in moves[k]):.0f} | c{statistics.median(hi for _, _, hi in moves[k]):.0f} |")
    out += ["\n### Configurations (GPU, engine, version, model, experts' dtype, plan), worst median first\n",
            "Rows whose loop was starved are counted apart (last column) and left out of the rest. The error at "
            "the lowest and the highest concurrency (the median over lengths at each) shows how it moves with "
            "batch.\n",
            "| GPU | engine | version | model | experts | plan | rows | median abs | median signed | lowest c: error | "
            "highest c: error | starved rows: median |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for k, v in sorted(groups.items(), key=lambda kv: -abs(statistics.median(e for *_, e in kv[1]))):
        st = starved_of.get(k, [])
        st_cell = f"{len(st)}: {pct(statistics.median(st))}" if st else "-"
        lo, hi = min(c for c, *_ in v), max(c for c, *_ in v)
        elo = statistics.median(e for c, *_, e in v if c == lo)
        ehi = statistics.median(e for c, *_, e in v if c == hi)
        out.append(f"| {' | '.join(k)} | {len(v)} | {apct(statistics.median(abs(e) for *_, e in v))} | "
                   f"{pct(statistics.median(e for *_, e in v))} | c{lo}: {pct(elo)} | c{hi}: {pct(ehi)} | {st_cell} |")
    for k in [k for k in starved_of if k not in groups]:
        st = starved_of[k]
        out.append(f"| {' | '.join(k)} | 0 | - | - | - | - | {len(st)}: {pct(statistics.median(st))} |")
    if seen:
        out += ["\n### Seen in session 24 (not accuracy)\n", "| id | error |", "|---|---|"]
        out += [f"| {i} | {pct(e)} |" for i, e in sorted(seen.items(), key=lambda x: order[x[0]])]
    if labelled:
        out += ["\n### Labelled missing (not accuracy)\n", "| id | error | missing |", "|---|---|---|"]
        out += [f"| {i} | {pct(e)} | {'; '.join(meta[i]['missing'])} |"
                for i, e in sorted(labelled.items(), key=lambda x: order[x[0]])]
    if failed:
        out += ["\n### Not simulated\n", "| id | why |", "|---|---|"]
        out += [f"| {i} | {why} |" for i, why in sorted(failed, key=lambda x: order[x[0]])]
    out += ["\n### Every row\n", header.rstrip("\n"), "|" + "---|" * (header.count("|") - 1)]
    out += [lines[i][1].rstrip("\n") for i in sorted(lines, key=lambda i: order[i])]
    with open(a.output, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
