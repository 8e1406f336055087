"""Runs the CUDA simulator suite (``tests/cuda``) in a process of its own.

``NUMBA_ENABLE_CUDASIM`` must be set before numba is imported, which this
process has long done. The suite fails here if any of its tests fails or
skips: a GPU test that quietly skips would test nothing.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cuda_simulator_suite():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests" / "cuda"), "-q",
         "-p", "no:cacheprovider", "-rfEs"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    summary = out.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" not in summary and "failed" not in summary, \
        summary
