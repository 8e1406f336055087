"""Runs the CUDA simulator suite (``tests/cuda``) in a process of its own.

``NUMBA_ENABLE_CUDASIM`` must be set before numba is imported, which this
process has long done. The suite fails here if any of its tests fails or
skips: a GPU test that quietly skips would test nothing.

The suite takes most of the whole run's time in one single-threaded
process, so ``tests/conftest.py`` starts it as soon as the tests are
collected and runs this test, which waits for it, last: the other tests
run beside it, on the other core.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: How long the suite may take, from its start.
TIMEOUT = 1500


def start_suite():
    """Start the simulator suite.

    Returns
    -------
    process : subprocess.Popen
    output : file
        Its standard output and error, read back by :func:`suite_result`.
    """
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    output = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", str(ROOT / "tests" / "cuda"), "-q",
         "-p", "no:cacheprovider", "-rfEs"],
        cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
    return process, output


def stop_suite(started):
    """Stop the suite if it still runs, and drop its output."""
    process, output = started
    if output.closed:
        return
    if process.poll() is None:
        process.kill()
        process.wait()
    output.close()


def test_cuda_simulator_suite(request):
    started = getattr(request.config, "fastbp_simulator", None)
    if started is None:  # collected without the conftest's start (run on its own)
        started = request.config.fastbp_simulator = start_suite()
        request.config.fastbp_simulator_stop = stop_suite
    process, output = started
    try:
        returncode = process.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        stop_suite(started)
        raise
    output.seek(0)
    out = output.read()
    assert returncode == 0, out[-6000:]
    summary = out.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" not in summary and "failed" not in summary, \
        summary
