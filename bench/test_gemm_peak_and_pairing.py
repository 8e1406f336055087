"""The GEMM-peak bench times the compiled products it names, the epoch and
accuracy benches pair their rounds and load PyTorch only where selected.
Smoke-sized, no timings; added after review 207 (fix-212)."""

from __future__ import annotations

import numpy as np
import pytest

from bench import gemm_peak
from bench import small_products as sp
from bench.flops import gemm_shapes


# (1) The GEMM peak times NumPy's BLAS from compiled code, as fastbp calls it.

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_peak_compiled_call_computes_each_backprop_product(dtype):
    for shape in gemm_shapes(7, [5, 6, 3]):  # forward, weight and input gradients
        a, b, c = gemm_peak.operands(shape, dtype, np.random.RandomState(1))
        loop, args = gemm_peak.compiled_call(shape, a, b, c)
        assert loop in (sp.numpy_nn, sp.numpy_tn, sp.numpy_nt)
        c[:] = np.nan
        loop(*args, 1)
        np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)


def test_gemm_peak_times_the_compiled_loop_not_np_matmul(monkeypatch):
    calls = []

    def spy(name, real):
        def loop(a, b, out, reps):
            calls.append((name, reps))
            real(a, b, out, reps)
        return loop

    for name in ("numpy_nn", "numpy_tn", "numpy_nt"):
        monkeypatch.setattr(sp, name, spy(name, getattr(sp, name)))

    def no_matmul(*args, **kw):
        raise AssertionError("np.matmul called from Python inside the timing")

    monkeypatch.setattr(gemm_peak.np, "matmul", no_matmul)
    result = gemm_peak.measure(70, 32, [5, 6, 3], "float64", 1, min_time=0.002)
    assert {name for name, _ in calls} == {"numpy_nn", "numpy_tn", "numpy_nt"}
    assert result["floor_s"] > 0 and len(result["shapes"]) == 5


# (2) Epoch-table ratios: paired by round, shown with their range.

def test_epoch_ratios_are_paired_by_round():
    from bench import epochs

    # The machine slowed down in round 2: the median of the round ratios
    # (2.0) differs from the ratio of the medians (30 / 10 = 3.0).
    ratios, rounds = epochs.paired_ratios({"fastbp": [10.0, 40.0, 5.0],
                                           "sklearn": [20.0, 100.0, 30.0]})
    assert rounds["fastbp"]["sklearn"] == [2.0, 2.5, 6.0]
    assert ratios["fastbp"]["sklearn"] == 2.5
    assert rounds["sklearn"]["fastbp"] == [0.5, 0.4, 5.0 / 30.0]


def test_report_prints_median_ratio_with_its_range():
    from bench import report

    def system(ms):
        return {"median_ms": ms, "gflops": 1.0, "share_of_peak": 0.5}

    row = {"case": {"id": "tabular-b32-float64-t1", "n_samples": 10000},
           "systems": {"fastbp": system(10.0), "sklearn": system(30.0)},
           "ratios": {"fastbp": {"sklearn": 2.5}, "sklearn": {"fastbp": 0.4}},
           "round_ratios": {"fastbp": {"sklearn": [2.0, 2.5, 6.0]},
                            "sklearn": {"fastbp": [0.5, 0.4, 1 / 6]}},
           "gemm_peak": {"peak_gflops": 2.0, "floor_s": 0.001},
           "flops": {"total": 1e9}, "skipped": {}}
    env = {"git": "x", "cpu": "cpu", "cpu_count": 2, "python": "3.11", "numpy": "2",
           "sklearn": "1", "numba": "0", "torch": None, "blas": [], "standin": False,
           "loadavg_start": None, "loadavg_end": None, "fastbp": "0.1"}
    text = report.render({"mode": "quick", "timestamp": "t", "environment": env,
                          "systems": ["fastbp", "sklearn"],
                          "grid": {"rounds": 3, "warmup": 1}, "epochs": [row]})
    line = next(line for line in text.splitlines() if line.startswith("| tabular-b32"))
    assert line.rstrip(" |").endswith("2.50x (2.00-6.00)")


