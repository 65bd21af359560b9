"""gputool.device: nvidia-smi's GPU list and the CUDA architecture to build for."""

import subprocess
import unittest

from support import ROOT  # noqa: F401  (puts the package on the path)
from gputool import device


class DeviceTest(unittest.TestCase):
    def test_parse_gpus(self):
        text = "0, NVIDIA H200, 9.0\n1, NVIDIA H200, 9.0\n\n"
        self.assertEqual(device.parse_gpus(text), [device.Gpu(0, "NVIDIA H200", "9.0"), device.Gpu(1, "NVIDIA H200", "9.0")])
        with self.assertRaises(ValueError):
            device.parse_gpus("garbage")

    def test_cuda_arch(self):
        # compute capability major.minor -> 10 * major + minor
        self.assertEqual(device.cuda_arch(["9.0", "9.0"]), "90")
        self.assertEqual(device.cuda_arch(["8.0"]), "80")
        self.assertEqual(device.cuda_arch(["10.0", "9.0"]), "90;100")
        with self.assertRaises(ValueError):
            device.cuda_arch([])
        with self.assertRaises(ValueError):
            device.cuda_arch(["sm90"])

    def test_query_without_nvidia_smi_is_empty(self):
        def missing(*a, **k):
            raise FileNotFoundError("nvidia-smi")
        self.assertEqual(device.query_gpus(run=missing), [])

        def failing(*a, **k):
            return subprocess.CompletedProcess(a, 9, "", "NVIDIA-SMI has failed")
        self.assertEqual(device.query_gpus(run=failing), [])

        def h200(*a, **k):
            return subprocess.CompletedProcess(a, 0, "0, NVIDIA H200, 9.0\n", "")
        self.assertEqual([g.compute_cap for g in device.query_gpus(run=h200)], ["9.0"])


if __name__ == "__main__":
    unittest.main()
