"""Bad input: a clear error that names the problem, and a fitted model left
exactly as it was.

Each bad call is made on a fresh estimator and on models already trained by
``fit`` with ``warm_start=True`` and by ``partial_fit``. After the failed call
the model's whole state (public attributes, private optimizer and history
state, RNG) must be unchanged, its predictions identical, and a following good
call must give exactly what it gives on a twin model that never saw the bad
call.
"""

import copy
import json
import os
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn import neural_network as sknn
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from fastbp import MLPClassifier, MLPRegressor
from fastbp.estimators.checks import check_sparse_structure

N = 200
MODES = ["fresh", "warm_fit", "partial_fit"]


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X = X[:N] / 16.0
    y = y[:N]
    Y = np.c_[X[:, :8].sum(axis=1), X[:, 20:36].mean(axis=1) * 3]  # >= 0
    return X, y, Y


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def make(kind, mode, random_state=0, **params):
    cls = MLPClassifier if kind == "clf" else MLPRegressor
    return cls(hidden_layer_sizes=(8,), max_iter=3, random_state=random_state,
               warm_start=(mode == "warm_fit"), **params)


def train(est, mode, X, y, Y):
    """Bring ``est`` to the state ``mode`` describes."""
    target = y if isinstance(est, MLPClassifier) else Y
    if mode == "warm_fit":
        est.fit(X, target)
        est.fit(X, target)
    elif mode == "partial_fit":
        kw = {"classes": np.arange(10)} if isinstance(est, MLPClassifier) else {}
        est.partial_fit(X, target, **kw)
        est.partial_fit(X, target)
    return est


def good_call(est, mode, X, y, Y):
    target = y if isinstance(est, MLPClassifier) else Y
    if mode == "partial_fit":
        kw = {"classes": np.arange(10)} if (isinstance(est, MLPClassifier)
                                           and not hasattr(est, "classes_")) else {}
        est.partial_fit(X, target, **kw)
    else:
        est.fit(X, target)
    return est


# Wall-clock records legitimately differ between two identical fits.
TIMING_KEYS = {"epoch_time"}
# Caches of what other attributes hold, which copies of an estimator drop.
DERIVED_KEYS = {"_packed", "_class_lookup_cache"}


def assert_same_state(a, b, path="est", ignore_timing=False):
    """Structural, exact equality of two snapshots of an estimator's state."""
    if ignore_timing and path.rsplit(".", 1)[-1] in TIMING_KEYS:
        return
    if isinstance(a, np.random.RandomState):
        assert isinstance(b, np.random.RandomState), path
        sa, sb = a.get_state(), b.get_state()
        assert_array_equal(sa[1], sb[1], err_msg=path)
        assert sa[2:] == sb[2:], path
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), path
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert isinstance(b, dict), path
        # ``_packed`` is the fit's flat copy of the parameters, which a
        # copy of the estimator drops (``__getstate__``); what it predicts
        # is compared through ``observable``. ``_class_lookup_cache`` is
        # derived from ``classes_`` (compared), and dropped by a copy too.
        a, b = ({k: v for k, v in d.items() if k not in DERIVED_KEYS} for d in (a, b))
        assert set(a) == set(b), f"{path}: keys {set(a) ^ set(b)}"
        for k in a:
            assert_same_state(a[k], b[k], f"{path}.{k}", ignore_timing)
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            assert_same_state(u, v, f"{path}[{i}]", ignore_timing)
    elif isinstance(a, float):
        assert isinstance(b, float), path
        assert (np.isnan(a) and np.isnan(b)) or a == b, f"{path}: {a} != {b}"
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        assert type(a) is type(b), path
        assert_same_state(vars(a), vars(b), f"{path}<{type(a).__name__}>",
                          ignore_timing)
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} != {b!r}"


def observable(est, X):
    """What the brief names: the fitted attributes and the predictions."""
    out = {k: copy.deepcopy(getattr(est, k)) for k in
           ("coefs_", "intercepts_", "loss_curve_", "n_iter_", "t_", "classes_",
            "n_features_in_", "loss_") if hasattr(est, k)}
    if hasattr(est, "coefs_"):
        out["predict"] = est.predict(X)
        if isinstance(est, MLPClassifier):
            out["predict_proba"] = est.predict_proba(X)
    return out


# ---------------------------------------------------------------------------
# the bad inputs
# ---------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    kinds: tuple
    # bad(X, y, Y, kind, mode) -> dict(X=..., y=..., sample_weight=..., params=...)
    bad: callable
    match: object  # str, or {mode: str}
    exc: type = ValueError
    modes: tuple = tuple(MODES)
    model: dict = field(default_factory=dict)  # parameters of the fitted model


def _with(X, i, j, value):
    X = X.astype(float).copy()
    X[i, j] = value
    return X


def _target(kind, y, Y):
    return y if kind == "clf" else Y


