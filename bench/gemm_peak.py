"""GEMM peak: best GFLOP/s of NumPy's BLAS on a workload's own layer shapes.

Measured in the same run and at the same thread count as the epoch timings,
so "share of peak" compares like with like; the benches call
:func:`measure` in a worker process of its own, started with that thread
count and running nothing but these GEMMs (``bench.worker``), so no other
library's pool disturbs it. Two numbers come out:

* ``peak_gflops`` -- the best GFLOP/s over the forward, weight-gradient and
  input-gradient shapes of one mini-batch (``batch x fan_in @ fan_in x
  fan_out`` and the backward shapes, with backprop's transposed operands);
* ``floor_s`` -- the time one epoch's GEMMs alone would take at the best
  per-shape speed (full batches plus the last partial one), a lower bound
  for any implementation that calls the same BLAS.

Each shape is timed inside a compiled loop calling NumPy's BLAS through
``fastbp.kernels.blas`` (``bench.small_products``' loops), as fastbp's
kernels call it: no Python between the products. ``np.matmul`` called from
Python adds about 0.7 us per call, half or more of a batch-32 tabular
product, and so overstated the floor and understated the peak (rev-207:
2.10 ms against 1.01 ms per float64 tabular epoch at batch 32).
"""

from __future__ import annotations

import time

import numpy as np

from .flops import GemmShape, gemm_shapes
from .threads import limit_threads


def operands(shape: GemmShape, dtype, rng: np.random.RandomState):
    """A, B, C for ``shape``, with backprop's memory layout."""
    dt = np.dtype(dtype)
    if shape.a_transposed:
        a = rng.standard_normal((shape.k, shape.m)).astype(dt).T
    else:
        a = rng.standard_normal((shape.m, shape.k)).astype(dt)
    if shape.b_transposed:
        b = rng.standard_normal((shape.n, shape.k)).astype(dt).T
    else:
        b = rng.standard_normal((shape.k, shape.n)).astype(dt)
    c = np.empty((shape.m, shape.n), dtype=dt)
    return a, b, c


def best_time(fn, min_time: float = 0.02, min_reps: int = 5, max_reps: int = 2000) -> float:
    """Best wall time of ``fn()`` over repeated calls (after one warm-up)."""
    fn()
    best = float("inf")
    start = time.perf_counter()
    reps = 0
    while reps < max_reps and (reps < min_reps or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        reps += 1
    return best


def compiled_call(shape: GemmShape, a, b, c):
    """``(loop, args)``: ``loop(*args, reps)`` computes ``c = a @ b`` ``reps``
    times in compiled code, through NumPy's BLAS as fastbp's kernels do."""
    from . import small_products as sp

    # operands() gives transposed operands as views of C-contiguous arrays;
    # the tn/nt kernels take those arrays and transpose inside BLAS.
    if shape.a_transposed and shape.b_transposed:
        raise ValueError(f"{shape.label}: both operands transposed has no kernel")
    if shape.a_transposed:
        return sp.numpy_tn, (a.T, b, c)
    if shape.b_transposed:
        return sp.numpy_nt, (a, b.T, c)
    return sp.numpy_nn, (a, b, c)


def time_shape(shape: GemmShape, dtype, seed: int = 0, min_time: float = 0.02) -> float:
    """Best seconds per product of ``shape``, timed in a compiled loop."""
    a, b, c = operands(shape, dtype, np.random.RandomState(seed))
    loop, args = compiled_call(shape, a, b, c)
    loop(*args, 1)  # compile (once per dtype and layout) and warm up
    # Enough products per timed call that perf_counter's own cost vanishes,
    # while best_time still gets several calls within min_time.
    t0 = time.perf_counter()
    loop(*args, 10)
    per = max((time.perf_counter() - t0) / 10, 1e-9)
    reps = max(1, min(10000, int(min_time / 10 / per)))
    return best_time(lambda: loop(*args, reps), min_time=min_time) / reps


def measure(n_samples: int, batch: int, sizes: list[int], dtype, threads: int,
            min_time: float = 0.02) -> dict:
    """GEMM peak and GEMM-only epoch floor for one case, at ``threads`` threads."""
    batch = min(batch, n_samples)
    full, rem = divmod(n_samples, batch)
    rows = []
    # numba=True also loads and limits SciPy's OpenBLAS, which fastbp.kernels.blas
    # calls where NumPy's own CBLAS is missing.
    with limit_threads(threads):
        for s in gemm_shapes(batch, sizes):
            t = time_shape(s, dtype, min_time=min_time)
            rows.append({"shape": s.label, "kind": s.kind, "layer": s.layer,
                         "m": s.m, "k": s.k, "n": s.n, "flops": s.flops,
                         "best_s": t, "gflops": s.flops / t / 1e9})
        floor_s = full * sum(r["best_s"] for r in rows)
        if rem:
            floor_s += sum(time_shape(s, dtype, min_time=min_time / 4)
                           for s in gemm_shapes(rem, sizes))
    best = max(rows, key=lambda r: r["gflops"])
    return {"peak_gflops": best["gflops"], "peak_shape": best["shape"],
            "floor_s": floor_s, "shapes": rows, "threads": threads,
            "dtype": str(np.dtype(dtype)), "batch": batch}

