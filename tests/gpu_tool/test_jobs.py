"""gputool.jobs: selection, the plan text, and the runner with real processes (no GPU): exit status,
timeouts, the budget, environment, outputs, the manifest and the archive."""

import json
import os
import sys
import tarfile
import unittest

from support import scratch
from gputool import jobs as J

PY = sys.executable


def job(name, code, timeout=30, outputs=(), env=None, estimate=1):
    return J.Job(name, "test", [J.Proc([PY, "-c", code], env=env or {})], timeout=timeout, estimate=estimate,
                 outputs=list(outputs))


class SelectTest(unittest.TestCase):
    def test_part_then_only(self):
        js = [job(f"j{i}", "pass") for i in range(7)]
        # part 2 of 3: indices 1 and 4 (every third from the second)
        self.assertEqual([j.name for j in J.select(js, 2, 3)], ["j1", "j4"])
        self.assertEqual([j.name for j in J.select(js, 1, 1, only="j6")], ["j6"])

    def test_plan_text_flags_an_overrun(self):
        js = [job("a", "pass", estimate=100), job("b", "pass", estimate=200)]
        # 300 s of jobs and 15 s to pack: within 400, over 300 by 15
        self.assertIn("300 s  estimated in all, budget 400 s", J.plan_text(js, 400))
        self.assertNotIn("over by", J.plan_text(js, 400))
        self.assertIn("over by 15 s", J.plan_text(js, 300))

    def test_env(self):
        base = J.base_env({"NCCL_ALGO": "Ring", "NCCL_PROTO": "LL", "PATH": "/bin"})
        self.assertEqual(base, {"NCCL_NVLS_ENABLE": "0", "PATH": "/bin"})
        self.assertEqual(J.merged_env(base, {"NCCL_P2P_DISABLE": "1", "PATH": None}),
                         {"NCCL_NVLS_ENABLE": "0", "NCCL_P2P_DISABLE": "1"})


class RunnerTest(unittest.TestCase):
    def run_jobs(self, js, budget=300, mkdirs=()):
        self.tmp = scratch()
        res = os.path.join(self.tmp.name, "res")
        os.makedirs(res)
        for d in mkdirs:  # gpu_tool.py gpu-call makes bench/ and runs/ in the results folder
            os.makedirs(os.path.join(res, d))
        archive = os.path.join(self.tmp.name, "out.tar.gz")
        r = J.Runner(self.tmp.name, res, archive, budget, {"tool": "test"}, log=lambda *a, **k: None)
        failed = r.run(js)
        with open(os.path.join(res, "manifest.json")) as f:
            manifest = json.load(f)
        return failed, manifest, res, archive

    def tearDown(self):
        self.tmp.cleanup()

    def test_statuses_outputs_env_manifest_archive(self):
        write = "import os; open('out.txt', 'w').write(os.environ['X'] + os.environ['NCCL_NVLS_ENABLE'])"
        failed, m, res, archive = self.run_jobs([
            job("ok", write, outputs=["out.txt", "missing.txt"], env={"X": "x"}),
            job("fails", "import sys; print('boom'); sys.exit(3)"),
        ])
        self.assertTrue(failed)
        ok, bad = m["jobs"]
        self.assertEqual(ok["status"], 0)
        self.assertEqual(ok["outputs"], ["out.txt"])
        self.assertEqual(ok["missing"], ["missing.txt"])
        self.assertEqual(ok["procs"][0]["env"], {"X": "x"})
        self.assertEqual(ok["procs"][0]["argv"][0], PY)
        with open(os.path.join(res, "out.txt")) as f:
            self.assertEqual(f.read(), "x0")  # NVLink multicast off
        self.assertEqual(bad["status"], 3)
        with open(os.path.join(res, "fails.log")) as f:
            self.assertIn("boom", f.read())
        self.assertTrue(m["failed"])
        self.assertEqual(m["tool"], "test")
        self.assertEqual(m["budget_s"], 300)
        with tarfile.open(archive) as t:
            names = t.getnames()
        self.assertIn("res/manifest.json", names)
        self.assertIn("res/fails.log", names)

    def test_an_output_named_in_the_argv_lands_in_the_archive(self):
        # The way bench.ops names its output: a results-relative path in its argv (--json
        # bench/ops.json). The process must write it into the results folder, where the manifest
        # looks and which is archived, not into the repository root (call 1 on the H200 lost
        # bench/ops.json that way).
        code = "import sys; open(sys.argv[sys.argv.index('--json') + 1], 'w').write('{}')"
        j = J.Job("bench.fake", "test", [J.Proc([PY, "-c", code, "--json", "bench/fake.json"], log="bench/fake.txt")],
                  outputs=["bench/fake.json"])
        failed, m, res, archive = self.run_jobs([j], mkdirs=["bench"])
        self.assertFalse(failed)
        self.assertEqual(m["jobs"][0]["outputs"], ["bench/fake.json"])
        self.assertNotIn("missing", m["jobs"][0])
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "bench", "fake.json")))  # not in the root
        with tarfile.open(archive) as t:
            self.assertIn("res/bench/fake.json", t.getnames())

    def test_timeout_kills_and_reports_124(self):
        failed, m, _, _ = self.run_jobs([job("sleeps", "import time; time.sleep(60)", timeout=1)], budget=300)
        self.assertTrue(failed)
        self.assertEqual(m["jobs"][0]["status"], J.NO_TIME)
        self.assertEqual(m["jobs"][0]["timeout_s"], 1)
        self.assertLess(m["jobs"][0]["seconds"], 20)

    def test_no_job_starts_without_time(self):
        # 30 s of budget: 15 s are kept for packing, which leaves less than the 20 s a job needs.
        failed, m, _, _ = self.run_jobs([job("late", "pass")], budget=30)
        self.assertTrue(failed)
        self.assertEqual(m["jobs"][0]["status"], J.NO_TIME)
        self.assertIn("no time left", m["jobs"][0]["note"])

    def test_a_self_budgeted_job_gets_the_time_left(self):
        self.assertEqual(J.fit_budget(["x", "--budget", "480", "--json", "f"], 200.7), ["x", "--budget", "200", "--json", "f"])
        self.assertEqual(J.fit_budget(["x", "--budget", "480"], 900), ["x", "--budget", "480"])
        self.assertEqual(J.fit_budget(["x", "--budget", "480"], 3), ["x", "--budget", "10"])
        self.assertEqual(J.fit_budget(["x"], 3), ["x"])
        # 100 s of budget: the job may run 85 s (15 kept for packing) less the moments already spent,
        # its process 30 s less: 55, or 54 once the whole seconds are floored.
        j = job("self", "import sys; print(sys.argv)", timeout=200, estimate=1)
        j.procs[0].argv += ["--budget", "480"]
        j.budget_margin = 30
        _, m, res, _ = self.run_jobs([j], budget=100)
        self.assertEqual(m["jobs"][0]["procs"][0]["argv"][-2], "--budget")
        self.assertIn(m["jobs"][0]["procs"][0]["argv"][-1], ("54", "55"))

    def test_a_missing_program_is_a_failed_job(self):
        failed, m, _, _ = self.run_jobs([J.Job("nope", "test", [J.Proc(["/no/such/program"])])])
        self.assertTrue(failed)
        self.assertEqual(m["jobs"][0]["status"], 127)


if __name__ == "__main__":
    unittest.main()