CASES = [
    Case("nan_in_X", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=_with(X, 3, 4, np.nan)), "Input X contains NaN"),
    Case("inf_in_X", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=_with(X, 3, 4, np.inf)),
         "Input X contains infinity"),
    Case("nan_in_sparse_X", ("clf",),
         lambda X, y, Y, k, m: dict(X=sp.csr_matrix(_with(X, 3, 4, np.nan))),
         "Input X contains NaN"),
    Case("nan_in_y", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(y=_with(_target(k, y, Y).reshape(N, -1), 5, 0,
                                            np.nan).squeeze()),
         "Input y contains NaN"),
    Case("inf_in_y", ("reg",),
         lambda X, y, Y, k, m: dict(y=_with(Y, 5, 1, -np.inf)), "Input y contains infinity"),
    Case("empty_X", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=X[:0], y=_target(k, y, Y)[:0]),
         "Found array with 0 sample(s)"),
    Case("no_features", ("clf",),
         lambda X, y, Y, k, m: dict(X=X[:, :0]), "0 feature(s)"),
    Case("wrong_n_features", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=X[:, :10]),
         {"fresh": None, "warm_fit": "X has 10 features, but", "partial_fit":
          "X has 10 features, but"}),
    Case("X_3d", ("clf",),
         lambda X, y, Y, k, m: dict(X=X.reshape(N, 8, 8)), "Found array with dim 3"),
    Case("X_1d", ("reg",),
         lambda X, y, Y, k, m: dict(X=X[:, 0]), "Expected 2D array, got 1D array"),
    Case("complex_X", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=X + 1j),
         "Complex data not supported: X holds complex numbers"),
    Case("complex_y", ("reg",),
         lambda X, y, Y, k, m: dict(y=Y + 1j),
         "Complex data not supported: y holds complex numbers"),
    Case("object_strings_in_X", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=np.where(X > 0.5, "high", "low").astype(object)),
         "X: could not convert string to float"),
    # helper-55: the messages of these said what failed, not which input.
    Case("object_strings_as_regression_targets", ("reg",),
         lambda X, y, Y, k, m: dict(y=np.where(Y > 0.5, "high", "low").astype(object)),
         "y: could not convert string to float"),
    Case("complex_sample_weight", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(sample_weight=np.ones(N) + 1j),
         "Complex data not supported: sample_weight holds complex numbers"),
    Case("object_strings_as_sample_weight", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(sample_weight=np.full(N, "a", dtype=object)),
         "sample_weight: could not convert string to float"),
    # helper-53: a float cast parsed numeric strings and counted dates;
    # scikit-learn's MLP refuses strings at predict, not at fit.
    Case("numeric_strings_in_X", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=X.astype(str)),
         "X holds strings (dtype <U"),
    Case("dates_in_X", ("clf",),
         lambda X, y, Y, k, m: dict(X=(X * 1000).astype("datetime64[s]")),
         "X holds dates (dtype datetime64[s]), and fastbp needs numbers"),
    Case("dates_as_regression_targets", ("reg",),
         lambda X, y, Y, k, m: dict(y=np.arange(N).astype("datetime64[D]")),
         "needs numeric targets y; y holds dates (dtype datetime64[D])"),
    Case("time_spans_as_regression_targets", ("reg",),
         lambda X, y, Y, k, m: dict(y=np.arange(N).astype("m8[s]")),
         "needs numeric targets y; y holds time spans (dtype timedelta64[s])"),
    # helper-59: pandas' string and zoned-date dtypes are no NumPy dtypes,
    # and passed; complex or string y was blamed on X.
    Case("numeric_string_columns_in_X", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=pd.DataFrame(X).astype("string")),
         "X holds strings (dtype string)"),
    Case("zoned_dates_as_regression_targets", ("reg",),
         lambda X, y, Y, k, m: dict(y=pd.Series(pd.date_range("2020", periods=N, tz="UTC"))),
         "needs numeric targets y; y holds dates (dtype datetime64["),
    Case("string_frame_as_regression_targets", ("reg",),
         lambda X, y, Y, k, m: dict(y=pd.DataFrame({"a": ["1.5"] * N}).astype("string")),
         "needs numeric targets y; y holds strings (dtype string)"),
    Case("complex_labels", ("clf",),
         lambda X, y, Y, k, m: dict(y=y + 1j), "y: Complex data not supported"),
    Case("string_series_as_sample_weight", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(sample_weight=pd.Series(["1"] * N).astype("string")),
         "sample_weight holds strings (dtype string)"),
    # helper-58: compute_sample_weight looked class "1" up as 1.
    Case("string_tuple_as_regression_targets", ("reg",),
         lambda X, y, Y, k, m: dict(y=tuple(np.arange(N).astype(str))),
         "needs numeric targets y; y holds strings (dtype <U"),
    Case("y_wrong_length", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(y=_target(k, y, Y)[:-3]),
         "inconsistent numbers of samples: [200, 197]"),
    Case("continuous_y_for_classifier", ("clf",),
         lambda X, y, Y, k, m: dict(y=X[:, 10]), "Unknown label type"),
    Case("unseen_labels", ("clf",),
         lambda X, y, Y, k, m: dict(y=np.where(np.arange(N) == 7, 42, y)),
         {"fresh": None,
          "warm_fit": "warm_start can only be used where `y` has the same classes",
          "partial_fit": "`y` has classes not in `self.classes_`"}),
    Case("partial_fit_classes_changed", ("clf",),
         lambda X, y, Y, k, m: dict(classes=np.arange(11)),
         "is not the same as on last call to partial_fit", modes=("partial_fit",)),
    Case("partial_fit_without_classes", ("clf",),
         lambda X, y, Y, k, m: dict(),
         "classes must be passed on the first call to partial_fit", modes=("fresh_pf",)),
    Case("sample_weight_wrong_length", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(sample_weight=np.ones(10)),
         "sample_weight.shape == (10,), expected (200,)"),
    Case("sample_weight_2d", ("clf",),
         lambda X, y, Y, k, m: dict(sample_weight=np.ones((N, 2))),
         "Sample weights must be 1D array or scalar"),
    Case("negative_sample_weight", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(sample_weight=np.where(np.arange(N) == 3, -1.0, 1.0)),
         "Negative values in data passed to `sample_weight`"),
    Case("nan_sample_weight", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(sample_weight=_with(np.ones((N, 1)), 3, 0,
                                                        np.nan).ravel()),
         "Input sample_weight contains NaN"),
    # helper-53: a bare "OverflowError: math range error" (alpha scaled with
    # the weights past float64).
    Case("sample_weight_too_small_for_alpha", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(sample_weight=np.full(N, 1e-320)),
         "sample_weight is too small for alpha=0.0001: as in scikit-learn, the penalty is "
         "divided by the sum of the weights"),
    # An overflow of the scaled l1 was put on alpha ("too small for alpha=0").
    Case("sample_weight_too_small_for_l1", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(sample_weight=np.full(N, 1e-320),
                                    params={"alpha": 0.0, "l1": 1e-4}),
         "sample_weight is too small for l1=0.0001", modes=("fresh",)),
    # helper-53: cast to inf without a word, then a DivergenceError blaming
    # the learning rate.
    Case("class_weight_beyond_float32", ("clf",),
         lambda X, y, Y, k, m: dict(X=X.astype(np.float32),
                                    params={"class_weight": {0: 1e39}}),
         "class_weight holds values beyond float32's range", modes=("fresh",)),
    Case("class_weight_times_sample_weight_beyond_float32", ("clf",),
         lambda X, y, Y, k, m: dict(X=X.astype(np.float32), sample_weight=np.full(N, 1e30),
                                    params={"class_weight": {0: 1e10}}),
         "class_weight times sample_weight holds values beyond float32's range",
         modes=("fresh",)),
    Case("all_zero_sample_weight", ("clf",),
         lambda X, y, Y, k, m: dict(sample_weight=np.zeros(N)),
         "Sample weights must contain at least one non-zero number"),
    Case("hidden_layer_sizes_changed", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(params={"hidden_layer_sizes": (5, 3)}),
         "network's shape changed", modes=("warm_fit", "partial_fit")),
    Case("dtype_changed", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=X.astype(np.float32)),
         "X has dtype float32 but the model was fitted with float64",
         modes=("warm_fit",)),  # partial_fit goes on in the model's dtype
    Case("poisson_negative_y", ("reg",),
         lambda X, y, Y, k, m: dict(y=Y - 1.0),
         "loss='poisson' requires non-negative targets y", model={"loss": "poisson"}),
    Case("partial_fit_with_early_stopping", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(params={"early_stopping": True}),
         "partial_fit does not support early_stopping=True",
         modes=("partial_fit", "fresh_pf")),
    Case("validation_set_too_small", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=X[:20], y=_target(k, y, Y)[:20],
                                    params={"early_stopping": True,
                                            "validation_fraction": 0.05}),
         "The validation set is too small", modes=("fresh",)),
    # Before, scikit-learn's reason ran into the advice with no full stop
    # ("... number of classes = 2 Pass more samples").
    Case("validation_set_fewer_rows_than_classes", ("clf",),
         lambda X, y, Y, k, m: dict(y=y > 4,
                                    params={"early_stopping": True,
                                            "validation_fraction": 0.001}),
         "could not split a validation set (validation_fraction=0.001) from 200 sample(s): "
         "The test_size = 1 should be greater or equal to the number of classes = 2. "
         "Raise validation_fraction, pass more samples, or set early_stopping=False.",
         modes=("fresh",)),
    Case("training_diverges", ("clf", "reg"),
         lambda X, y, Y, k, m: dict(X=X * 1e200),
         "Training diverged at epoch 1", model={"solver": "sgd", "batch_size": 50}),
    Case("hidden_layer_sizes_zero", ("clf",),
         lambda X, y, Y, k, m: dict(params={"hidden_layer_sizes": (4, 0)}),
         "hidden_layer_sizes must be > 0, got [4, 0]", modes=("fresh", "warm_fit")),
]

