"""validate/public/probe_ll_ring_8gpu.py: NCCL 2.29's pick, channels and split for an 8-GPU Hopper
all_gather, as the script mirrors them from tuning.cc and enqueue.cc."""
import os
import sys
import unittest

PUBLIC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "validate", "public"))
sys.path.insert(0, PUBLIC)
try:
    import probe_ll_ring_8gpu as probe
finally:
    sys.path.pop(0)


class ProbeLlRing8GpuTest(unittest.TestCase):
    def test_pick(self):
        # 8 GPUs, ring graph 12 x 30 = 360 GB/s: LL 6.6 + 7 x 0.6 = 10.8 us at min(141, 180) x 8/7 =
        # 161.14 GB/s; LL128 14 + 7 x 1.9 = 27.3 us at min(331.2, 440.4) x 8/7 = 378.51 GB/s. At 4 MiB
        # 10.8 + 26.03 = 36.83 against 27.3 + 11.08 = 38.38: LL; at 8 MiB 62.85 against 49.46: LL128.
        t4 = probe.nccl_times(90, 'all_gather', 8, 1 << 22)
        self.assertAlmostEqual(t4['LL'], 10.8 + 4194304 / (1000 * 141 * 8 / 7), places=9)
        self.assertAlmostEqual(t4['LL128'], 27.3 + 4194304 / (1000 * 331.2 * 8 / 7), places=9)
        self.assertEqual(min(t4, key=t4.get), 'LL')
        t8 = probe.nccl_times(90, 'all_gather', 8, 1 << 23)
        self.assertEqual(min(t8, key=t8.get), 'LL128')
        # NVLS: 8 channels x 40 x 0.85 x 7/8 x 7/8 = 208.25 GB/s of bus bandwidth, x 8/7 = 238 algbw,
        # 25 us: at 4 MiB 25 + 17.62 = 42.62 us, never the least.
        self.assertAlmostEqual(t4['NVLS'], 25 + 4194304 / (1000 * 8 * 40 * .85 * 7 / 8 * 7 / 8 * 8 / 7), places=9)

    def test_channels(self):
        # Ring LL on 8 ranks: 512 threads x 8 B x 8 ranks = 32 KiB per channel; all 24 channels from
        # 24 x 32 KiB = 768 KiB, 16 at 512 KiB, 8 at 256 KiB; threads stay 512.
        self.assertEqual(probe.nccl_channels(90, 8, 1 << 20), (24, 512))
        self.assertEqual(probe.nccl_channels(90, 8, 1 << 19), (16, 512))
        self.assertEqual(probe.nccl_channels(90, 8, 1 << 18), (8, 512))

    def test_busiest_channel(self):
        # all_gather on 8 with LL: 8 x 4 = 32 B of traffic per byte, cells of 32 KiB / 32 = 1 KiB of a
        # rank's slice. 1 MiB: a rank's 128 KiB is 128 cells, ceil(128 / 24) = 6 a channel: 6 KiB.
        self.assertEqual(probe.busiest_part('all_gather', 8, 1 << 20, 24), 6 * 1024)
        # 4 MiB: 512 cells, ceil(512 / 24) = 22: 22 KiB, one LL chunk (32 KiB): one pass.
        self.assertEqual(probe.busiest_part('all_gather', 8, 1 << 22, 24), 22 * 1024)
        # all_reduce: 2 x 4 = 8 B per byte, cells of 4 KiB; 1 MiB on 24: ceil(256 / 24) = 11 cells.
        self.assertEqual(probe.busiest_part('all_reduce', 8, 1 << 20, 24), 11 * 4096)


if __name__ == "__main__":
    unittest.main()
