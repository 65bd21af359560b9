"""Jobs as data, and the runner that executes them under a time budget.

A Job is one or more processes (run at once: one per GPU for sharded benches) with their argv and
environment, a timeout, the files they should write, and an estimate for --dry-run. The runner
gives every job what is left of the budget (less the time to pack the archive), starts none with
too little left, and after every job rewrites the manifest (manifest.json: one entry per job with
its argv, environment, timeout, exit status, seconds and outputs) and the one archive, so that a
call killed at its limit still returns what finished. No shell: argv lists only. Every process runs
in the results folder, so the results-relative paths in its argv (its outputs) are the ones archived.
"""

import dataclasses
import datetime
import json
import os
import signal
import subprocess
import tarfile
import time

PACK_S = 15      # kept for packing the archive at the end
MIN_START_S = 20  # no job starts with less than this left
NO_TIME = 124     # the status of a job not started for lack of time (timeout(1)'s)


@dataclasses.dataclass
class Proc:
    argv: list
    env: dict = dataclasses.field(default_factory=dict)  # name -> value; None unsets
    log: str = ""  # results-relative file for stdout and stderr; "" -> <job name>.log


@dataclasses.dataclass
class Job:
    name: str
    phase: str
    procs: list                      # [Proc], run at once
    timeout: float = 540.0
    estimate: float = 60.0           # seconds, for --dry-run
    outputs: list = dataclasses.field(default_factory=list)  # results-relative files it should write
    monitor: Proc = None             # run alongside (nvidia-smi clocks) and stopped after
    facts: dict = dataclasses.field(default_factory=dict)  # what it measures (a run: the schedule's facts)
    # A process that stops itself at its own --budget (bench-ops): when less time is left than its
    # budget, the runner lowers the value after "--budget" to the time left less this margin.
    budget_margin: float = 0.0

    def describe(self):
        lines = []
        for p in self.procs:
            env = " ".join(f"{k}={'(unset)' if v is None else v}" for k, v in sorted(p.env.items()))
            lines.append((env + " " if env else "") + " ".join(p.argv))
        return lines


def fit_budget(argv, seconds):
    """argv with the value after "--budget" at most `seconds` (whole seconds, at least 10)."""
    out = list(argv)
    if "--budget" in out:
        i = out.index("--budget") + 1
        out[i] = f"{max(10, min(float(out[i]), int(seconds))):g}"
    return out


def base_env(environ=None):
    """The environment every job runs in: NVLink multicast off (it can take a shared host's GPUs out
    of service), NCCL's algorithm and protocol left to NCCL."""
    env = dict(os.environ if environ is None else environ)
    env["NCCL_NVLS_ENABLE"] = "0"
    env.pop("NCCL_ALGO", None)
    env.pop("NCCL_PROTO", None)
    return env


def merged_env(base, changes):
    env = dict(base)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def select(jobs, part=1, parts=1, only=None):
    """Every parts-th job from the part-th (1-based), then those whose name contains `only`."""
    kept = [j for i, j in enumerate(jobs) if i % parts == part - 1]
    if only:
        kept = [j for j in kept if only in j.name]
    return kept


def plan_text(jobs, budget):
    """The jobs with their timeouts and estimates, and the total against the budget."""
    out, total = [], 0.0
    for j in jobs:
        total += j.estimate
        out.append(f"{j.estimate:8.0f} s  {j.phase:12s} {j.name}  (timeout {j.timeout:.0f} s)")
        out.extend("            " + line for line in j.describe())
    out.append(f"{total:8.0f} s  estimated in all, budget {budget:.0f} s"
               + ("" if total + PACK_S <= budget else f": over by {total + PACK_S - budget:.0f} s, "
                  "later jobs will not start (split the phases over calls)"))
    return "\n".join(out)