# invalid parameter values: InvalidParameterError naming the parameter and
# what it accepts
PARAM_CASES = [
    ("solver", "foo", ["'solver' parameter", "'lbfgs'", "'sgd'", "'adam'", "Got 'foo'"]),
    ("activation", "softmax", ["'activation' parameter", "'identity'", "'logistic'",
                               "'tanh'", "'relu'", "Got 'softmax'"]),
    ("learning_rate", "fast", ["'learning_rate' parameter", "'constant'", "'invscaling'",
                               "'adaptive'"]),
    ("alpha", -1.0, ["'alpha' parameter", "range [0.0, inf)", "Got -1.0"]),
    ("batch_size", 0, ["'batch_size' parameter", "'auto'", "range [1, inf)"]),
    ("batch_size", "big", ["'batch_size' parameter", "'auto'"]),
    ("learning_rate_init", 0.0, ["'learning_rate_init' parameter", "range (0.0, inf)"]),
    ("max_iter", 0, ["'max_iter' parameter", "range [1, inf)"]),
    ("momentum", 1.5, ["'momentum' parameter", "range [0.0, 1.0]"]),
    ("validation_fraction", 1.0, ["'validation_fraction' parameter", "range [0.0, 1.0)"]),
    ("beta_1", 1.0, ["'beta_1' parameter", "range [0.0, 1.0)"]),
    ("epsilon", 0.0, ["'epsilon' parameter", "range (0.0, inf)"]),
    ("n_iter_no_change", 0, ["'n_iter_no_change' parameter", "range [1, inf)"]),
    ("tol", -1e-3, ["'tol' parameter", "range [0.0, inf)"]),
    ("hidden_layer_sizes", -2, ["'hidden_layer_sizes' parameter", "array-like",
                                "range [1, inf)"]),
    ("shuffle", "yes", ["'shuffle' parameter", "bool"]),
    ("random_state", "seed", ["'random_state' parameter", "RandomState"]),
    ("loss", "hinge", ["'loss' parameter", "'squared_error'", "'poisson'"]),
]


def _expand():
    for case in CASES:
        for kind in case.kinds:
            for mode in case.modes:
                match = case.match.get(mode, case.match.get("fresh")) \
                    if isinstance(case.match, dict) else case.match
                if match is None:
                    continue
                yield pytest.param(case, kind, mode, match,
                                   id=f"{case.name}-{kind}-{mode}")


def _bad_call(est, case, kind, mode, X, y, Y):
    bad = case.bad(X, y, Y, kind, mode)
    if "params" in bad:
        est.set_params(**bad["params"])
    Xb = bad.get("X", X)
    yb = bad.get("y", _target(kind, y, Y))
    kw = {"sample_weight": bad["sample_weight"]} if "sample_weight" in bad else {}
    if mode in ("partial_fit", "fresh_pf"):
        if "classes" in bad:
            kw["classes"] = bad["classes"]
        elif mode == "fresh_pf" and kind == "clf" and case.name != \
                "partial_fit_without_classes":
            kw["classes"] = np.arange(10)
        return est.partial_fit(Xb, yb, **kw)
    return est.fit(Xb, yb, **kw)


@pytest.mark.parametrize("case, kind, mode, match", list(_expand()))
def test_bad_input_raises_and_leaves_model_unchanged(data, case, kind, mode, match):
    X, y, Y = data
    fit_mode = "partial_fit" if mode == "fresh_pf" else mode
    est = make(kind, fit_mode, **case.model)
    twin = make(kind, fit_mode, **case.model)
    if mode not in ("fresh", "fresh_pf"):
        train(est, mode, X, y, Y)
        train(twin, mode, X, y, Y)

    # the parameters a case changes are part of the call, not of the state
    params = case.bad(X, y, Y, kind, mode).get("params", {})
    before_params = est.get_params()
    probe = copy.deepcopy(est).set_params(**params)
    state_before = copy.deepcopy(vars(probe))
    seen_before = observable(est, X)

    with pytest.raises(case.exc) as info:
        _bad_call(est, case, kind, mode, X, y, Y)
    assert match in str(info.value), str(info.value)

    # exactly the state before the call (set_params aside)
    assert_same_state(state_before, copy.deepcopy(vars(est)))
    seen_after = observable(est, X)
    assert_same_state(seen_before, seen_after)
    if mode in ("fresh", "fresh_pf"):
        assert not hasattr(est, "coefs_")
        assert not hasattr(est, "n_features_in_")
        assert not hasattr(est, "classes_")

    # and a good call goes on as if the bad one never happened
    est.set_params(**before_params)
    good_call(est, fit_mode, X, y, Y)
    good_call(twin, fit_mode, X, y, Y)
    assert_same_state(vars(twin), vars(est), ignore_timing=True)


@pytest.mark.parametrize("param, value, fragments", PARAM_CASES,
                         ids=[f"{p}={v!r}" for p, v, _ in PARAM_CASES])
@pytest.mark.parametrize("mode", ["fresh", "warm_fit"])
def test_invalid_parameter_names_parameter_and_allowed_values(data, param, value,
                                                             fragments, mode):
    X, y, Y = data
    kind = "reg" if param == "loss" else "clf"
    est = make(kind, mode)
    if mode == "warm_fit":
        train(est, mode, X, y, Y)
    est.set_params(**{param: value})
    state_before = copy.deepcopy(vars(est))
    with pytest.raises(InvalidParameterError) as info:
        est.fit(X, _target(kind, y, Y))
    msg = str(info.value)
    for fragment in fragments:
        assert fragment in msg, msg
    assert isinstance(info.value, ValueError)  # as scikit-learn's, catchable as such
    assert_same_state(state_before, vars(est))


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_invalid_parameter_in_first_partial_fit(data, kind):
    # As in scikit-learn, parameters are validated by the first partial_fit
    # (later calls skip validation for speed).
    X, y, Y = data
    est = make(kind, "partial_fit", alpha=-1.0)
    kw = {"classes": np.arange(10)} if kind == "clf" else {}
    with pytest.raises(InvalidParameterError, match="'alpha' parameter"):
        est.partial_fit(X, _target(kind, y, Y), **kw)
    assert not hasattr(est, "coefs_")
    assert not hasattr(est, "classes_")


