"""gputool.calibration: which calibration files a call's benches make, and the `moesim calibrate`
command lines (the simulator itself is not run here)."""

import json
import os
import unittest

from support import scratch
from gputool import calibration as K


class CalibrationTest(unittest.TestCase):
    def test_targets(self):
        self.assertEqual(K.targets("h200", 4), [("nvswitch-4x-h200", "on", [4, 2]), ("nvswitch-4x-h200-nop2p", "off", [4, 2]),
                                                ("nvswitch-2x-h200", "on", [2]), ("nvswitch-1x-h200", "on", [])])
        self.assertEqual([t[0] for t in K.targets("h100", 8)], ["hgx-8x-h100", "hgx-8x-h100-nop2p"])
        with self.assertRaises(ValueError):
            K.targets("h200", 2)

    def test_command_lines(self):
        with scratch() as tmp:
            bench = os.path.join(tmp, "res", "bench")
            os.makedirs(bench)
            system = {"devices": [{"name": "NVIDIA H200"}], "driver_build": "580.159.04", "runtime_version": "13.0",
                      "nccl_version": "2.28.3"}
            for i in (1, 2):
                with open(os.path.join(bench, f"kernels.{i}.json"), "w") as f:
                    json.dump({"system": system}, f)
            with open(os.path.join(tmp, "res", "manifest.json"), "w") as f:
                json.dump({"started": "2026-12-05T10:00:00Z"}, f)
            calls = []
            written = K.write_files(tmp, os.path.join(tmp, "res"), "h200", 4, moesim="moesim",
                                    run=lambda argv, **kw: calls.append(argv))
        self.assertEqual(written[0], "platforms/calibration/nvswitch-4x-h200.yaml")
        self.assertEqual(len(calls), 4)
        first = calls[0]
        # 5 collectives over 4 and 2 GPUs, P2P on
        logs = first[first.index("--nccl-tests") + 1: first.index("--bench-kernels")]
        self.assertEqual(len(logs), 10)
        self.assertTrue(logs[0].endswith("bench/all_reduce.p2p-on.txt"))
        self.assertTrue(logs[5].endswith("bench/all_reduce.g2.p2p-on.txt"))
        on = first[first.index("--measured-on") + 1]
        self.assertEqual(on, "NVIDIA H200, driver 580.159.04, CUDA 13.0, NCCL 2.28.3, 2026-12-05, NCCL_NVLS_ENABLE=0; "
                             "collectives event-timed (bench-collectives --timing events)")
        self.assertIn("NCCL_P2P_DISABLE=1", calls[1][calls[1].index("--measured-on") + 1])
        self.assertNotIn("--nccl-tests", calls[3])  # one GPU: kernels and host only


if __name__ == "__main__":
    unittest.main()
