"""The training toolkit through the estimators: each new parameter against an
independent NumPy reference (forward passes, gradients, closed-form optimizer
updates and schedules), plus determinism, dtypes, sparse input, partial_fit,
warm_start, sample_weight and pickling for feature combinations.

Conventions used by the references below (see ``fastbp/kernels/optimizers.py``
and ``fastbp/estimators/_docs.py``):

* ``g`` is the penalised, scaled gradient of one step:
  ``g_W = (sum_i sw_i dL_i/dW + alpha W + l1 sign(W)) / sum(sw)`` for the
  weights (``alpha`` left out for 'adamw'), ``g_b = sum_i sw_i dL_i/db / sum(sw)``
  for biases and normalisation parameters.
* sgd: ``v = momentum v - lr g``; ``p += v``, or with Nesterov
  ``p += momentum v - lr g``.
* adam: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
  ``p -= lr_t m / (sqrt(v) + eps)``, ``lr_t = lr sqrt(1-b2^t) / (1-b1^t)``.
* adamw (torch.optim.AdamW): weights first decay ``W -= lr alpha W``, then
  ``p -= lr m_hat / (sqrt(v_hat) + eps)`` with the bias-corrected moments
  ``m_hat = m / (1-b1^t)``, ``v_hat = v / (1-b2^t)`` of ``g`` (no ``alpha`` in
  ``g``); biases are not decayed.
* rmsprop: ``v = b2 v + (1-b2) g^2``, ``p -= lr g / (sqrt(v) + eps)``.
* adagrad: ``s += g^2``, ``p -= lr g / (sqrt(s) + eps)``.
* clipping: ``g *= min(1, clip / (||g|| + 1e-6))`` (PyTorch's), ``||g||`` the
  global norm over every parameter.
* the epoch loss is the mean weighted loss of the batch plus
  ``(alpha / 2 ||W||^2 + l1 ||W||_1) / sum(sw)`` at the parameters before
  the step (no alpha term for 'adamw').
"""

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import erf, expit
from sklearn import neural_network as sknn
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, get_scorer, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

import fastbp
from fastbp import GradientWarning, MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

EPS_NORM = 1e-5
BN_MOMENTUM = 0.1
SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
ALL_ACTIVATIONS = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "selu",
                   "softplus", "swish", "mish", "gelu"]


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def small(digits):
    X, y = digits
    return X[:240], y[:240]


@pytest.fixture(scope="module")
def tiny():
    """A tiny 3-class problem: 24 samples, 5 features."""
    rng = np.random.RandomState(42)
    X = rng.normal(size=(24, 5))
    y = np.arange(24) % 3
    X[:, 0] += y  # learnable
    return X, y


@pytest.fixture(scope="module")
def sparse_data(small):
    X, y = small
    X = X[:120].copy()
    X[X < 0.4] = 0.0  # ~half zeros
    return sp.csr_matrix(X), X, y[:120]


# ---------------------------------------------------------------------------
# NumPy reference network
# ---------------------------------------------------------------------------


def act_np(z, name):
    zn = np.minimum(z, 0.0)
    if name == "identity":
        return z
    if name == "logistic":
        return expit(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(zn))
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(zn))
    if name == "softplus":
        return np.logaddexp(0.0, z)
    if name == "swish":
        return z * expit(z)
    if name == "mish":
        return z * np.tanh(np.logaddexp(0.0, z))
    if name == "gelu":
        return 0.5 * z * (1 + erf(z / np.sqrt(2.0)))
    raise ValueError(name)


def dact_np(z, name):
    """Exact derivative f'(z)."""
    zn = np.minimum(z, 0.0)
    if name == "identity":
        return np.ones_like(z)
    if name == "logistic":
        s = expit(z)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, 0.01)
    if name == "elu":
        return np.where(z > 0, 1.0, np.exp(zn))
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(zn))
    if name == "softplus":
        return expit(z)
    if name == "swish":
        s = expit(z)
        return s + z * s * (1 - s)
    if name == "mish":
        sp_ = np.logaddexp(0.0, z)
        t = np.tanh(sp_)
        return t + z * expit(z) * (1 - t * t)
    if name == "gelu":
        return 0.5 * (1 + erf(z / np.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    raise ValueError(name)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def out_np(z, name):
    if name == "softmax":
        return softmax(z)
    if name == "logistic":
        return expit(z)
    if name == "exp":
        return np.exp(z)
    return z


def hidden_acts(est):
    n_hidden = len(est.coefs_) - 1
    a = est.activation
    return [a] * n_hidden if isinstance(a, str) else list(a)


def residual_flags(est):
    widths = [c.shape[1] for c in est.coefs_[:-1]]
    if not est.residual:
        return [False] * len(widths)
    return [False] + [a == b for a, b in zip(widths[:-1], widths[1:])]


def params_of(est):
    """A float64 copy of everything the forward pass needs."""
    f = lambda arrs: [np.array(a, dtype=np.float64) for a in arrs]  # noqa: E731
    return dict(coefs=f(est.coefs_), intercepts=f(est.intercepts_),
                scales=f(getattr(est, "normalization_scales_", [])),
                shifts=f(getattr(est, "normalization_shifts_", [])),
                running_mean=f(getattr(est, "running_mean_", [])),
                running_var=f(getattr(est, "running_var_", [])),
                acts=hidden_acts(est), residual=residual_flags(est),
                norm=est.normalization, out=est.out_activation_)


def forward_np(P, X, training=False, masks=None, collect=None):
    """Output-layer values of the network ``P`` (see ``params_of``).

    ``training``: batch norm uses the batch statistics (biased variance);
    otherwise the running ones. ``masks``: dropout masks per hidden layer.
    ``collect``: a list receiving each hidden layer's pre-normalisation
    output ``h`` (for running statistics).
    """
    o = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    n_hidden = len(P["coefs"]) - 1
    for l in range(n_hidden):
        h = o @ P["coefs"][l]
        if collect is not None:
            collect.append(h)
        norm = P["norm"]
        if norm is None:
            u = h + P["intercepts"][l]
        else:
            if norm == "batch":
                if training:
                    mu, var = h.mean(axis=0), h.var(axis=0)
                else:
                    mu, var = P["running_mean"][l], P["running_var"][l]
            else:
                mu, var = h.mean(axis=1, keepdims=True), h.var(axis=1, keepdims=True)
            u = P["scales"][l] * (h - mu) / np.sqrt(var + EPS_NORM) + P["shifts"][l]
        a = act_np(u, P["acts"][l])
        if masks is not None:
            a = a * masks[l]
        if P["residual"][l]:
            a = a + o
        o = a
    return out_np(o @ P["coefs"][-1] + P["intercepts"][-1], P["out"])


def proba_np(P, X, **kw):
    out = forward_np(P, X, **kw)
    if out.shape[1] == 1:
        out = np.hstack([1 - out, out])
    return out


def mean_loss_np(P, X, Y, sw=None, **kw):
    """scikit-learn's data loss (no penalty) of ``P`` on one-hot ``Y``."""
    p = forward_np(P, X, **kw)
    eps = np.finfo(np.float64).eps
    if P["out"] == "softmax":
        per = -(Y * np.log(np.clip(p, eps, 1 - eps))).sum(axis=1)
    elif P["out"] == "logistic":
        q = np.clip(p, eps, 1 - eps)
        per = -(Y * np.log(q) + (1 - Y) * np.log(1 - q)).sum(axis=1)
    else:
        per = 0.5 * ((p - Y) ** 2).mean(axis=1)
    return np.average(per, weights=sw)


def penalty_np(coefs, alpha, l1, sw_sum):
    sq = sum(float(np.sum(c ** 2)) for c in coefs)
    ab = sum(float(np.sum(np.abs(c))) for c in coefs)
    return (0.5 * alpha * sq + l1 * ab) / sw_sum


def one_hot(y, classes):
    return (np.asarray(y)[:, None] == np.asarray(classes)[None, :]).astype(float)


def backprop_np(coefs, intercepts, acts, X, Y):
    """Analytic mean-loss gradient of a plain softmax network (no norm, no
    dropout, no residual): ``(loss, dW list, db list)``."""
    outs, zs = [X], []
    o = X
    for W, b, name in zip(coefs[:-1], intercepts[:-1], acts):
        z = o @ W + b
        zs.append(z)
        o = act_np(z, name)
        outs.append(o)
    p = softmax(o @ coefs[-1] + intercepts[-1])
    n = X.shape[0]
    eps = np.finfo(np.float64).eps
    loss = -(Y * np.log(np.clip(p, eps, 1 - eps))).sum() / n
    delta = (p - Y) / n
    dW, db = [None] * len(coefs), [None] * len(coefs)
    for l in range(len(coefs) - 1, -1, -1):
        dW[l] = outs[l].T @ delta
        db[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ coefs[l].T) * dact_np(zs[l - 1], acts[l - 1])
    return loss, dW, db


def flat(est):
    arrs = est.coefs_ + est.intercepts_ + list(getattr(est, "normalization_scales_", [])) \
        + list(getattr(est, "normalization_shifts_", []))
    return np.hstack([np.ravel(a) for a in arrs])


def unflat(vec, est, P):
    """``params_of(est)``'s dict ``P`` with the parameters of ``vec`` (laid
    out as :func:`flat` lays out ``est``'s) in place of the model's."""
    sizes = [a.size for a in est.coefs_ + est.intercepts_
             + est.normalization_scales_ + est.normalization_shifts_]
    parts = np.split(vec, np.cumsum(sizes)[:-1])
    n = len(est.coefs_)
    k = len(est.normalization_scales_)
    Q = dict(P)
    Q["coefs"] = [p.reshape(c.shape) for p, c in zip(parts[:n], est.coefs_)]
    Q["intercepts"] = parts[n:2 * n]
    Q["scales"] = parts[2 * n:2 * n + k]
    Q["shifts"] = parts[2 * n + k:]
    return Q


def state(est):
    """Everything that defines a fitted model, as a list of arrays."""
    out = [np.asarray(a) for a in est.coefs_ + est.intercepts_]
    for attr in ("normalization_scales_", "normalization_shifts_", "running_mean_",
                 "running_var_"):
        out += [np.asarray(a) for a in getattr(est, attr, [])]
    out.append(np.asarray(est.loss_curve_))
    return out


def assert_bitwise_same(a, b):
    sa, sb = state(a), state(b)
    assert len(sa) == len(sb)
    for x, z in zip(sa, sb):
        assert x.dtype == z.dtype
        assert_array_equal(x, z)


def assert_models_close(a, b, rtol=1e-10, atol=1e-12):
    sa, sb = state(a), state(b)
    assert len(sa) == len(sb)
    for i, (x, z) in enumerate(zip(sa, sb)):
        assert_allclose(x, z, rtol=rtol, atol=atol, err_msg=f"array {i}")


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", GradientWarning)
        return est.fit(*args, **kwargs)


def splitmix_uniforms(seed, count):
    """The dropout kernel's splitmix64 stream (fastbp/kernels/dropout.py)."""
    mask64 = (1 << 64) - 1
    s = int(seed)
    out = np.empty(count)
    for k in range(count):
        s = (s + 0x9E3779B97F4A7C15) & mask64
        x = s
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask64
        x = x ^ (x >> 31)
        out[k] = (x >> 11) * 2.0 ** -53
    return out


# Feature combinations exercised by the cross-cutting tests.
COMBOS = {
    "activations": dict(hidden_layer_sizes=(7, 6), activation=["gelu", "mish"],
                        init="he_normal"),
    "dropout": dict(hidden_layer_sizes=(8, 8), dropout=[0.3, 0.1]),
    "batch": dict(hidden_layer_sizes=(8, 6), normalization="batch", activation="elu"),
    "layer": dict(hidden_layer_sizes=(8, 8), normalization="layer", activation="swish"),
    "residual": dict(hidden_layer_sizes=(8, 8, 8), residual=True, activation="tanh"),
    "everything": dict(hidden_layer_sizes=(8, 8), activation=["selu", "relu"],
                       normalization="layer", dropout=0.2, residual=True, l1=1e-3,
                       clip_grad_norm=0.5, solver="adamw", learning_rate="cosine",
                       init="lecun_normal"),
    "rmsprop_bn_dropout": dict(hidden_layer_sizes=(6, 6), solver="rmsprop",
                               normalization="batch", dropout=0.25, residual=True,
                               learning_rate="step", step_size=1, gamma=0.5),
    "adagrad_l1_clip": dict(hidden_layer_sizes=(9,), solver="adagrad", l1=1e-2,
                            clip_grad_norm=0.1, activation="softplus",
                            learning_rate="exponential", gamma=0.9,
                            init="glorot_normal"),
}


# ---------------------------------------------------------------------------
# defaults keep scikit-learn parity
# ---------------------------------------------------------------------------


NEW_DEFAULTS = dict(init="glorot_uniform", step_size=10, gamma=None, l1=0.0, dropout=0.0,
                    normalization=None, residual=False, clip_grad_norm=None, scoring=None)


@pytest.mark.parametrize("name, solver", [("MLPClassifier", "adam"),
                                          ("MLPRegressor", "sgd")])
def test_defaults_keep_one_epoch_sklearn_parity(small, name, solver):
    X, y = small
    if name == "MLPRegressor":
        y = X[:, :8].sum(axis=1)
    params = dict(hidden_layer_sizes=(20, 10), solver=solver, max_iter=1, random_state=3,
                  learning_rate_init=0.01)
    ref = quiet_fit(getattr(sknn, name)(**params), X, y)
    est = quiet_fit(getattr(fastbp, name)(**params, **NEW_DEFAULTS), X, y)
    for a, b in zip(ref.coefs_ + ref.intercepts_, est.coefs_ + est.intercepts_):
        assert_allclose(b, a, rtol=1e-6, atol=1e-9)
    assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-9)
    assert est.normalization_scales_ == [] and est.running_mean_ == []


# ---------------------------------------------------------------------------
# initialisation schemes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("init", ["glorot_normal", "he_uniform", "he_normal",
                                  "lecun_normal"])
def test_init_schemes_draw_documented_distributions(tiny, init):
    X, y = tiny
    # a learning rate so small that the single update is below the weights' ulp
    est = quiet_fit(MLPClassifier((6, 4), init=init, solver="sgd", momentum=0.0,
                                  learning_rate_init=1e-300, max_iter=1, shuffle=False,
                                  random_state=7), X, y)
    rs = np.random.RandomState(7)
    units = [5, 6, 4, 3]
    for l, (fi, fo) in enumerate(zip(units[:-1], units[1:])):
        if init == "glorot_normal":
            w = rs.normal(0, np.sqrt(2 / (fi + fo)), (fi, fo))
        elif init == "he_uniform":
            w = rs.uniform(-np.sqrt(6 / fi), np.sqrt(6 / fi), (fi, fo))
        elif init == "he_normal":
            w = rs.normal(0, np.sqrt(2 / fi), (fi, fo))
        else:
            w = rs.normal(0, np.sqrt(1 / fi), (fi, fo))
        assert_array_equal(est.coefs_[l], w)
        # zero biases (moved by at most ~1e-300)
        assert_allclose(est.intercepts_[l], 0.0, atol=1e-290)


