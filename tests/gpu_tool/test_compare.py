"""gputool.compare: which study, plan and batch a measured run is simulated with (from the manifest
or the matrix index, never from file names), when it was measured, and the tables from diffs
(fixtures with hand-derived numbers; the byte-for-byte agreement with the tables committed under
validate/results needs the simulator and is checked by hand: see docs/gpu-tool.md)."""

import json
import os
import unittest

from support import scratch
from gputool import compare as C


def dump(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f)


SYSTEM = {"devices": [{"name": "NVIDIA H200"}], "device_count": 1, "runtime_version": "13.0", "nccl_version": "2.28.3",
          "driver_build": "580.159.04"}


class FactsTest(unittest.TestCase):
    def test_from_manifest_then_index(self):
        with scratch() as tmp:
            dump(os.path.join(tmp, "manifest.json"), {"jobs": [{"name": "x", "facts": {
                "timeline": "runs/a.p2p-on.eager.json", "study": "validate/matrix/val1-q.yaml", "plan": "tp1", "batch": 4,
                "schedule": "a.json"}}]})
            dump(os.path.join(tmp, "index.json"), [{"file": "b_graph.json.gz", "study": "validate/matrix/val1-q.yaml",
                                                    "plan": "tp1", "batch": 64}])
            facts, index = C.run_facts(tmp, os.path.join(tmp, "index.json"))
            measured = {"measurement": {"schedule": "/tmp/xyz/schedules/b_graph.json"}}
            self.assertEqual(C.study_of(facts, index, measured, "a.p2p-on.eager.json"),
                             ("validate/matrix/val1-q.yaml", "tp1", 4, "a.json"))
            # No facts for this run: the schedule it recorded, looked up in the index.
            self.assertEqual(C.study_of(facts, index, measured, "b.p2p-on.graph.json"),
                             ("validate/matrix/val1-q.yaml", "tp1", 64, "b_graph.json.gz"))
            with self.assertRaises(C.CompareError):
                C.study_of(facts, {}, measured, "b.p2p-on.graph.json")

    def test_p2p_from_the_measured_environment(self):
        self.assertTrue(C.p2p_off({"measurement": {"nccl_env": {"NCCL_P2P_DISABLE": "1"}}}))
        self.assertFalse(C.p2p_off({"measurement": {"nccl_env": {"NCCL_P2P_DISABLE": None}}}))

    def test_measured_on(self):
        with scratch() as tmp:
            dump(os.path.join(tmp, "system.json"), SYSTEM)
            self.assertIn("(date of system.json", C.measured_on(tmp))
            with open(os.path.join(tmp, "matrix-1gpu.log"), "w") as f:
                f.write("noise\n== matrix-1gpu: 2026-11-27T22:49:03Z, 84f7852+dirty\n")
            self.assertEqual(C.measured_on(tmp), "2026-11-27")
            dump(os.path.join(tmp, "manifest.json"), {"started": "2026-12-05T10:00:00Z"})
            self.assertEqual(C.measured_on(tmp), "2026-12-05")


class TablesTest(unittest.TestCase):
    def test_tables_from_diffs(self):
        with scratch() as d:
            res, tmp = os.path.join(d, "res"), os.path.join(d, "tmp")
            dump(os.path.join(res, "system.json"), SYSTEM)
            dump(os.path.join(res, "manifest.json"), {"started": "2026-12-05T10:00:00Z"})
            dump(os.path.join(tmp, "a.p2p-on.eager.diff.json"), {
                "predicted_step": 0.009, "measured_step": 0.010, "step_error": -0.10,
                "by_class": [{"name": "GEMM", "predicted": 0.005, "measured": 0.006},
                             {"name": "host", "predicted": 0.001, "measured": 0.001}]})
            dump(os.path.join(tmp, "b.p2p-off.graph.diff.json"), {
                "predicted_step": 0.0102, "measured_step": 0.010, "step_error": 0.02,
                "by_class": [{"name": "GEMM", "predicted": 0.006, "measured": 0.0058}]})
            # One all-reduce of 2 MiB: 2 ms from the last arrival to the end, predicted and measured.
            dump(os.path.join(tmp, "a.p2p-on.eager.schedule.json"), {"ranks": [{"rank": 0, "ops": [
                {"id": 3, "kind": "all_reduce", "comm_bytes": 2 << 20}]}]})
            dump(os.path.join(tmp, "a.p2p-on.eager.pred.json"), {"events": [{"rank": 0, "op": 3, "start": 0, "sync": 0.001,
                                                                             "end": 0.003}]})
            dump(os.path.join(res, "runs", "a.p2p-on.eager.json"), {"events": [{"rank": 0, "op": 3, "start": 0,
                                                                                "sync": 0.0005, "end": 0.0025}]})
            md, data = C.tables(tmp, res, "test", "p", "p-nop2p", "none", "per_expert", "2", True,
                                {"a.p2p-on.eager": "p", "b.p2p-off.graph": "p-nop2p"},
                                {"a.p2p-on.eager": "on", "b.p2p-off.graph": "off"}, d)
        lines = md.splitlines()
        self.assertEqual(lines[0], "# Measured vs simulated: test")
        self.assertEqual(lines[2], "Card NVIDIA H200 x2 (of 1 visible), driver 580.159.04, CUDA runtime 13.0, NCCL 2.28.3, "
                                   "measured 2026-12-05 (NCCL_NVLS_ENABLE=0, P2P on and off per run (off: NCCL_P2P_DISABLE=1)).")
        self.assertIn("Simulated on platforms/p (P2P-off runs on platforms/p-nop2p), sampled routing seed 1, "
                      "engine.grouped_gemm: per_expert, engine.timed_ops for eager runs", md)
        self.assertIn("Calibration (moesim run --calibration none): p: none; p-nop2p: none (placeholder efficiencies).", md)
        # |errors| 10% and 2%: median 6%, worst 10%; within 5%: 1 of 2, within 15%: 2 of 2.
        self.assertIn("Median absolute step-time error 6.0%, worst 10.0% over 2 runs.", md)
        # the class furthest off in run a is GEMM (1 ms off; host 0)
        self.assertIn("| a.p2p-on.eager | on | 9.000 | 10.000 | -10.0% | GEMM | 5.000 | 6.000 |", md)
        self.assertIn("| b.p2p-off.graph | off | 10.200 | 10.000 | +2.0% | GEMM | 6.000 | 5.800 |", md)
        self.assertIn("Within 5%: 1 of 2 runs (50%); within 15%: 2 of 2 (100%).", md)
        self.assertIn("by launch mode: eager 10.0% (worst 10.0%, 1 runs); graph 2.0% (worst 2.0%, 1 runs).", md)
        self.assertIn("| all_reduce | 1 | 0.0% | 1 of 1 | 2.00 | 2.00 |", md)
        # GEMM: 11 ms predicted, 11.8 measured: -6.8%; host 1 and 1: +0.0%; the larger measured first.
        self.assertLess(md.index("| GEMM | 11.00 | 11.80 | -6.8% |"), md.index("| host | 1.00 | 1.00 | +0.0% |"))
        self.assertEqual(data["within"], {"5%": 1, "15%": 2, "runs": 2})
        self.assertEqual(data["grouped_gemm"], "per_expert")
        self.assertTrue(data["timed_ops"])


if __name__ == "__main__":
    unittest.main()
