"""validate/public/fit_nvlink_ll_ring.py: the LL ring's per-channel rates it fits from the published
sweeps are the ones core/costs.cpp ships (nvlink_ring_ll_channel_gbs), and its cell model counts
NCCL's primitive calls per chunk as runRing makes them."""
import os
import re
import subprocess
import sys
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PUBLIC = os.path.join(ROOT, "validate", "public")


class FitNvlinkLlRingTest(unittest.TestCase):
    def test_fitted_rates_are_the_shipped_ones(self):
        out = subprocess.run([sys.executable, os.path.join(PUBLIC, "fit_nvlink_ll_ring.py")], check=True,
                             capture_output=True, text=True).stdout
        fitted = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(sm\S+)\s+LL ring rate\s+([\d.]+)", out, re.M)}
        self.assertEqual(set(fitted), {"sm100+", "sm90", "sm80"})
        with open(os.path.join(ROOT, "core", "costs.cpp")) as f:
            src = f.read()
        m = re.search(r"nvlink_ring_ll_channel_gbs\(int sm\)\s*\{\s*return sm >= 100 \? ([\d.]+) : sm >= 90 \? ([\d.]+) : "
                      r"sm >= 80 \? ([\d.]+) : 0;", src)
        self.assertIsNotNone(m)
        shipped = dict(zip(["sm100+", "sm90", "sm80"], (float(x) for x in m.groups())))
        for arch, rate in fitted.items():
            # The script prints two decimals, as costs.cpp ships them.
            self.assertAlmostEqual(rate, shipped[arch], delta=0.005, msg=arch)

    def test_calls_per_chunk(self):
        sys.path.insert(0, PUBLIC)
        try:
            import fit_nvlink_ll_ring as fit
        finally:
            sys.path.pop(0)
        # all_gather.h: send, n - 2 recv-copy-send, recv; all_reduce.h: 2n - 1.
        self.assertEqual(fit.calls("all_gather", 8), 8)
        self.assertEqual(fit.calls("reduce_scatter", 2), 2)
        self.assertEqual(fit.calls("all_reduce", 4), 7)


if __name__ == "__main__":
    unittest.main()
