"""The jobs of a GPU call, phase by phase, as data (gpu_tool.py gpu-call turns them into one run):

  build        configure and build the harness without SimGrid (and without Boost) for this
               machine's GPU architecture, in build-gpu/
  tests        the [gpu] tests (ctest -L gpu)
  host         moesim-validate bench-host: host time per API call, GPU busy and idle, 1 .. N threads
  ops          moesim-validate bench-ops: the op grid under its budget, one shard per GPU at once
  kernels      moesim-validate bench-kernels over the calibration schedules (one shard per GPU)
  collectives  moesim-validate bench-collectives (event-timed) of every collective over every
               power-of-two group, P2P on and off
  nccl-tests   NVIDIA's nccl-tests all_reduce_perf and alltoall_perf, when .nccl-tests is carried
  runs         moesim-validate run of every schedule given: eagerly, and under --graph as well when
               the schedule was made for CUDA graphs (its engine.cuda_graphs); P2P on, then off

Every process runs in the call's results folder (jobs.Runner), so the outputs its argv names
(bench/ops.json, runs/X.json) land in the archive; programs, build folders and inputs are absolute
paths. Every process runs with NCCL_NVLS_ENABLE=0. Facts about a schedule (model, plan, batch, phase, CUDA
graphs) are read from the schedule's JSON, never from its file name.
"""

import dataclasses
import glob
import gzip
import json
import os

from . import jobs as J

