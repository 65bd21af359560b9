"""Shared by the gpu_tool tests: the package on the path, the repository root, scratch folders."""

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "validate"))


def scratch():
    return tempfile.TemporaryDirectory(prefix="gpu_tool_test_")