def test_partial_fit_unavailable_for_lbfgs(data):
    X, y, _ = data
    est = MLPClassifier(solver="lbfgs")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
        est.partial_fit(X, y, classes=np.arange(10))
    assert "only available for stochastic optimizers" in str(info.value.__cause__)
    assert not hasattr(est, "coefs_")


# ---------------------------------------------------------------------------
# bad input at predict time
# ---------------------------------------------------------------------------


PREDICT_CASES = [
    ("wrong_n_features", lambda X: X[:, :10],
     "X has 10 features, but MLPClassifier is expecting 64 features as input"),
    ("nan", lambda X: _with(X, 0, 0, np.nan), "Input X contains NaN"),
    ("inf", lambda X: _with(X, 0, 0, np.inf), "Input X contains infinity"),
    ("one_dimensional", lambda X: X[0], "Expected 2D array, got 1D array"),
    ("complex", lambda X: X + 0j, "Complex data not supported: X holds complex numbers"),
    ("strings", lambda X: np.full(X.shape, "a", dtype=object),
     "X: could not convert string to float"),
    ("numeric_strings", lambda X: X.astype(str), "X holds strings (dtype <U"),
    ("dates", lambda X: X.astype("datetime64[s]"), "X holds dates (dtype datetime64[s])"),
    ("empty", lambda X: X[:0], "Found array with 0 sample(s)"),
]


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "score"])
@pytest.mark.parametrize("name, make_bad, match", PREDICT_CASES,
                         ids=[c[0] for c in PREDICT_CASES])
def test_bad_input_at_predict(data, method, name, make_bad, match):
    X, y, Y = data
    est = train(make("clf", "partial_fit"), "partial_fit", X, y, Y)
    state_before = copy.deepcopy(vars(est))
    args = (make_bad(X), y) if method == "score" else (make_bad(X),)
    with pytest.raises(ValueError) as info:
        getattr(est, method)(*args)
    assert match in str(info.value), str(info.value)
    assert_same_state(state_before, vars(est))


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_predict_unfitted(data, method):
    from sklearn.exceptions import NotFittedError

    X, _, _ = data
    with pytest.raises(NotFittedError, match="MLPClassifier instance is not fitted yet"):
        getattr(MLPClassifier(), method)(X)
    with pytest.raises(NotFittedError, match="MLPRegressor instance is not fitted yet"):
        MLPRegressor().predict(X)


# ---------------------------------------------------------------------------
# failures during training, with a RandomState instance
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["warm_fit", "partial_fit"])
def test_failed_training_does_not_advance_a_random_state_instance(data, mode):
    # The shuffles of a diverging epoch are drawn before it fails; with a
    # RandomState passed as random_state, those draws must be rewound too.
    X, y, Y = data
    est = train(make("clf", mode, random_state=np.random.RandomState(3), solver="sgd",
                     batch_size=50),
                mode, X, y, Y)
    twin = train(make("clf", mode, random_state=np.random.RandomState(3), solver="sgd",
                     batch_size=50),
                 mode, X, y, Y)
    with pytest.raises(ValueError, match="Training diverged at epoch 1"):
        good_call(est, mode, X * 1e200, y, Y)
    good_call(est, mode, X, y, Y)
    good_call(twin, mode, X, y, Y)
    assert_same_state(vars(twin), vars(est), ignore_timing=True)


def test_failed_early_stopping_fit_keeps_model(data):
    # early stopping on a warm model with a too small validation set
    X, y, Y = data
    est = train(make("clf", "warm_fit"), "warm_fit", X, y, Y)
    before = copy.deepcopy(vars(est))
    est.set_params(early_stopping=True, validation_fraction=0.001)
    with pytest.raises(ValueError, match="validation set is too small"):
        est.fit(X, y)
    est.set_params(early_stopping=False, validation_fraction=0.1)
    assert_same_state(before, vars(est))


# ---------------------------------------------------------------------------
# inputs that are fine
# ---------------------------------------------------------------------------


def test_string_labels(data):
    X, y, _ = data
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                       "eight", "nine"])[y]
    ref = sknn.MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    est = make("clf", "fresh")
    ref.fit(X, labels)
    est.fit(X, labels)
    assert_array_equal(est.classes_, np.unique(labels))
    assert_array_equal(est.predict(X), ref.predict(X))
    assert est.predict(X).dtype == labels.dtype
    pf = make("clf", "partial_fit")
    pf.partial_fit(X[:50], labels[:50], classes=np.unique(labels))
    pf.partial_fit(X, labels)
    assert set(pf.predict(X)) <= set(labels)
    # binary string labels
    est.fit(X, np.where(y < 5, "low", "high"))
    assert_array_equal(est.classes_, ["high", "low"])
    assert est.predict_proba(X).shape == (N, 2)


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_single_sample_is_accepted_as_by_sklearn(data, kind):
    X, y, Y = data
    target = _target(kind, y, Y)
    cls = MLPClassifier if kind == "clf" else MLPRegressor
    ref_cls = sknn.MLPClassifier if kind == "clf" else sknn.MLPRegressor
    ref = ref_cls(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X[:1], target[:1])
    est = cls(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X[:1], target[:1])
    for a, b in zip(ref.coefs_ + ref.intercepts_, est.coefs_ + est.intercepts_):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-10)
    if kind == "clf":
        assert_array_equal(est.predict(X[:5]), ref.predict(X[:5]))
    else:
        np.testing.assert_allclose(est.predict(X[:5]), ref.predict(X[:5]), rtol=1e-9)
    # and a single sample to predict
    assert est.predict(X[:1]).shape[0] == 1


def test_single_sample_with_early_stopping_is_a_clear_error(data):
    X, y, _ = data
    est = MLPClassifier(early_stopping=True)
    with pytest.raises(ValueError, match="the resulting train set will be empty"):
        est.fit(X[:1], y[:1])
    assert not hasattr(est, "coefs_")


def test_integer_and_bool_X_are_converted(data):
    X, y, _ = data
    Xi = (X * 16).astype(np.int64)
    est = make("clf", "fresh").fit(Xi, y)
    assert est.coefs_[0].dtype == np.float64
    ref = make("clf", "fresh").fit(Xi.astype(np.float64), y)
    assert_array_equal(est.predict(Xi), ref.predict(Xi))
    make("clf", "fresh").fit(X > 0.5, y)