class Runner:
    """Runs jobs in results_dir (their working folder: an output path in an argv is results-relative,
    as Job.outputs and Proc.log are) and archives that folder at archive_path. `root` is the
    repository, for the record only: programs and inputs come as absolute paths."""

    def __init__(self, root, results_dir, archive_path, budget, header, clock=time.monotonic, log=print):
        self.root = root
        self.results = results_dir
        self.archive_path = archive_path
        self.budget = budget
        self.clock = clock
        self.start = clock()
        self.log = log
        self.manifest = dict(header)
        self.manifest["started"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.manifest["budget_s"] = budget
        self.manifest["jobs"] = []
        self.env = base_env()

    def left(self):
        return self.budget - (self.clock() - self.start)

    def timeout_for(self, job):
        return min(job.timeout, self.left() - PACK_S)

    def run(self, jobs):
        failed = False
        for job in jobs:
            entry = self.run_one(job)
            failed |= entry["status"] != 0
            self.manifest["jobs"].append(entry)
            self.save()
        self.manifest["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.manifest["failed"] = failed
        self.save()
        return failed

    def run_one(self, job):
        entry = {"name": job.name, "phase": job.phase,
                 "procs": [{"argv": p.argv, "env": p.env, "log": p.log or f"{job.name}.log"} for p in job.procs],
                 "outputs": job.outputs}
        if job.facts:
            entry["facts"] = job.facts
        timeout = self.timeout_for(job)
        if self.left() - PACK_S < MIN_START_S:
            entry.update(status=NO_TIME, seconds=0, timeout_s=0, note="not started: no time left (--budget)")
            self.log(f"{job.name:60s} not started: no time left (--budget)")
            return entry
        entry["timeout_s"] = round(timeout, 1)
        if job.budget_margin:
            job = dataclasses.replace(job, procs=[dataclasses.replace(p, argv=fit_budget(p.argv, timeout - job.budget_margin))
                                                  for p in job.procs])
            entry["procs"] = [{"argv": p.argv, "env": p.env, "log": p.log or f"{job.name}.log"} for p in job.procs]
        t0 = self.clock()
        monitor = self.spawn(job.monitor, f"{job.name}.monitor.log") if job.monitor else None
        running, status = [], 0
        try:
            for p in job.procs:
                running.append(self.spawn(p, p.log or f"{job.name}.log"))
            for proc, log in running:
                left = timeout - (self.clock() - t0)
                try:
                    rc = proc.wait(timeout=max(left, 0.1))
                except subprocess.TimeoutExpired:
                    kill(proc)
                    rc = NO_TIME
                status = status or rc
        except OSError as e:
            entry["note"] = f"could not start: {e}"
            status = status or 127
        finally:
            for proc, log in running:
                if proc.poll() is None:
                    kill(proc)
                log.close()
            if monitor:
                kill(monitor[0])
                monitor[1].close()
        entry["status"] = status
        entry["seconds"] = round(self.clock() - t0, 1)
        entry["outputs"] = [o for o in job.outputs if os.path.exists(os.path.join(self.results, o))]
        missing = [o for o in job.outputs if o not in entry["outputs"]]
        if missing:
            entry["missing"] = missing
        self.log(f"{job.name:60s} status {status}, {entry['seconds']:.0f} s")
        return entry

    def spawn(self, p, log_name):
        path = os.path.join(self.results, log_name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        log = open(path, "ab")
        try:
            proc = subprocess.Popen(p.argv, cwd=self.results, env=merged_env(self.env, p.env), stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError:
            log.close()
            raise
        return proc, log

    def save(self):
        write_json(os.path.join(self.results, "manifest.json"), self.manifest)
        pack(self.results, self.archive_path)


def kill(proc):
    """Ends a process this runner started, and its own children (its process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def pack(folder, archive_path):
    """The folder as one .tar.gz, written whole through a temporary name."""
    tmp = archive_path + ".tmp"
    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(folder, arcname=os.path.basename(folder.rstrip("/")))
    os.replace(tmp, archive_path)
