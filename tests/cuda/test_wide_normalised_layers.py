"""Normalised layers wider than a block of the per-unit kernels (rev-271,
fix-282).

Batch norm's forward and backward kernels and layer norm's scale and shift
gradients run one thread per unit, on ``ceil(units / THREADS)`` blocks; the
suite's blocks have 8 threads (``conftest.py``), and every other normalised
layer in it is at most 8 units wide, so those kernels only ever ran as one
block: a kernel that indexed units by ``cuda.threadIdx.x`` instead of
``cuda.grid(1)``, or a grid of one block, passed. These layers are 20
units wide: three blocks, the last one partial.
"""

import warnings

import numpy as np
import pytest

from fastbp import MLPClassifier
from fastbp.training.backend import get_backend
from fastbp.training.lbfgs import loss_and_gradient_function

from test_simulator import RTOL, assert_rel, network_case, rel_err

#: Wider than two blocks of the suite's 8 threads.
WIDTH = 20


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_wide_normalised_layers_span_several_blocks(norm):
    """Full-batch loss and gradient (the reviewer's test)."""
    dtype = np.float64
    spec, params, inp, Y, sw, _ = network_case((5, WIDTH, 3), ["tanh"], "softmax", dtype, 13,
                                               norm=norm)
    res = []
    for device in ("cpu", "cuda"):
        f = loss_and_gradient_function(get_backend(device), spec, inp, Y, sw, alpha=0.1,
                                       l1=0.01, dtype=np.dtype(dtype), chunk=5)
        loss, grad = f(params.copy())
        res.append((loss, grad.copy()))
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=10 * RTOL[dtype])
    assert_rel(res[1][1], res[0][1], dtype, factor=10)


def test_wide_batch_norm_epoch_matches_cpu():
    """One training epoch: the batch statistics, their gradient and the
    running statistics of every unit, and predictions from the running
    statistics (batch norm's inference path, one thread per unit too)."""
    dtype = np.float64
    rng = np.random.default_rng(3)
    X = rng.standard_normal((14, 5)).astype(dtype)
    y = rng.integers(0, 3, 14)
    models = []
    for device in ("cpu", "cuda"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            models.append(MLPClassifier(
                hidden_layer_sizes=(WIDTH,), normalization="batch", solver="sgd",
                max_iter=1, batch_size=5, learning_rate_init=0.1, alpha=0.01,
                random_state=0, device=device).fit(X, y))
    cpu, gpu = models
    for name in ("coefs_", "intercepts_", "normalization_scales_", "normalization_shifts_",
                 "running_mean_", "running_var_"):
        for a, b in zip(getattr(gpu, name), getattr(cpu, name), strict=True):
            assert a.shape == b.shape, name
            err = rel_err(a, b)
            assert err <= 10 * RTOL[dtype], f"{name}: relative error {err:.3g}"
    # The running statistics moved from their start (0 and 1) in every
    # unit, so that comparing them tests every block's update.
    assert np.all(cpu.running_mean_[0] != 0) and np.all(cpu.running_var_[0] != 1)
    np.testing.assert_allclose(gpu.loss_, cpu.loss_, rtol=RTOL[dtype])
    assert_rel(gpu.predict_proba(X), cpu.predict_proba(X), dtype, factor=10)
