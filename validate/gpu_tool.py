#!/usr/bin/env python3
"""moesim's GPU driver: the jobs of a GPU call as data, and the dev-machine steps around them.

GPU machine, from the repository root (one call of the device tool; everything lands in ONE archive,
$OUT/<tag>.tar.gz, rewritten after every job, with manifest.json: per job its argv, environment,
timeout, exit status, seconds and outputs):

  validate/gpu_tool.py gpu-call [--phases build,tests,host,ops,runs] [--budget 570] [--dry-run]
        [--gpus N] [--arch 90] [--schedules PATH...] [--calibration-schedules PATH...]
        [--ops-budget 480] [--iters 5] [--warmup 2] [--tests REGEX] [--only TEXT] [--part I/N]
        [--max-bytes 256M] [--host-timing] [--out DIR]

  Phases (validate/gputool/phases.py): build, tests, host, ops, kernels, collectives, nccl-tests,
  runs. --budget is the whole call's limit in seconds: each job gets what is left (less 15 s to pack),
  none starts with less than 20 s left. The architecture comes from the device (nvidia-smi
  compute_cap) unless --arch. --dry-run prints the jobs with their time estimates and needs no GPU.
  --part I/N keeps every N-th job from the I-th, to spread a long list over calls of one warm machine.

  validate/gpu_tool.py pack-deps     (dev machine) Catch2 v2 into .deps/catch2-v2 (git-ignored), which the
                                     GPU image lacks: carry .deps with the call to build the tests

Dev machine (needs build/cli/moesim):

  validate/gpu_tool.py matrix --gpus N [--day YYYY-MM-DD] [--no-predictions]
  validate/gpu_tool.py calibration-schedules --gpus N
  validate/gpu_tool.py calibration-files RESULTS CARD [--gpus 4]
  validate/gpu_tool.py compare RESULTS --gpus N --platform P --name NAME [--calibration none|auto|FILE]
        [--grouped-gemm per_expert] [--timed-ops] [--index validate/matrix/<N>gpu/index.json] [--driver V]

RESULTS is an extracted archive (runs/, bench/, system.json, manifest.json). Exit status: 0 done,
1 a job or step failed, 2 bad input (one line naming the option and the fix).
"""

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gputool import calibration, compare, device, jobs, matrix, phases  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BadInput(Exception):
    pass


def parse_part(text):
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise BadInput(f"--part: '{text}' is not I/N (fix: write e.g. --part 2/3)")
    if not 1 <= i <= n:
        raise BadInput(f"--part: '{text}' is not I/N with 1 <= I <= N (fix: write e.g. --part 2/3)")
    return i, n


def catch2_prefix(root):
    """Where CMake finds Catch2 v2: .deps/catch2-v2 (carried), "" for the system's, None when there is none."""
    carried = os.path.join(root, ".deps", "catch2-v2")
    if os.path.isdir(carried):
        return carried
    for d in ("/usr/lib/cmake/Catch2", "/usr/local/lib/cmake/Catch2", "/usr/share/cmake/Catch2"):
        v = os.path.join(d, "Catch2ConfigVersion.cmake")
        if os.path.exists(v):
            with open(v) as f:
                if 'PACKAGE_VERSION "2.' in f.read():
                    return ""
    return None


def default_schedules(root, gpus):
    d = os.path.join(root, "validate", "matrix", f"{gpus}gpu")
    return [d] if os.path.isdir(d) else []


def default_calibration(root, gpus):
    return [d for d in (os.path.join(root, "validate", "matrix", f"{k}gpu-calibration") for k in range(gpus, 0, -1))
            if os.path.isdir(d)]


