"""Sums of squares whose true value is finite but whose terms overflow:
the L2 penalty's ``sum(W**2)``, the clipping norm and the normalisation
variances, for weights, gradients and pre-activations near the top of the
dtype's range (review helper-155)."""

import math
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

from fastbp import MLPClassifier
from fastbp.kernels import codes, normalization, optimizers
from fastbp.training.layout import NetworkLayout

try:  # tests/ may or may not become a package
    from . import naive
    from .support import python_kernels
except ImportError:
    import naive
    from support import python_kernels

knorm, kopt = map(python_kernels, (normalization, optimizers))

UNITS = (3, 4, 2)


def _problem(dtype, seed=0):
    rng = np.random.default_rng(seed)
    lay = NetworkLayout(UNITS)
    params = rng.standard_normal(lay.n_params).astype(dtype)
    grads = (3 * rng.standard_normal(lay.n_params)).astype(dtype)
    return lay, params, grads


def _big_weight_model(solver, alpha, dtype, **kw):
    # One large but finite weight, set by hand as the README allows.
    W1 = np.random.RandomState(0).randn(5, 8)
    W1[0, 0] = 2e19
    m = MLPClassifier((8,), activation="tanh", solver=solver, alpha=alpha, max_iter=3,
                      random_state=0, **kw)
    m.coefs_ = [W1.astype(dtype), np.ones((8, 1), dtype)]
    m.intercepts_ = [np.zeros(8, dtype), np.zeros(1, dtype)]
    return m


