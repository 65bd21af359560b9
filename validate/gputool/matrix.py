"""The validation matrix as data, and the dev-machine steps that need the simulator (build/cli/moesim):

  schedules(gpus)     validate/matrix/<N>gpu/: every (study, plan, batch) of the N-GPU matrix as a
                      gzipped schedule, eager, plus the graph subset built for CUDA graphs, and
                      index.json (file -> study, plan, batch, mode, platform), then the simulator's
                      predictions for every platform of the studies in
                      validate/results/predictions-<N>gpu-<date>.{json,md}, to commit BEFORE measuring
  calibration(gpus)   validate/matrix/<N>gpu-calibration/: the kernel calibration schedules, the same
                      studies and plans at other batches and another routing seed
                      (validate/matrix/calibration/<study>.yaml), so that the validation runs are
                      never calibration data; batches that do not fit are skipped
Schedules are git-ignored and deterministic: regenerate them.
"""

import dataclasses
import json
import os
import subprocess
import tempfile


@dataclasses.dataclass(frozen=True)
class Row:
    study: str    # validate/matrix/<study>.yaml
    label: str    # the model part of schedule file names ("qwen3-30b-a3b")
    plans: tuple
    batches: tuple


@dataclasses.dataclass(frozen=True)
class Matrix:
    platform: str  # the platform schedules are made for
    rows: tuple    # eager schedules
    graphs: Row    # built for CUDA graphs too
    calibration_batches: tuple = (1, 4, 8, 32, 128, 512)


PLANS_8 = ("tp8", "ep8", "tp4xep2", "tp2xpp4", "ep4xpp2")
MATRICES = {
    # 1 GPU must fit one 80 GB H100: qwen3-30b-a3b stops at batch 128.
    1: Matrix("nvswitch-1x-h100",
              (Row("val1-qwen3-30b-a3b", "qwen3-30b-a3b", ("tp1",), (1, 16, 64, 128)),
               Row("val1-deepseek-v3-5l", "deepseek-v3-5l", ("tp1",), (1, 64))),
              Row("val1-qwen3-30b-a3b", "qwen3-30b-a3b", ("tp1",), (1, 64))),
    2: Matrix("nvswitch-2x-h200",
              (Row("val2-qwen3-30b-a3b", "qwen3-30b-a3b", ("tp2", "ep2", "pp2"), (1, 16, 64)),
               Row("val2-mixtral-8x7b", "mixtral-8x7b", ("tp2", "ep2"), (1, 64))),
              Row("val2-qwen3-30b-a3b", "qwen3-30b-a3b", ("tp2", "ep2"), (1, 64))),
    4: Matrix("nvswitch-4x-h100",
              (Row("val-qwen3-30b-a3b", "qwen3-30b-a3b", ("tp4", "ep4", "tp2xep2", "tp2xpp2", "pp4"), (1, 16, 64, 256)),
               Row("val-mixtral-8x7b", "mixtral-8x7b", ("tp4", "ep4", "tp2xpp2"), (1, 64, 256)),
               Row("val-deepseek-v3-5l", "deepseek-v3-5l", ("tp4", "ep4"), (1, 64)),
               Row("val-qwen3-30b-a3b-prefill", "qwen3-30b-a3b-prefill", ("tp4", "ep4"), (1,))),
              Row("val-qwen3-30b-a3b", "qwen3-30b-a3b", ("tp4", "ep4"), (1, 64))),
    8: Matrix("hgx-8x-h100",
              (Row("val8-deepseek-v3-5l", "deepseek-v3-5l", PLANS_8, (1, 64, 256)),
               Row("val8-mixtral-8x7b", "mixtral-8x7b", PLANS_8, (1, 64, 256))),
              Row("val8-mixtral-8x7b", "mixtral-8x7b", ("tp8", "ep8"), (1, 64, 256))),
}
# Prefill studies are calibrated at batches 1 and 2 (a batch is a whole prompt each).
PREFILL_CALIBRATION_BATCHES = (1, 2)
PREFILL_STUDIES = {"val-qwen3-30b-a3b-prefill"}


def matrix_for(gpus):
    if gpus not in MATRICES:
        raise ValueError(f"no validation matrix for {gpus} GPUs (there are: {', '.join(map(str, sorted(MATRICES)))})")
    return MATRICES[gpus]


def schedule_entries(gpus):
    """Every schedule of the matrix: (file name, study, plan, batch, mode), eager rows first."""
    m = matrix_for(gpus)
    out = []
    for rows, mode in ((m.rows, "eager"), ((m.graphs,), "graph")):
        for r in rows:
            for plan in r.plans:
                for b in r.batches:
                    out.append({"file": f"{r.label}_{plan}_b{b}_{mode}.json.gz", "study": f"validate/matrix/{r.study}.yaml",
                                "plan": plan, "batch": b, "mode": mode, "platform": m.platform})
    return out


