"""Checks of rev-290's benchmark findings (fix-297): smoke-sized, no timings."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import bench_epoch, epochs, report, workloads

ROOT = Path(__file__).resolve().parents[1]

# (1) gpu_check's "plain launches" row times launches built in plain mode,
# and its "took" column names the paths of the launches the row ran. Under
# numba-cuda's simulator, which must be set before numba is imported: a
# process of its own.

_SIMULATED_STEPS = textwrap.dedent("""
    import numpy as np
    from bench import gpu_check
    from fastbp.kernels.cuda import launch

    original_init = launch.Launch.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.built_in = launch.MODE

    launch.Launch.__init__ = init
    calls = []
    original_call = gpu_check.driver_call

    def driver_call(*args, **kwargs):
        call, t = original_call(*args, **kwargs)
        calls.append(call)
        return call, t

    original_epoch = gpu_check.time_driver_epoch

    def time_driver_epoch(call, t, perm):
        out = original_epoch(call, t, perm)
        kept = call.arguments["tables"].launches.values()
        built = sorted({getattr(k, "built_in", "the fit") for k in kept})
        print("EPOCH", launch.MODE, ",".join(built), len(kept))
        return out

    gpu_check.driver_call = driver_call
    gpu_check.time_driver_epoch = time_driver_epoch
    cfg = dict(gpu_check.SMOKE, batches=(64,))  # one step per epoch
    rng = np.random.default_rng(0)
    X = rng.standard_normal((cfg["n_samples"], cfg["n_features"])).astype(np.float32)
    y = np.arange(cfg["n_samples"]) % cfg["n_classes"]
    gpu_check.measure_steps(X, y, cfg, gpu_check.parse_args(["--smoke", "--epochs", "1"]), {})
""")


def test_gpu_check_rows_rebuild_their_launches_in_their_mode():
    pytest.importorskip("numba.cuda")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run([sys.executable, "-c", _SIMULATED_STEPS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    epochs_run = [line.split()[1:] for line in out.splitlines() if line.startswith("EPOCH")]
    # A warm-up and one timed epoch per mode; the fit's kept launches (built
    # before either mode was set) must serve neither.
    assert [e[0] for e in epochs_run] == ["marshalled"] * 2 + ["plain"] * 2, out
    for mode, built, count in epochs_run:
        assert built == mode and int(count) > 0, out
    # The simulator has no marshalled path: its launches run plain, and the
    # took column says so rather than nothing.
    assert "| 64 | marshalled (took plain) | 1 |" in out, out
    assert "| 64 | plain | 1 |" in out, out
    assert "(took )" not in out, out