def _fit_big_weight(solver, alpha, dtype):
    X, y = make_classification(200, 5, random_state=0)
    m = _big_weight_model(solver, alpha, dtype, warm_start=solver == "lbfgs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if solver == "lbfgs":
            m.fit(X.astype(dtype), y)
        else:
            m.partial_fit(X.astype(dtype), y, classes=[0, 1])
    return m


# ---------------------------------------------------------------------------
# The L2 penalty of float32 weights above 1.8e19
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("solver,alpha", [("sgd", 0.0), ("adam", 0.0), ("sgd", 1e-4),
                                          ("lbfgs", 0.0)])
def test_float32_weight_past_the_square_root_of_its_range_trains(solver, alpha):
    # helper-155: sum(W**2) in float32 was inf, and 0.5 * alpha * inf (NaN
    # for alpha = 0) failed the fit as a divergence; float64 trained.
    ref = _fit_big_weight(solver, alpha, np.float64)
    got = _fit_big_weight(solver, alpha, np.float32)
    assert np.isfinite(got.loss_)
    np.testing.assert_allclose(got.loss_, ref.loss_, rtol=1e-3)


def test_penalised_gradient_sums_float32_squares_past_its_range():
    # helper-155: the squares were summed in float32, to inf.
    lay, params, grads = _problem(np.float32)
    params[0] = np.float32(2e19)
    nw = lay.n_weights
    sumsq, sumabs = kopt.penalised_gradient(params, grads.copy(), nw, np.float32(0),
                                            np.float32(0), np.float32(1))
    w = params[:nw].astype(np.float64)
    assert np.isfinite(sumsq)
    np.testing.assert_allclose(sumsq, np.dot(w, w), rtol=1e-12)
    np.testing.assert_allclose(sumabs, np.abs(w).sum(), rtol=1e-6)
    np.testing.assert_allclose(0.5 * 1e-4 * sumsq, naive.penalty([w], 1e-4, 0.0, 1.0),
                               rtol=1e-12)


@pytest.mark.parametrize("code", [codes.SGD, codes.ADAM])
def test_optimizer_step_sums_float32_squares_past_its_range(code):
    # helper-155: update_range's float32 sum of squares was inf.
    lay, params, grads = _problem(np.float32)
    params[0] = np.float32(2e19)
    nw = lay.n_weights
    w = params[:nw].astype(np.float64)
    dt = np.float32
    sumsq, sumabs = kopt.optimizer_step(
        params, grads, np.zeros_like(params), np.zeros_like(params), lay.units, lay.w_off,
        nw, code, dt(0), dt(0), dt(1), dt(1), dt(1e-3), dt(1e-3), dt(0.9), False, dt(0.9),
        dt(0.999), dt(0.1), dt(1 - 0.999), dt(1e-8), np.zeros(len(UNITS) - 1, dt))
    assert np.isfinite(sumsq) and np.isfinite(sumabs)
    # The weights after the step (a change of 1e-3 at most each).
    np.testing.assert_allclose(sumsq, np.dot(w, w), rtol=1e-6)
    np.testing.assert_allclose(sumabs, np.abs(w).sum(), rtol=1e-6)


# ---------------------------------------------------------------------------
# Gradient clipping by a norm whose square overflows
# ---------------------------------------------------------------------------

def test_gradient_norm_of_a_float64_gradient_past_the_square_root_of_its_range():
    # helper-155: the squared norm was inf, and clipping scaled by 0.
    lay, params, grads = _problem(np.float64)
    g = grads * 1e160
    one = np.float64(1)
    norm = kopt.gradient_norm(params, g, lay.n_weights, np.float64(0.1), np.float64(0.01),
                              one)
    ref = g.copy()
    ref[:lay.n_weights] += 0.1 * params[:lay.n_weights] + 0.01 * np.sign(params[:lay.n_weights])
    assert np.isfinite(norm)
    np.testing.assert_allclose(norm, math.hypot(*ref), rtol=1e-13)
    np.testing.assert_allclose(1.0 / (norm + 1e-6), naive.clip_coefficient(ref, 1.0),
                               rtol=1e-13)
    # Unchanged where the square is finite, and inf where a component is.
    assert kopt.gradient_norm(params, grads, lay.n_weights, one, one, one) == math.sqrt(
        kopt.gradient_norm_sq(params, grads, lay.n_weights, one, one, one))
    g[2] = np.inf
    assert kopt.gradient_norm(params, g, lay.n_weights, one, one, one) == math.inf


def test_clip_grad_norm_scales_a_float64_gradient_past_its_range_by_its_norm():
    # helper-155: clip / (inf + 1e-6) = 0 froze the weights (only a
    # GradientWarning said anything); with X * 1e100 it trained.
    X, y = make_classification(200, 5, random_state=0)
    X = X * 1e160
    lr, clip = 1e-3, 1.0
    kw = dict(solver="sgd", clip_grad_norm=clip, random_state=0, momentum=0.0,
              learning_rate_init=lr, batch_size=200, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = MLPClassifier((8,), max_iter=1, learning_rate=lambda e, lr: 0.0, **kw).fit(X, y)
        one = MLPClassifier((8,), max_iter=1, **kw).fit(X, y)
        many = MLPClassifier((8,), max_iter=20, **kw).fit(X, y)
    step = np.concatenate([(a - b).ravel() for a, b in
                           zip(one.coefs_ + one.intercepts_, start.coefs_ + start.intercepts_)])
    # One full-batch step of plain sgd: the gradient scaled to norm ``clip``.
    np.testing.assert_allclose(np.linalg.norm(step), lr * clip, rtol=1e-9)
    assert many.loss_curve_[-1] < many.loss_curve_[0]


# ---------------------------------------------------------------------------
# Normalisation variances of float64 pre-activations above 1.3e154
# ---------------------------------------------------------------------------

def test_layer_norm_forward_of_float64_values_past_the_square_root_of_its_range():
    # helper-155: the variance was inf, inv 0, and every xhat 0.
    rng = np.random.default_rng(1)
    n, m = 5, 7
    h = (2 * rng.standard_normal((n, m)) + 1) * 1e160
    h[1] = rng.standard_normal(m)  # a row that does not overflow
    gamma = rng.uniform(0.5, 1.5, m)
    beta = rng.standard_normal(m)
    eps = 1e-5
    xhat, inv, _, _ = naive.normalise(h, 1, eps)
    inv_std = np.full(n, np.nan)
    z = np.full_like(h, np.nan)
    a = np.full_like(h, np.nan)
    hk = h.copy()
    knorm.layer_norm_forward(hk, gamma, beta, eps, inv_std, codes.TANH, z, a)
    assert np.all(inv_std > 0)
    np.testing.assert_allclose(inv_std, inv.ravel(), rtol=1e-13)
    np.testing.assert_allclose(hk, xhat, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(a, np.tanh(gamma * xhat + beta), rtol=1e-12, atol=1e-13)
    # The backward pass reads the same inv_std.
    g = rng.standard_normal((n, m))
    dh, dgamma, dbeta = naive.norm_backward(g, xhat, gamma, inv, 1)
    dg, db = np.full(m, np.nan), np.full(m, np.nan)
    knorm.layer_norm_backward(g, hk, gamma, inv_std, dg, db)
    # (Rows of gradients near 1e-160 and near 1: compared relative to their row.)
    row = np.abs(dh).max(axis=1, keepdims=True)
    np.testing.assert_allclose(g / row, dh / row, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dgamma, dg, rtol=1e-10)
    np.testing.assert_allclose(dbeta, db, rtol=1e-12)


def test_batch_norm_forward_of_float64_values_past_the_square_root_of_its_range():
    # helper-155: the same variance, over a batch column.
    rng = np.random.default_rng(2)
    n, m = 9, 4
    h = (2 * rng.standard_normal((n, m)) + 1)
    h[:, 1:3] *= 1e160
    gamma = rng.uniform(0.5, 1.5, m)
    beta = rng.standard_normal(m)
    eps = 1e-5
    xhat, inv, _, _ = naive.normalise(h, 0, eps)
    inv_std = np.full(m, np.nan)
    z = np.full_like(h, np.nan)
    a = np.full_like(h, np.nan)
    hk = h.copy()
    knorm.batch_norm_forward(hk, gamma, beta, eps, True, np.zeros(m), np.ones(m), 0.1,
                             inv_std, codes.TANH, z, a)
    assert np.all(inv_std > 0)
    np.testing.assert_allclose(inv_std, inv.ravel(), rtol=1e-13)
    np.testing.assert_allclose(hk, xhat, rtol=1e-12, atol=1e-13)


def test_layer_norm_trains_on_float64_inputs_past_the_square_root_of_its_range():
    # helper-155: X * 1e160 gave accuracy 0.495, one prediction for every
    # row; X * 1e100 gave 0.78, as unscaled X.
    X, y = make_classification(400, 5, random_state=0)
    kw = dict(normalization="layer", max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MLPClassifier((16, 16), **kw).fit(X * 1e100, y)
        got = MLPClassifier((16, 16), **kw).fit(X * 1e160, y)
    P = got.predict_proba(X * 1e160)
    assert np.ptp(P[:, 1]) > 0.5
    assert got.loss_curve_[-1] < got.loss_curve_[0]
    assert abs(got.score(X * 1e160, y) - ref.score(X * 1e100, y)) < 0.02
