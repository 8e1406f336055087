"""Checks of rev-207's benchmark findings (fix-212): smoke-sized, no timings."""

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