def test_column_vector_y_warns_and_is_raveled(data):
    from sklearn.exceptions import DataConversionWarning

    X, y, _ = data
    with pytest.warns(DataConversionWarning, match="column-vector y was passed") as rec:
        est = make("clf", "fresh").fit(X, y.reshape(-1, 1))
    # At the caller's line, as fastbp's own warnings are (helper-35).
    assert [w.filename for w in rec if w.category is DataConversionWarning] == [__file__]
    assert est.n_outputs_ == 10
    with pytest.warns(DataConversionWarning) as rec:
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=1).fit(X, y.reshape(-1, 1).astype(float))
    assert [w.filename for w in rec if w.category is DataConversionWarning] == [__file__]
    ref = make("clf", "fresh").fit(X, y)
    assert_array_equal(est.coefs_[0], ref.coefs_[0])


def test_single_class_is_accepted_as_by_sklearn(data):
    X, _, _ = data
    y = np.full(N, "only")
    ref = sknn.MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    est = make("clf", "fresh").fit(X, y)
    assert_array_equal(est.classes_, ref.classes_)
    assert_array_equal(est.predict(X), ref.predict(X))
    for a, b in zip(ref.coefs_ + ref.intercepts_, est.coefs_ + est.intercepts_):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-10)


def test_scalar_and_list_sample_weight(data):
    X, y, _ = data
    a = make("clf", "fresh").fit(X, y, sample_weight=2.0)
    b = make("clf", "fresh").fit(X, y, sample_weight=[2.0] * N)
    assert_array_equal(a.coefs_[0], b.coefs_[0])


def test_class_weight_keys_that_read_as_integers(data):
    # helper-58: labels "1" and "2" with class_weight={"1": 1, "2": 3}
    # failed ("The classes, [1, 2], are not in class_weight"), and a dict
    # naming only "a" of labels "1" and "a" failed alike: the weights were
    # looked up by int(label). They weigh as the same sample weights do.
    X, y, _ = data
    labels = np.where(y % 2 == 0, "1", "2")
    weighted = make("clf", "fresh", class_weight={"1": 1.0, "2": 3.0}).fit(X, labels)
    same = make("clf", "fresh").fit(X, labels, sample_weight=np.where(labels == "1", 1.0, 3.0))
    for a, b in zip(weighted.coefs_, same.coefs_):
        assert_array_equal(a, b)
    labels = np.where(y % 2 == 0, "1", "a")
    weighted = make("clf", "fresh", class_weight={"a": 2.0}).fit(X, labels)
    same = make("clf", "fresh").fit(X, labels, sample_weight=np.where(labels == "a", 2.0, 1.0))
    for a, b in zip(weighted.coefs_, same.coefs_):
        assert_array_equal(a, b)


def test_class_weight_of_unknown_labels_lists_the_classes_as_written(data):
    # helper-114: the message listed classes_ as NumPy scalar reprs
    # ("[np.int64(0), np.int64(1), ...]").
    X, y, _ = data
    with pytest.raises(ValueError, match=r"class_weight has labels \[42\] that are not in "
                                         r"classes_ \[0, 1, 2\]\.$"):
        make("clf", "fresh", class_weight={42: 2.0}).fit(X, y % 3)


def test_class_weight_and_sample_weight_round_once_as_their_product_does(data):
    # helper-58: in a float32 model the caller's weights were cast first and
    # then multiplied (two roundings): not the model that the same product,
    # given as sample_weight, trains.
    X, y, _ = data
    X = X.astype(np.float32)
    rng = np.random.RandomState(0)
    sw = rng.uniform(0.5, 1.5, len(y))
    cw = {c: 1 / (c + 3) for c in range(10)}
    a = make("clf", "fresh", class_weight=cw).fit(X, y, sample_weight=sw)
    b = make("clf", "fresh").fit(X, y, sample_weight=sw * np.array([cw[c] for c in y]))
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(u, v)