def gpu_call(a):
    phase_list = [p.strip() for p in a.phases.split(",") if p.strip()]
    unknown = [p for p in phase_list if p not in phases.PHASES]
    if unknown:
        raise BadInput(f"--phases: unknown phase '{unknown[0]}' (fix: use {', '.join(phases.PHASES)})")
    part, parts = parse_part(a.part)
    found = device.query_gpus()
    if a.arch:
        arch = a.arch
    elif found:
        arch = device.cuda_arch([g.compute_cap for g in found])
    elif a.dry_run:
        arch = "90"
        print("# no GPU here (nvidia-smi): the plan is for sm_90 and 1 GPU unless --arch and --gpus")
    else:
        raise BadInput("gpu-call: no GPU here (nvidia-smi lists none) (fix: run on a GPU machine, or --dry-run)")
    gpus = a.gpus or len(found) or 1
    if found and gpus > len(found):
        raise BadInput(f"--gpus: {gpus} asked for, {len(found)} here (fix: pass --gpus {len(found)} or fewer)")
    catch2 = catch2_prefix(ROOT)
    if "tests" in phase_list and catch2 is None:
        print("# no Catch2 v2 here (carry .deps from `gpu_tool.py pack-deps`): the tests are not built, phase tests dropped")
        phase_list = [p for p in phase_list if p != "tests"]
    work = tempfile.mkdtemp(prefix="moesim-gpu-")
    tag = "gpu-" + "-".join(phase_list) + (f"-part{part}of{parts}" if parts > 1 else "")
    cfg = phases.GpuConfig(root=ROOT, work=work, gpus=gpus, arch=arch, iters=a.iters, warmup=a.warmup, tests=a.tests,
                           ops_budget=a.ops_budget, max_bytes=a.max_bytes, host_timing=a.host_timing,
                           schedules=a.schedules if a.schedules is not None else default_schedules(ROOT, gpus),
                           calibration=(a.calibration_schedules if a.calibration_schedules is not None
                                        else default_calibration(ROOT, gpus)),
                           build_tests=catch2 is not None, catch2=catch2 or "", ccache=shutil.which("ccache") is not None)
    try:
        planned = jobs.select(phases.plan_jobs(cfg, phase_list), part, parts, a.only)
    except (OSError, ValueError) as e:
        raise BadInput(f"gpu-call: {e}")
    if a.dry_run:
        print(f"# gpu-call {tag}: {len(planned)} jobs on {gpus} GPU(s), CUDA architecture {arch}, budget {a.budget:.0f} s")
        print(jobs.plan_text(planned, a.budget))
        if "ops" in phase_list:
            ops_plan(cfg)
        shutil.rmtree(work, ignore_errors=True)
        return 0
    out = a.out or os.environ.get("OUT") or os.path.join(ROOT, "gpu-out")
    os.makedirs(out, exist_ok=True)
    results = os.path.join(work, tag)
    os.makedirs(os.path.join(results, "runs"), exist_ok=True)
    os.makedirs(os.path.join(results, "bench"), exist_ok=True)
    archive = os.path.join(out, tag + ".tar.gz")
    log_path = os.path.join(results, tag + ".log")

    def log(text, end="\n"):
        print(text, end=end, flush=True)
        with open(log_path, "a") as f:
            f.write(text + end)

    header = {"tool": "validate/gpu_tool.py gpu-call", "argv": sys.argv, "commit": matrix.git_commit(ROOT, ()),
              "phases": phase_list, "gpus": gpus, "arch": arch,
              "devices": [{"index": g.index, "name": g.name, "compute_cap": g.compute_cap} for g in found]}
    log(f"== {tag}: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}, {header['commit']}, "
        f"{gpus} GPU(s), sm_{arch}, {len(planned)} jobs, budget {a.budget:.0f} s")
    runner = jobs.Runner(ROOT, results, archive, a.budget, header, log=log)
    failed = runner.run(planned)
    log(f"== wrote {archive} ({os.path.getsize(archive) >> 10} KiB); failed={int(failed)}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def ops_plan(cfg):
    """bench-ops' own plan (families, points, estimates), from a moesim-validate built here if any."""
    for exe in (os.path.join(ROOT, cfg.exe), os.path.join(ROOT, "build", "validate", "moesim-validate")):
        if os.path.exists(exe):
            print(f"# bench.ops, as {os.path.relpath(exe, ROOT)} --dry-run plans it for an H200:")
            subprocess.run([exe, "bench-ops", "--dry-run", "--gpu", "h200", "--budget", f"{cfg.ops_budget:g}"], check=False)
            return
    print("# bench.ops: build moesim-validate here for its plan (bench-ops --dry-run)")


def pack_deps(a):
    src_inc, src_cmake = "/usr/include/catch2", "/usr/lib/cmake/Catch2"
    if not (os.path.exists(os.path.join(src_inc, "catch.hpp")) and os.path.isdir(src_cmake)):
        raise BadInput("pack-deps: no Catch2 v2 here (fix: install catch2 v2, scripts/install-deps.sh)")
    dst = os.path.join(ROOT, ".deps", "catch2-v2")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src_inc, os.path.join(dst, "include", "catch2"))
    shutil.copytree(src_cmake, os.path.join(dst, "lib", "cmake", "Catch2"))
    lib = "/usr/lib/libCatch2WithMain.a"
    if os.path.exists(lib):
        shutil.copy(lib, os.path.join(dst, "lib"))
    print(f"wrote {dst}; name .deps in the device call's carry")
    return 0