PHASES = ["build", "tests", "host", "ops", "kernels", "collectives", "nccl-tests", "runs"]
COLLECTIVES = ["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "sendrecv"]


@dataclasses.dataclass
class GpuConfig:
    root: str                      # repository root (where jobs run)
    work: str                      # scratch folder (decompressed schedules)
    gpus: int                      # GPUs used
    arch: str                      # CMake CUDA_ARCHITECTURES
    build_dir: str = "build-gpu"
    iters: int = 5                 # schedule runs' timed iterations
    warmup: int = 2
    tests: str = ""                # ctest -R
    ops_budget: float = 480.0      # bench-ops --budget
    schedules: list = dataclasses.field(default_factory=list)    # files or folders (runs)
    calibration: list = dataclasses.field(default_factory=list)  # files or folders (kernels)
    max_bytes: str = "256M"        # bench-collectives -e
    host_timing: bool = False      # also nccl-tests-style host-timed collectives
    build_tests: bool = True       # Catch2 v2 is there (the [gpu] tests can be built)
    catch2: str = ""               # CMAKE_PREFIX_PATH holding Catch2 v2; "" for the system's
    ccache: bool = False           # compile through ccache (where it is installed)

    @property
    def build(self):
        """The build folder as an absolute path: jobs run in the results folder, not the repository."""
        return os.path.join(self.root, self.build_dir)

    @property
    def exe(self):
        return os.path.join(self.build, "validate", "moesim-validate")

    def p2p_modes(self):
        return ["on"] if self.gpus == 1 else ["on", "off"]


def p2p_env(mode):
    return {"NCCL_P2P_DISABLE": "1"} if mode == "off" else {"NCCL_P2P_DISABLE": None}


def build_jobs(c):
    configure = ["cmake", "-S", c.root, "-B", c.build, "-G", "Ninja", "-DMOESIM_WITH_SIMGRID=OFF",
                 "-DCMAKE_BUILD_TYPE=Release", f"-DMOESIM_CUDA_ARCHITECTURES={c.arch}",
                 # CMake 4 refuses package configs that ask for CMake < 3.5 (Catch2 v2's) without this
                 "-DCMAKE_POLICY_VERSION_MINIMUM=3.5",
                 f"-DMOESIM_BUILD_TESTS={'ON' if c.build_tests else 'OFF'}"]
    if c.catch2:
        configure.append(f"-DCMAKE_PREFIX_PATH={c.catch2}")
    if c.ccache:
        configure += ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache", "-DCMAKE_CUDA_COMPILER_LAUNCHER=ccache"]
    return [J.Job("configure", "build", [J.Proc(configure, log="configure.log")], timeout=300, estimate=20),
            J.Job("build", "build", [J.Proc(["cmake", "--build", c.build, "--target", "moesim-validate"]
                                            + (["moesim_gpu_tests"] if c.build_tests else []) + ["--", "-k", "0"],
                                            log="build.log")],
                  timeout=900, estimate=120)]


def system_jobs(c):
    """What the machine is: devices, driver, CUDA and NCCL versions; GPU topology."""
    return [J.Job("system", "system", [J.Proc([c.exe, "--info"], log="system.json")], timeout=60, estimate=2,
                  outputs=["system.json"]),
            J.Job("topology", "system", [J.Proc(["nvidia-smi", "topo", "-m"], log="topology.txt")], timeout=60,
                  estimate=2, outputs=["topology.txt"])]


def test_jobs(c):
    # Four test processes at once: correctness tests, which share the GPU without harm.
    argv = ["ctest", "--test-dir", c.build, "-L", "gpu", "-j", "4", "--output-on-failure", "--timeout", "600"]
    if c.tests:
        argv += ["-R", c.tests]
    return [J.Job("gpu-tests", "tests", [J.Proc(argv, log="tests.log")], timeout=600, estimate=150)]


def clocks_monitor(log):
    return J.Proc(["nvidia-smi", "--query-gpu=index,clocks.sm,clocks.mem,power.draw", "--format=csv", "-lms", "500"],
                  log=log)


def host_jobs(c):
    most = max(c.gpus, 4)
    threads = len([t for t in range(0, 16) if 2 ** t < most]) + 1
    return [J.Job("bench.host", "host",
                  [J.Proc([c.exe, "bench-host", "-g", str(c.gpus), "-t", str(most), "--json", "bench/host.json"],
                          log="bench/host.txt")],
                  timeout=300, estimate=1.0 + 1.5 * threads, outputs=["bench/host.json"])]


def ops_jobs(c):
    budget = f"{c.ops_budget:g}"
    if c.gpus == 1:
        procs = [J.Proc([c.exe, "bench-ops", "--json", "bench/ops.json", "--budget", budget], log="bench/ops.txt")]
        outputs = ["bench/ops.json", "bench/ops.json.run.json"]
    else:
        procs, outputs = [], []
        for i in range(1, c.gpus + 1):
            procs.append(J.Proc([c.exe, "bench-ops", "--json", f"bench/ops.{i}.json", "--budget", budget, "--shard",
                                 f"{i}/{c.gpus}"], env={"CUDA_VISIBLE_DEVICES": str(i - 1)}, log=f"bench/ops.{i}.txt"))
            outputs += [f"bench/ops.{i}.json", f"bench/ops.{i}.json.run.json"]
    return [J.Job("bench.ops", "ops", procs, timeout=c.ops_budget + 60, estimate=c.ops_budget, outputs=outputs,
                  monitor=clocks_monitor("bench/ops.clocks.csv"), budget_margin=30)]


def schedule_files(paths):
    """Schedule files (.json, .json.gz) of the given files and folders, in sorted order per folder."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            found = glob.glob(os.path.join(p, "*.json")) + glob.glob(os.path.join(p, "*.json.gz"))
            files += sorted(f for f in found if os.path.basename(f) != "index.json")
        elif os.path.exists(p):
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such schedule file or folder")
    return files


def schedule_label(path):
    """A schedule's name for people and result files: its file name without .json(.gz)."""
    base = os.path.basename(path)
    for ext in (".json.gz", ".json"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base


def load_schedule(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)


def schedule_facts(s):
    """What a schedule is, from its own JSON."""
    return {"model": s["model"], "plan": s["plan"]["name"], "phase": s["step"]["phase"],
            "batch": s["step"]["batch"], "world": s["world"],
            "cuda_graphs": bool(s.get("engine", {}).get("cuda_graphs", False)),
            "grouped_gemm": s.get("engine", {}).get("grouped_gemm", "fused")}


def matrix_index(folder):
    """file name -> entry of the folder's index.json (gpu_tool.py matrix writes it); {} without one."""
    path = os.path.join(folder, "index.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {e["file"]: e for e in json.load(f)}


def decompress(path, folder):
    """The schedule as plain JSON in `folder` (copied when it is plain already); returns the path."""
    os.makedirs(folder, exist_ok=True)
    dst = os.path.join(folder, schedule_label(path) + ".json")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f, open(dst, "wb") as g:
        g.write(f.read())
    return dst


def kernel_jobs(c):
    files = schedule_files(c.calibration)
    if not files:
        return []
    cal = [decompress(f, os.path.join(c.work, "calibration", os.path.basename(os.path.dirname(f)))) for f in files]
    procs, outputs = [], []
    for i in range(1, c.gpus + 1):
        procs.append(J.Proc([c.exe, "bench-kernels", "--shard", f"{i}/{c.gpus}", "--json", f"bench/kernels.{i}.json",
                             "--iters", "7", "--warmup", "2"] + cal,
                            env={"CUDA_VISIBLE_DEVICES": str(i - 1)}, log=f"bench/kernels.{i}.txt"))
        outputs.append(f"bench/kernels.{i}.json")
    return [J.Job("bench.kernels", "kernels", procs, timeout=540, estimate=300, outputs=outputs,
                  monitor=clocks_monitor("bench/kernels.clocks.csv"))]


def collective_groups(gpus):
    """The GPU count and every power of two below it down to 2 (the TP and EP groups of hybrid plans)."""
    groups = [gpus] if gpus >= 2 else []
    g = 2
    while g < gpus:
        groups.append(g)
        g *= 2
    return groups


def collective_jobs(c):
    out = []
    for p2p in c.p2p_modes():
        for g in collective_groups(c.gpus):
            for op in COLLECTIVES:
                timings = ["events"] + (["host"] if c.host_timing else [])
                for timing in timings:
                    file = op + ("" if g == c.gpus else f".g{g}") + f".p2p-{p2p}" + (".host" if timing == "host" else "")
                    argv = [c.exe, "bench-collectives", "--op", op, "-b", "1K", "-e", c.max_bytes, "-f", "2", "-g",
                            str(g), "--timing", timing, "--json", f"bench/{file}.json"]
                    out.append(J.Job(f"bench.{file}", "collectives", [J.Proc(argv, env=p2p_env(p2p), log=f"bench/{file}.txt")],
                                     timeout=540, estimate=20, outputs=[f"bench/{file}.json"]))
    return out


def nccl_tests_jobs(c, nccl_include, nccl_lib):
    """nccl-tests built against the NCCL moesim-validate links (its include folder and library)."""
    src = os.path.join(c.root, ".nccl-tests")
    if not os.path.isdir(os.path.join(src, "src")):
        return []
    bindir = os.path.join(src, "build")
    libdir = os.path.dirname(nccl_lib)
    gencode = ";".join(f"-gencode=arch=compute_{a},code=sm_{a}" for a in c.arch.split(";"))
    env = {"LIBRARY_PATH": libdir, "LD_LIBRARY_PATH": libdir}
    make = ["make", "-C", os.path.join(src, "src"), "-j16", "MPI=0", "CUDA_HOME=/usr/local/cuda",
            f"NCCL_HOME={os.path.dirname(nccl_include)}", f"NVCC_GENCODE={gencode}", f"BUILDDIR={bindir}",
            os.path.join(bindir, "all_reduce_perf"), os.path.join(bindir, "alltoall_perf")]
    out = [J.Job("nccl-tests.build", "nccl-tests", [J.Proc(make, env=env, log="bench/nccl-tests.build.log")],
                 timeout=400, estimate=120)]
    for op in ["all_reduce", "alltoall"]:
        run = [os.path.join(bindir, f"{op}_perf"), "-b", "8", "-e", "256M", "-f", "2", "-g", str(c.gpus)]
        out.append(J.Job(f"nccl-tests.{op}", "nccl-tests", [J.Proc(run, env=env, log=f"bench/nccl-tests.{op}.txt")],
                         timeout=240, estimate=30, outputs=[f"bench/nccl-tests.{op}.txt"]))
    return out


def run_jobs(c):
    """Every schedule, P2P on first (and off where there are peers), eagerly, and under --graph too
    when the schedule was made for CUDA graphs."""
    sched = []
    for f in schedule_files(c.schedules):
        path = decompress(f, os.path.join(c.work, "schedules"))
        facts = schedule_facts(load_schedule(path))
        # The study a matrix schedule was made from (validate/matrix/<N>gpu/index.json), for the
        # comparison with the simulator.
        entry = matrix_index(os.path.dirname(f)).get(os.path.basename(f))
        if entry:
            facts["study"] = entry["study"]
        sched.append((schedule_label(f), path, facts))
    out = []
    for p2p in c.p2p_modes():
        for label, path, facts in sched:
            if facts["world"] > c.gpus:
                raise ValueError(f"{label}: the schedule needs {facts['world']} GPUs, this call has {c.gpus}")
            for mode in (["graph", "eager"] if facts["cuda_graphs"] else ["eager"]):
                name = f"{label}.p2p-{p2p}.{mode}"
                argv = [c.exe, "run", path] + (["--graph"] if mode == "graph" else []) + [
                    "--iters", str(c.iters), "--warmup", str(c.warmup), "--out", f"runs/{name}.json"]
                out.append(J.Job(name, "runs", [J.Proc(argv, env=p2p_env(p2p), log=f"runs/{name}.txt")],
                                 timeout=540, estimate=5, outputs=[f"runs/{name}.json"],
                                 facts=dict(facts, schedule=os.path.basename(path), mode=mode, p2p=p2p,
                                            timeline=f"runs/{name}.json")))
    return out


def find_nccl(build_dir, cache_text=None):
    """NCCL's include folder and library: those moesim-validate was configured with (its CMake
    cache), else the first of the usual places that exist."""
    if cache_text is None:
        path = os.path.join(build_dir, "CMakeCache.txt")
        cache_text = ""
        if os.path.exists(path):
            with open(path) as f:
                cache_text = f.read()
    inc = lib = ""
    for line in cache_text.splitlines():
        if line.startswith("MOESIM_NCCL_INCLUDE:"):
            inc = line.split("=", 1)[1]
        elif line.startswith("MOESIM_NCCL_LIB:"):
            lib = line.split("=", 1)[1]
    if not inc:
        inc = next((d for d in ["/usr/local/cuda/include", "/usr/include"] if os.path.exists(os.path.join(d, "nccl.h"))),
                   "/usr/include")
    if not lib:
        lib = next((f for f in ["/usr/local/cuda/lib64/libnccl.so", "/usr/local/cuda/lib/libnccl.so",
                                "/usr/lib/x86_64-linux-gnu/libnccl.so"] if os.path.exists(f)),
                   "/usr/lib/x86_64-linux-gnu/libnccl.so")
    return inc, lib


def plan_jobs(c, phases, nccl=None):
    """The jobs of `phases` in the canonical order, with the system queries once the harness exists."""
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise ValueError(f"unknown phase {unknown[0]!r} (phases: {', '.join(PHASES)})")
    jobs = []
    if "build" in phases:
        jobs += build_jobs(c)
    jobs += system_jobs(c)
    builders = {"tests": test_jobs, "host": host_jobs, "ops": ops_jobs, "kernels": kernel_jobs,
                "collectives": collective_jobs, "runs": run_jobs,
                "nccl-tests": lambda cfg: nccl_tests_jobs(cfg, *(nccl or find_nccl(cfg.build)))}
    for p in PHASES[1:]:
        if p in phases:
            jobs += builders[p](c)
    return jobs
