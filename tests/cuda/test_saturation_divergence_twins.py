"""Saturating and diverging fits on the GPU against their CPU twins, under
the CUDA simulator (rev-259): ``math.exp`` past the float range must give
inf there, as a GPU's exp does, so that the GPU's overflow and divergence
paths are tested instead of ending in the simulator's OverflowError.

Tiny data and networks, one or two epochs; the tiles and blocks of
``conftest.py``.
"""

import math
import os
import warnings

import numpy as np
import pytest

from fastbp import DivergenceError, MLPClassifier, MLPRegressor
from fastbp.kernels import scalar
from fastbp.kernels.cuda import activations, losses, normalization, optimizers

RTOL = {np.float32: 1e-5, np.float64: 1e-10}


def _data(dtype=np.float64):
    X = np.random.RandomState(0).randn(12, 3).astype(dtype)
    y = np.arange(12) % 2
    return X, y


def _twins(make, fit):
    """``fit(make(device))`` on the CPU and on the GPU, warnings silenced."""
    models = []
    for device in ("cpu", "cuda"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            models.append(fit(make(device)))
    return models


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") != "1",
                    reason="the simulator's math only (a GPU's is IEEE already)")
def test_simulated_kernels_see_ieee_math_and_the_cpu_kernels_python_math():
    # The conftest rebinds ``math`` in the GPU copies' globals only: the
    # CPU kernels' module keeps Python's math (its kernels are compiled by
    # Numba and never call it, but a leak would be a change of the CPU path).
    assert scalar.math is math
    for ns in (activations.gpu_scalar, losses.gpu_scalar, optimizers._gpu_scalar):
        sim_math = ns.sigmoid.fn.__globals__["math"]
        assert sim_math is not math
        assert sim_math.exp(1e3) == math.inf
        assert sim_math.exp(1.0) == math.exp(1.0)
        assert sim_math.expm1(1e3) == math.inf
        assert sim_math.log(0.0) == -math.inf
        assert ns.sigmoid(np.float64(-1e3)) == 0.0
    for module in (normalization, optimizers):
        assert module.math.sqrt(-1.0) != module.math.sqrt(-1.0)  # NaN, no ValueError


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logistic_fit_on_saturating_inputs_matches_cpu(dtype):
    # rev-259: sigmoid's math.exp(-z) raised OverflowError on the first
    # forward pass; the CPU saturates and trains (loss 1.11 in float64).
    X, y = _data(dtype)
    cpu, gpu = _twins(
        lambda device: MLPClassifier((3,), activation="logistic", max_iter=2, batch_size=6,
                                     random_state=0, device=device),
        lambda m: m.fit(X * dtype(1e3), y))
    assert np.isfinite(cpu.loss_)
    np.testing.assert_allclose(gpu.loss_, cpu.loss_, rtol=RTOL[dtype])
    for g, c in zip(gpu.coefs_ + gpu.intercepts_, cpu.coefs_ + cpu.intercepts_):
        np.testing.assert_allclose(g, c, rtol=RTOL[dtype] * 10, atol=RTOL[dtype])


def test_binary_predict_proba_of_saturated_outputs_matches_cpu():
    # rev-259: the logistic output's exp raised OverflowError in
    # output_row; the CPU gives probabilities of exactly 0 and 1.
    X, y = _data()
    cpu, gpu = _twins(
        lambda device: MLPClassifier((3,), activation="identity", max_iter=1, batch_size=12,
                                     random_state=0, device=device),
        lambda m: m.fit(X, y))
    big = X * 1e4
    p_cpu, p_gpu = cpu.predict_proba(big), gpu.predict_proba(big)
    assert np.any(p_cpu == 0.0) and np.any(p_cpu == 1.0)  # saturated on the CPU
    np.testing.assert_allclose(p_gpu, p_cpu, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(gpu.predict(big), cpu.predict(big))


def test_poisson_warm_refit_that_diverges_raises_divergence_error_like_cpu():
    # rev-259: the Poisson loss's math.exp(t) raised OverflowError on the
    # GPU where the CPU's loss became inf and the fit raised DivergenceError.
    X, _ = _data()
    y = np.arange(12) % 3

    def fit(m):
        m.fit(X, y)
        before = [c.copy() for c in m.coefs_]
        with pytest.raises(DivergenceError) as info:
            m.fit(X * 1e3, y)
        return m, before, str(info.value)

    (cpu, cpu_before, cpu_msg), (gpu, gpu_before, gpu_msg) = _twins(
        lambda device: MLPRegressor("poisson", (3,), activation="identity", max_iter=1,
                                    batch_size=12, warm_start=True, random_state=0,
                                    device=device),
        fit)
    assert gpu_msg == cpu_msg
    for g, c in zip(gpu.coefs_, gpu_before):  # not left half-updated
        np.testing.assert_array_equal(g, c)