# (3) The accuracy section's timer starts after PyTorch's optimizer imports.

@pytest.mark.torch
@pytest.mark.parametrize("torch_system", ["torch", "torch_fused"])
def test_accuracy_timer_starts_after_torch_optimizer_import(torch_system):
    import os
    import subprocess
    import sys

    # A fresh process: torch._dynamo may already be loaded in this one.
    script = f"""
import sys, time
from bench import accuracy, workloads
seen = []
class Clock:
    @staticmethod
    def perf_counter():
        seen.append("torch._dynamo" in sys.modules)
        return time.perf_counter()
accuracy.time = Clock
wl = workloads.Workload("mnist", (8,), n_features=784, n_classes=10, n_train=64, n_test=32)
r = accuracy.measure(workloads.FitSetting(wl, batch_size=32, epochs=1), systems=({torch_system!r},))
assert {torch_system!r} in r["systems"], r["skipped"]
print(seen[0])
"""
    from bench import workloads

    if workloads.unavailable_reason(workloads.mnist(n_train=64, n_test=32)):
        pytest.skip("MNIST not available")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=os.environ, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True"


# (4) PyTorch systems only where -m selects the torch marker.

class _Config:
    def __init__(self, markexpr):
        self.markexpr = markexpr

    def getoption(self, name, default=None):
        assert name == "markexpr"
        return self.markexpr


@pytest.mark.parametrize("markexpr, keep", [("not ray and not torch", False), ("not torch", False),
                                            ("torch", True), ("torch or not torch", True),
                                            ("not ray", True), ("", True)])
def test_epoch_benches_take_torch_only_where_selected(markexpr, keep):
    from bench import bench_epoch, peers

    available = bench_epoch._available(_Config(markexpr))
    assert "fastbp" in available and "sklearn" in available
    installed = [s for s in peers.TORCH_SYSTEMS if not peers.unavailable_reason(s)]
    assert [s for s in available if s in peers.TORCH_SYSTEMS] == (installed if keep else [])


@pytest.mark.parametrize("markexpr, keep", [("not ray and not torch", False), ("torch", True)])
def test_accuracy_bench_takes_torch_only_where_selected(markexpr, keep):
    from types import SimpleNamespace

    from bench import bench_accuracy, workloads

    asked = {}

    class Benchmark:
        extra_info = {}

        def pedantic(self, fn, args, kwargs, rounds, iterations):
            asked.update(kwargs)
            return {}

    grid = SimpleNamespace(accuracy=SimpleNamespace(workload=workloads.tabular(100)))
    bench_accuracy.test_accuracy(Benchmark(), grid, lambda *reasons: None,
                                 SimpleNamespace(config=_Config(markexpr)))
    assert ("torch" in asked["systems"]) is keep
    assert asked["systems"][:2] == ("fastbp", "sklearn")


# (5) The kernel bench's GEMM floor covers the workload's real row count.

def test_gemm_peak_bench_uses_the_loaded_row_count():
    from types import SimpleNamespace

    from bench import bench_kernels, workloads

    wl = workloads.mnist()  # n_train None: every training row
    if workloads.unavailable_reason(wl):
        pytest.skip("MNIST not available")
    asked = {}

    class Benchmark:
        extra_info = {}

        def pedantic(self, fn, args, rounds, iterations):
            asked["n"] = args[1]
            return {"peak_gflops": 1.0, "peak_shape": "s", "floor_s": 1.0}

    case = workloads.EpochCase(wl, 200, "float32", 1)
    bench_kernels.test_gemm_peak(Benchmark(), case, lambda *reasons: None,
                                 SimpleNamespace(gemm_peak=None))
    assert asked["n"] == 60000