@pytest.mark.parametrize("activation, factors", [
    (["logistic", "relu"], [2, 6, 6]),
    (["relu", "logistic"], [6, 2, 2]),
])
def test_glorot_uniform_factor_per_layer(tiny, activation, factors):
    """scikit-learn's draw, with its factor (2 for logistic, else 6) taken
    from each layer's own activation; the output layer's from the last
    hidden layer's."""
    X, y = tiny
    est = quiet_fit(MLPClassifier((6, 4), activation=activation, solver="sgd",
                                  momentum=0.0, learning_rate_init=1e-300, max_iter=1,
                                  random_state=7), X, y)
    rs = np.random.RandomState(7)
    for l, ((fi, fo), factor) in enumerate(zip([(5, 6), (6, 4), (4, 3)], factors)):
        bound = np.sqrt(factor / (fi + fo))
        assert_array_equal(est.coefs_[l], rs.uniform(-bound, bound, (fi, fo)))
        assert_allclose(est.intercepts_[l], rs.uniform(-bound, bound, fo), rtol=1e-15)


# ---------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------


DETERMINISM_EXTRA = {
    "class_weight_scoring": dict(hidden_layer_sizes=(8,), class_weight="balanced",
                                 dropout=0.3, early_stopping=True, scoring="f1_macro",
                                 normalization="batch"),
}


@pytest.mark.parametrize("combo", sorted(COMBOS) + sorted(DETERMINISM_EXTRA))
def test_same_random_state_same_model(small, combo):
    X, y = small
    params = COMBOS.get(combo) or DETERMINISM_EXTRA[combo]
    kw = dict(params, max_iter=3, random_state=11, batch_size=50)
    a = quiet_fit(MLPClassifier(**kw), X, y)
    b = quiet_fit(MLPClassifier(**kw), X, y)
    assert_bitwise_same(a, b)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_dropout_masks_follow_random_state(small):
    """From the same weights and sample order, only the dropout masks depend
    on ``random_state``: different seeds give different models with dropout,
    the same model without."""
    X, y = small
    for rate, expect_same in [(0.3, False), (0.0, True)]:
        base = quiet_fit(MLPClassifier((10,), dropout=rate, max_iter=1, random_state=0),
                         X, y)
        models = []
        for seed in (1, 2, 1):
            est = copy.deepcopy(base).set_params(warm_start=True, shuffle=False,
                                                 random_state=seed, max_iter=2)
            models.append(quiet_fit(est, X, y))
        assert_bitwise_same(models[0], models[2])
        if expect_same:
            assert_bitwise_same(models[0], models[1])
        else:
            assert not np.array_equal(flat(models[0]), flat(models[1]))


def test_dropout_turned_on_within_a_stream_draws_its_seed_from_random_state(small):
    # A stream's dropout generator is seeded at its first call with dropout
    # on: turned on after the first call, it stayed at the unseeded state
    # whatever random_state was.
    X, y = small
    losses = {}
    for seed in (0, 1, 0):
        est = MLPClassifier((10,), batch_size=32, shuffle=False, random_state=0)
        est.partial_fit(X, y, classes=np.unique(y))
        est.set_params(dropout=0.5, random_state=seed)
        est.partial_fit(X, y)
        losses.setdefault(seed, []).append(est.loss_)
        est.partial_fit(X, y)  # seeded once: the next call goes on from it
        losses[seed].append(est.loss_)
    assert losses[0][0] != losses[1][0]
    assert len({tuple(v) for v in losses.values()}) == 2


# ---------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------


def test_dropout_inactive_at_predict(small):
    X, y = small
    est = quiet_fit(MLPClassifier((12, 9), dropout=[0.5, 0.2], activation="tanh",
                                  max_iter=3, random_state=0), X, y)
    p1, p2 = est.predict_proba(X), est.predict_proba(X)
    assert_array_equal(p1, p2)
    assert_allclose(p1, proba_np(params_of(est), X), rtol=1e-9, atol=1e-12)


def test_dropout_changes_training_loss(small):
    X, y = small
    kw = dict(hidden_layer_sizes=(12,), max_iter=1, random_state=0, shuffle=False)
    plain = quiet_fit(MLPClassifier(**kw), X, y)
    dropped = quiet_fit(MLPClassifier(dropout=0.5, **kw), X, y)
    assert dropped.loss_curve_[0] != plain.loss_curve_[0]
    assert not np.allclose(flat(dropped), flat(plain))


def test_dropout_training_loss_matches_replicated_masks(tiny):
    """One full-batch step from known weights: the reported loss is the loss
    under the masks of the documented splitmix64 stream (inverted dropout,
    drop when u < rate, row-major per hidden layer)."""
    X, y = tiny
    rate = 0.4
    base = quiet_fit(MLPClassifier((5, 4), activation="tanh", max_iter=1, random_state=0),
                     X, y)
    P = params_of(base)
    est = copy.deepcopy(base).set_params(warm_start=True, shuffle=False, batch_size=len(X),
                                         max_iter=1, dropout=rate, random_state=5,
                                         alpha=0.0)
    quiet_fit(est, X, y)
    seed = np.random.RandomState(5).randint(2 ** 31 - 1)
    u = splitmix_uniforms(seed, len(X) * (5 + 4))
    m1 = np.where(u[:len(X) * 5] >= rate, 1 / (1 - rate), 0.0).reshape(len(X), 5)
    m2 = np.where(u[len(X) * 5:] >= rate, 1 / (1 - rate), 0.0).reshape(len(X), 4)
    expected = mean_loss_np(P, X, one_hot(y, est.classes_), training=True, masks=[m1, m2])
    assert_allclose(est.loss_, expected, rtol=1e-12)


# ---------------------------------------------------------------------------
# normalisation: prediction, running statistics, gradients
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_normalization_predict_matches_numpy(small, norm, dtype, tol):
    X, y = small
    X = X.astype(dtype)
    est = quiet_fit(MLPClassifier((10, 10, 7), normalization=norm, residual=True,
                                  activation=["relu", "gelu", "tanh"], max_iter=4,
                                  learning_rate_init=0.01, random_state=0), X, y)
    assert est.coefs_[0].dtype == dtype
    for attr in ("normalization_scales_", "normalization_shifts_"):
        assert len(getattr(est, attr)) == 3
        assert all(a.dtype == dtype for a in getattr(est, attr))
    if norm == "batch":
        assert [a.shape for a in est.running_mean_] == [(10,), (10,), (7,)]
        assert all(a.dtype == dtype for a in est.running_mean_ + est.running_var_)
        # trained: not the initial statistics
        assert not np.allclose(est.running_mean_[0], 0)
    else:
        assert est.running_mean_ == [] and est.running_var_ == []
    # normalised layers have no bias: it stays 0
    for b in est.intercepts_[:-1]:
        assert_array_equal(b, 0)
    proba = est.predict_proba(X)
    assert proba.dtype == dtype
    assert_allclose(proba, proba_np(params_of(est), X), rtol=tol, atol=tol)
    # batch norm at prediction must not use the batch statistics
    if norm == "batch":
        batch_stats = proba_np(params_of(est), X, training=True)
        assert not np.allclose(proba, batch_stats, atol=1e-4)
        # ... so one row predicts as in a large batch
        assert_allclose(est.predict_proba(X[:1]), proba[:1], rtol=tol, atol=tol)


