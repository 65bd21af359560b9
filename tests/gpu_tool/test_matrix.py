"""gputool.matrix: the matrix as data, and the predictions files it writes, checked against the
committed ones byte for byte (their tables are made again from their own JSON)."""

import json
import os
import unittest

from support import ROOT
from gputool import matrix as M


class MatrixTest(unittest.TestCase):
    def test_schedule_entries(self):
        e = M.schedule_entries(1)
        # qwen3 tp1 at 4 batches and deepseek tp1 at 2, eager; qwen3 tp1 at 2 batches under graphs.
        self.assertEqual(len(e), 4 + 2 + 2)
        self.assertEqual(e[0], {"file": "qwen3-30b-a3b_tp1_b1_eager.json.gz", "study": "validate/matrix/val1-qwen3-30b-a3b.yaml",
                                "plan": "tp1", "batch": 1, "mode": "eager", "platform": "nvswitch-1x-h100"})
        self.assertEqual(e[-1]["file"], "qwen3-30b-a3b_tp1_b64_graph.json.gz")
        # 4 GPUs: 5 plans x 4 batches + 3 x 3 + 2 x 2 + 2 x 1 eager, and 2 x 2 graph.
        self.assertEqual(len(M.schedule_entries(4)), 20 + 9 + 4 + 2 + 4)
        with self.assertRaises(ValueError):
            M.schedule_entries(3)
        for gpus in M.MATRICES:
            for e in M.schedule_entries(gpus):
                self.assertTrue(os.path.exists(os.path.join(ROOT, e["study"])), e["study"])

    def test_calibration_entries(self):
        e = M.calibration_entries(1)
        # both eager rows' plans at batches 1, 4, 8, 32, 128, 512, from the seed-7 studies
        self.assertEqual(len(e), 12)
        self.assertEqual(e[0]["study"], "validate/matrix/calibration/val1-qwen3-30b-a3b.yaml")
        self.assertEqual([x["batch"] for x in e[:6]], [1, 4, 8, 32, 128, 512])
        prefill = [x for x in M.calibration_entries(4) if "prefill" in x["study"]]
        self.assertEqual(sorted({x["batch"] for x in prefill}), [1, 2])
        for gpus in M.MATRICES:
            for x in M.calibration_entries(gpus):
                path = os.path.join(ROOT, x["study"])
                self.assertTrue(os.path.exists(path), path)
                # the matrix study with another routing seed
                with open(path) as f:
                    self.assertIn("seed: 7}", f.read())

    def test_predictions_reproduce_the_committed_files(self):
        base = os.path.join(ROOT, "validate", "results", "predictions-1gpu-2026-11-27")
        with open(base + ".json") as f:
            studies = json.load(f)
        with open(base + ".json") as f:
            committed_json = f.read()
        with open(base + ".md") as f:
            committed_md = f.read()
        blocks = [M.predictions_json_block(s["study"], s["mode"], s["results"]) for s in studies]
        self.assertEqual("[\n" + ",\n".join(blocks) + "]\n", committed_json)
        header = M.predictions_header(1, "2026-11-27", "c61e661+dirty")
        md = header + "".join(M.predictions_md_block(s["study"], s["mode"], s["results"]) for s in studies)
        self.assertEqual(md, committed_md)


if __name__ == "__main__":
    unittest.main()
