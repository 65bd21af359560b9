#!/usr/bin/env python3
"""Router records with their GEMM dims, from a bench-ops run's own log (session 26).

bench-ops wrote router records with elements (rows x width) and bytes only until session 26; its log
(ops.txt) names each point's rows, width and experts, in the records' order. This writes the run's
router records, each with rows, width and experts added, to OUT (the other records left out), after
checking each against its record: elements = rows x width, bytes = 2 rows width + 2 experts width +
4 rows experts (bf16 x and weights, fp32 logits), the launch mode. core reads such records as GEMMs
(docs/op-bench-format.md). Usage: router_dims.py RESULTS_DIR OUT.json.gz
"""
import gzip
import json
import re
import sys

LINE = re.compile(r"^(stream|graph)\s+[0-9.]+ us\s+router rows=(\d+) width=(\d+) experts=(\d+)")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    run, out = sys.argv[1], sys.argv[2]
    with gzip.open(f"{run}/ops.json.gz", "rt") as f:
        bench = json.load(f)
    with gzip.open(f"{run}/ops.txt.gz", "rt") as f:
        points = [m.groups() for m in map(LINE.match, f) if m]
    routers = [r for r in bench["records"] if r["op"] == "router"]
    if len(routers) != len(points):
        sys.exit(f"{run}: {len(routers)} router records, {len(points)} router lines in ops.txt.gz: not one run")
    for i, (r, (launch, rows, width, experts)) in enumerate(zip(routers, points)):
        rows, width, experts = int(rows), int(width), int(experts)
        want_bytes = 2 * rows * width + 2 * experts * width + 4 * rows * experts
        if r["launch"] != launch or r["elements"] != rows * width or r["bytes"] != want_bytes:
            sys.exit(f"{run}: router record {i} does not match its log line (launch, elements or bytes)")
        r.update(rows=rows, width=width, experts=experts)
    bench["records"] = routers
    with gzip.GzipFile(out, "wb", mtime=0) as f:  # the same bytes on every run
        f.write(json.dumps(bench, indent=1, sort_keys=True).encode() + b"\n")
    print(f"{out}: {len(routers)} router records with rows, width and experts")


if __name__ == "__main__":
    main()