def moesim_exe():
    exe = os.path.join(ROOT, "build", "cli", "moesim")
    if not os.path.exists(exe):
        raise BadInput(f"{exe}: not built (fix: cmake --build build --target moesim)")
    return exe


def main(argv=None):
    p = argparse.ArgumentParser(prog="validate/gpu_tool.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gpu-call", help="run jobs on this GPU machine into one archive")
    g.add_argument("--phases", default="build,tests,host,ops,runs")
    g.add_argument("--budget", type=float, default=570.0)
    g.add_argument("--dry-run", action="store_true")
    g.add_argument("--gpus", type=int, default=0)
    g.add_argument("--arch", default="")
    g.add_argument("--schedules", nargs="*")
    g.add_argument("--calibration-schedules", nargs="*")
    g.add_argument("--ops-budget", type=float, default=480.0)
    g.add_argument("--iters", type=int, default=5)
    g.add_argument("--warmup", type=int, default=2)
    g.add_argument("--tests", default="")
    g.add_argument("--only", default="")
    g.add_argument("--part", default="1/1")
    g.add_argument("--max-bytes", default="256M")
    g.add_argument("--host-timing", action="store_true")
    g.add_argument("--out", default="")
    sub.add_parser("pack-deps", help="Catch2 v2 into .deps/catch2-v2 for the GPU machine")
    m = sub.add_parser("matrix", help="validation matrix schedules and predictions")
    m.add_argument("--gpus", type=int, required=True)
    m.add_argument("--day", default=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"))
    m.add_argument("--no-predictions", action="store_true")
    c = sub.add_parser("calibration-schedules", help="kernel calibration schedules")
    c.add_argument("--gpus", type=int, required=True)
    f = sub.add_parser("calibration-files", help="calibration files from a call's benches")
    f.add_argument("results")
    f.add_argument("card")
    f.add_argument("--gpus", type=int, default=4)
    k = sub.add_parser("compare", help="measured against simulated")
    k.add_argument("results")
    k.add_argument("--gpus", type=int, required=True)
    k.add_argument("--platform", required=True)
    k.add_argument("--name", required=True)
    k.add_argument("--calibration", default="none")
    k.add_argument("--grouped-gemm", default="", choices=["", "fused", "per_expert"])
    k.add_argument("--timed-ops", action="store_true")
    k.add_argument("--index", default=None)
    k.add_argument("--driver", default=os.environ.get("DRIVER", ""))
    a = p.parse_args(argv)
    try:
        if a.command == "gpu-call":
            if a.budget < 60:
                raise BadInput(f"--budget: {a.budget:g} s is too short (fix: give at least 60)")
            return gpu_call(a)
        if a.command == "pack-deps":
            return pack_deps(a)
        if a.command == "matrix":
            exe = moesim_exe()
            matrix.write_schedules(exe, ROOT, a.gpus)
            if not a.no_predictions:
                print("wrote " + matrix.write_predictions(exe, ROOT, a.gpus, a.day) + ".{json,md}")
            return 0
        if a.command == "calibration-schedules":
            matrix.write_calibration_schedules(moesim_exe(), ROOT, a.gpus)
            return 0
        if a.command == "calibration-files":
            for w in calibration.write_files(ROOT, a.results, a.card, a.gpus, moesim_exe()):
                print("wrote " + w)
            return 0
        if a.command == "compare":
            compare.compare(ROOT, a.results, a.gpus, a.platform, a.name, a.calibration, a.grouped_gemm, a.timed_ops,
                            a.index, a.driver, moesim_exe())
            return 0
    except BadInput as e:
        print(f"gpu_tool.py: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, compare.CompareError) as e:
        print(f"gpu_tool.py: error: {e}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as e:
        print(f"gpu_tool.py: error: {' '.join(map(str, e.cmd))} exited with status {e.returncode}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
