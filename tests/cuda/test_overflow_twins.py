"""Overflow fallbacks of the GPU against their CPU twins, under the CUDA
simulator (helper-170's review): sums of squares that overflow the dtype
while their terms are finite, where the CPU has a fallback.

Tiny networks and batches; the tiles and blocks of ``conftest.py``.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

from fastbp import MLPClassifier


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def _flat(model):
    return np.concatenate([a.ravel() for a in model.coefs_ + model.intercepts_])


def _clip_step(device):
    """One full-batch SGD step with clipping from hand-set weights, float64
    X about 1e160 (the gradient's squares overflow float64)."""
    X, y = make_classification(24, 5, random_state=0)
    rs = np.random.RandomState(0)
    m = MLPClassifier((4,), solver="sgd", clip_grad_norm=1.0, momentum=0.0,
                      learning_rate_init=1e-3, batch_size=24, shuffle=False, random_state=0,
                      device=device)
    m.coefs_ = [rs.randn(5, 4), rs.randn(4, 1) * 1e-160]  # output finite
    m.intercepts_ = [np.zeros(4), np.zeros(1)]
    before = _flat(m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.partial_fit(X * 1e160, y, classes=[0, 1])
    return m, _flat(m) - before


def test_clipping_a_float64_gradient_whose_squares_overflow_moves_like_cpu():
    # helper-170: the squared norm in the record was inf, the coefficient
    # clip / inf = 0, and the GPU's weights did not move (the CPU's moved
    # by lr * clip = 1e-3).
    cpu, cpu_step = _clip_step("cpu")
    gpu, gpu_step = _clip_step("cuda")
    np.testing.assert_allclose(np.linalg.norm(cpu_step), 1e-3, rtol=1e-9)
    assert rel_err(gpu_step, cpu_step) <= 1e-10
    assert rel_err(_flat(gpu), _flat(cpu)) <= 1e-10


def test_clipping_a_float32_gradient_past_the_scaled_range_moves_like_cpu():
    # helper-170: float32 components above about 1.8e19 times the norm's
    # power-of-two scale still squared to inf in the record (the CPU sums
    # in float64): the weights froze. Same set-up, in float32 at 1e30.
    X, y = make_classification(24, 5, random_state=0)
    X = (X * 1e30).astype(np.float32)
    steps = []
    for device in ("cpu", "cuda"):
        rs = np.random.RandomState(0)
        m = MLPClassifier((4,), solver="sgd", clip_grad_norm=1.0, momentum=0.0,
                          learning_rate_init=1e-3, batch_size=24, shuffle=False,
                          random_state=0, device=device)
        m.coefs_ = [rs.randn(5, 4).astype(np.float32),
                    (rs.randn(4, 1) * 1e-30).astype(np.float32)]
        m.intercepts_ = [np.zeros(4, np.float32), np.zeros(1, np.float32)]
        before = _flat(m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.partial_fit(X, y, classes=[0, 1])
        steps.append(_flat(m).astype(np.float64) - before)
    cpu_step, gpu_step = steps
    assert np.linalg.norm(cpu_step) > 1e-4
    assert rel_err(gpu_step, cpu_step) <= 1e-3  # a step of 1e-3 on weights of 1


def _big_weight(device, solver):
    """A float32 model with one weight of 2e19 (its square overflows
    float32) and an L2 penalty: ``loss_`` (or the exception's text)."""
    X, y = make_classification(24, 5, random_state=0)
    W1 = np.random.RandomState(0).randn(5, 8)
    W1[0, 0] = 2e19
    m = MLPClassifier((8,), activation="tanh", solver=solver, alpha=1e-4, max_iter=2,
                      random_state=0, batch_size=12, device=device,
                      warm_start=solver == "lbfgs")
    m.coefs_ = [W1.astype(np.float32), np.ones((8, 1), np.float32)]
    m.intercepts_ = [np.zeros(8, np.float32), np.zeros(1, np.float32)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if solver == "lbfgs":
            m.fit(X.astype(np.float32), y)
        else:
            m.partial_fit(X.astype(np.float32), y, classes=[0, 1])
    return m


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_float32_penalty_of_weights_whose_squares_overflow_matches_cpu(solver):
    # helper-170: sum(W**2) went into the float32 record as inf: the GPU
    # raised DivergenceError (sgd: the training loss became inf; lbfgs: the
    # loss is inf at the starting weights) where the CPU, summing in
    # float64, trained (loss_ 1.7e33 and 8.3e32).
    cpu = _big_weight("cpu", solver)
    gpu = _big_weight("cuda", solver)
    assert np.isfinite(cpu.loss_) and cpu.loss_ > 1e32
    np.testing.assert_allclose(gpu.loss_, cpu.loss_, rtol=1e-5)
    assert rel_err(_flat(gpu), _flat(cpu)) <= 1e-5


@pytest.mark.parametrize("scale", [1e19, 3e19])
def test_float32_batch_norm_whose_variance_overflows_trains_like_cpu(scale):
    # helper-170: inv had a fallback, but the running variance took the
    # float32 batch variance, inf at both scales: the GPU fit raised
    # "the batch-norm running statistics overflowed float32" where the
    # CPU's (float64 statistics) trained.
    X, y = make_classification(24, 4, n_informative=3, n_redundant=0, random_state=0)
    X = (X * scale).astype(np.float32)
    models = []
    for device in ("cpu", "cuda"):
        m = MLPClassifier((4,), activation="tanh", normalization="batch", max_iter=1,
                          batch_size=12, random_state=0, device=device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            models.append(m.fit(X, y))
    cpu, gpu = models
    np.testing.assert_allclose(gpu.loss_, cpu.loss_, rtol=1e-5)
    for g, c in zip(gpu.running_var_, cpu.running_var_):
        assert np.all(np.isfinite(g))
        assert rel_err(g, c) <= 1e-5
    for g, c in zip(gpu.running_mean_, cpu.running_mean_):
        assert rel_err(g, c) <= 1e-5
    assert rel_err(_flat(gpu), _flat(cpu)) <= 1e-5
