"""validate/oos/host_split.py: the gaps it reads off a measured timeline, the host parts of a timeline,
the gaps' shape and the closure sum (fixtures with hand-derived numbers; no GPU and no simulator)."""

import importlib.util
import os
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("host_split", os.path.join(ROOT, "validate", "oos", "host_split.py"))
hs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hs)

US = 1e-6


def ev(op, ready, start, end, rank=0, stream=0):
    return {"op": op, "ready": ready * US, "start": start * US, "end": end * US, "rank": rank, "stream": stream}


class HostSplitTest(unittest.TestCase):
    def test_raw_gaps_unscale_and_follow_op_order(self):
        # event_scale 0.5: the timeline is the event run's, halved. Op 0 waits 1 us scaled, 2 us raw;
        # op 1 waits 3.64 - 3 = 0.64 us scaled, 1.28 us raw. Given out of order, read in op order.
        doc = {"measurement": {"event_scale": 0.5}, "events": [ev(1, 3, 3.64, 5), ev(0, 0, 1, 3)]}
        got = hs.raw_gaps(doc)
        self.assertAlmostEqual(got[0], 2.0 * US, delta=1e-15)
        self.assertAlmostEqual(got[1], 1.28 * US, delta=1e-15)

    def test_raw_gaps_refuse_several_streams_or_no_scale(self):
        self.assertIsNone(hs.raw_gaps({"measurement": {"event_scale": 1.0},
                                       "events": [ev(0, 0, 1, 2), ev(1, 2, 3, 4, stream=1)]}))
        self.assertIsNone(hs.raw_gaps({"measurement": {}, "events": [ev(0, 0, 1, 2)]}))

    def test_host_parts_first_op_apart(self):
        # waits: op 0 5 - 0 = 5 us (the launch), op 1 9.2 - 8 = 1.2 us, op 2 21.5 - 20 = 1.5 us:
        # first 5 us, the rest 2.7 us over 2 ops.
        first, rest, n = hs.host_parts([ev(2, 20, 21.5, 30), ev(0, 0, 5, 8), ev(1, 8, 9.2, 20)])
        self.assertAlmostEqual(first, 5 * US, delta=1e-15)
        self.assertAlmostEqual(rest, 2.7 * US, delta=1e-15)
        self.assertEqual(n, 2)

    def test_gap_shape(self):
        # Two steps' gaps (us), first ops 2.0 and 4.0 left out of the rest: 1.28, 1.28, 1.92, 1.28, 1.6.
        # Median 1.28; mean (3 x 1.28 + 1.92 + 1.6) / 5 = 7.36 / 5 = 1.472; above 1.45: 1.92 and 1.6,
        # 2 of 5 = 0.4; first-op mean (2 + 4) / 2 = 3.0.
        s = hs.gap_shape([[g * US for g in (2.0, 1.28, 1.28, 1.92)], [g * US for g in (4.0, 1.28, 1.6)]])
        self.assertEqual(s["ops"], 5)
        self.assertAlmostEqual(s["median"], 1.28 * US, delta=1e-15)
        self.assertAlmostEqual(s["mean"], 1.472 * US, delta=1e-15)
        self.assertAlmostEqual(s["excursions"], 0.4)
        self.assertAlmostEqual(s["first_mean"], 3.0 * US, delta=1e-15)

    def test_closure_takes_the_reference_gaps_of_the_launch_mode(self):
        # 2 eager steps whose later ops number 10 in all: 2 x 2 us + 10 x 1.45 us = 18.5 us.
        g = {"mode": "eager", "steps": 2, "ops": 10}
        ref = {"eager": {"first_mean": 2 * US, "mean": 1.45 * US}, "graph": {"first_mean": 9 * US, "mean": 9 * US}}
        self.assertAlmostEqual(hs.closure(g, ref), 18.5 * US, delta=1e-15)

    def test_groups_as_the_comparison_names_them(self):
        self.assertEqual(hs.group_of("prefill", "eager"), "prefill")
        self.assertEqual(hs.group_of("decode", "graph"), "decode graph")


if __name__ == "__main__":
    unittest.main()
