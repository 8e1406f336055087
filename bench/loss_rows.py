"""Nanoseconds per row of the fused output/loss/delta kernel
(``fastbp.kernels.losses.output_loss_delta``), per output function.

Usage (from a checkout or worktree)::

    python bench/loss_rows.py
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.getcwd())

from fastbp._config import python_twin  # noqa: E402
from fastbp.kernels import losses  # noqa: E402
from fastbp.kernels.codes import OUT_EXP, OUT_IDENTITY, OUT_LOGISTIC, OUT_SOFTMAX  # noqa: E402
from fastbp.training.spec import clipping_bounds  # noqa: E402


def main():
    n = 200
    for dtype in (np.float32, np.float64):
        for name, code, m in (("softmax", OUT_SOFTMAX, 4), ("logistic", OUT_LOGISTIC, 1),
                              ("identity", OUT_IDENTITY, 1), ("exp", OUT_EXP, 1)):
            rng = np.random.default_rng(0)
            z0 = rng.standard_normal((n, m)).astype(dtype)
            bias = rng.standard_normal(m).astype(dtype)
            if m > 1:
                y = np.eye(m, dtype=dtype)[rng.integers(0, m, n)]
            else:
                y = rng.integers(0, 2, (n, 1)).astype(dtype)
            sw, delta, z = np.ones(n, dtype), np.empty_like(z0), z0.copy()
            args = (bias, y, sw, False, code, *clipping_bounds(np.dtype(dtype), code), delta)
            output_loss_delta = python_twin(losses.output_loss_delta)
            output_loss_delta(z, *args)
            best = np.inf
            for _ in range(20):
                t = time.perf_counter()
                for _ in range(200):
                    z[:] = z0
                    output_loss_delta(z, *args)
                best = min(best, (time.perf_counter() - t) / 200)
            print(f"{np.dtype(dtype).name:8s} {name:9s} {m} outputs: {best / n * 1e9:6.1f} ns/row")


if __name__ == "__main__":
    main()