def calibration_entries(gpus):
    """Every calibration schedule: the eager rows' studies (routing seed 7) and plans at the
    calibration batches."""
    m = matrix_for(gpus)
    out = []
    for r in m.rows:
        batches = PREFILL_CALIBRATION_BATCHES if r.study in PREFILL_STUDIES else m.calibration_batches
        for plan in r.plans:
            for b in batches:
                out.append({"file": f"{r.label}_{plan}_b{b}.json.gz", "study": f"validate/matrix/calibration/{r.study}.yaml",
                            "plan": plan, "batch": b})
    return out


def gzip_file(path):
    """gzip -9 -n: no name or time stamp in the header, so the same schedule gives the same bytes."""
    subprocess.run(["gzip", "-9", "-n", "-f", path], check=True)


def write_schedules(moesim, root, gpus, log=print):
    out = os.path.join(root, "validate", "matrix", f"{gpus}gpu")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    entries = schedule_entries(gpus)
    for e in entries:
        path = os.path.join(out, e["file"][: -len(".gz")])
        flag = "--cuda-graphs" if e["mode"] == "graph" else "--eager"
        subprocess.run([moesim, "schedule", e["study"], "--plan", e["plan"], "--batch", str(e["batch"]), "--platform",
                        e["platform"], flag, "-o", path], cwd=root, check=True)
        gzip_file(path)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(entries, f, indent=1)
        f.write("\n")
    log(f"{len(entries)} schedules in {out}")
    return entries


def predictions_header(gpus, day, commit):
    return (f"# Predictions for the {gpus}-GPU validation matrix ({day}, before measurement)\n\n"
            f"moesim {commit}, uncalibrated platforms (placeholder efficiencies), sampled routing seed 1.\n"
            f"Step times in ms per platform; each row is one schedule of validate/matrix/{gpus}gpu/.\n\n")


def predictions_md_block(study, mode, results):
    """One study's table: plans x batches, a column per platform ('refused' where it does not fit)."""
    plats = sorted({r["platform"] for r in results})
    lines = [f"## {study} ({mode})", "", "| plan | batch | " + " | ".join(plats) + " |", "|---|---:|" + "---:|" * len(plats)]
    rows = {}
    for r in results:
        rows.setdefault((r["plan"], r["batch"]), {})[r["platform"]] = \
            "refused" if r["refused"] else "%.3f" % (r["step_time"] * 1e3)
    for (p, b), v in rows.items():
        lines.append(f"| {p} | {b} | " + " | ".join(v.get(x, "-") for x in plats) + " |")
    return "\n".join(lines) + "\n\n"


def predictions_json_block(study, mode, results):
    keep = ("plan", "platform", "batch", "step_time", "tok_s_user", "refused")
    return json.dumps({"study": study, "mode": mode, "results": [{k: r[k] for k in keep} for r in results]}, indent=1) + "\n"


SIMULATOR_PATHS = ("core", "sim", "topology", "report", "cli", "workloads", "platforms")


def git_commit(root, paths=SIMULATOR_PATHS):
    """The short commit, "+dirty" when `paths` (default: what the simulator is made of; () for the
    whole tree) differ from it; "unknown" without git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", *paths], cwd=root,
                               capture_output=True).returncode != 0
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_predictions(moesim, root, gpus, day):
    """validate/results/predictions-<N>gpu-<day>.{json,md}: every platform of each study, eager, and
    the graph subset under CUDA graphs."""
    m = matrix_for(gpus)
    base = os.path.join(root, "validate", "results", f"predictions-{gpus}gpu-{day}")
    md = predictions_header(gpus, day, git_commit(root))
    blocks = []
    with tempfile.TemporaryDirectory() as tmp:
        for r, mode in [(r, "eager") for r in m.rows] + [(m.graphs, "graph")]:
            args = [moesim, "run", f"validate/matrix/{r.study}.yaml"]
            for p in r.plans:
                args += ["--plan", p]
            for b in r.batches:
                args += ["--batch", str(b)]
            out = os.path.join(tmp, "pred.json")
            subprocess.run(args + ["--cuda-graphs" if mode == "graph" else "--eager", "--json", out], cwd=root, check=True,
                           stdout=subprocess.DEVNULL)
            with open(out) as f:
                results = json.load(f)["results"]
            blocks.append(predictions_json_block(r.study, mode, results))
            md += predictions_md_block(r.study, mode, results)
    with open(base + ".json", "w") as f:
        f.write("[\n" + ",\n".join(blocks) + "]\n")
    with open(base + ".md", "w") as f:
        f.write(md)
    return base


def write_calibration_schedules(moesim, root, gpus, log=print):
    out = os.path.join(root, "validate", "matrix", f"{gpus}gpu-calibration")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    written = skipped = 0
    for e in calibration_entries(gpus):
        path = os.path.join(out, e["file"][: -len(".gz")])
        r = subprocess.run([moesim, "schedule", e["study"], "--plan", e["plan"], "--batch", str(e["batch"]), "--eager",
                            "-o", path], cwd=root, capture_output=True, text=True)
        if r.returncode == 0:
            gzip_file(path)
            written += 1
        else:
            skipped += 1
            log(f"skipped {e['study']} {e['plan']} batch {e['batch']}: {r.stderr[:200]}")
    log(f"{written} calibration schedules in {out}, {skipped} skipped")
    return written, skipped