def test_r2_with_overflowing_weights_names_the_weights(data):
    # helper-58: the message blamed y ("Rescale y", largest magnitude 2.4).
    X, _, Y = data
    model = make("reg", "fresh").fit(X, Y)
    with pytest.raises(ValueError, match="the sum of sample_weight overflows float64"):
        model.score(X, Y, sample_weight=np.full(len(X), 1e307))


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_non_finite_x_under_assume_finite_is_named_at_predict(data, activation):
    # helper-66: with scikit-learn's assume_finite=True, a NaN row got a
    # plausible probability (relu) or "outputs overflowed ... values too
    # large" (tanh); the kernel had reported the input.
    import sklearn

    X, y, _ = data
    est = MLPClassifier((5,), activation=activation, max_iter=3, random_state=0).fit(X, y)
    bad = X[:5].copy()
    bad[3, 1] = np.nan
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
            est.predict_proba(bad)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_non_finite_x_under_assume_finite_is_named_at_fit(data, solver):
    # It was a DivergenceError advising a lower learning rate.
    import sklearn

    X, y, _ = data
    bad = X.copy()
    bad[3, 1] = np.inf
    est = MLPClassifier((5,), solver=solver, max_iter=3, random_state=0)
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
            est.fit(bad, y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("sparse", [False, True])
def test_non_finite_float64_x_for_a_float32_model_under_assume_finite(data, value, sparse):
    # helper-130 (found by helper-121): inf in a float64 X given to a
    # float32 model was "X holds values beyond float32's range (largest
    # magnitude inf > 3.4e+38) ... Rescale X", not the message a NaN gets.
    import sklearn

    X, y, _ = data
    est = MLPClassifier((5,), max_iter=3, random_state=0).fit(X.astype(np.float32), y)
    bad = X[:5].astype(np.float64)
    bad[3, 1] = value
    if sparse:
        bad = sp.csr_matrix(bad)
    with sklearn.config_context(assume_finite=True):
        with pytest.raises(ValueError, match="Input X contains NaN or infinity. \\(scikit"):
            est.predict(bad)
        with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
            est.partial_fit(bad, y[:5])
        with pytest.raises(ValueError, match="Input sample_weight contains NaN or infinity"):
            est.partial_fit(X[:5].astype(np.float32), y[:5],
                            sample_weight=np.array([1, 1, 1, value, 1]))


def test_labels_of_mixed_types_are_named():
    # Left alone in stop 41 (scikit-learn's MLP raises the same): an object
    # y, or partial_fit's classes, mixing numbers and strings failed with
    # NumPy's "'<' not supported between instances of 'str' and 'int'",
    # which names neither the argument nor the remedy.
    X = np.random.default_rng(0).random((6, 2))
    mixed = np.array([1, "a", 2, "b", 1, "a"], dtype=object)
    with pytest.raises(ValueError, match=r"y mixes labels of different types \(1 \(int\), "
                                         r"'a' \(str\)\).*y\.astype\(str\)"):
        MLPClassifier((2,), max_iter=1).fit(X, mixed)
    with pytest.raises(ValueError, match=r"classes mixes labels of different types"):
        MLPClassifier((2,), max_iter=1).partial_fit(X, mixed,
                                                    classes=np.array([1, 2, "a", "b"],
                                                                     dtype=object))
    model = MLPClassifier((2,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, np.array(["a", "b"] * 3, dtype=object))
    before = [c.copy() for c in model.coefs_]
    with pytest.raises(ValueError, match=r"y mixes labels of different types"):
        model.partial_fit(X, mixed)
    for a, b in zip(before, model.coefs_):
        np.testing.assert_array_equal(a, b)


def test_balanced_class_weight_with_sample_weight_on_a_sparse_multilabel_y():
    # helper-94: a sparse indicator y with class_weight="balanced" and
    # sample_weight failed in np.bincount ("The weights and list don't have
    # the same length"): its columns were counted sparse, as one-row matrices.
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    Y = (rng.rand(40, 3) > 0.3).astype(int)
    sw = rng.rand(40) + 0.5

    def fitted(y):
        return MLPClassifier((4,), max_iter=3, random_state=0,
                             class_weight="balanced").fit(X, y, sample_weight=sw)

    dense, sparse = fitted(Y), fitted(sp.csr_matrix(Y))
    for a, b in zip(dense.coefs_ + dense.intercepts_, sparse.coefs_ + sparse.intercepts_):
        assert_array_equal(a, b)
    assert dense.loss_curve_ == sparse.loss_curve_


def test_float32_regressor_scores_integer_and_list_targets_in_float64():
    # helper-94: R^2 was computed in float64 for a float32 model only where y
    # was float32 too; integer or list targets went to r2_score with float32
    # predictions, which it computes in float32, and squared deviations of
    # about 1e39 overflowed: score raised a false "R^2 is undefined", and
    # early stopping on int64 targets scored NaN every epoch (no warning).
    rng = np.random.RandomState(0)
    X = rng.randn(4000, 3).astype(np.float32)
    y = np.clip(rng.randn(4000), -4, 4) * 1.1e18  # whole numbers: exact as int64

    model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    expected = model.score(X, y)
    assert np.isfinite(expected)
    assert model.score(X, y.astype(np.int64)) == expected
    assert model.score(X, y.tolist()) == expected

    def stopped(target):
        return MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                            early_stopping=True).fit(X, target)

    as_floats, as_ints = stopped(y), stopped(y.astype(np.int64))
    assert np.all(np.isfinite(as_ints.validation_scores_))
    assert as_ints.validation_scores_ == as_floats.validation_scores_
    assert as_ints.best_validation_score_ == as_floats.best_validation_score_


def test_integer_targets_too_large_for_a_squared_error_are_named():
    # helper-94: the range check ran on float targets only; uint64 targets
    # whose squares overflow float32 trained to an infinite loss, a
    # DivergenceError blaming the learning rate.
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3).astype(np.float32)
    Y = (rng.rand(40, 8) * 1.8e19).astype(np.uint64)
    for target in (Y, Y.astype(np.float64)):
        with pytest.raises(ValueError, match="y holds values too large for a squared-error "
                                             "loss in float32"):
            MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, target)
    # int64's smallest, whose absolute value wraps in int64.
    low = np.full(40, np.iinfo(np.int64).min)
    with pytest.raises(ValueError, match=r"largest magnitude 9\.22e\+18"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, low)


def test_regressor_scores_the_sparse_targets_it_fits():
    # helper-94: fit densifies a sparse multi-output y, but score passed it
    # on to r2_score, which refused it (InvalidParameterError).
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    Y = rng.randn(60, 2)
    model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    model.fit(X, sp.csr_matrix(Y))
    assert model.score(X, sp.csr_matrix(Y)) == model.score(X, Y)


@pytest.mark.parametrize("form", ["series", "scalar", "object"])
@pytest.mark.parametrize("value, match", [
    (1e-50, "sample_weight's positive weights are all below float32's smallest number"),
    (1e39, r"sample_weight holds values beyond float32's range"),
])
def test_sample_weight_of_every_form_is_checked_against_a_float32_model(form, value, match):
    # helper-94: only an ndarray (or a list) was checked against the
    # model's dtype; a Series or scalar of 1e-50 got scikit-learn's "Sample
    # weights must contain at least one non-zero number", and of 1e39 "Input
    # sample_weight contains NaN or infinity".
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3).astype(np.float32)
    y = np.array([0, 1] * 20)
    weights = np.full(40, value)
    given = {"series": pd.Series(weights), "scalar": value,
             "object": weights.astype(object)}[form]
    model = MLPClassifier((4,), max_iter=3, random_state=0)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y, sample_weight=given)
    assert not hasattr(model, "coefs_")


def test_multilabel_partial_fit_classes_must_be_the_indicator_columns(tmp_path):
    # helper-94: classes=[0, 1, 2, 3] for a 3-output indicator was taken
    # (as scikit-learn takes it): classes_ named 4 outputs of a 3-output
    # model, and fastbp.save refused the model. fastbp refuses the classes.
    import fastbp

    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    Y = (rng.rand(40, 3) > 0.5).astype(int)
    for classes in ([0, 1, 2, 3], [5, 6, 7]):
        model = MLPClassifier((4,), random_state=0)
        with pytest.raises(ValueError, match=r"y is a multilabel indicator of 3 outputs, "
                                             r"whose labels are its column indices \[0, 1, 2\]"):
            model.partial_fit(X, Y, classes=classes)
        assert not hasattr(model, "classes_")
    model = MLPClassifier((4,), random_state=0).partial_fit(X, Y, classes=[0, 1, 2])
    model.partial_fit(X, Y)
    assert_array_equal(model.classes_, [0, 1, 2])
    fastbp.save(model, tmp_path / "model.fastbp")


@pytest.mark.parametrize("dtype, shown", [
    ("string", "<NA>"), ("Int64", "<NA>"), ("boolean", "<NA>"), ("category", "NaN"),
    (object, "None"),
])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_missing_labels_in_a_pandas_y_are_named(method, dtype, shown):
    # helper-94: a pandas "string" y holding <NA> failed inside
    # scikit-learn with "TypeError: boolean value of NA is ambiguous"
    # (partial_fit's Int64 and boolean: "Input contains NaN", without y;
    # category and object: NumPy's "'<' not supported" while sorting).
    X = np.random.RandomState(0).randn(6, 2)
    labels = [True, False] * 3 if dtype == "boolean" else (
        [1, 2] * 3 if dtype == "Int64" else ["a", "b"] * 3)
    labels[3] = None
    y = pd.Series(labels, dtype=dtype)
    classes = sorted({v for v in labels if v is not None})
    model = MLPClassifier((2,), max_iter=2, random_state=0)
    call = (model.fit if method == "fit"
            else lambda X, y: model.partial_fit(X, y, classes=classes))
    with pytest.raises(ValueError, match=rf"Input y contains {shown} \(a missing value\) in "
                                         r"1 row\(s\), the first at position 3"):
        call(X, y)
    with pytest.raises(ValueError, match=r"Input y contains <NA>"):
        call(X, pd.DataFrame({"label": y.astype("string")}))
    assert not hasattr(model, "classes_")


