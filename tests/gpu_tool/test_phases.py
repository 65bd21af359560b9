"""gputool.phases: the jobs of each phase as data, without a GPU. Schedule facts come from the
schedule's JSON, never from its file name."""

import gzip
import json
import os
import unittest

from support import scratch
from gputool import phases as P


def cfg(tmp, gpus=1, **kw):
    return P.GpuConfig(root=tmp, work=os.path.join(tmp, "work"), gpus=gpus, arch="90", **kw)


def write_schedule(folder, name, cuda_graphs, world=1, gz=False):
    s = {"model": "M", "plan": {"name": "tp1"}, "step": {"phase": "decode", "batch": 4}, "world": world,
         "engine": {"cuda_graphs": cuda_graphs, "grouped_gemm": "per_expert"}, "ranks": []}
    path = os.path.join(folder, name)
    data = json.dumps(s).encode()
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
    return path


class PhasesTest(unittest.TestCase):
    def test_build_is_simgrid_free_for_the_device_architecture(self):
        with scratch() as tmp:
            configure, build = P.build_jobs(cfg(tmp))
            argv = configure.procs[0].argv
            self.assertIn("-DMOESIM_WITH_SIMGRID=OFF", argv)
            self.assertIn("-DMOESIM_CUDA_ARCHITECTURES=90", argv)
            self.assertIn("-DMOESIM_BUILD_TESTS=ON", argv)
            self.assertFalse(any("boost" in a.lower() for a in argv))  # no stand-in Boost config
            # Absolute: jobs run in the results folder.
            self.assertEqual(build.procs[0].argv[:5], ["cmake", "--build", os.path.join(tmp, "build-gpu"), "--target",
                                                       "moesim-validate"])
            self.assertEqual(argv[1:5], ["-S", tmp, "-B", os.path.join(tmp, "build-gpu")])
            self.assertIn("moesim_gpu_tests", build.procs[0].argv)
            no_tests = P.build_jobs(cfg(tmp, build_tests=False))
            self.assertIn("-DMOESIM_BUILD_TESTS=OFF", no_tests[0].procs[0].argv)
            self.assertNotIn("moesim_gpu_tests", no_tests[1].procs[0].argv)
            carried = P.build_jobs(cfg(tmp, catch2="/r/.deps/catch2-v2"))
            self.assertIn("-DCMAKE_PREFIX_PATH=/r/.deps/catch2-v2", carried[0].procs[0].argv)
            self.assertFalse(any("ccache" in a for a in argv))
            self.assertIn("-DCMAKE_CUDA_COMPILER_LAUNCHER=ccache", P.build_jobs(cfg(tmp, ccache=True))[0].procs[0].argv)

    def test_ops_one_shard_per_gpu(self):
        with scratch() as tmp:
            (one,) = P.ops_jobs(cfg(tmp, ops_budget=440))
            self.assertEqual(one.procs[0].argv, [os.path.join(tmp, "build-gpu", "validate", "moesim-validate"),
                                                 "bench-ops", "--json", "bench/ops.json", "--budget", "440"])
            self.assertEqual(one.outputs, ["bench/ops.json", "bench/ops.json.run.json"])
            self.assertEqual(one.timeout, 500)  # the budget and a minute to start and write
            (four,) = P.ops_jobs(cfg(tmp, gpus=4))
            self.assertEqual(len(four.procs), 4)
            self.assertEqual(four.procs[2].env, {"CUDA_VISIBLE_DEVICES": "2"})
            self.assertEqual(four.procs[2].argv[-2:], ["--shard", "3/4"])
            self.assertIn("bench/ops.3.json", four.outputs)

    def test_collectives_over_every_power_of_two_group(self):
        self.assertEqual(P.collective_groups(8), [8, 2, 4])
        self.assertEqual(P.collective_groups(4), [4, 2])
        self.assertEqual(P.collective_groups(1), [])
        with scratch() as tmp:
            js = P.collective_jobs(cfg(tmp, gpus=4))
            # 2 P2P modes x 2 groups x 5 collectives
            self.assertEqual(len(js), 20)
            names = [j.name for j in js]
            self.assertEqual(names[0], "bench.all_reduce.p2p-on")
            self.assertIn("bench.sendrecv.g2.p2p-off", names)
            off = js[names.index("bench.all_to_all.g2.p2p-off")]
            self.assertEqual(off.procs[0].env, {"NCCL_P2P_DISABLE": "1"})
            self.assertIn("--timing", off.procs[0].argv)
            self.assertEqual(js[0].procs[0].env, {"NCCL_P2P_DISABLE": None})

    def test_runs_read_facts_from_the_schedule(self):
        with scratch() as tmp:
            folder = os.path.join(tmp, "sched")
            os.makedirs(folder)
            # Named like a graph schedule, but built eagerly: the JSON decides, one eager run.
            write_schedule(folder, "m_tp1_b4_graph.json", cuda_graphs=False)
            write_schedule(folder, "other.json.gz", cuda_graphs=True, gz=True)
            with open(os.path.join(folder, "index.json"), "w") as f:
                json.dump([{"file": "other.json.gz", "study": "validate/matrix/val1-x.yaml"}], f)
            js = P.run_jobs(cfg(tmp, schedules=[folder]))
            self.assertEqual([j.name for j in js], ["m_tp1_b4_graph.p2p-on.eager", "other.p2p-on.graph",
                                                     "other.p2p-on.eager"])
            g = js[1]
            self.assertIn("--graph", g.procs[0].argv)
            self.assertEqual(g.facts["model"], "M")
            self.assertEqual(g.facts["batch"], 4)
            self.assertEqual(g.facts["grouped_gemm"], "per_expert")
            self.assertEqual(g.facts["study"], "validate/matrix/val1-x.yaml")
            self.assertEqual(g.facts["timeline"], "runs/other.p2p-on.graph.json")
            self.assertNotIn("study", js[0].facts)  # no index entry for it
            self.assertTrue(os.path.exists(g.procs[0].argv[2]))  # decompressed for the run
            # Two GPUs: every run with P2P on first, then off.
            js2 = P.run_jobs(cfg(tmp, gpus=2, schedules=[folder]))
            self.assertEqual([j.facts["p2p"] for j in js2], ["on"] * 3 + ["off"] * 3)
            # A schedule for more GPUs than the call has is refused.
            write_schedule(folder, "big.json", cuda_graphs=False, world=8)
            with self.assertRaises(ValueError):
                P.run_jobs(cfg(tmp, gpus=2, schedules=[folder]))

    def test_plan_order_and_unknown_phase(self):
        with scratch() as tmp:
            names = [j.phase for j in P.plan_jobs(cfg(tmp), ["host", "build", "tests"])]
            self.assertEqual(names, ["build", "build", "system", "system", "tests", "host"])
            with self.assertRaises(ValueError):
                P.plan_jobs(cfg(tmp), ["bench"])

    def test_nccl_from_the_cmake_cache(self):
        cache = "MOESIM_NCCL_INCLUDE:PATH=/opt/nccl/include\nMOESIM_NCCL_LIB:FILEPATH=/opt/nccl/lib/libnccl.so\n"
        self.assertEqual(P.find_nccl("x", cache), ("/opt/nccl/include", "/opt/nccl/lib/libnccl.so"))
        with scratch() as tmp:
            self.assertEqual(P.nccl_tests_jobs(cfg(tmp), "/opt/nccl/include", "/opt/nccl/lib/libnccl.so"), [])
            os.makedirs(os.path.join(tmp, ".nccl-tests", "src"))
            js = P.nccl_tests_jobs(cfg(tmp, gpus=2), "/opt/nccl/include", "/opt/nccl/lib/libnccl.so")
            self.assertIn("NCCL_HOME=/opt/nccl", js[0].procs[0].argv)
            self.assertIn("NVCC_GENCODE=-gencode=arch=compute_90,code=sm_90", js[0].procs[0].argv)
            self.assertEqual(js[1].procs[0].argv[-2:], ["-g", "2"])


if __name__ == "__main__":
    unittest.main()