def _ported_network(norm, X, b1=None):
    """Weights of a network with a bias before its normalisation (PyTorch's
    Linear(5, 4) -> BatchNorm1d / LayerNorm -> ReLU -> Linear(4, 2), in
    eval mode), and its outputs for ``X``; the bias ``b1``, or a random one."""
    rng = np.random.RandomState(0)
    W1, drawn = rng.normal(size=(5, 4)), rng.normal(size=4)
    b1 = drawn if b1 is None else b1
    gamma, beta = rng.uniform(0.5, 2.0, size=4), rng.normal(size=4)
    mean, var = rng.normal(size=4), rng.uniform(0.5, 2.0, size=4)
    W2, b2 = rng.normal(size=(4, 2)), rng.normal(size=2)
    h = X @ W1 + b1
    if norm == "layer":
        mean, var = h.mean(axis=1, keepdims=True), h.var(axis=1, keepdims=True)
    out = np.maximum((h - mean) / np.sqrt(var + 1e-5) * gamma + beta, 0.0) @ W2 + b2
    params = dict(coefs_=[W1, W2], intercepts_=[b1, b2], normalization_scales_=[gamma],
                  normalization_shifts_=[beta])
    if norm == "batch":
        params.update(running_mean_=[mean], running_var_=[var])
    return params, out


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_a_bias_set_before_a_normalised_layer_is_refused_not_ignored(tiny, norm):
    # helper-141 (found by helper-132): the kernels add no bias before a
    # normalisation, and a ported network's intercepts_[0] was ignored
    # without a word (predictions off by 0.17 for batch norm, 0.78 for
    # layer norm).
    X = tiny[0]
    params, expected = _ported_network(norm, X)
    est = MLPRegressor(hidden_layer_sizes=(4,), normalization=norm)
    est.__dict__.update(params)
    match = (r"intercepts_\[0\] holds non-zero values, but hidden layer 1 is normalised "
             rf"\(normalization='{norm}'\).*")
    match += (r"subtract intercepts_\[0\] from running_mean_\[0\]" if norm == "batch"
              else "cannot be represented in fastbp")
    with pytest.raises(ValueError, match=match):
        est.predict(X)
    with pytest.raises(ValueError, match=match):
        est.partial_fit(X, expected)
    zeros = np.zeros(4)
    if norm == "batch":
        # The advice: folded into the running mean, the bias predicts as
        # the original network.
        est.running_mean_ = [params["running_mean_"][0] - params["intercepts_"][0]]
        est.intercepts_ = [zeros, params["intercepts_"][1]]
        assert_allclose(est.predict(X), expected, rtol=1e-12, atol=1e-12)
    else:
        # One bias for every unit is what layer normalization removes.
        params, expected = _ported_network(norm, X, b1=np.full(4, 3.0))
        est.__dict__.update(params)
        with pytest.raises(ValueError, match=match):
            est.predict(X)
        est.intercepts_ = [zeros, params["intercepts_"][1]]
        assert_allclose(est.predict(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_a_fitted_normalised_layers_bias_cannot_be_set(small, norm):
    # helper-141 (found by helper-132): a fitted model's intercepts_[0],
    # edited in place or replaced, changed nothing, and partial_fit and
    # fastbp.save kept the edited values for ever.
    X, y = small
    est = quiet_fit(MLPClassifier((8,), normalization=norm, max_iter=3, random_state=0),
                    X, y)
    proba = est.predict_proba(X)
    edited = np.linspace(-50.0, 50.0, 8)
    # In place (the kernels' own buffers, where noticing an edit would cost
    # every prediction): refused at once.
    with pytest.raises(ValueError, match="read-only"):
        est.intercepts_[0][:] = edited
    assert_array_equal(est.intercepts_[0], 0.0)
    est.intercepts_[1][:] += 0.0  # the output layer's bias is used, and writable
    assert_array_equal(est.predict_proba(X), proba)
    kept = est.intercepts_[0]
    est.intercepts_[0] = edited
    match = rf"intercepts_\[0\] holds non-zero values.*\(normalization='{norm}'\)"
    with pytest.raises(ValueError, match=match):
        est.predict_proba(X)
    with pytest.raises(ValueError, match=match):
        est.partial_fit(X, y)
    est.set_params(warm_start=True)
    with pytest.raises(ValueError, match=match):
        quiet_fit(est, X, y)
    assert_array_equal(est.intercepts_[0], edited)  # the failed calls changed nothing
    # A copy's arrays are its own, not the kernels' buffers: an edit in
    # place is refused where they are packed.
    est.intercepts_[0] = kept
    for twin in (copy.deepcopy(est), pickle.loads(pickle.dumps(est))):
        twin.intercepts_[0][:] = edited
        with pytest.raises(ValueError, match=match):
            twin.predict_proba(X)
        with pytest.raises(ValueError, match=match):
            twin.partial_fit(X, y)
    assert_array_equal(est.predict_proba(X), proba)
    est.partial_fit(X, y)
    # Training goes on with zero biases, and keeps them read-only.
    assert not est.intercepts_[0].flags.writeable and est.intercepts_[1].flags.writeable
    assert_array_equal(est.intercepts_[0], 0.0)


def test_batch_norm_running_statistics_update(small):
    """Running statistics after one epoch (shuffle=False, two batches in a
    known order) equal PyTorch's momentum-0.1 update with the unbiased batch
    variance, computed from the weights in force at each step."""
    X, y = small
    base = quiet_fit(MLPClassifier((7, 5), normalization="batch", activation="tanh",
                                   learning_rate_init=0.01, max_iter=2, random_state=0),
                     X, y)
    half = len(X) // 2
    common = dict(warm_start=True, shuffle=False, batch_size=half, max_iter=1)
    full = quiet_fit(copy.deepcopy(base).set_params(**common), X, y)
    first = quiet_fit(copy.deepcopy(base).set_params(**common), X[:half], y[:half])
    assert_array_equal(first.classes_, full.classes_)

    def stats(est, rows):
        hs = []
        forward_np(params_of(est), X[rows], training=True, collect=hs)
        return [(h.mean(axis=0), h.var(axis=0, ddof=1)) for h in hs]

    expected_mean = [np.array(m, dtype=float) for m in base.running_mean_]
    expected_var = [np.array(v, dtype=float) for v in base.running_var_]
    for est, rows in [(base, slice(0, half)), (first, slice(half, None))]:
        for l, (mu, var) in enumerate(stats(est, rows)):
            expected_mean[l] = (1 - BN_MOMENTUM) * expected_mean[l] + BN_MOMENTUM * mu
            expected_var[l] = (1 - BN_MOMENTUM) * expected_var[l] + BN_MOMENTUM * var
    for l in range(2):
        assert_allclose(full.running_mean_[l], expected_mean[l], rtol=1e-10, atol=1e-12)
        assert_allclose(full.running_var_[l], expected_var[l], rtol=1e-10, atol=1e-12)


GRADIENT_CASES = {
    "batch_residual": dict(hidden_layer_sizes=(5, 5), normalization="batch",
                           residual=True, activation=["gelu", "elu"]),
    "layer": dict(hidden_layer_sizes=(5, 4), normalization="layer",
                  activation=["mish", "logistic"]),
    "residual_plain": dict(hidden_layer_sizes=(4, 4, 4), residual=True,
                           activation=["swish", "selu", "softplus"]),
}


def numerical_gradient(f, x, h=1e-6):
    g = np.empty_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize("case", sorted(GRADIENT_CASES))
def test_training_step_gradient_matches_finite_differences(tiny, case):
    """One full-batch sgd step (lr 1, no momentum) moves every parameter,
    normalisation scales and shifts included, by minus the gradient of the
    NumPy training loss (batch statistics for batch norm)."""
    X, y = tiny
    base = quiet_fit(MLPClassifier(**GRADIENT_CASES[case], learning_rate_init=0.05,
                                   max_iter=3, random_state=1, batch_size=8), X, y)
    est = copy.deepcopy(base).set_params(warm_start=True, solver="sgd", momentum=0.0,
                                         learning_rate_init=1.0, batch_size=len(X),
                                         shuffle=False, max_iter=1, alpha=0.0)
    quiet_fit(est, X, y)
    P = params_of(base)
    Y = one_hot(y, base.classes_)
    p0 = flat(base).astype(float)

    def loss_of(vec):
        return mean_loss_np(unflat(vec, base, P), X, Y, training=True)

    grad = numerical_gradient(loss_of, p0)
    assert_allclose(p0 - flat(est), grad, rtol=1e-5, atol=1e-8)
    assert_allclose(est.loss_, loss_of(p0), rtol=1e-12)


DROPOUT_GRADIENT_CASES = {
    "plain": dict(hidden_layer_sizes=(5, 4), activation=["tanh", "gelu"],
                  dropout=[0.4, 0.25]),
    "layer_residual": dict(hidden_layer_sizes=(5, 5), normalization="layer", residual=True,
                           activation=["mish", "logistic"], dropout=0.3),
}


@pytest.mark.parametrize("case", sorted(DROPOUT_GRADIENT_CASES))
def test_dropout_training_step_gradient_matches_finite_differences(tiny, case):
    """With the masks fixed (the CPU's splitmix64 stream, replicated), one
    full-batch sgd step (lr 1, no momentum, alpha 0) moves every parameter
    by minus the gradient of the masked NumPy training loss."""
    # helper-115: the dropout backward pass had no finite-difference check
    # (only the normalisation's had, above): a backward pass that dropped
    # the mask's 1 / (1 - rate) while the forward pass kept it went unseen.
    X, y = tiny
    kw = dict(DROPOUT_GRADIENT_CASES[case])
    rates = kw.pop("dropout")
    base = quiet_fit(MLPClassifier(**kw, learning_rate_init=0.05, max_iter=3, random_state=1,
                                   batch_size=8), X, y)
    est = copy.deepcopy(base).set_params(warm_start=True, solver="sgd", momentum=0.0,
                                         learning_rate_init=1.0, batch_size=len(X),
                                         shuffle=False, max_iter=1, alpha=0.0,
                                         dropout=rates, random_state=5)
    quiet_fit(est, X, y)
    widths = list(kw["hidden_layer_sizes"])
    rates = rates if isinstance(rates, list) else [rates] * len(widths)
    seed = np.random.RandomState(5).randint(2 ** 31 - 1)
    u = splitmix_uniforms(seed, len(X) * sum(widths))
    masks, at = [], 0
    for m, rate in zip(widths, rates):
        draw = u[at:at + len(X) * m].reshape(len(X), m)
        masks.append(np.where(draw >= rate, 1 / (1 - rate), 0.0))
        at += len(X) * m
    assert all(0 < np.count_nonzero(m) < m.size for m in masks)
    P = params_of(base)
    Y = one_hot(y, base.classes_)
    p0 = flat(base).astype(float)

    def loss_of(vec):
        return mean_loss_np(unflat(vec, base, P), X, Y, training=True, masks=masks)

    grad = numerical_gradient(loss_of, p0)
    assert_allclose(p0 - flat(est), grad, rtol=1e-5, atol=1e-8)
    assert_allclose(est.loss_, loss_of(p0), rtol=1e-12)


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_activation_forward_and_gradient(tiny, activation):
    """Each activation: predict_proba equals the NumPy forward pass, and one
    full-batch sgd step equals the analytic NumPy gradient step."""
    X, y = tiny
    base = quiet_fit(MLPClassifier((6, 5), activation=activation, max_iter=2,
                                   learning_rate_init=0.05, random_state=0), X, y)
    P = params_of(base)
    assert_allclose(base.predict_proba(X), proba_np(P, X), rtol=1e-10, atol=1e-13)
    lr = 0.3
    est = copy.deepcopy(base).set_params(warm_start=True, solver="sgd", momentum=0.0,
                                         learning_rate_init=lr, batch_size=len(X),
                                         shuffle=False, max_iter=1, alpha=0.0)
    quiet_fit(est, X, y)
    loss, dW, db = backprop_np(P["coefs"], P["intercepts"], P["acts"], X,
                               one_hot(y, base.classes_))
    for l in range(3):
        assert_allclose(est.coefs_[l], P["coefs"][l] - lr * dW[l], rtol=1e-10, atol=1e-13)
        assert_allclose(est.intercepts_[l], P["intercepts"][l] - lr * db[l], rtol=1e-10,
                        atol=1e-13)
    assert_allclose(est.loss_, loss, rtol=1e-12)


def test_layer_norm_and_residual_survive_pickle(small):
    X, y = small
    for kw in (COMBOS["layer"], COMBOS["batch"], COMBOS["residual"], COMBOS["everything"]):
        est = quiet_fit(MLPClassifier(**kw, max_iter=2, random_state=0), X, y)
        clone_ = pickle.loads(pickle.dumps(est))
        assert_array_equal(clone_.predict_proba(X), est.predict_proba(X))
        assert_allclose(est.predict_proba(X), proba_np(params_of(est), X), rtol=1e-9,
                        atol=1e-12)


# ---------------------------------------------------------------------------
# optimizers against their closed forms
# ---------------------------------------------------------------------------


OPT_CASES = {
    "sgd": dict(solver="sgd", momentum=0.7, nesterovs_momentum=False),
    "sgd_nesterov": dict(solver="sgd", momentum=0.7, nesterovs_momentum=True),
    "adam": dict(solver="adam", beta_1=0.8, beta_2=0.95, epsilon=1e-6),
    "rmsprop": dict(solver="rmsprop", beta_2=0.9, epsilon=1e-6),
    "adagrad": dict(solver="adagrad", epsilon=1e-6),
    "adamw": dict(solver="adamw", beta_1=0.8, beta_2=0.95, epsilon=1e-6),
}


def closed_form_steps(case, p0, grad_fn, n_steps, lr, alpha, l1, n, is_weight, clip=None):
    """Apply ``n_steps`` updates of ``OPT_CASES[case]`` from ``p0`` (flat
    vector); ``grad_fn(p)`` returns the raw mean data gradient."""
    kw = OPT_CASES[case]
    solver = kw["solver"]
    p = p0.copy()
    s1 = np.zeros_like(p)
    s2 = np.zeros_like(p)
    for t in range(1, n_steps + 1):
        raw = grad_fn(p)
        alpha_g = 0.0 if solver == "adamw" else alpha
        g = raw + is_weight * (alpha_g * p + l1 * np.sign(p)) / n
        if clip is not None:
            norm = np.linalg.norm(g)
            g = g * min(1.0, clip / (norm + 1e-6))
        if solver == "sgd":
            s1 = kw["momentum"] * s1 - lr * g
            p = p + (kw["momentum"] * s1 - lr * g if kw["nesterovs_momentum"] else s1)
        elif solver in ("adam", "adamw"):
            b1, b2, eps = kw["beta_1"], kw["beta_2"], kw["epsilon"]
            if solver == "adamw":
                p = p - is_weight * lr * alpha * p
            s1 = b1 * s1 + (1 - b1) * g
            s2 = b2 * s2 + (1 - b2) * g * g
            if solver == "adamw":
                # torch.optim.AdamW: eps beside the bias-corrected sqrt(v).
                p = p - lr * (s1 / (1 - b1 ** t)) / (np.sqrt(s2 / (1 - b2 ** t)) + eps)
            else:
                lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                p = p - lr_t * s1 / (np.sqrt(s2) + eps)
        elif solver == "rmsprop":
            s1 = kw["beta_2"] * s1 + (1 - kw["beta_2"]) * g * g
            p = p - lr * g / (np.sqrt(s1) + kw["epsilon"])
        else:
            s1 = s1 + g * g
            p = p - lr * g / (np.sqrt(s1) + kw["epsilon"])
    return p


def _plain_net_helpers(base, X, y):
    shapes = [c.shape for c in base.coefs_]
    sizes = [a.size for a in base.coefs_ + base.intercepts_]
    n_w = sum(sizes[:len(shapes)])
    Y = one_hot(y, base.classes_)
    acts = hidden_acts(base)

    def unpack(vec):
        parts = np.split(vec, np.cumsum(sizes)[:-1])
        return ([p.reshape(s) for p, s in zip(parts[:len(shapes)], shapes)],
                parts[len(shapes):])

    def grad_fn(vec):
        coefs, intercepts = unpack(vec)
        _, dW, db = backprop_np(coefs, intercepts, acts, X, Y)
        return np.hstack([d.ravel() for d in dW + db])

    def loss_fn(vec):
        coefs, intercepts = unpack(vec)
        return backprop_np(coefs, intercepts, acts, X, Y)[0]

    is_weight = np.zeros(sum(sizes))
    is_weight[:n_w] = 1
    return grad_fn, loss_fn, unpack, is_weight


@pytest.mark.parametrize("solver", ["rmsprop", "adam"])
def test_float32_decay_rates_round_once(solver):
    """helper-113: a float32 fit with beta_2 = 0.999 stays within float32
    rounding of the float64 fit of the same data. ``1 - beta_2`` (rmsprop's
    and adam's second-moment weight) and the bias corrections were computed
    from the float32 beta_2, 0.99900001287, whose ``1 - beta_2`` is 1.3e-5
    off (relative): the float32 rmsprop model lay 7.5e-6 from the float64
    one, adam's 1.2e-6; computed in double and rounded once, about 2e-7 (as
    with beta_2 = 1 - 2**-10, exact in float32)."""
    from sklearn.datasets import make_regression

    X, y = make_regression(64, 6, noise=1.0, random_state=0)
    X, y = X.astype(np.float32), (y / 50).astype(np.float32)
    kw = dict(hidden_layer_sizes=(6, 6), activation="tanh", solver=solver, batch_size=16,
              learning_rate_init=0.01, beta_2=0.999, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f32 = MLPRegressor(**kw).fit(X, y)
        f64 = MLPRegressor(**kw).fit(X.astype(np.float64), y.astype(np.float64))
    assert f32.coefs_[0].dtype == np.float32 and f64.coefs_[0].dtype == np.float64
    dist = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(f32.coefs_, f64.coefs_))
    assert dist < 6e-7, dist


@pytest.mark.parametrize("case", sorted(OPT_CASES))
def test_optimizer_steps_match_closed_form(tiny, case):
    """Two full-batch steps (max_iter=2, batch_size=n, shuffle=False) from
    known weights equal the documented update rules; the first epoch's loss
    is the penalised loss at the starting point."""
    X, y = tiny
    n = len(X)
    alpha, l1, lr = 0.5, 0.05, 0.02
    base = quiet_fit(MLPClassifier((4,), activation="tanh", max_iter=1, random_state=0),
                     X, y)
    grad_fn, loss_fn, _, is_weight = _plain_net_helpers(base, X, y)
    p0 = flat(base)
    for n_steps in (1, 2):
        est = copy.deepcopy(base).set_params(
            warm_start=True, shuffle=False, batch_size=n, max_iter=n_steps, alpha=alpha,
            l1=l1, learning_rate_init=lr, n_iter_no_change=np.inf, **OPT_CASES[case])
        quiet_fit(est, X, y)
        assert est.n_iter_ == n_steps
        expected = closed_form_steps(case, p0, grad_fn, n_steps, lr, alpha, l1, n,
                                     is_weight)
        assert_allclose(flat(est), expected, rtol=1e-9, atol=1e-12)
        # the step must have moved the weights by much more than the tolerance
        assert np.abs(flat(est) - p0).max() > 1e-4
    alpha_l = 0.0 if case == "adamw" else alpha
    expected_loss = loss_fn(p0) + penalty_np(base.coefs_, alpha_l, l1, n)
    # warm start appends to loss_curve_ (as scikit-learn): this fit's first epoch
    assert len(est.loss_curve_) == 1 + n_steps
    assert_allclose(est.loss_curve_[-n_steps], expected_loss, rtol=1e-12)


@pytest.mark.parametrize("case", ["sgd", "rmsprop"])
def test_clip_grad_norm_scales_the_step(tiny, case):
    X, y = tiny
    n = len(X)
    base = quiet_fit(MLPClassifier((4,), activation="tanh", max_iter=1, random_state=0),
                     X, y)
    grad_fn, _, unpack, is_weight = _plain_net_helpers(base, X, y)
    p0 = flat(base)
    alpha, lr = 1e-3, 0.1
    g0 = grad_fn(p0) + is_weight * alpha * p0 / n
    norm = np.linalg.norm(g0)
    clip = norm / 4
    common = dict(warm_start=True, shuffle=False, batch_size=n, max_iter=1, alpha=alpha,
                  learning_rate_init=lr, **OPT_CASES[case])
    clipped = quiet_fit(copy.deepcopy(base).set_params(clip_grad_norm=clip, **common), X, y)
    expected = closed_form_steps(case, p0, grad_fn, 1, lr, alpha, 0.0, n, is_weight,
                                 clip=clip)
    assert_allclose(flat(clipped), expected, rtol=1e-9, atol=1e-12)
    # grad_norm is recorded before clipping, and without the L2 term: per
    # layer norm of the data-loss weight gradient
    coefs_g, _ = unpack(grad_fn(p0))
    assert_allclose(clipped.history_["grad_norm"][-1], [np.linalg.norm(c) for c in coefs_g],
                    rtol=1e-9)
    # a bound above the norm changes nothing
    loose = quiet_fit(copy.deepcopy(base).set_params(clip_grad_norm=norm * 2, **common), X, y)
    free = quiet_fit(copy.deepcopy(base).set_params(clip_grad_norm=None, **common), X, y)
    assert_array_equal(flat(loose), flat(free))
    assert not np.allclose(flat(clipped), flat(free))


# ---------------------------------------------------------------------------
# learning-rate schedules
# ---------------------------------------------------------------------------


LR0 = 0.05


@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("schedule, expected", [
    (dict(learning_rate="step", step_size=3, gamma=0.5),
     lambda e, T: LR0 * 0.5 ** (e // 3)),
    (dict(learning_rate="exponential", gamma=0.8), lambda e, T: LR0 * 0.8 ** e),
    (dict(learning_rate="cosine"), lambda e, T: 0.5 * LR0 * (1 + np.cos(np.pi * e / T))),
    (dict(learning_rate=lambda epoch, lr0: lr0 / (1 + epoch) ** 2),
     lambda e, T: LR0 / (1 + e) ** 2),
], ids=["step", "exponential", "cosine", "callable"])
def test_per_epoch_schedules(tiny, solver, schedule, expected):
    X, y = tiny
    T = 8
    est = quiet_fit(MLPClassifier((5,), solver=solver, learning_rate_init=LR0, max_iter=T,
                                  n_iter_no_change=np.inf, random_state=0, **schedule),
                    X, y)
    assert est.n_iter_ == T
    assert_allclose(est.history_["learning_rate"], [expected(e, T) for e in range(T)],
                    rtol=1e-12)


def test_cosine_goes_on_past_max_iter_in_a_partial_fit_stream(tiny):
    # Clamped at max_iter, the rate stayed 0 from then on, and a stream
    # stopped learning silently. PyTorch's closed form goes back up.
    X, y = tiny
    est = MLPClassifier((5,), learning_rate="cosine", learning_rate_init=LR0, max_iter=5,
                        random_state=0)
    weights = []
    for _ in range(8):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GradientWarning)
            est.partial_fit(X, y, classes=np.unique(y))
        weights.append(flat(est).copy())
    assert_allclose(est.history_["learning_rate"],
                    [0.5 * LR0 * (1 + np.cos(np.pi * e / 5)) for e in range(8)], atol=1e-18)
    assert np.array_equal(weights[5], weights[4])  # epoch 5: the rate is 0
    assert not np.array_equal(weights[7], weights[6])


@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
def test_a_learning_rate_set_within_a_partial_fit_stream_takes_effect(tiny, solver):
    # The stream kept its first learning_rate_init without a word (as
    # scikit-learn's does); a PyTorch user who lowers a param group's lr
    # mid-run sees the next step take it. One full-batch step is linear in
    # the rate, the state it reads being the same.
    X, y = tiny
    est = MLPClassifier((5,), solver=solver, learning_rate_init=LR0, momentum=0.0,
                        alpha=0.0, batch_size=len(X), shuffle=False, random_state=0)
    est.partial_fit(X, y, classes=np.unique(y))
    same, doubled = copy.deepcopy(est), copy.deepcopy(est).set_params(learning_rate_init=2 * LR0)
    start = flat(est).copy()
    same.partial_fit(X, y)
    doubled.partial_fit(X, y)
    assert_allclose(flat(doubled) - start, 2 * (flat(same) - start), rtol=1e-9, atol=1e-15)
    assert doubled.history_["learning_rate"][-1] == 2 * LR0
    assert doubled._optimizer.state_1.shape == same._optimizer.state_1.shape  # state goes on


def test_optimizer_hyper_parameters_set_within_a_stream_take_effect(tiny):
    X, y = tiny
    est = MLPClassifier((5,), solver="adam", random_state=0)
    est.partial_fit(X, y, classes=np.unique(y))
    t = est._optimizer.t
    est.set_params(beta_1=0.5, beta_2=0.9, epsilon=1e-6, learning_rate="step", gamma=0.5)
    with pytest.raises(ValueError, match="learning_rate changed"):
        est.partial_fit(X, y)  # a schedule is still refused: its state would not fit
    est.set_params(learning_rate="constant").partial_fit(X, y)
    o = est._optimizer
    assert (o.beta_1, o.beta_2, o.epsilon, o.t) == (0.5, 0.9, 1e-6, 2 * t)


@pytest.mark.parametrize("schedule, divisions", [("adaptive", 2), ("invscaling", 0)])
def test_a_retuned_schedule_follows_the_new_initial_rate(schedule, divisions):
    from fastbp.training.optimizers import StochasticOptimizer

    o = StochasticOptimizer("sgd", 3, np.float64, 0.1, schedule, 0.9, True, 0.5,
                            0.9, 0.999, 1e-8)
    o.epoch = 4
    o.learning_rate = 0.1 / 5 ** divisions if schedule == "adaptive" else 0.1 / 101 ** 0.5
    o.retune(0.3, 0.9, True, 0.25, 0.9, 0.999, 1e-8, 10, None, 200, samples_seen=100)
    expected = 0.3 / 5 ** divisions if schedule == "adaptive" else 0.3 / 101 ** 0.25
    assert o.learning_rate == pytest.approx(expected, rel=1e-15)
    assert o.learning_rate_init == 0.3 and o.power_t == 0.25


def test_a_changed_loss_is_refused_when_training_continues(tiny):
    # Before, the old output function (and loss) trained on under the new name.
    X, y = tiny
    y = y.astype(float) + 1.0
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0), X, y)
    est.set_params(loss="poisson", warm_start=True)
    with pytest.raises(ValueError, match="loss changed since the last fit .*'exp'.*"
                                         "'identity'.*set warm_start=False"):
        est.fit(X, y)
    with pytest.raises(ValueError, match="loss changed since the last fit.*call fit to start "
                                         "a new model"):
        est.partial_fit(X, y)
    assert est.out_activation_ == "identity" and est.n_iter_ == 3
    est.set_params(warm_start=False)
    assert quiet_fit(est, X, y).out_activation_ == "exp"


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_schedule_is_applied_not_only_recorded(tiny, solver):
    """A callable reproducing 'step' trains the same model, bitwise; the
    schedule changes the model compared with 'constant'."""
    X, y = tiny
    kw = dict(hidden_layer_sizes=(5,), solver=solver, learning_rate_init=LR0, max_iter=7,
              n_iter_no_change=np.inf, random_state=0, batch_size=8)
    step = quiet_fit(MLPClassifier(learning_rate="step", step_size=2, gamma=0.3, **kw), X, y)
    call = quiet_fit(MLPClassifier(learning_rate=lambda e, lr0: lr0 * 0.3 ** (e // 2), **kw),
                     X, y)
    const = quiet_fit(MLPClassifier(learning_rate="constant", **kw), X, y)
    assert_bitwise_same(step, call)
    assert not np.allclose(flat(step), flat(const))
    # a constant callable is 'constant'
    same = quiet_fit(MLPClassifier(learning_rate=lambda e, lr0: lr0, **kw), X, y)
    assert_bitwise_same(same, const)


@pytest.mark.parametrize("bad", [-1e-3, float("nan"), float("-inf")])
def test_callable_schedule_must_return_a_non_negative_rate(tiny, bad):
    X, y = tiny
    est = MLPClassifier((5,), learning_rate=lambda e, lr0: lr0 if e < 2 else bad,
                        max_iter=4, random_state=0)
    with pytest.raises(ValueError, match="learning_rate callable returned .* at epoch 2; it "
                                         "must return a non-negative finite float"):
        quiet_fit(est, X, y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_a_callable_schedule_may_warm_up_from_zero(tiny, solver):
    # helper-132: a warm-up from 0 (lr0 * min(1, epoch / 5), which PyTorch's
    # LambdaLR takes) was refused, though 'cosine' itself reaches 0.
    X, y = tiny
    kw = dict(hidden_layer_sizes=(5,), solver=solver, random_state=0, max_iter=1)
    warm = quiet_fit(MLPClassifier(learning_rate=lambda e, lr0: lr0 * min(1, e / 5), **kw),
                     X, y)
    assert warm.history_["learning_rate"][0] == 0.0
    # An epoch at rate 0 takes no step: the weights stay those drawn at the start.
    frozen = quiet_fit(MLPClassifier(learning_rate=lambda e, lr0: 0.0, **kw), X, y)
    other = quiet_fit(MLPClassifier(learning_rate=lambda e, lr0: 0.0,
                                    learning_rate_init=0.5, **kw), X, y)
    assert_bitwise_same(warm, frozen)
    assert_bitwise_same(frozen, other)
    warm.partial_fit(X, y)
    assert warm.history_["learning_rate"][1] == pytest.approx(warm.learning_rate_init / 5)


@pytest.mark.parametrize("schedule", [
    dict(learning_rate="exponential", gamma=1e42),
    dict(learning_rate="step", step_size=1, gamma=1e42),
], ids=["exponential", "step"])
def test_a_schedule_whose_rate_overflows_the_dtype_is_refused(tiny, schedule):
    # helper-120: a gamma above 1 whose rate overflowed raised a bare
    # OverflowError in float64; in float32 the rate was cast to inf (with a
    # RuntimeWarning) and the DivergenceError that followed blamed
    # learning_rate_init. Epoch 1's rate, 1e-3 * 1e42, is beyond float32's.
    X, y = tiny
    X32 = X.astype(np.float32)
    est = quiet_fit(MLPClassifier((5,), max_iter=2, warm_start=True, random_state=0), X32, y)
    before = [c.copy() for c in est.coefs_ + est.intercepts_]
    n_iter, curve = est.n_iter_, list(est.loss_curve_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=rf"learning_rate='{schedule['learning_rate']}' "
                                             r"with gamma=1e\+42 .* epoch 1 .*1e\+39, "
                                             r"beyond the largest float32.*Lower gamma"):
            quiet_fit(est.set_params(**schedule), X32, y)
    # The refused call leaves the model as it was.
    for a, b in zip(before, est.coefs_ + est.intercepts_):
        assert_array_equal(a, b)
    assert est.n_iter_ == n_iter and est.loss_curve_ == curve
    # float64 holds that rate.
    quiet_fit(clone(est).set_params(max_iter=2), X, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("schedule, k, gamma", [("exponential", 2, 1e200),
                                                ("step", 2, 1e200),
                                                ("exponential", 2, 1e155)])
def test_a_schedule_rate_beyond_python_floats_is_refused(schedule, k, gamma, dtype):
    # helper-120: lr0 * gamma ** e raised OverflowError (errno 34). Where
    # gamma ** k alone overflows but the rate does not (1e-3 * 1e310),
    # float64 holds the rate.
    from fastbp.training.optimizers import StochasticOptimizer

    o = StochasticOptimizer("sgd", 3, dtype, 1e-3, schedule, 0.9, True, 0.5, 0.9, 0.999,
                            1e-8, step_size=1, gamma=gamma)
    o.epoch = k
    if gamma == 1e155 and dtype == np.float64:
        o.epoch_starts()
        assert o.learning_rate == pytest.approx(1e307, rel=1e-12)
        return
    with pytest.raises(ValueError, match=rf"gamma=1e\+{int(np.log10(gamma))} .* epoch {k} "
                                         rf".*gamma\*\*{k} = "):
        o.epoch_starts()
    assert o.learning_rate == 1e-3  # left as it was


def test_a_callable_or_initial_rate_beyond_the_dtype_is_refused(tiny):
    # helper-120: float32 cast these to inf, with a RuntimeWarning, and
    # training diverged.
    X, y = tiny
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"learning_rate callable returned 1e\+300 at "
                                             "epoch 1, beyond the largest float32"):
            quiet_fit(MLPClassifier((5,), max_iter=3, random_state=0,
                                    learning_rate=lambda e, lr0: lr0 if e < 1 else 1e300),
                      X32, y)
        with pytest.raises(ValueError, match=r"learning_rate_init=1e\+300\) is 1e\+300, "
                                             "beyond the largest float32.*Lower "
                                             "learning_rate_init"):
            quiet_fit(MLPClassifier((5,), max_iter=3, random_state=0,
                                    learning_rate_init=1e300), X32, y)


def test_a_callable_of_another_signature_is_named_as_learning_rate(tiny):
    # helper-134: MLPClassifier(learning_rate=lambda e: 0.1) failed with
    # Python's bare "<lambda>() takes 1 positional argument but 2 were
    # given", naming no parameter.
    X, y = tiny
    for schedule, why in [(lambda e: 0.1, "takes 1 positional argument"),
                          (lambda e, lr0, step: lr0, "missing 1 required positional")]:
        with pytest.raises(TypeError, match=r"learning_rate callable .* cannot be called as "
                                            r"learning_rate\(epoch, learning_rate_init\)"
                                            rf".*{why}") as info:
            quiet_fit(MLPClassifier((5,), max_iter=2, learning_rate=schedule), X, y)
        assert isinstance(info.value.__cause__, TypeError)

    # A TypeError raised inside a callable that takes (epoch, lr0) is its
    # own: not blamed on the signature.
    def broken(epoch, lr0):
        return lr0 + "a typo"

    with pytest.raises(TypeError, match="unsupported operand") as info:
        quiet_fit(MLPClassifier((5,), max_iter=2, learning_rate=broken), X, y)
    assert "learning_rate callable" not in str(info.value)


@pytest.mark.parametrize("schedule, blamed", [
    (dict(learning_rate="exponential", gamma=1e30),
     "which learning_rate='exponential' with gamma=1e+30 raised above learning_rate_init "
     "(0.001). "),
    (dict(learning_rate=lambda e, lr0: lr0 * 1e30 ** e),
     "which the learning_rate callable raised above learning_rate_init (0.001). "),
    (dict(learning_rate_init=1e30), None),
], ids=["exponential", "callable", "constant"])
def test_divergence_names_the_epoch_rate_and_the_schedule_that_raised_it(tiny, schedule,
                                                                         blamed):
    # helper-120: the advice was to lower learning_rate_init (0.001) where
    # gamma had raised the rate to 1e57.
    from fastbp import DivergenceError

    X, y = tiny
    kw = {"learning_rate_init": 1e-3, **schedule}
    est = MLPClassifier((5,), solver="sgd", max_iter=8, random_state=0, **kw)
    with pytest.raises(DivergenceError) as info:
        quiet_fit(est, X, y)
    epoch, msg = info.value.epoch, str(info.value)
    lr0 = kw["learning_rate_init"]
    rate = lr0 if blamed is None else lr0 * 1e30 ** (epoch - 1)
    assert f"Training diverged at epoch {epoch}: " in msg
    assert f"The learning rate of that epoch was {rate:g}" in msg
    assert f"lower learning_rate_init (now {lr0:g})" in msg
    if blamed is None:
        assert "raised above" not in msg and "gamma" not in msg
    else:
        assert blamed in msg
        assert ("lower gamma" if "gamma" in kw else "callable return lower rates") in msg


def test_divergence_in_a_stream_names_the_epoch_as_loss_curve_counts_it(tiny):
    # helper-132: in a partial_fit stream, "diverged at epoch 1 ... the
    # learning rate of epoch 1 was 8.1e+29" named the call's first epoch,
    # which history_ and the schedule count as the third (rate 1e-3 * 0.9**2).
    from fastbp import DivergenceError

    X, y = tiny
    est = MLPClassifier((5,), solver="sgd", learning_rate="step", step_size=1, gamma=0.9,
                        random_state=0)
    est.partial_fit(X, y, classes=np.unique(y)).partial_fit(X, y)
    est.set_params(learning_rate_init=1e300)
    with pytest.raises(DivergenceError) as info:
        for _ in range(5):  # saturated units can keep the first huge epoch finite
            est.partial_fit(X, y)
    msg, before = str(info.value), len(est.loss_curve_)
    assert info.value.epoch == 1 and before >= 2
    assert msg.startswith(f"Training diverged at epoch 1 of this call (epoch {before + 1} of "
                          "the model's training, as loss_curve_ counts them): ")
    assert f"The learning rate of that epoch was {1e300 * 0.9 ** before:g}" in msg
    assert est.history_["learning_rate"][1] == pytest.approx(1e-3 * 0.9)


@pytest.mark.parametrize("dtype, clip", [(np.float64, 1e-320), (np.float32, 1e-40),
                                         (np.float32, 1e-39)])
def test_a_clip_grad_norm_below_the_dtypes_normal_range_is_refused(tiny, dtype, clip):
    # helper-120: the kernels flush subnormals to zero and read a clip of 0
    # as none, so such a clip trained as clip_grad_norm=None, silently.
    X, y = tiny
    est = MLPClassifier((5,), solver="sgd", max_iter=2, random_state=0, clip_grad_norm=clip)
    with pytest.raises(ValueError, match=f"clip_grad_norm={clip!r} is below the smallest "
                                         f"normal {np.dtype(dtype).name}"):
        quiet_fit(est, X.astype(dtype), y)
    assert not hasattr(est, "coefs_")
    # The smallest normal value clips (every step to nearly 0).
    tiny_clip = float(np.finfo(dtype).tiny)
    clipped = quiet_fit(est.set_params(clip_grad_norm=tiny_clip), X.astype(dtype), y)
    assert len(set(clipped.loss_curve_)) == 1 or np.ptp(clipped.loss_curve_) < 1e-6
    if dtype == np.float32:  # float64 holds 1e-39 as a normal value
        quiet_fit(clone(est).set_params(clip_grad_norm=clip), X, y)


@pytest.mark.parametrize("solver", ["adam", "adamw", "rmsprop", "adagrad"])
def test_an_epsilon_below_the_dtypes_normal_range_is_refused(solver):
    # helper-143: a float32 epsilon of 1e-39 is subnormal, read as 0 by the
    # kernels; an always-zero feature's weight then stepped by 0/0 and the
    # fit "diverged", its advice about the learning rate.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)).astype(np.float32)
    X[:, 0] = 0.0
    y = (X[:, 1] > 0).astype(int)
    est = MLPClassifier((8,), solver=solver, epsilon=1e-39, alpha=0.0, max_iter=3,
                        random_state=0)
    with pytest.raises(ValueError, match=r"epsilon=1e-39 is below the smallest normal "
                                         r"float32 \(1.17549e-38\)"):
        quiet_fit(est, X, y)
    assert not hasattr(est, "coefs_")
    # float64 holds it as a normal value and trains, as scikit-learn does.
    assert np.isfinite(quiet_fit(est, X.astype(np.float64), y).loss_)
    # sgd reads no epsilon.
    quiet_fit(clone(est).set_params(solver="sgd"), X, y)


def test_invscaling_keeps_sklearn_behaviour(small):
    X, y = small
    n = len(X)
    kw = dict(hidden_layer_sizes=(10,), learning_rate="invscaling", power_t=0.4,
              learning_rate_init=0.2, max_iter=5, random_state=0)
    ref = quiet_fit(sknn.MLPClassifier(solver="sgd", **kw), X, y)
    est = quiet_fit(MLPClassifier(solver="sgd", **kw), X, y)
    for a, b in zip(ref.coefs_ + ref.intercepts_, est.coefs_ + est.intercepts_):
        assert_allclose(b, a, rtol=1e-6, atol=1e-9)
    expected = [0.2] + [0.2 / (e * n + 1) ** 0.4 for e in range(1, 5)]
    assert_allclose(est.history_["learning_rate"], expected, rtol=1e-12)
    # invscaling is an sgd schedule: adam keeps its learning rate
    adam = quiet_fit(MLPClassifier(solver="adam", **kw), X, y)
    assert_allclose(adam.history_["learning_rate"], 0.2)


def test_adaptive_keeps_sklearn_behaviour(small):
    X, y = small
    kw = dict(hidden_layer_sizes=(10,), solver="sgd", learning_rate="adaptive",
              learning_rate_init=0.1, tol=10.0, n_iter_no_change=1, max_iter=7,
              random_state=0)
    ref = quiet_fit(sknn.MLPClassifier(**kw), X, y)
    est = quiet_fit(MLPClassifier(**kw), X, y)
    assert est.n_iter_ == ref.n_iter_
    for a, b in zip(ref.coefs_ + ref.intercepts_, est.coefs_ + est.intercepts_):
        assert_allclose(b, a, rtol=1e-6, atol=1e-9)
    lrs = est.history_["learning_rate"]
    # the rate is divided by 5 once more than n_iter_no_change epochs stalled
    # (epoch 1 improves on inf; epochs 2-3 stall, then 4-5, ...)
    assert_allclose(lrs, [0.1, 0.1, 0.1, 0.02, 0.02, 0.004, 0.004][:len(lrs)],
                    rtol=1e-12)
    assert_allclose(ref._optimizer.learning_rate, est._optimizer.learning_rate, rtol=1e-12)


# ---------------------------------------------------------------------------
# L1
# ---------------------------------------------------------------------------


def test_l1_makes_weights_smaller_and_sparser(small):
    X, y = small
    kw = dict(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=0.1, max_iter=40,
              random_state=0, alpha=0.0)
    plain = quiet_fit(MLPClassifier(**kw), X, y)
    lasso = quiet_fit(MLPClassifier(l1=0.5, **kw), X, y)
    a0, a1 = np.abs(plain.coefs_[0]), np.abs(lasso.coefs_[0])
    assert a1.sum() < 0.5 * a0.sum()
    assert np.mean(a1 < 1e-2) > np.mean(a0 < 1e-2) + 0.2


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_l1_term_in_loss(tiny, solver):
    X, y = tiny
    l1, alpha = 0.3, 0.2
    est = quiet_fit(MLPClassifier((5,), activation="tanh", solver=solver, l1=l1, alpha=alpha,
                                  batch_size=len(X), shuffle=False, max_iter=1,
                                  random_state=0), X, y)
    # the initial weights are scikit-learn's draw (glorot_uniform, tanh)
    rs = np.random.RandomState(0)
    coefs, intercepts = [], []
    for fi, fo in [(5, 5), (5, 3)]:
        b = np.sqrt(6 / (fi + fo))
        coefs.append(rs.uniform(-b, b, (fi, fo)))
        intercepts.append(rs.uniform(-b, b, fo))
    Y = one_hot(y, est.classes_)
    data = backprop_np(coefs, intercepts, ["tanh"], X, Y)[0]
    assert_allclose(est.loss_, data + penalty_np(coefs, alpha, l1, len(X)), rtol=1e-12)
    no_l1 = quiet_fit(clone(est).set_params(l1=0.0), X, y)
    assert_allclose(est.loss_ - no_l1.loss_,
                    l1 * sum(np.abs(c).sum() for c in coefs) / len(X), rtol=1e-10)


def test_l1_in_lbfgs_loss(tiny):
    """L-BFGS minimises the same penalised objective: its loss_ is the
    objective at the returned weights."""
    X, y = tiny
    est = quiet_fit(MLPClassifier((5,), activation="tanh", solver="lbfgs", l1=0.1,
                                  alpha=0.05, max_iter=5, random_state=0), X, y)
    P = params_of(est)
    expected = mean_loss_np(P, X, one_hot(y, est.classes_)) + penalty_np(
        P["coefs"], 0.05, 0.1, len(X))
    assert_allclose(est.loss_, expected, rtol=1e-10)


# ---------------------------------------------------------------------------
# class_weight
# ---------------------------------------------------------------------------


def test_class_weight_balanced_equals_sample_weight(small):
    X, y = small
    y = np.where(y < 3, y, 3)  # unbalanced: 3 is the majority
    kw = dict(hidden_layer_sizes=(10,), max_iter=3, random_state=0, dropout=0.1)
    a = quiet_fit(MLPClassifier(class_weight="balanced", **kw), X, y)
    b = quiet_fit(MLPClassifier(**kw), X, y,
                  sample_weight=compute_sample_weight("balanced", y))
    c = quiet_fit(MLPClassifier(**kw), X, y)
    assert_bitwise_same(a, b)
    assert not np.allclose(flat(a), flat(c))


def test_class_weight_dict_and_product_with_sample_weight(small):
    X, y = small
    y = y % 3
    cw = {0: 0.5, 1: 3.0, 2: 1.25}
    sw = np.random.RandomState(0).uniform(0.2, 2.0, len(y))
    kw = dict(hidden_layer_sizes=(10,), max_iter=3, random_state=0)
    a = quiet_fit(MLPClassifier(class_weight=cw, **kw), X, y)
    b = quiet_fit(MLPClassifier(**kw), X, y, sample_weight=compute_sample_weight(cw, y))
    assert_bitwise_same(a, b)
    c = quiet_fit(MLPClassifier(class_weight=cw, **kw), X, y, sample_weight=sw)
    d = quiet_fit(MLPClassifier(**kw), X, y, sample_weight=sw * compute_sample_weight(cw, y))
    assert_bitwise_same(c, d)
    assert not np.allclose(flat(a), flat(c))


def test_balanced_class_weight_counts_the_sample_weights(small):
    # 'balanced' counts each class by its weights, as scikit-learn's
    # LogisticRegression and compute_class_weight(sample_weight=...) do:
    # weighting a row by 2 trains what repeating it trains. Before, the
    # counts ignored sample_weight, and the two models differed.
    X, y = small
    y = np.where(y < 3, y, 3)
    sw = np.random.RandomState(0).randint(0, 3, len(y)).astype(float)
    sw[:3] = 1.0
    kw = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=5, random_state=0)
    weighted = quiet_fit(MLPClassifier(class_weight="balanced", **kw), X, y, sample_weight=sw)
    rows = np.repeat(np.arange(len(y)), sw.astype(int))
    repeated = quiet_fit(MLPClassifier(class_weight="balanced", **kw), X[rows], y[rows])
    assert_allclose(flat(weighted), flat(repeated), rtol=1e-9, atol=1e-12)
    # The rows' weights are scikit-learn's.
    classes = np.unique(y)
    per_class = compute_class_weight("balanced", classes=classes, y=y, sample_weight=sw)
    expected = quiet_fit(MLPClassifier(**kw), X, y,
                         sample_weight=sw * per_class[np.searchsorted(classes, y)])
    assert_array_equal(flat(weighted), flat(expected))
    # A class whose rows all weigh 0 trains (the formula's infinite weight
    # times 0 would be NaN), and for multilabel targets each output counts
    # alike.
    zero = np.where(y == 3, 0.0, 1.0)
    est = quiet_fit(MLPClassifier(class_weight="balanced", **kw), X, y, sample_weight=zero)
    assert np.isfinite(flat(est)).all()
    Y = np.column_stack([y % 2, y < 2]).astype(int)
    rows = np.repeat(np.arange(len(y)), sw.astype(int))
    a = quiet_fit(MLPClassifier(class_weight="balanced", **kw), X, Y, sample_weight=sw)
    b = quiet_fit(MLPClassifier(class_weight="balanced", **kw), X[rows], Y[rows])
    assert_allclose(flat(a), flat(b), rtol=1e-9, atol=1e-12)


def test_class_weight_list_of_dicts_for_multilabel_targets(small):
    # One dict per output, keyed by 0 and 1: a row's weight is the product
    # over its outputs, as compute_sample_weight has it (and 'balanced').
    X, y = small
    Y = np.column_stack([y % 2, (y // 2) % 2, y < 2]).astype(int)
    cw = [{0: 1.0, 1: 3.0}, {0: 0.5, 1: 1.0}, {1: 2.0}]
    kw = dict(hidden_layer_sizes=(10,), max_iter=3, random_state=0)
    a = quiet_fit(MLPClassifier(class_weight=cw, **kw), X, Y)
    b = quiet_fit(MLPClassifier(**kw), X, Y, sample_weight=compute_sample_weight(cw, Y))
    assert_bitwise_same(a, b)
    c = quiet_fit(MLPClassifier(class_weight="balanced", **kw), X, Y)
    d = quiet_fit(MLPClassifier(**kw), X, Y, sample_weight=compute_sample_weight("balanced", Y))
    assert_bitwise_same(c, d)
    assert not np.allclose(flat(a), flat(c))
    # partial_fit takes the list too
    e = MLPClassifier(class_weight=cw, **kw)
    e.partial_fit(X, Y, classes=[0, 1, 2])
    f = MLPClassifier(**kw)
    f.partial_fit(X, Y, classes=[0, 1, 2], sample_weight=compute_sample_weight(cw, Y))
    assert_bitwise_same(e, f)
    # What does not fit the targets is refused before training, by name.
    for bad, match in [({0: 1.0, 1: 3.0}, "multilabel targets, class_weight is 'balanced' or "
                                          "a list of one dict per output [(]3 here[)]"),
                       (cw[:2], "a list of 3 dicts"), ([{0: 1, 2: 5}] * 3, "a list of 3 dicts")]:
        est = MLPClassifier(class_weight=bad, **kw)
        with pytest.raises(ValueError, match=match):
            est.fit(X, Y)
        assert not hasattr(est, "coefs_")
    with pytest.raises(ValueError, match="list of dicts .one per output. is for multilabel"):
        MLPClassifier(class_weight=cw, **kw).fit(X, y)
    # An output that is all 0, and partial_fit calls whose batch lacks a
    # class: classes not named weigh 1, as in compute_sample_weight's full
    # dicts (it refused dicts naming some classes of y and not others).
    Z = Y.copy()
    Z[:, 2] = 0
    full = [{0: 1.0, 1: 3.0}, {0: 0.5, 1: 1.0}, {0: 1.0, 1: 2.0}]
    g = quiet_fit(MLPClassifier(class_weight=cw, **kw), X, Z)
    h = quiet_fit(MLPClassifier(**kw), X, Z, sample_weight=compute_sample_weight(full, Z))
    assert_bitwise_same(g, h)
    stream = MLPClassifier(class_weight=cw, **kw)
    stream.partial_fit(X, Y, classes=[0, 1, 2])
    stream.partial_fit(X, Z)
    single = MLPClassifier(class_weight={0: 1.0, 1: 3.0}, **kw)
    single.partial_fit(X, y % 3, classes=[0, 1, 2])
    single.partial_fit(X[y % 3 == 2], y[y % 3 == 2] % 3)  # a batch of class 2 alone
    with pytest.raises(ValueError, match="pass class_weight as a list of one dict"):
        MLPClassifier(class_weight="balanced", **kw).fit(X, Y).partial_fit(X, Y)


def test_class_weight_with_string_labels(small):
    X, y = small
    labels = np.array(["cat", "dog", "eel"])[y % 3]
    cw = {"cat": 2.0, "dog": 1.0, "eel": 0.5}
    kw = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    a = quiet_fit(MLPClassifier(class_weight=cw, **kw), X, labels)
    b = quiet_fit(MLPClassifier(**kw), X, labels,
                  sample_weight=compute_sample_weight(cw, labels))
    assert_bitwise_same(a, b)


def test_class_weight_partial_fit(small):
    X, y = small
    y = y % 3
    cw = {0: 0.5, 1: 3.0, 2: 1.25}
    est = MLPClassifier((8,), class_weight=cw, random_state=0)
    est.partial_fit(X, y, classes=[0, 1, 2])
    ref = MLPClassifier((8,), random_state=0)
    ref.partial_fit(X, y, classes=[0, 1, 2], sample_weight=compute_sample_weight(cw, y))
    assert_bitwise_same(est, ref)
    bal = MLPClassifier((8,), class_weight="balanced", random_state=0)
    with pytest.raises(ValueError, match="partial_fit"):
        bal.partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(bal, "coefs_")
    # and after a fit, a refused partial_fit leaves the model as it was
    quiet_fit(bal, X, y)
    before = flat(bal).copy()
    with pytest.raises(ValueError, match="balanced"):
        bal.partial_fit(X, y)
    assert_array_equal(flat(bal), before)


def test_class_weight_unknown_label_raises(small):
    X, y = small
    y = y % 3
    est = MLPClassifier((5,), class_weight={0: 1.0, 7: 2.0}, max_iter=1)
    with pytest.raises(ValueError, match="7"):
        est.fit(X, y)


# ---------------------------------------------------------------------------
# scoring (early stopping)
# ---------------------------------------------------------------------------


ES = dict(early_stopping=True, validation_fraction=0.25, n_iter_no_change=100, max_iter=5,
          random_state=0)


def test_scoring_none_is_accuracy(small):
    X, y = small
    a = quiet_fit(MLPClassifier((10,), **ES), X, y)
    b = quiet_fit(MLPClassifier((10,), scoring="accuracy", **ES), X, y)
    assert len(a.validation_scores_) == a.n_iter_ == 5
    assert_allclose(a.validation_scores_, b.validation_scores_, rtol=1e-12)
    assert_array_equal(flat(a), flat(b))
    assert_allclose(a.history_["val_score"], a.validation_scores_)


def test_scoring_none_is_r2_for_regressor(small):
    X, _ = small
    y = X[:, :10].sum(axis=1)
    a = quiet_fit(MLPRegressor(hidden_layer_sizes=(10,), learning_rate_init=0.01, **ES),
                  X, y)
    b = quiet_fit(MLPRegressor(hidden_layer_sizes=(10,), learning_rate_init=0.01,
                               scoring="r2", **ES), X, y)
    assert_allclose(a.validation_scores_, b.validation_scores_, rtol=1e-10)
    c = quiet_fit(MLPRegressor(hidden_layer_sizes=(10,), learning_rate_init=0.01,
                               scoring="neg_mean_squared_error", **ES), X, y)
    assert all(s <= 0 for s in c.validation_scores_)
    # 'loss': minus the validation loss, half the squared error averaged over
    # outputs (the training loss's definition); the best epoch is restored
    Y = np.c_[y, X[:, 20:36].mean(axis=1)]
    d = quiet_fit(MLPRegressor(hidden_layer_sizes=(10,), learning_rate_init=0.01,
                               scoring="loss", **ES), X, Y)
    assert_allclose(d.validation_scores_, -d.history_["val_loss"], rtol=1e-12)
    val = _validation_rows(d, X, Y, stratify=False)
    assert_allclose(-0.5 * np.mean((d.predict(X[val]) - Y[val]) ** 2),
                    d.best_validation_score_, rtol=1e-9)


def _validation_rows(est, X, y, stratify=True):
    """The early-stopping split: drawn right after the initial weights
    (glorot, relu), before the dropout seed, as scikit-learn draws it;
    stratified for single-label classification."""
    rs = np.random.RandomState(est.random_state)
    units = [X.shape[1], *est.hidden_layer_sizes, est.n_outputs_]
    for fi, fo in zip(units[:-1], units[1:]):
        b = np.sqrt(6 / (fi + fo))
        rs.uniform(-b, b, (fi, fo))
        rs.uniform(-b, b, fo)
    _, val = train_test_split(np.arange(len(X)), random_state=rs,
                              test_size=est.validation_fraction,
                              stratify=y if stratify else None)
    return val


def test_scoring_loss(small):
    X, y = small
    est = quiet_fit(MLPClassifier((10,), scoring="loss", **ES), X, y)
    assert_allclose(est.validation_scores_, -est.history_["val_loss"], rtol=1e-12)
    assert_allclose(est.best_validation_score_, max(est.validation_scores_))
    # the restored (best) model's log-loss on the validation rows
    val = _validation_rows(est, X, y)
    assert_allclose(-log_loss(y[val], est.predict_proba(X[val]), labels=est.classes_),
                    est.best_validation_score_, rtol=1e-9)


def test_early_stopping_with_batch_norm_and_dropout_restores_best(small):
    """Validation runs in inference mode (running statistics, no dropout)
    and the best epoch's parameters *and* running statistics are restored."""
    X, y = small
    est = quiet_fit(MLPClassifier((10,), normalization="batch", dropout=0.3, scoring="loss",
                                  learning_rate_init=0.02, **ES), X, y)
    val = _validation_rows(est, X, y)
    assert_allclose(-log_loss(y[val], est.predict_proba(X[val]), labels=est.classes_),
                    est.best_validation_score_, rtol=1e-9)
    assert_allclose(est.validation_scores_, -est.history_["val_loss"], rtol=1e-12)


def test_early_stopping_with_dropout_validates_with_the_models_prediction_kernel(
        small, monkeypatch):
    """Inference applies no dropout: validation runs the prediction plan
    (and kernel) of the model's own predict, which a dropout network shares
    with the same network without dropout, rather than the toolkit's
    (compiled once more for nothing)."""
    from fastbp.training import predict as predict_module

    plans = []
    real = predict_module.Validator.__init__

    def recording(self, *args, **kwargs):
        real(self, *args, **kwargs)
        plans.append(self.plan)

    monkeypatch.setattr(predict_module.Validator, "__init__", recording)
    X, y = small
    est = quiet_fit(MLPClassifier((10,), dropout=0.3, scoring="loss", **ES), X, y)
    (plan,) = plans
    assert not plan._toolkit
    assert plan.spec.uses_toolkit(False) is False
    # The same plan as the model's predict builds, for as many rows.
    from fastbp.kernels.codes import HIDDEN_ACTIVATIONS, NORM_NONE, OUTPUT_FUNCTIONS

    units = (est.n_features_in_, *[c.shape[1] for c in est.coefs_])
    assert plan is predict_module.inference_plan(
        units, (HIDDEN_ACTIVATIONS["relu"],), NORM_NONE, (False,),
        OUTPUT_FUNCTIONS[est.out_activation_], est.coefs_[0].dtype, plan.chunk)
    val = _validation_rows(est, X, y)
    assert_allclose(-log_loss(y[val], est.predict_proba(X[val]), labels=est.classes_),
                    est.best_validation_score_, rtol=1e-12)


def test_scoring_with_sample_weight(small):
    X, y = small
    sw = np.random.RandomState(0).uniform(0.1, 3, len(X))
    a = quiet_fit(MLPClassifier((10,), **ES), X, y, sample_weight=sw)
    b = quiet_fit(MLPClassifier((10,), scoring="accuracy", **ES), X, y, sample_weight=sw)
    assert_allclose(a.validation_scores_, b.validation_scores_, rtol=1e-12)
    c = quiet_fit(MLPClassifier((10,), scoring="loss", **ES), X, y, sample_weight=sw)
    val = _validation_rows(c, X, y)
    assert_allclose(-log_loss(y[val], c.predict_proba(X[val]), sample_weight=sw[val],
                              labels=c.classes_), c.best_validation_score_, rtol=1e-9)


def test_scoring_scorer_name_and_callable(small):
    X, y = small
    named = quiet_fit(MLPClassifier((10,), scoring="f1_macro", **ES), X, y)
    calls = []

    def scorer(model, X_val, y_val):
        calls.append(len(X_val))
        return f1_score(y_val, model.predict(X_val), average="macro")

    called = quiet_fit(MLPClassifier((10,), scoring=scorer, **ES), X, y)
    assert len(calls) == called.n_iter_
    assert set(calls) == {int(np.ceil(0.25 * len(X)))}
    assert_allclose(named.validation_scores_, called.validation_scores_, rtol=1e-12)
    assert_array_equal(flat(named), flat(called))
    val = _validation_rows(named, X, y)
    assert_allclose(get_scorer("f1_macro")(named, X[val], y[val]),
                    named.best_validation_score_, rtol=1e-12)
    # a scorer that prefers something else picks a different epoch / path
    acc = quiet_fit(MLPClassifier((10,), **ES), X, y)
    assert not np.allclose(acc.validation_scores_, named.validation_scores_)


@pytest.mark.parametrize("Est, first, second", [
    (MLPClassifier, None, "loss"), (MLPRegressor, None, "neg_mean_squared_error"),
])
def test_a_warm_fit_under_another_scoring_is_not_judged_by_the_old_best(Est, first,
                                                                         second):
    # helper-51: the old best (an accuracy of 0.25, an R^2) stayed the bar
    # for scores on another scale (minus a loss): no epoch of the warm fit
    # beat it, and the fit ended on the first fit's weights, bit for bit.
    from sklearn.datasets import make_classification

    X, y = make_classification(200, 5, n_informative=3, random_state=0)
    y = y if Est is MLPClassifier else X[:, 0] + 0.5 * X[:, 1]
    est = quiet_fit(Est(hidden_layer_sizes=(8,), random_state=0, max_iter=5,
                        early_stopping=True, learning_rate_init=0.01, scoring=first), X, y)
    before = flat(est)
    est.set_params(warm_start=True, scoring=second, max_iter=50)
    quiet_fit(est, X, y)
    scores = est.validation_scores_[-est.n_iter_:]
    assert est.best_validation_score_ == max(scores)
    assert not np.array_equal(flat(est), before)
    # The same scoring again: the best score carries over, as before.
    best = est.best_validation_score_
    est.set_params(max_iter=2)
    quiet_fit(est, X, y)
    assert est.best_validation_score_ >= best


def test_scoring_callable_sees_current_epoch(small):
    """The scorer's model holds the weights of the epoch being scored (its
    predictions change from epoch to epoch)."""
    X, y = small
    seen = []

    def scorer(model, X_val, y_val):
        seen.append(model.predict_proba(X_val).copy())
        return -len(seen)  # decreasing: epoch 1 stays the best

    est = quiet_fit(MLPClassifier((10,), scoring=scorer, learning_rate_init=0.01, **ES),
                    X, y)
    assert len(seen) == 5
    assert not np.allclose(seen[0], seen[-1])
    val = _validation_rows(est, X, y)
    # best = first epoch: the model is restored to it
    assert_allclose(est.predict_proba(X[val]), seen[0], rtol=1e-12)


def test_unknown_scorer_name_raises(small):
    X, y = small
    est = MLPClassifier((5,), scoring="no_such_scorer", **ES)
    with pytest.raises(ValueError, match="no_such_scorer"):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")


def test_a_scoring_unfit_for_the_task_is_named_and_changes_nothing(small):
    # The metric's own message ("continuous is not supported") names neither
    # the parameter nor the validation set; a fitted model stays as it was.
    X, y = small
    reg = MLPRegressor(hidden_layer_sizes=(5,), scoring="accuracy", **ES)
    with pytest.raises(ValueError, match=r"scoring='accuracy' raised while scoring the "
                                         r"validation set of MLPRegressor.*continuous"):
        reg.fit(X, X[:, 0])
    assert not hasattr(reg, "coefs_")
    clf = quiet_fit(MLPClassifier((5,), **ES), X, y % 3)
    before = flat(clf).copy()
    with pytest.raises(ValueError, match="scoring='f1' raised while scoring"):
        clf.set_params(scoring="f1", warm_start=True).fit(X, y % 3)
    assert_array_equal(flat(clf), before)


def test_a_validation_score_that_is_not_finite_is_an_error(small):
    # helper-65: NaN scores never improved, and the fit ended on its first
    # weights, untrained, without a word.
    X, y = small
    clf = quiet_fit(MLPClassifier((5,), **ES), X, y)
    before = flat(clf).copy()
    clf.set_params(warm_start=True, scoring=lambda est, X, y: float("nan"))
    with pytest.raises(ValueError, match="scoring=.* gave nan on the validation set of "
                                         "MLPClassifier .* at epoch 1: early stopping "
                                         "compares the scores of its epochs"):
        clf.fit(X, y)
    assert_array_equal(flat(clf), before)


def test_validation_rows_that_all_weigh_0_are_named(small):
    X, y = small
    est = MLPClassifier((5,), **ES)
    probe = quiet_fit(MLPClassifier((5,), **ES), X, y)
    sw = np.ones(len(X))
    sw[_validation_rows(probe, X, y)] = 0
    for scoring in (None, "loss"):
        with pytest.raises(ValueError, match=r"split off .* validation sample\(s\) whose "
                                             "sample weights .* are all 0"):
            est.set_params(scoring=scoring).fit(X, y, sample_weight=sw)
        assert not hasattr(est, "coefs_")


def test_a_scorer_of_three_arguments_takes_weighted_fits(small):
    # helper-65: the docstring's scorer(estimator, X, y) was called with
    # sample_weight= where weights were given: a TypeError.
    X, y = small
    sw = np.random.RandomState(0).uniform(0.5, 2, len(X))

    def plain(est, X, y):
        return est.score(X, y)

    def weighted(est, X, y, sample_weight=None):
        return est.score(X, y, sample_weight=sample_weight)

    unweighted = quiet_fit(MLPClassifier((5,), scoring="accuracy", **ES), X, y,
                           sample_weight=sw)
    assert quiet_fit(MLPClassifier((5,), scoring=plain, **ES), X, y,
                     sample_weight=sw).n_iter_ >= 1
    quiet_fit(MLPClassifier((5,), scoring=plain, class_weight="balanced", **ES), X, y)
    both = quiet_fit(MLPClassifier((5,), scoring=weighted, **ES), X, y, sample_weight=sw)
    assert_allclose(both.validation_scores_, unweighted.validation_scores_, rtol=1e-12)


@pytest.mark.parametrize("returned, kind, match", [
    (None, TypeError, "returned None for the validation set .*, not a number"),
    ([0.5], TypeError, r"returned \[0.5\] for the validation set .*, not a number"),
    ("0.5", TypeError, "returned '0.5' for the validation set .*, not a number"),
])
def test_a_scorer_that_returns_no_number_is_named(small, returned, kind, match):
    X, y = small
    est = MLPClassifier((5,), scoring=lambda est, X, y: returned, **ES)
    with pytest.raises(kind, match=match):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")


def test_other_errors_of_a_scorer_say_where_they_were_raised(small):
    X, y = small

    def broken(est, X, y):
        raise KeyError("column")

    with pytest.raises(KeyError) as info:
        MLPClassifier((5,), scoring=broken, **ES).fit(X, y)
    assert any("raised by scoring=" in note for note in info.value.__notes__)


def test_a_scorer_sees_the_training_so_far(small):
    # helper-65: its estimator carried the fitted attributes from before
    # the call (n_iter_ 0, no loss_curve_ in a first fit).
    X, y = small
    seen = []

    def scorer(est, X, y):
        seen.append((est.n_iter_, len(est.loss_curve_), est.t_))
        return est.score(X, y)

    est = quiet_fit(MLPClassifier((5,), scoring=scorer, **ES), X, y)
    n_train = len(X) - len(_validation_rows(est, X, y))
    assert seen == [(i, i, i * n_train) for i in range(1, est.n_iter_ + 1)]


def test_a_callable_scoring_is_named_the_same_after_a_load():
    # helper-65: it was named by its repr, which holds its address: a warm
    # fit after a load in another process took it for another scoring and
    # dropped the best score.
    import functools

    from fastbp.estimators.solvers import _scoring_name
    from sklearn.metrics import make_scorer, f1_score

    assert _scoring_name(_validation_rows) == f"{__name__}._validation_rows"
    assert " at 0x" not in _scoring_name(functools.partial(_validation_rows, 1))
    assert _scoring_name(make_scorer(f1_score)) == repr(make_scorer(f1_score))
    # helper-67: lambdas and closures share their qualified names, so two
    # of them were taken for one scoring (a warm fit kept the old best).
    first, second = (lambda e, X, y: 0.0), (lambda e, X, y: 1.0)
    assert _scoring_name(first) != _scoring_name(second)


def test_a_scorer_object_of_a_metric_without_weights_takes_class_weighted_fits(small):
    # helper-67: make_scorer of a metric of (y_true, y_pred) got
    # sample_weight= whenever class_weight was set: a TypeError.
    from sklearn.metrics import make_scorer

    def hit_rate(y_true, y_pred):
        return float(np.mean(y_true == y_pred))

    X, y = small
    est = quiet_fit(MLPClassifier((5,), scoring=make_scorer(hit_rate),
                                  class_weight="balanced", **ES), X, y)
    assert est.n_iter_ >= 1


@pytest.mark.parametrize("first", [True, False], ids=["es-then-not", "not-then-es"])
def test_warm_start_switching_early_stopping_keeps_one_entry_per_epoch(small, first):
    # Epochs trained without validation have NaN validation entries, so
    # that every history_ series (and the plot, and --history-out) has one
    # value per epoch.
    X, y = small
    est = quiet_fit(MLPClassifier((8,), max_iter=4, early_stopping=first,
                                  n_iter_no_change=100, random_state=0), X, y)
    quiet_fit(est.set_params(warm_start=True, early_stopping=not first), X, y)
    h = est.history_
    assert len(h["loss"]) == len(h["val_loss"]) == len(h["val_score"]) == 8
    validated = np.arange(8) < 4 if first else np.arange(8) >= 4
    assert np.all(np.isfinite(h["val_score"][validated]))
    assert np.all(np.isnan(h["val_score"][~validated]))
    assert np.all(np.isnan(h["val_loss"][~validated]))
    from fastbp import TrainingHistoryDisplay

    disp = TrainingHistoryDisplay.from_estimator(est)
    assert len(disp.lines_["loss"].get_ydata()) == 8


def test_history_has_validation_keys_only_with_early_stopping(small):
    X, y = small
    plain = quiet_fit(MLPClassifier((10,), max_iter=3, random_state=0), X, y)
    assert "val_loss" not in plain.history_ and "val_score" not in plain.history_
    es = quiet_fit(MLPClassifier((10,), **ES), X, y)
    assert es.history_["val_loss"].shape == es.history_["val_score"].shape == (es.n_iter_,)


# ---------------------------------------------------------------------------
# history_ and diagnostics
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_history_keys_and_shapes(small, name):
    X, y = small
    if name == "MLPRegressor":
        y = X[:, :8].sum(axis=1)
    est = quiet_fit(getattr(fastbp, name)(hidden_layer_sizes=(9, 7), activation=["relu", "tanh"],
                                          max_iter=4, random_state=0), X, y)
    h = est.history_
    assert set(h) == {"loss", "learning_rate", "epoch_time", "grad_norm", "dead_fraction"}
    n = est.n_iter_
    for key in ("loss", "learning_rate", "epoch_time", "dead_fraction"):
        assert h[key].shape == (n,), key
    assert h["grad_norm"].shape == (n, est.n_layers_ - 1)
    assert_allclose(h["loss"], est.loss_curve_)
    assert np.all(h["epoch_time"] >= 0)
    assert np.all(np.isfinite(h["grad_norm"])) and np.all(h["grad_norm"] > 0)
    assert np.all((h["dead_fraction"] >= 0) & (h["dead_fraction"] <= 1))


def test_grad_norm_is_rms_over_the_steps(tiny):
    """Two steps in one epoch (shuffle=False, batches of half the data):
    grad_norm is the RMS of each step's per-layer norm of the data-loss
    weight gradient (the L2 term excluded)."""
    X, y = tiny
    half = len(X) // 2
    alpha = 0.01
    base = quiet_fit(MLPClassifier((4, 3), activation="tanh", max_iter=1, random_state=0),
                     X, y)
    common = dict(warm_start=True, shuffle=False, batch_size=half, max_iter=1, alpha=alpha,
                  solver="sgd", learning_rate_init=0.1)
    full = quiet_fit(copy.deepcopy(base).set_params(**common), X, y)
    first = quiet_fit(copy.deepcopy(base).set_params(**common), X[:half], y[:half])
    sq = np.zeros(3)
    for est, rows in [(base, slice(0, half)), (first, slice(half, None))]:
        P = params_of(est)
        _, dW, _ = backprop_np(P["coefs"], P["intercepts"], P["acts"], X[rows],
                               one_hot(y[rows], base.classes_))
        sq += [np.sum(d ** 2) for d in dW]
    assert_allclose(full.history_["grad_norm"][-1], np.sqrt(sq / 2), rtol=1e-10)


def test_history_accumulates_like_loss_curve(small):
    X, y = small
    est = MLPClassifier((6,), max_iter=2, warm_start=True, random_state=0)
    quiet_fit(est, X, y)
    quiet_fit(est, X, y)
    assert len(est.loss_curve_) == 4
    assert est.history_["grad_norm"].shape == (4, 2)
    assert_allclose(est.history_["loss"], est.loss_curve_)
    pf = MLPClassifier((6,), random_state=0)
    for _ in range(3):
        pf.partial_fit(X, y, classes=np.unique(y))
    assert pf.history_["loss"].shape == (3,)


def test_dead_fraction_nan_without_relu(small):
    X, y = small
    for act in ("tanh", "leaky_relu", ["tanh", "gelu"]):
        sizes = (6, 5) if isinstance(act, list) else (6,)
        est = quiet_fit(MLPClassifier(sizes, activation=act, max_iter=2, random_state=0), X, y)
        assert np.all(np.isnan(est.history_["dead_fraction"]))


def test_dead_units_are_reported(small):
    X, y = small
    est = quiet_fit(MLPClassifier((10, 10), activation=["relu", "tanh"], max_iter=1,
                                  random_state=0), X, y)
    assert est.history_["dead_fraction"][0] < 0.5
    est.intercepts_[0][:] = -100.0
    est.set_params(warm_start=True, max_iter=2)
    quiet_fit(est, X, y)
    # every relu unit of layer 1 is 0 for every sample; layer 2 is tanh
    assert_array_equal(est.history_["dead_fraction"][-2:], 1.0)
    # half of the units dead in a mixed net: weighted over relu layers only
    est2 = quiet_fit(MLPClassifier((10, 10), max_iter=1, random_state=0), X, y)
    est2.intercepts_[0][:5] = -100.0
    est2.intercepts_[1][:] = 0.0
    est2.coefs_[1][:] = np.abs(est2.coefs_[1])
    est2.set_params(warm_start=True, max_iter=1, learning_rate_init=1e-12)
    quiet_fit(est2, X, y)
    assert_allclose(est2.history_["dead_fraction"][-1], 5 / 20)


def test_gradient_warning_vanishing_deep_logistic(digits):
    """alpha=0: a (32,)*10 logistic net's first-layer gradient is far below
    1e-7 x its weight norm."""
    X, y = digits
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        MLPClassifier((32,) * 10, activation="logistic", solver="sgd", alpha=0.0,
                      max_iter=4, random_state=0).fit(X, y)
    grad_warnings = [w for w in rec if issubclass(w.category, GradientWarning)]
    assert len(grad_warnings) == 1
    msg = str(grad_warnings[0].message)
    assert "vanished" in msg and "layer 1" in msg and "coefs_[0]" in msg
    assert "Remedies" in msg and "he_uniform" in msg
    assert "points at X" not in msg  # deeper layers' gradients are small too


@pytest.mark.parametrize("make_X", [lambda X: X * 1e-12, lambda X: sp.csr_matrix(X.shape)],
                         ids=["tiny", "all-zero sparse"])
def test_a_vanishing_first_layer_alone_points_at_X(digits, make_X):
    # helper-35: tiny or all-zero X warned with remedies about depth and
    # activations only; the deep net above keeps them without this hint.
    X, y = digits
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        MLPClassifier((32,), max_iter=6, random_state=0).fit(make_X(X), y)
    msgs = [str(w.message) for w in rec if issubclass(w.category, GradientWarning)]
    assert len(msgs) == 1 and "coefs_[0]" in msgs[0], msgs
    assert "points at X" in msgs[0] and "StandardScaler" in msgs[0]


def test_gradient_warning_vanishing_with_default_alpha(digits):
    """BUG: with the default alpha=1e-4 the vanishing check never fires, at any
    depth: the monitored norm is that of the *penalised* gradient, whose L2
    part alone is alpha * ||W|| / batch_size = 5e-7 ||W|| (batch 200), above
    the 1e-7 ||W|| threshold. Here the data gradient of coefs_[0] is ~2.5e-9
    (see the alpha=0 test) but no GradientWarning is issued."""
    X, y = digits
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        MLPClassifier((32,) * 10, activation="logistic", solver="sgd", max_iter=4,
                      random_state=0).fit(X, y)
    assert sum(issubclass(w.category, GradientWarning) for w in rec) == 1


def test_no_gradient_warning_relu_he(digits):
    X, y = digits
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        MLPClassifier((32,) * 10, activation="relu", init="he_uniform", solver="sgd",
                      alpha=0.0, max_iter=4, random_state=0).fit(X, y)
    assert not [w for w in rec if issubclass(w.category, GradientWarning)]


def test_gradient_warning_exploding_growth():
    """Full-batch sgd past the stability limit on a linear network: the
    gradient grows ~1e5-fold by epoch 4 and keeps growing; exactly one
    warning, naming clip_grad_norm."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X[:500])
    y = (y[:500] - 4.5) / 3
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        est = MLPRegressor(hidden_layer_sizes=(16,), activation="identity", solver="sgd",
                           momentum=0.0, learning_rate_init=0.7, batch_size=500,
                           shuffle=False, max_iter=6, random_state=0).fit(X, y)
    grad_warnings = [w for w in rec if issubclass(w.category, GradientWarning)]
    assert len(grad_warnings) == 1
    msg = str(grad_warnings[0].message)
    assert "exploding" in msg and "clip_grad_norm" in msg and "coefs_[0]" in msg
    assert est.history_["grad_norm"][-1, 0] > 1e3 * est.history_["grad_norm"][0, 0]
    # clipping tames it
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        clone(est).set_params(clip_grad_norm=1.0, learning_rate_init=0.05).fit(X, y)
    assert not [w for w in rec if issubclass(w.category, GradientWarning)]


def test_gradient_warning_exploding_large_learning_rate(digits):
    """BUG: sgd with learning_rate_init=10 and momentum 0.9 on unscaled digits
    blows the weights up (||coefs_[0]|| ~ 3e7, loss 2e7 -> 2e8) without any
    GradientWarning: the growth test compares with the first epoch's gradient
    norm, which already exploded (RMS 9e4) within epoch 1."""
    X, y = digits
    X = X * 16.0
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            est = MLPClassifier((32,), solver="sgd", learning_rate_init=10, momentum=0.9,
                                max_iter=10, random_state=0).fit(X, y)
            assert np.linalg.norm(est.coefs_[0]) > 1e6  # it did explode
        except ValueError:  # non-finite weights: exploded too
            pass
    grad_warnings = [w for w in rec if issubclass(w.category, GradientWarning)]
    assert len(grad_warnings) == 1
    assert "clip_grad_norm" in str(grad_warnings[0].message)


def test_growth_from_a_near_zero_gradient_is_not_called_exploding():
    # helper-134: inputs scaled by 1e-7 gave coefs_[1] a first gradient norm
    # of 6.5e-8, and 8.7e-5 by epoch 1 warned "it is exploding" with
    # clip_grad_norm=1.0, which would do nothing.
    from sklearn.datasets import make_classification

    X, y = make_classification(300, 10, random_state=0)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        MLPClassifier((16,), init="he_uniform", max_iter=50, random_state=0).fit(X * 1e-7, y)
    msgs = [str(w.message) for w in rec if issubclass(w.category, GradientWarning)]
    assert not [m for m in msgs if "exploding" in m], msgs
    # What is wrong is named instead: X's scale.
    assert len(msgs) == 1 and "vanished" in msgs[0] and "points at X" in msgs[0], msgs
    # The monitor alone: a thousandfold growth to a norm that is small both
    # in absolute terms and beside the weights is no explosion; to one
    # above 1, or above the weights' norm, it is.
    from fastbp.training.diagnostics import GradientMonitor

    for grad, weights, exploding in [(1e-4, 1.6, False), (2.0, 5.0, True),
                                     (0.5, 0.1, True)]:
        monitor = GradientMonitor(1)
        monitor.first_sq[:] = 1e-16  # a first norm of 1e-8: every case grew 1e4-fold or more
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            monitor.check([grad], [weights], 1)
        assert any("exploding" in str(w.message) for w in rec) == exploding, (grad, weights)


@pytest.mark.parametrize("clip", [None, 1.0])
def test_dead_units_offer_clipping_only_where_it_is_off(clip):
    # helper-134: with clip_grad_norm=1.0 set, the dead-relu warning still
    # offered clip_grad_norm=1.0 (the exploding warning already did not).
    from fastbp.training.diagnostics import GradientMonitor

    monitor = GradientMonitor(2)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for epoch in range(1, 4):
            monitor.check([1e-12, 1e-12], [10.0, 10.0], epoch, dead_fraction=1.0, clip=clip)
    msgs = [str(w.message) for w in rec if issubclass(w.category, GradientWarning)]
    assert len(msgs) == 1 and "dead" in msgs[0] and "smaller learning_rate_init" in msgs[0]
    assert ("clip_grad_norm" in msgs[0]) == (clip is None), msgs[0]


def test_dead_units_of_a_clipped_fit_are_not_told_to_clip():
    # helper-134's reproduction: the same through partial_fit.
    from sklearn.datasets import make_regression

    X, y = make_regression(300, 10, random_state=0)
    rng = np.random.RandomState(0)
    est = MLPRegressor(hidden_layer_sizes=(16,), clip_grad_norm=1.0, random_state=0)
    est.coefs_ = [rng.randn(10, 16) * 0.01, rng.randn(16, 1)]
    est.intercepts_ = [np.full(16, -100.0), np.zeros(1)]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for _ in range(5):
            est.partial_fit(X, y)
    msgs = [str(w.message) for w in rec if issubclass(w.category, GradientWarning)]
    assert len(msgs) == 1 and "relu units are dead" in msgs[0], msgs
    assert "clip_grad_norm" not in msgs[0]


# ---------------------------------------------------------------------------
# residual, architecture validation
# ---------------------------------------------------------------------------


def test_residual_warns_without_equal_widths(small):
    X, y = small
    with pytest.warns(UserWarning, match="residual"):
        est = quiet_fit(MLPClassifier((8, 6, 4), residual=True, max_iter=1, random_state=0),
                        X, y)
    plain = quiet_fit(MLPClassifier((8, 6, 4), max_iter=1, random_state=0), X, y)
    assert_bitwise_same(est, plain)


def test_residual_with_equal_widths_changes_the_model(small):
    X, y = small
    kw = dict(hidden_layer_sizes=(8, 8, 5), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no 'no skip connection' warning
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = MLPClassifier(residual=True, **kw).fit(X, y)
    plain = quiet_fit(MLPClassifier(**kw), X, y)
    assert not np.allclose(flat(res), flat(plain))
    assert_allclose(res.predict_proba(X), proba_np(params_of(res), X), rtol=1e-10,
                    atol=1e-13)
    # and without the skip, the NumPy forward pass would not match
    P = params_of(res)
    P["residual"] = [False] * 3
    assert not np.allclose(res.predict_proba(X), proba_np(P, X))


@pytest.mark.parametrize("activation", [["relu"], ["relu", "tanh", "relu"], ["relu", "nope"]])
def test_activation_list_validation(small, activation):
    X, y = small
    est = MLPClassifier((5, 4), activation=activation, max_iter=1)
    with pytest.raises(ValueError, match="activation"):
        est.fit(X, y)


@pytest.mark.parametrize("dropout", [[0.1], [0.1, 0.2, 0.3], [0.1, 1.0], [-0.1, 0.2],
                                     1.0, -0.5])
def test_dropout_validation(small, dropout):
    X, y = small
    est = MLPClassifier((5, 4), dropout=dropout, max_iter=1)
    with pytest.raises(ValueError, match="dropout"):
        est.fit(X, y)


def test_lbfgs_rejects_dropout_and_batch_norm(small):
    X, y = small
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier((5,), solver="lbfgs", dropout=0.2).fit(X, y)
    with pytest.raises(ValueError, match="batch"):
        MLPClassifier((5,), solver="lbfgs", normalization="batch").fit(X, y)
    # layer norm (with residual connections) is fine
    est = quiet_fit(MLPClassifier((5, 5), solver="lbfgs", normalization="layer",
                                  residual=True, activation="gelu", max_iter=5,
                                  random_state=0), X, y)
    assert est.n_iter_ == 5
    assert_allclose(est.predict_proba(X), proba_np(params_of(est), X), rtol=1e-10,
                    atol=1e-13)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_normalization_without_hidden_layers_partial_fit(small, norm):
    """BUG: with hidden_layer_sizes=() there is nothing to normalise, so the
    model has no normalisation parameters; the second partial_fit (or a
    warm_start fit) then raises 'normalization changed since the last fit'
    although nothing changed (``_check_warm_start`` infers "has
    normalisation" from ``len(normalization_scales_) > 0``)."""
    X, y = small
    est = MLPClassifier(hidden_layer_sizes=(), normalization=norm, random_state=0)
    try:
        est.partial_fit(X, y, classes=np.unique(y))
    except ValueError as exc:  # rejecting the combination up front is fine too
        assert "normalization" in str(exc)
        return
    est.partial_fit(X, y)  # raises: 'normalization changed since the last fit'
    assert len(est.loss_curve_) == 2
    warm = MLPClassifier(hidden_layer_sizes=(), normalization=norm, warm_start=True,
                         max_iter=2, random_state=0)
    quiet_fit(warm, X, y)
    quiet_fit(warm, X, y)
    assert len(warm.loss_curve_) == 4


def test_warm_start_rejects_changed_normalization(small):
    X, y = small
    est = quiet_fit(MLPClassifier((5,), normalization="batch", max_iter=1, random_state=0),
                    X, y)
    before = flat(est).copy()
    est.set_params(warm_start=True, normalization="layer")
    with pytest.raises(ValueError, match="normalization"):
        est.fit(X, y)
    assert_array_equal(flat(est), before)


# ---------------------------------------------------------------------------
# float32, sparse, partial_fit, warm_start, sample_weight, pickling
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("combo", ["batch", "layer", "dropout", "everything",
                                   "rmsprop_bn_dropout"])
def test_float32_preserved(small, combo):
    X, y = small
    X32 = X.astype(np.float32)
    est = quiet_fit(MLPClassifier(**COMBOS[combo], max_iter=3, random_state=0), X32, y)
    for attr in ("coefs_", "intercepts_", "normalization_scales_", "normalization_shifts_",
                 "running_mean_", "running_var_"):
        assert all(a.dtype == np.float32 for a in getattr(est, attr)), attr
    assert est.predict_proba(X32).dtype == np.float32
    assert est.predict_proba(X).dtype == np.float32
    assert_allclose(est.predict_proba(X32), proba_np(params_of(est), X32), rtol=1e-4,
                    atol=1e-5)
    # the float64 model trains to about the same place
    est64 = quiet_fit(MLPClassifier(**COMBOS[combo], max_iter=3, random_state=0), X, y)
    assert_allclose(est.predict_proba(X32), est64.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("combo", ["layer", "dropout", "residual", "batch", "everything",
                                   "adagrad_l1_clip"])
def test_sparse_equals_dense(sparse_data, combo):
    Xs, Xd, y = sparse_data
    kw = dict(COMBOS[combo], max_iter=3, random_state=0, batch_size=40)
    dense = quiet_fit(MLPClassifier(**kw), Xd, y)
    sparse = quiet_fit(MLPClassifier(**kw), Xs, y)
    assert_models_close(dense, sparse, rtol=1e-10, atol=1e-10)
    assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(Xd), rtol=1e-10,
                    atol=1e-12)
    assert_allclose(sparse.predict_proba(Xs.tocsc()), dense.predict_proba(Xd), rtol=1e-10,
                    atol=1e-12)


def test_sparse_float32_with_toolkit(sparse_data):
    Xs, Xd, y = sparse_data
    kw = dict(COMBOS["everything"], max_iter=2, random_state=0)
    sparse = quiet_fit(MLPClassifier(**kw), Xs.astype(np.float32), y)
    dense = quiet_fit(MLPClassifier(**kw), Xd.astype(np.float32), y)
    assert sparse.coefs_[0].dtype == np.float32
    assert_models_close(dense, sparse, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("combo", ["dropout", "batch", "everything", "rmsprop_bn_dropout",
                                   "adagrad_l1_clip"])
def test_partial_fit_equals_fit(small, combo):
    """partial_fit runs epochs of fit (shuffle=False): optimizer state,
    schedule, dropout stream and running statistics carry over calls."""
    X, y = small
    kw = dict(COMBOS[combo], random_state=0, shuffle=False, batch_size=60)
    fitted = quiet_fit(MLPClassifier(max_iter=3, n_iter_no_change=np.inf, **kw), X, y)
    pf = MLPClassifier(max_iter=3, **kw)  # max_iter: the cosine schedule's horizon
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GradientWarning)
            pf.partial_fit(X, y, classes=np.unique(y))
    assert_bitwise_same(fitted, pf)
    assert_allclose(pf.history_["learning_rate"], fitted.history_["learning_rate"])


@pytest.mark.parametrize("combo", ["batch", "everything"])
def test_warm_start_continues(small, combo):
    """A warm-started fit starts from the fitted weights, normalisation
    parameters and running statistics (nothing is re-initialised)."""
    X, y = small
    kw = dict(COMBOS[combo], random_state=0, max_iter=2)
    a = quiet_fit(MLPClassifier(**kw), X, y)
    snapshot = copy.deepcopy(a)
    # a negligible step: the parameters stay where the first fit left them
    tiny_step = copy.deepcopy(a).set_params(warm_start=True, learning_rate_init=1e-12,
                                            max_iter=1, shuffle=False, batch_size=len(X))
    quiet_fit(tiny_step, X, y)
    assert_allclose(flat(tiny_step), flat(snapshot), rtol=0, atol=1e-9)
    if combo == "batch":
        # running statistics continue: 0.9 old + 0.1 batch statistics
        hs = []
        forward_np(params_of(snapshot), X, training=True, collect=hs)
        for l, h in enumerate(hs):
            assert_allclose(tiny_step.running_mean_[l],
                            0.9 * snapshot.running_mean_[l] + 0.1 * h.mean(axis=0),
                            rtol=1e-8, atol=1e-10)
            assert_allclose(tiny_step.running_var_[l],
                            0.9 * snapshot.running_var_[l] + 0.1 * h.var(axis=0, ddof=1),
                            rtol=1e-8, atol=1e-10)
    a.set_params(warm_start=True, random_state=5)
    quiet_fit(a, X, y)
    assert len(a.loss_curve_) == 4
    assert not np.allclose(flat(a), flat(snapshot))
    b = copy.deepcopy(snapshot).set_params(warm_start=True, random_state=5)
    quiet_fit(b, X, y)
    assert_bitwise_same(a, b)
    # the model's dtype is kept: float32 data cannot continue a float64 model
    with pytest.raises(ValueError, match="dtype"):
        a.fit(X.astype(np.float32), y)
    assert_bitwise_same(a, b)


@pytest.mark.parametrize("combo", ["layer", "residual", "activations", "adagrad_l1_clip"])
def test_integer_sample_weight_equals_repeated_rows(small, combo):
    """Full-batch steps: weight 2 on a row is the row repeated (penalties
    are divided by the weight sum, i.e. the number of rows)."""
    X, y = small
    X, y = X[:60], y[:60]
    sw = np.ones(len(X))
    sw[::4] = 2
    rows = np.repeat(np.arange(len(X)), sw.astype(int))
    kw = dict(COMBOS[combo], random_state=0, max_iter=3, shuffle=False,
              n_iter_no_change=np.inf)
    a = quiet_fit(MLPClassifier(batch_size=len(X), **kw), X, y, sample_weight=sw)
    b = quiet_fit(MLPClassifier(batch_size=len(rows), **kw), X[rows], y[rows])
    assert_models_close(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_a_batch_of_zero_weights_takes_no_part_in_the_loss(solver):
    # helper-46: the kernels skip a batch whose weights are all 0, but the
    # epoch's loss was divided by every row: with the first of two batches
    # all 0, loss_ was half the loss of the same weights in one batch.
    rng = np.random.RandomState(5)
    X = rng.normal(size=(20, 3))
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    sw = np.r_[np.zeros(10), np.ones(10)]
    kw = dict(hidden_layer_sizes=(3,), shuffle=False, max_iter=1, random_state=0,
              alpha=1e-2, solver=solver, learning_rate_init=1e-12)
    one = quiet_fit(MLPClassifier(batch_size=20, **kw), X, y, sample_weight=sw)
    two = quiet_fit(MLPClassifier(batch_size=10, **kw), X, y, sample_weight=sw)
    assert_allclose(two.loss_, one.loss_, rtol=1e-9)


def test_training_rows_that_all_weigh_zero_are_refused():
    # Early stopping can split every weighted row off into the validation
    # set: before, the fit trained nothing and reported a loss of 0.
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    sw = np.zeros(40)
    sw[[0, 1]] = 1.0
    for seed in range(40):
        est = MLPClassifier((3,), early_stopping=True, validation_fraction=0.5,
                            random_state=seed, max_iter=3)
        try:
            quiet_fit(est, X, y, sample_weight=sw)
        except ValueError as exc:
            assert "Every training sample has sample_weight 0" in str(exc)
            assert not hasattr(est, "coefs_")
            break
    else:
        pytest.fail("no seed split both weighted rows into the validation set")


@pytest.mark.parametrize("combo", ["batch", "dropout", "everything"])
def test_sample_weight_changes_model(small, combo):
    X, y = small
    sw = np.random.RandomState(0).uniform(0.1, 3, len(X))
    kw = dict(COMBOS[combo], random_state=0, max_iter=2)
    a = quiet_fit(MLPClassifier(**kw), X, y, sample_weight=sw)
    b = quiet_fit(MLPClassifier(**kw), X, y)
    c = quiet_fit(MLPClassifier(**kw), X, y, sample_weight=np.ones(len(X)))
    assert not np.allclose(flat(a), flat(b))
    assert_models_close(b, c, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("combo", ["batch", "dropout", "everything", "rmsprop_bn_dropout"])
def test_pickle_roundtrip_then_partial_fit(small, combo):
    X, y = small
    kw = dict(COMBOS[combo], random_state=0, shuffle=False)
    est = MLPClassifier(**kw)
    classes = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GradientWarning)
        est.partial_fit(X, y, classes=classes)
        restored = pickle.loads(pickle.dumps(est))
        assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
        est.partial_fit(X, y)
        restored.partial_fit(X, y)
    assert_bitwise_same(est, restored)


def test_regressor_toolkit_float32_and_pickle(small):
    X, _ = small
    Y = np.c_[X[:, :8].sum(axis=1), X[:, 20:36].mean(axis=1)]
    est = quiet_fit(MLPRegressor(hidden_layer_sizes=(8, 8), normalization="batch",
                                 residual=True, dropout=0.1, solver="adamw",
                                 learning_rate="cosine", max_iter=4, random_state=0),
                    X.astype(np.float32), Y)
    pred = est.predict(X.astype(np.float32))
    assert pred.dtype == np.float32 and pred.shape == Y.shape
    assert_allclose(pred, forward_np(params_of(est), X), rtol=1e-4, atol=1e-5)
    assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X.astype(np.float32)), pred)


def test_nan_validation_score_counts_as_no_improvement():
    from fastbp.training.progress import Progress

    p = Progress(early_stopping=True)
    params = np.zeros(3)
    for score in (0.5, 0.4, np.nan, np.nan):
        p.update_no_improvement(True, 1e-4, score, params, params, False)
    assert p.no_improvement_count == 3
    assert p.best_validation_score == 0.5


@pytest.mark.parametrize("first, second", [(False, True), (True, False)])
def test_warm_start_may_switch_early_stopping(first, second):
    X, y = load_digits(return_X_y=True)
    X = X / 16
    est = MLPClassifier((8,), max_iter=2, warm_start=True, early_stopping=first,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        est.set_params(early_stopping=second).fit(X, y)
    assert len(est.loss_curve_) == 4
    assert (est.validation_scores_ is not None) == second


def test_warm_start_rejects_changed_activation_or_residual():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    est = MLPClassifier((8, 8), max_iter=1, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        before = [c.copy() for c in est.coefs_]
        with pytest.raises(ValueError, match="activation changed"):
            est.set_params(activation="tanh").fit(X, y)
        with pytest.raises(ValueError, match="residual changed"):
            est.set_params(activation="relu", residual=True).fit(X, y)
    for a, b in zip(before, est.coefs_):
        np.testing.assert_array_equal(a, b)


def test_clipping_a_float32_gradient_past_the_square_root_of_its_range():
    # helper-63: the norm overflowed, every step was scaled to 0 (the loss
    # never moved), and the GradientWarning offered clip_grad_norm=1.0,
    # which was set.
    rng = np.random.RandomState(0)
    X = (rng.randn(200, 3) * 1e10).astype(np.float32)
    y = (X @ np.array([1, -2, 0.5]) + 1e10).astype(np.float32)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        est = MLPRegressor(hidden_layer_sizes=(4,), activation="identity", solver="sgd",
                           learning_rate_init=1e-3, max_iter=5, random_state=0,
                           clip_grad_norm=1.0).fit(X, y)
    assert len(set(est.loss_curve_)) > 1, "no step was taken"
    messages = [str(w.message) for w in seen if issubclass(w.category, GradientWarning)]
    assert not any("clip_grad_norm=1.0" in m for m in messages)


@pytest.mark.parametrize("param, value, expected", [
    ("dropout", np.array(0.2), [0.2, 0.2]),
    ("activation", np.array("tanh"), ["tanh", "tanh"]),
    ("activation", {"tanh", "relu"}, "a set, whose order is not the layers'"),
    ("dropout", {0.1: 1, 0.2: 2}, "a dict, whose order is not the layers'"),
])
def test_per_layer_parameters_of_one_value_or_an_ordered_sequence(tiny, param, value,
                                                                   expected):
    # helper-63: a 0-d array raised "iteration over a 0-d array", naming
    # no parameter; a set gave the layers an order that changed with
    # PYTHONHASHSEED.
    from fastbp.estimators import architecture as arch

    X, y = tiny
    est = MLPClassifier((4, 4), max_iter=1, random_state=0, **{param: value})
    if isinstance(expected, list):
        resolve = arch.dropout_rates if param == "dropout" else arch.hidden_activations
        assert resolve(value, 2) == expected
        quiet_fit(est, X, y)
    else:
        with pytest.raises(ValueError, match=f"{param} must be one value or a sequence.*"
                                             f"{expected}"):
            quiet_fit(est, X, y)