def test_empty_partial_fit_classes_are_named():
    # helper-94 (minor): classes=[] said "y has 0 samples: []".
    X = np.random.RandomState(0).randn(6, 2)
    with pytest.raises(ValueError, match="classes is empty"):
        MLPClassifier((2,)).partial_fit(X, np.array([0, 1] * 3), classes=[])


def _isolated(code):
    """The JSON that ``code`` prints last, run in a fresh interpreter: before
    the fixes it tests, the cases crashed the process (a failure here, with
    the interpreter's exit status and stderr, rather than a dead pytest)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root,
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=root + os.pathsep
                                   + os.environ.get("PYTHONPATH", "")))
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_malformed_coo_lil_bsr_and_dia_x_are_refused_before_any_kernel():
    # helper-104: only CSR, CSC and BSR were checked. A COO or LIL X with a
    # column outside the matrix was converted to CSR as it was, and the
    # kernels read and wrote past the weights (random predictions, fits
    # that "succeeded", segfaults); a row outside it, or a LIL row with
    # more values than indices, corrupted memory in scipy's conversion; a
    # DIA matrix with more offsets than diagonals was read past its data.
    out = _isolated("""
        import json, warnings
        import numpy as np, scipy.sparse as sp
        from fastbp import MLPClassifier, MLPRegressor
        warnings.simplefilter("ignore")
        X = sp.random(60, 8, density=0.3, random_state=0, format="coo")
        y = np.arange(60) % 2
        def damaged(kind):
            if kind.startswith("coo"):
                bad = X.copy()
                if kind == "coo_col": bad.col[0] = 100000
                elif kind == "coo_col_one_past": bad.col[0] = 8
                elif kind == "coo_row": bad.row[0] = 500
                elif kind == "coo_negative_row": bad.row[0] = -1
                elif kind == "coo_array_col":
                    bad = sp.coo_array(X.copy()); bad.coords[1][0] = 50
                return bad
            if kind.startswith("lil"):
                bad = X.tolil()
                if kind == "lil_col": bad.rows[0] = [100]; bad.data[0] = [1.0]
                elif kind == "lil_negative_col": bad.rows[0] = [-1]; bad.data[0] = [1.0]
                elif kind == "lil_more_values": bad.rows[0] = [1]; bad.data[0] = [1.0] * 10**5
                return bad
            if kind == "bsr_col":
                bad = sp.bsr_matrix(X.toarray(), blocksize=(2, 2))
                bad.indices = bad.indices.copy(); bad.indices[0] = 100
                return bad
            bad = sp.dia_matrix(X.toarray())
            bad.offsets = np.arange(-59, 8).repeat(10**3)
            return bad
        clf = MLPClassifier((3,), max_iter=2, random_state=0).fit(X.tocsr(), y)
        reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X.tocsr(), y * 1.0)
        before = [c.copy() for c in clf.coefs_ + reg.coefs_]
        calls = {
            "fit": lambda A: MLPClassifier((3,), max_iter=2).fit(A, y),
            "regressor_fit": lambda A: MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(A, y * 1.0),
            "partial_fit": lambda A: MLPClassifier((3,)).partial_fit(A, y, classes=[0, 1]),
            "predict": clf.predict, "predict_proba": clf.predict_proba,
            "regressor_predict": reg.predict,
            "score": lambda A: clf.score(A, y),
        }
        out = {}
        for kind in ("coo_col", "coo_col_one_past", "coo_row", "coo_negative_row",
                     "coo_array_col", "lil_col", "lil_negative_col", "lil_more_values",
                     "bsr_col", "dia_offsets"):
            for call, f in calls.items():
                try:
                    f(damaged(kind))
                    out[f"{kind}-{call}"] = "no error"
                except ValueError as exc:
                    out[f"{kind}-{call}"] = str(exc)
        out["unchanged"] = all(np.array_equal(a, b)
                               for a, b in zip(before, clf.coefs_ + reg.coefs_))
        print(json.dumps(out))
    """)
    assert out.pop("unchanged") is True
    assert len(out) == 70
    expected = {"coo_col": "col indices must be < 8", "coo_col_one_past": "col indices must be < 8",
                "coo_row": "row indices must be < 60", "coo_negative_row": "row indices must be >= 0",
                "coo_array_col": "col indices must be < 8", "lil_col": "column indices must be < 8",
                "lil_negative_col": "column indices must be >= 0",
                "lil_more_values": "row 0 has 1 column indices and 100000 values",
                "bsr_col": "column index values must be < 4",
                "dia_offsets": "67000 offsets for data of shape"}
    for case, message in out.items():
        kind = case.split("-")[0]
        fmt = kind.split("_")[0].upper()
        assert message.startswith(f"X is a malformed {fmt} matrix of shape (60, 8): "), (
            case, message)
        assert expected[kind] in message, (case, message)


def test_non_integer_lil_indices_and_repeated_dia_offsets_are_refused():
    # helper-119: a LIL row's column indices were converted to int64
    # unchecked, so 2.9 was read as column 2 and True as column 1 (a COO,
    # CSR or BSR matrix with such indices is refused); DIA offsets set to
    # repeat after construction, which scipy's constructor refuses, had
    # their diagonals summed.
    rng = np.random.RandomState(0)
    y = rng.rand(40)
    for index, shown in ((2.9, "float"), (np.float64(2.0), "float64"), (True, "bool"),
                         (np.bool_(False), "bool"), ("2", "str")):
        X = sp.lil_matrix((40, 3))
        for i in range(40):
            X.rows[i] = [0, index] if i == 5 else [1]
            X.data[i] = [1.0, 2.0] if i == 5 else [float(rng.rand())]
        with pytest.raises(ValueError, match=(
                r"X is a malformed LIL matrix of shape \(40, 3\): column indices must be "
                rf"integers, not {shown}\. Its rows or data")):
            MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, y)
        assert X.rows[5] == [0, index]  # only read
    # Integers of any type are indices, as scipy reads them.
    X = sp.lil_matrix((3, 3))
    X.rows[0], X.data[0] = [np.int32(0), np.uint8(2), 1], [1.0, 2.0, 3.0]
    check_sparse_structure(X)

    D = sp.dia_matrix((np.ones((2, 3)), [0, 1]), shape=(3, 3))
    offsets = np.array([0, 0])
    D.offsets = offsets
    with pytest.raises(ValueError, match=(
            r"X is a malformed DIA matrix of shape \(3, 3\): offset array contains "
            r"duplicate values\. Each diagonal")):
        check_sparse_structure(D)
    with pytest.raises(ValueError, match="offset array contains duplicate values"):
        MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(D, y[:3])
    assert D.offsets is offsets and list(offsets) == [0, 0]
    check_sparse_structure(sp.dia_matrix((np.ones((2, 3)), [1, -1]), shape=(3, 3)))


def test_a_malformed_sparse_y_is_refused():
    # helper-104: a sparse y (multilabel indicator, multi-output targets)
    # was never checked: validation, the label binarizer and toarray
    # trusted its indices; an index past its columns wrote outside the
    # dense targets and the fit "succeeded", a negative one aborted the
    # interpreter (munmap_chunk(): invalid pointer), a COO row outside it
    # crashed scipy's conversion.
    out = _isolated("""
        import json, warnings
        import numpy as np, scipy.sparse as sp
        from fastbp import MLPClassifier, MLPRegressor
        warnings.simplefilter("ignore")
        rng = np.random.RandomState(0)
        X = rng.randn(60, 5)
        Y = (np.random.RandomState(1).rand(60, 3) > 0.5).astype(float)
        def damaged(kind):
            if kind == "csr_col":
                bad = sp.csr_matrix(Y); bad.indices[0] = 7
            elif kind == "csr_negative_col":
                bad = sp.csr_matrix(Y); bad.indices[0] = -1
            elif kind == "csc_row":
                bad = sp.csc_matrix(Y); bad.indices[0] = 10**6
            elif kind == "coo_row":
                bad = sp.coo_matrix(Y); bad.row[0] = 10**6
            else:
                bad = sp.lil_matrix(Y); bad.rows[0] = [9]; bad.data[0] = [1.0]
            return bad
        clf = MLPClassifier((3,), max_iter=2, random_state=0).fit(X, Y.astype(int))
        reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, Y)
        before = [c.copy() for c in clf.coefs_ + reg.coefs_]
        calls = {
            "fit": lambda B: MLPClassifier((3,), max_iter=2).fit(X, B),
            "partial_fit": lambda B: MLPClassifier((3,)).partial_fit(X, B, classes=[0, 1, 2]),
            "later_partial_fit": lambda B: clf.partial_fit(X, B),
            "score": lambda B: clf.score(X, B),
            "regressor_fit": lambda B: MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, B),
            "regressor_partial_fit": lambda B: reg.partial_fit(X, B),
            "regressor_score": lambda B: reg.score(X, B),
        }
        out = {}
        for kind in ("csr_col", "csr_negative_col", "csc_row", "coo_row", "lil_col"):
            for call, f in calls.items():
                try:
                    f(damaged(kind))
                    out[f"{kind}-{call}"] = "no error"
                except ValueError as exc:
                    out[f"{kind}-{call}"] = str(exc)
        out["unchanged"] = all(np.array_equal(a, b)
                               for a, b in zip(before, clf.coefs_ + reg.coefs_))
        print(json.dumps(out))
    """)
    assert out.pop("unchanged") is True
    assert len(out) == 35
    expected = {"csr_col": "indices must be < 3", "csr_negative_col": "indices must be >= 0",
                "csc_row": "indices must be < 60", "coo_row": "row indices must be < 60",
                "lil_col": "column indices must be < 3"}
    for case, message in out.items():
        kind = case.split("-")[0]
        fmt = kind.split("_")[0].upper()
        assert message.startswith(f"y is a malformed {fmt} matrix of shape (60, 3): "), (
            case, message)
        assert expected[kind] in message, (case, message)


@pytest.mark.parametrize("fmt", ["csr", "coo"])
def test_a_one_dimensional_sparse_array_is_named(data, fmt):
    # helper-130 (found by helper-121): a 1-D scipy sparse array as X or y
    # failed inside the structure check ("not enough values to unpack
    # (expected 2, got 1)"), or, a 1-D COO y at fit, in scikit-learn's
    # type_of_target (UnboundLocalError).
    X, y, _ = data
    make_array = getattr(sp, f"{fmt}_array")
    clf = MLPClassifier((3,), max_iter=2, random_state=0).fit(X, y)
    reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, y * 1.0)
    n, d = X.shape
    row = f"X must be 2-D, got a sparse array of shape \\({d},\\)\\. Reshape it"
    for call in (clf.predict, clf.predict_proba, reg.predict):
        with pytest.raises(ValueError, match=row):
            call(make_array(X[0]))
    with pytest.raises(ValueError, match=f"X must be 2-D, got a sparse array of shape \\({n},"):
        MLPClassifier((3,), max_iter=2).fit(make_array(X[:, 0]), y)
    # helper-144: "y must be 2-D" contradicted the 1-D dense y every fit takes.
    column = (f"^A sparse y must be 2-D \\(multilabel indicators or multi-output targets\\), "
              f"got a sparse array of shape \\({n},\\)\\. Pass 1-D targets as a dense array")
    calls = [lambda Y: MLPClassifier((3,), max_iter=2).fit(X, Y),
             lambda Y: MLPClassifier((3,)).partial_fit(X, Y, classes=np.unique(y)),
             lambda Y: copy.deepcopy(clf).partial_fit(X, Y),
             lambda Y: clf.score(X, Y),
             lambda Y: MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, Y),
             lambda Y: copy.deepcopy(reg).partial_fit(X, Y),
             lambda Y: reg.score(X, Y)]
    for call in calls:
        with pytest.raises(ValueError, match=column):
            call(make_array(y))


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_checking_a_sparse_x_leaves_the_callers_matrix_as_it_was(fmt):
    # helper-104: scipy's check_format(full_check=True), which checked the
    # structure, rebound the caller's arrays: int32 indptr became a new
    # int64 one, data and indices past indptr[-1] were pruned, big-endian
    # indices were made native ("no call modifies your arrays").
    rng = np.random.RandomState(0)
    y = np.arange(60) % 2
    canonical = sp.random(60, 8, density=0.3, random_state=0, format=fmt)

    def given(index_dtype):
        X = canonical.copy()
        X.indptr = X.indptr.astype(np.int32)
        X.indices = np.r_[X.indices, np.zeros(20, int)].astype(index_dtype)  # spare room
        X.data = np.r_[X.data, rng.rand(20)]
        return X

    reference = MLPClassifier((3,), max_iter=2, random_state=0).fit(canonical, y)
    for index_dtype in (np.int64, np.dtype(">i4")):
        X = given(index_dtype)
        arrays = (X.data, X.indices, X.indptr)
        copies = [a.copy() for a in arrays]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = MLPClassifier((3,), max_iter=2, random_state=0).fit(X, y)
            proba = model.predict_proba(X)
            model.partial_fit(X, y)
        assert all(a is b for a, b in zip((X.data, X.indices, X.indptr), arrays))
        for a, b in zip(arrays, copies):
            assert a.dtype == b.dtype
            assert_array_equal(a, b)
        for a, b in zip(reference.coefs_, MLPClassifier(
                (3,), max_iter=2, random_state=0).fit(given(index_dtype), y).coefs_):
            assert_array_equal(a, b)
        assert_array_equal(proba, reference.predict_proba(canonical))
