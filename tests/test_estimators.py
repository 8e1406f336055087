"""fastbp's estimators against scikit-learn's: the same model from the same
``random_state``, and the scikit-learn API around it.

Every parity test trains scikit-learn's reference MLP and fastbp's with the
same parameters and compares the fitted models; the reference is
``sklearn.neural_network``, imported as ``sknn``.
"""

import copy
import inspect
import pickle
import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import neural_network as sknn
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import MLPClassifier, MLPRegressor
from fastbp.estimators.fit_calls import _keep, _spare_workspaces, _take

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]

PUBLIC_FITTED = {
    "coefs_", "intercepts_", "loss_", "best_loss_", "loss_curve_", "validation_scores_",
    "best_validation_score_", "t_", "n_iter_", "n_layers_", "n_outputs_",
    "out_activation_", "n_features_in_",
}


# ---------------------------------------------------------------------------
# data and helpers
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def small(digits):
    """500 digits: enough for several epochs to stay cheap."""
    X, y = digits
    return X[:500], y[:500]


def regression_targets(X):
    """Two non-negative real targets (valid for 'poisson' too)."""
    return np.c_[X[:, :8].sum(axis=1), X[:, 20:36].mean(axis=1) * 3]


def fit_both(name, X, y, fit_params=None, **params):
    """The same model fitted by scikit-learn and by fastbp."""
    fit_params = fit_params or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = getattr(sknn, name)(**params).fit(X, y, **fit_params)
        est = getattr(fastbp, name)(**params).fit(X, y, **fit_params)
    return ref, est


def flat(est):
    """scikit-learn's ``_pack`` order: all weights, then all biases."""
    return np.hstack([a.ravel() for a in est.coefs_ + est.intercepts_])


def assert_same_model(ref, est, rtol=1e-6, atol=1e-10, curve_rtol=1e-9):
    """``est`` is ``ref``: weights to ``rtol``, history to ``curve_rtol``."""
    assert len(est.coefs_) == len(ref.coefs_)
    for layer, (a, b) in enumerate(zip(ref.coefs_, est.coefs_)):
        assert b.shape == a.shape
        assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=f"coefs_[{layer}]")
    for layer, (a, b) in enumerate(zip(ref.intercepts_, est.intercepts_)):
        assert b.shape == a.shape
        assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=f"intercepts_[{layer}]")
    for attr in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_",
                 "n_features_in_"):
        assert getattr(est, attr) == getattr(ref, attr), attr
    assert_allclose(est.loss_, ref.loss_, rtol=curve_rtol)
    if hasattr(ref, "loss_curve_"):
        assert len(est.loss_curve_) == len(ref.loss_curve_)
        assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=curve_rtol)
        if ref.best_loss_ is None:
            assert est.best_loss_ is None
        else:
            assert_allclose(est.best_loss_, ref.best_loss_, rtol=curve_rtol)
        if ref.validation_scores_ is None:
            assert est.validation_scores_ is None
            assert est.best_validation_score_ is None
        else:
            assert_allclose(est.validation_scores_, ref.validation_scores_,
                            rtol=curve_rtol)
            assert_allclose(est.best_validation_score_, ref.best_validation_score_,
                            rtol=curve_rtol)
    if hasattr(ref, "classes_"):
        assert_array_equal(est.classes_, ref.classes_)


def assert_same_predictions(ref, est, X):
    assert_array_equal(est.predict(X), ref.predict(X))
    if hasattr(ref, "predict_proba"):
        assert_allclose(est.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------
# API: signature and fitted attributes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_signature_matches_sklearn(name):
    ours = inspect.signature(getattr(fastbp, name)).parameters
    ref = inspect.signature(getattr(sknn, name)).parameters
    # scikit-learn's parameters first, in its order, kinds and defaults ...
    assert list(ours)[:len(ref)] == list(ref)
    for p in ref:
        assert ours[p].kind == ref[p].kind, p
        assert ours[p].default == ref[p].default, p
    # ... and any extension keyword-only, so that positional calls agree
    for p in list(ours)[len(ref):]:
        assert ours[p].kind == inspect.Parameter.KEYWORD_ONLY, p
    params = getattr(fastbp, name)().get_params()
    ref_params = getattr(sknn, name)().get_params()
    assert {k: params[k] for k in ref_params} == ref_params


def test_parameter_names_are_sklearns_for_each_class_and_subclass():
    # The names are worked out once per class (BaseMLP._get_param_names):
    # a subclass with a parameter of its own gets its own list.
    from sklearn.base import BaseEstimator

    class Wider(fastbp.MLPClassifier):
        def __init__(self, hidden_layer_sizes=(100,), *, alpha=0.0001, extra=1):
            super().__init__(hidden_layer_sizes, alpha=alpha)
            self.extra = extra

    for cls in (fastbp.MLPClassifier, fastbp.MLPRegressor, Wider):
        for _ in range(2):
            assert cls._get_param_names() == BaseEstimator._get_param_names.__func__(cls)
    assert Wider._get_param_names() == ["alpha", "extra", "hidden_layer_sizes"]
    assert "extra" not in fastbp.MLPClassifier._get_param_names()
    names = fastbp.MLPClassifier._get_param_names()
    names.append("mutated")  # a caller's copy: the next call is unchanged
    assert "mutated" not in fastbp.MLPClassifier._get_param_names()
    model = Wider(extra=5, alpha=0.5)
    assert model.get_params()["extra"] == 5 and clone(model).get_params()["alpha"] == 0.5


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_fitted_attributes_match_sklearn(small, name, solver):
    X, y = small
    ref, est = fit_both(name, X[:100], y[:100], hidden_layer_sizes=(5,),
                        solver=solver, max_iter=2, random_state=0)
    public = lambda e: {k for k in vars(e) if k.endswith("_") and not k.startswith("_")}
    expected = PUBLIC_FITTED | ({"classes_"} if name == "MLPClassifier" else set())
    if solver == "lbfgs":
        stochastic_only = {"best_loss_", "loss_curve_", "validation_scores_",
                           "best_validation_score_"}
        expected -= stochastic_only
        # code that tells the solvers apart by these must keep working
        assert not (public(est) & stochastic_only)
    assert public(ref) == expected
    assert expected <= public(est)
    assert isinstance(est.n_iter_, int)
    assert isinstance(est.t_, int)
    unfitted = getattr(fastbp, name)()
    assert not (public(unfitted) & expected)


# ---------------------------------------------------------------------------
# parity with scikit-learn: stochastic solvers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_one_epoch_parity(digits, solver, activation):
    X, y = digits
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(30, 20),
                        activation=activation, solver=solver, max_iter=1,
                        learning_rate_init=0.01, random_state=0)
    assert est.n_iter_ == 1
    assert_same_model(ref, est)
    assert_same_predictions(ref, est, X[:200])


@pytest.mark.parametrize("params", [
    dict(nesterovs_momentum=False),
    dict(momentum=0.0),
    dict(learning_rate="invscaling", learning_rate_init=0.5, power_t=0.4),
    dict(learning_rate="adaptive", learning_rate_init=0.2, n_iter_no_change=2,
         tol=0.05, max_iter=40),
    dict(n_iter_no_change=np.inf, tol=10.0, max_iter=4),
    dict(n_iter_no_change=1, tol=10.0, max_iter=10),
], ids=["no-nesterov", "no-momentum", "invscaling", "adaptive", "infinite-patience",
        "stops-early"])
def test_sgd_schedules_parity(small, params):
    X, y = small
    params = {"max_iter": 6, **params}
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(20,), solver="sgd",
                        random_state=0, **params)
    assert_same_model(ref, est)
    assert_allclose(est._optimizer.learning_rate, ref._optimizer.learning_rate,
                    rtol=1e-12)
    if params.get("n_iter_no_change") == 1:
        assert est.n_iter_ == 3  # after the first, no epoch improves by tol=10
    if params.get("n_iter_no_change") == np.inf:
        assert est.n_iter_ == params["max_iter"]
    if params.get("learning_rate") == "adaptive":
        # The schedule must actually have divided the step size, and stopped
        # early, for this test to cover it.
        assert ref._optimizer.learning_rate < params["learning_rate_init"]
        assert ref.n_iter_ < params["max_iter"]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_adam_hyperparameters_parity(small, solver):
    X, y = small
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(15,), solver=solver,
                        beta_1=0.8, beta_2=0.99, epsilon=1e-6, alpha=0.01,
                        learning_rate_init=0.003, max_iter=4, random_state=3)
    assert_same_model(ref, est)


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_sample_weight_parity(small, name, solver):
    X, y = small
    if name == "MLPRegressor":
        y = regression_targets(X)
    sw = np.random.RandomState(0).uniform(0.1, 3.0, len(X))
    sw[::7] = 0.0
    ref, est = fit_both(name, X, y, fit_params={"sample_weight": sw},
                        hidden_layer_sizes=(20,), solver=solver, max_iter=3,
                        learning_rate_init=0.01, random_state=0)
    assert_same_model(ref, est)


def test_sample_weight_changes_the_model(small):
    # Guards the parity test above: weights must matter at all.
    X, y = small
    sw = np.random.RandomState(0).uniform(0.1, 3.0, len(X))
    kw = dict(hidden_layer_sizes=(10,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**kw).fit(X, y)
        b = MLPClassifier(**kw).fit(X, y, sample_weight=sw)
        a0 = MLPClassifier(alpha=0.0, **kw).fit(X, y)
        c0 = MLPClassifier(alpha=0.0, **kw).fit(X, y, sample_weight=np.full(len(X), 2.5))
    assert not np.allclose(flat(a), flat(b))
    # Without the L2 term (divided by the weight sum), uniform weights are no
    # weights: the same mean loss and gradient.
    assert_allclose(flat(c0), flat(a0), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_parity(small, loss, solver, n_outputs):
    X, _ = small
    y = regression_targets(X)
    y = y[:, 0] if n_outputs == 1 else y
    ref, est = fit_both("MLPRegressor", X, y, loss=loss, hidden_layer_sizes=(20, 10),
                        activation="tanh", solver=solver, max_iter=4,
                        learning_rate_init=0.01, random_state=0)
    assert est.out_activation_ == ("exp" if loss == "poisson" else "identity")
    assert_same_model(ref, est)
    pred = est.predict(X[:50])
    assert pred.shape == ((50,) if n_outputs == 1 else (50, n_outputs))
    assert_allclose(pred, ref.predict(X[:50]), rtol=1e-6, atol=1e-9)
    assert_allclose(est.score(X, y), ref.score(X, y), rtol=1e-6)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_binary_parity(small, solver):
    X, y = small
    y = np.where(y % 2 == 0, "even", "odd")
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(20,), solver=solver,
                        max_iter=4, random_state=0)
    assert est.out_activation_ == "logistic"
    assert est.n_outputs_ == 1
    assert_same_model(ref, est)
    assert_same_predictions(ref, est, X)
    assert est.predict_proba(X).shape == (len(X), 2)
    assert_allclose(est.predict_log_proba(X), np.log(est.predict_proba(X)))


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_multilabel_parity(small, solver):
    X, y = small
    Y = np.c_[y % 2, y > 4, y == 3].astype(int)
    ref, est = fit_both("MLPClassifier", X, Y, hidden_layer_sizes=(20,), solver=solver,
                        max_iter=4, random_state=0)
    assert est.out_activation_ == "logistic"
    assert est.n_outputs_ == 3
    assert_same_model(ref, est)
    assert_same_predictions(ref, est, X)
    assert est.predict(X).shape == (len(X), 3)


def test_multiclass_uses_softmax(small):
    X, y = small
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(5,), max_iter=1,
                        random_state=0)
    assert est.out_activation_ == "softmax"
    assert_allclose(est.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "logistic"])
@pytest.mark.parametrize("hidden_layer_sizes", [(), 7, np.array([6, 5]), [4, 4, 4]],
                         ids=["none", "int", "array", "deep"])
def test_hidden_layer_sizes_forms_parity(small, hidden_layer_sizes, activation):
    # 'logistic' changes scikit-learn's Glorot bound of every layer, the
    # output layer included, even without hidden layers.
    X, y = small
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=hidden_layer_sizes,
                        activation=activation, max_iter=2, random_state=0)
    assert_same_model(ref, est)


@pytest.mark.parametrize("batch_size", [77, 1000])
def test_batch_size_not_dividing_n(small, batch_size):
    X, y = small
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(20,),
                            batch_size=batch_size, max_iter=3, random_state=0)
    clipped = [w for w in caught if "It is going to be clipped" in str(w.message)]
    # scikit-learn warns once, fastbp once, when batch_size > n_samples
    assert len(clipped) == (2 if batch_size > len(X) else 0)
    assert_same_model(ref, est)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_shuffle_false_parity(small, solver):
    X, y = small
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(20,), solver=solver,
                        shuffle=False, batch_size=64, max_iter=3, random_state=0)
    assert_same_model(ref, est)
    # shuffling changes the model: the option is not ignored
    _, shuffled = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(20,),
                           solver=solver, batch_size=64, max_iter=3, random_state=0)
    assert not np.allclose(flat(shuffled), flat(est))


def test_random_state_instance_and_reproducibility(small):
    X, y = small
    kw = dict(hidden_layer_sizes=(10,), max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sknn.MLPClassifier(random_state=np.random.RandomState(5), **kw).fit(X, y)
        est = MLPClassifier(random_state=np.random.RandomState(5), **kw).fit(X, y)
    assert_same_model(ref, est)
    _, again = fit_both("MLPClassifier", X, y, random_state=5, **kw)
    assert_array_equal(flat(again), flat(est))
    _, other = fit_both("MLPClassifier", X, y, random_state=6, **kw)
    assert not np.allclose(flat(other), flat(est))


# ---------------------------------------------------------------------------
# partial_fit and warm_start
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_parity(small, solver):
    X, y = small
    classes = np.unique(y)
    ref = sknn.MLPClassifier(hidden_layer_sizes=(20,), solver=solver, random_state=0,
                             learning_rate_init=0.01)
    est = MLPClassifier(hidden_layer_sizes=(20,), solver=solver, random_state=0,
                        learning_rate_init=0.01)
    # the first chunk lacks some classes: classes= must fix the output layer
    chunks = [y < 6, slice(100, 250), slice(250, 400), slice(400, 500)]
    for i, rows in enumerate(chunks):
        kw = {"classes": classes} if i == 0 else {}
        ref.partial_fit(X[rows], y[rows], **kw)
        est.partial_fit(X[rows], y[rows], **kw)
        assert est.n_iter_ == 1
        assert_same_model(ref, est)
    assert est.t_ == (y < 6).sum() + 400
    assert len(est.loss_curve_) == 4
    assert_same_predictions(ref, est, X)


def test_partial_fit_after_fit_parity(small):
    X, y = small
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(20,), max_iter=2,
                        random_state=0)
    for _ in range(2):
        ref.partial_fit(X[:300], y[:300])
        est.partial_fit(X[:300], y[:300])
    assert_same_model(ref, est)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_regressor_partial_fit_parity(small, solver):
    X, _ = small
    Y = regression_targets(X)
    ref = sknn.MLPRegressor(hidden_layer_sizes=(20,), solver=solver, random_state=0,
                            learning_rate_init=0.01)
    est = MLPRegressor(hidden_layer_sizes=(20,), solver=solver, random_state=0,
                       learning_rate_init=0.01)
    for rows in (slice(0, 200), slice(200, 500), slice(0, 500)):
        ref.partial_fit(X[rows], Y[rows])
        est.partial_fit(X[rows], Y[rows])
    assert_same_model(ref, est)


def test_multilabel_partial_fit_parity(small):
    X, y = small
    Y = np.c_[y % 2, y > 4, y == 3].astype(int)
    ref = sknn.MLPClassifier(hidden_layer_sizes=(20,), random_state=0)
    est = MLPClassifier(hidden_layer_sizes=(20,), random_state=0)
    for i in range(3):
        kw = {"classes": [0, 1, 2]} if i == 0 else {}
        ref.partial_fit(X, Y, **kw)
        est.partial_fit(X, Y, **kw)
    assert_same_model(ref, est)


def test_partial_fit_sample_weight_parity(small):
    X, y = small
    sw = np.random.RandomState(1).uniform(0, 2, len(X))
    ref = sknn.MLPClassifier(hidden_layer_sizes=(20,), random_state=0)
    est = MLPClassifier(hidden_layer_sizes=(20,), random_state=0)
    for i in range(3):
        kw = {"classes": np.arange(10)} if i == 0 else {}
        ref.partial_fit(X, y, sample_weight=sw, **kw)
        est.partial_fit(X, y, sample_weight=sw, **kw)
    assert_same_model(ref, est)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_warm_start_parity(small, solver):
    X, y = small
    kw = dict(hidden_layer_sizes=(20,), solver=solver, warm_start=True, max_iter=3,
              random_state=0)
    ref, est = sknn.MLPClassifier(**kw), MLPClassifier(**kw)
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref.fit(X, y)
            est.fit(X, y)
        rtol = 1e-5 if solver == "lbfgs" else 1e-6
        assert_same_model(ref, est, rtol=rtol, atol=1e-8, curve_rtol=1e-7)
    if solver != "lbfgs":
        assert est.t_ == 9 * len(X)
        assert len(est.loss_curve_) == 9


def test_warm_start_false_restarts(small):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=2, random_state=0)
        first = flat(est.fit(X, y)).copy()
        second = flat(est.fit(X, y))
    assert_array_equal(first, second)
    assert len(est.loss_curve_) == 2


# ---------------------------------------------------------------------------
# L-BFGS
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_lbfgs_parity(small, activation):
    X, y = small
    ref, est = fit_both("MLPClassifier", X, y, hidden_layer_sizes=(20,),
                        activation=activation, solver="lbfgs", max_iter=8,
                        random_state=0)
    assert est.n_iter_ == ref.n_iter_
    assert est.t_ == 0
    # the flat vector L-BFGS sees is scikit-learn's _pack order
    assert_allclose(flat(est), flat(ref), rtol=1e-5, atol=1e-7)
    assert_allclose(est.loss_, ref.loss_, rtol=1e-7)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_lbfgs_regressor_parity(small, loss):
    X, _ = small
    Y = regression_targets(X)
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(X))
    ref, est = fit_both("MLPRegressor", X, Y, fit_params={"sample_weight": sw},
                        loss=loss, hidden_layer_sizes=(10, 5), solver="lbfgs",
                        max_iter=6, random_state=0)
    assert_allclose(flat(est), flat(ref), rtol=1e-5, atol=1e-7)
    assert_allclose(est.loss_, ref.loss_, rtol=1e-7)


def test_lbfgs_float32_stays_float32(small):
    X, y = small
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(hidden_layer_sizes=(20,), solver="lbfgs", max_iter=20,
                            random_state=0).fit(X32, y)
        ref = MLPClassifier(hidden_layer_sizes=(20,), solver="lbfgs", max_iter=20,
                            random_state=0).fit(X, y)
    for a in est.coefs_ + est.intercepts_:
        assert a.dtype == np.float32
    assert est.predict_proba(X32).dtype == np.float32
    # a float32 model still learns what the float64 one does
    assert_allclose(est.loss_, ref.loss_, rtol=1e-3)
    assert est.score(X32, y) > 0.9


# ---------------------------------------------------------------------------
# early stopping
# ---------------------------------------------------------------------------


def replicate_validation_rows(est, X, y):
    """The validation rows of ``est``'s fit: scikit-learn draws the initial
    weights (layer by layer, coefs then intercepts), then splits."""
    rs = np.random.RandomState(est.random_state)
    units = [X.shape[1], *est.hidden_layer_sizes, est.n_outputs_]
    factor = 2.0 if est.activation == "logistic" else 6.0
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        rs.uniform(-bound, bound, (fan_in, fan_out))
        rs.uniform(-bound, bound, fan_out)
    _, val_rows = train_test_split(np.arange(len(X)), random_state=rs,
                                   test_size=est.validation_fraction, stratify=y)
    return val_rows


@pytest.mark.parametrize("with_sw", [False, True])
def test_early_stopping_binary_parity(small, with_sw):
    X, y = small
    y = np.where(y < 5, 10, -3)  # binary, unbalanced split boundary
    fit_params = {"sample_weight": np.random.RandomState(0).uniform(0.2, 2, len(X))} \
        if with_sw else {}
    ref, est = fit_both("MLPClassifier", X, y, fit_params=fit_params,
                        hidden_layer_sizes=(20,), early_stopping=True,
                        validation_fraction=0.2, n_iter_no_change=3, max_iter=40,
                        random_state=0)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_
    assert_same_model(ref, est, rtol=1e-6, atol=1e-9)
    assert_same_predictions(ref, est, X)


def test_early_stopping_regressor_parity(small):
    X, _ = small
    Y = regression_targets(X)
    ref, est = fit_both("MLPRegressor", X, Y, hidden_layer_sizes=(20,),
                        early_stopping=True, n_iter_no_change=2, max_iter=30,
                        learning_rate_init=0.01, random_state=0)
    assert_same_model(ref, est, rtol=1e-6, atol=1e-9, curve_rtol=1e-7)


def test_early_stopping_warm_start_parity(small):
    X, y = small
    y = y % 2
    kw = dict(hidden_layer_sizes=(20,), early_stopping=True, warm_start=True,
              max_iter=8, random_state=0)
    ref, est = sknn.MLPClassifier(**kw), MLPClassifier(**kw)
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref.fit(X, y)
            est.fit(X, y)
        assert_same_model(ref, est, rtol=1e-6, atol=1e-9)


def test_early_stopping_multiclass_split_is_stratified(digits):
    X, y = digits
    est = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True,
                        validation_fraction=0.2, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    val_rows = replicate_validation_rows(est, X, y)
    # the replicated split is the one fastbp used: the restored model scores
    # best_validation_score_ on it
    assert est.score(X[val_rows], y[val_rows]) == pytest.approx(
        est.best_validation_score_, abs=1e-12)
    counts_all = np.bincount(y, minlength=10)
    counts_val = np.bincount(y[val_rows], minlength=10)
    assert counts_val.sum() == int(np.ceil(0.2 * len(y)))
    assert np.all(np.abs(counts_val - 0.2 * counts_all) <= 1.0), counts_val
    # a plain random split (scikit-learn's for multiclass) is far less even
    rs_rows = replicate_validation_rows(est, X, None)
    assert np.abs(np.bincount(y[rs_rows], minlength=10) - 0.2 * counts_all).max() > 1


def test_early_stopping_restores_best_weights(small):
    X, y = small
    kw = dict(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=0.8,
              early_stopping=True, validation_fraction=0.2, n_iter_no_change=4,
              max_iter=40, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(**kw).fit(X, y)
    scores = np.asarray(est.validation_scores_)
    best = int(np.argmax(scores))
    # the set-up must make the last epoch worse than the best one
    assert best < len(scores) - 1
    assert scores[-1] < scores[best]
    assert est.best_validation_score_ == scores[best]
    # the returned model is the best epoch's: it scores best_validation_score_
    val_rows = replicate_validation_rows(est, X, y)
    assert est.score(X[val_rows], y[val_rows]) == est.best_validation_score_
    # ... and is exactly the model trained for best + 1 epochs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        short = MLPClassifier(**{**kw, "max_iter": best + 1}).fit(X, y)
    assert short.n_iter_ == best + 1
    assert_array_equal(flat(short), flat(est))
    # the training loss history still covers every epoch run
    assert len(est.loss_curve_) == est.n_iter_ == len(scores)


def test_early_stopping_sparse_matches_sklearn(small):
    X, y = small
    ref, est = fit_both("MLPClassifier", sp.csr_matrix(X), y % 2,
                        hidden_layer_sizes=(10,), early_stopping=True,
                        n_iter_no_change=2, max_iter=15, random_state=0)
    assert_same_model(ref, est, rtol=1e-6, atol=1e-9)


def test_early_stopping_tiny_multiclass_matches_sklearn(small):
    # Too few rows to stratify 10 classes: fastbp falls back to
    # scikit-learn's plain split (where a stratified split would raise).
    X, y = small
    ref, est = fit_both("MLPClassifier", X[:60], y[:60], hidden_layer_sizes=(10,),
                        early_stopping=True, max_iter=5, random_state=0)
    assert_same_model(ref, est)


def test_early_stopping_multilabel_parity(small):
    X, y = small
    Y = np.c_[y % 2, y > 4].astype(int)
    ref, est = fit_both("MLPClassifier", X, Y, hidden_layer_sizes=(20,),
                        early_stopping=True, n_iter_no_change=2, max_iter=20,
                        random_state=0)
    assert_same_model(ref, est, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------
# a full default fit
# ---------------------------------------------------------------------------


def test_default_fit_accuracy_matches_sklearn(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    ref, est = fit_both("MLPClassifier", X_train, y_train, random_state=0)
    acc_ref = ref.score(X_test, y_test)
    acc = est.score(X_test, y_test)
    assert acc > 0.9
    assert abs(acc - acc_ref) <= 0.01, (acc, acc_ref)
    assert est.n_iter_ == ref.n_iter_


# ---------------------------------------------------------------------------
# dtypes, containers and sparse input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_float32_end_to_end(small, solver):
    X, y = small
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(20,), solver=solver, max_iter=5,
                            random_state=0).fit(X32, y)
        reg = MLPRegressor(hidden_layer_sizes=(20,), solver=solver, max_iter=5,
                           random_state=0).fit(X32, regression_targets(X32))
        clf64 = MLPClassifier(hidden_layer_sizes=(20,), solver=solver, max_iter=5,
                              random_state=0).fit(X, y)
    for est in (clf, reg):
        assert all(a.dtype == np.float32 for a in est.coefs_ + est.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float32
    assert clf.predict_log_proba(X32).dtype == np.float32
    assert reg.predict(X32).dtype == np.float32
    assert all(a.dtype == np.float64 for a in clf64.coefs_ + clf64.intercepts_)
    assert clf64.predict_proba(X).dtype == np.float64
    # float32 follows the float64 model closely over a few epochs
    assert_allclose(flat(clf), flat(clf64), rtol=1e-2, atol=1e-3)


def test_float32_partial_fit(small):
    X, y = small
    X32 = X.astype(np.float32)
    est = MLPClassifier(hidden_layer_sizes=(10,), random_state=0)
    for _ in range(2):
        est.partial_fit(X32, y, classes=np.arange(10))
    assert est.coefs_[0].dtype == np.float32
    assert est._optimizer.state_1.dtype == np.float32


def test_pandas_input(small):
    import pandas as pd
    X, y = small
    cols = [f"pixel_{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=cols)
    est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(df, pd.Series(y))
        plain = clone(est).fit(X, y)
    assert_array_equal(est.feature_names_in_, np.array(cols, dtype=object))
    assert est.n_features_in_ == 64
    assert not hasattr(plain, "feature_names_in_")
    assert_array_equal(flat(est), flat(plain))
    assert_array_equal(est.predict(df), plain.predict(X))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict(X)
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(df[cols[::-1]])
    # string labels in a pandas Series
    lab = pd.Series(np.array(["zero", "one", "two"])[y % 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(df, lab)
    assert set(est.predict(df)) <= {"zero", "one", "two"}


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sparse_matches_dense(small, fmt, solver):
    X, y = small
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    kw = dict(hidden_layer_sizes=(20,), solver=solver, max_iter=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MLPClassifier(**kw).fit(X, y)
        sparse = MLPClassifier(**kw).fit(Xs, y)
    assert_allclose(flat(sparse), flat(dense), rtol=0, atol=1e-10)
    assert_allclose(sparse.loss_, dense.loss_, rtol=1e-12)
    assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), rtol=0, atol=1e-10)
    assert_allclose(dense.predict_proba(Xs), dense.predict_proba(X), rtol=0, atol=1e-12)


def test_sparse_regressor_and_partial_fit(small):
    X, _ = small
    Y = regression_targets(X)
    Xs = sp.csr_matrix(X)
    sw = np.random.RandomState(0).uniform(0.5, 1.5, len(X))
    a = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    b = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(3):
        a.partial_fit(X, Y, sample_weight=sw)
        b.partial_fit(Xs, Y, sample_weight=sw)
    assert_allclose(flat(b), flat(a), rtol=0, atol=1e-10)
    ref = sknn.MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(3):
        ref.partial_fit(Xs, Y, sample_weight=sw)
    assert_same_model(ref, b)


def test_sparse_targets_train_as_dense_ones(small):
    # scikit-learn's validation lets a sparse multi-output y through, and
    # fastbp failed with NumPy's "setting an array element with a sequence".
    X, _ = small
    Y = regression_targets(X)
    kw = dict(hidden_layer_sizes=(8,), random_state=0, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MLPRegressor(**kw).fit(X, Y)
        sparse_fits = [MLPRegressor(**kw).fit(X, fmt(Y)) for fmt in (sp.csr_matrix, sp.csc_matrix)]
    for fmt, sparse in zip((sp.csr_matrix, sp.csc_matrix), sparse_fits):
        assert_array_equal(flat(sparse), flat(dense))
        sparse.partial_fit(X, fmt(Y))


def test_non_contiguous_input(small):
    X, y = small
    Xf = np.asfortranarray(X)
    Xstrided = np.repeat(X, 2, axis=1)[:, ::2]
    kw = dict(hidden_layer_sizes=(10,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**kw).fit(X, y)
        b = MLPClassifier(**kw).fit(Xf, y)
        c = MLPClassifier(**kw).fit(Xstrided, y)
    assert_array_equal(flat(a), flat(b))
    assert_array_equal(flat(a), flat(c))
    assert_array_equal(a.predict_proba(Xf), a.predict_proba(X))


# ---------------------------------------------------------------------------
# pickling, meta-estimators, threads
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_pickle_round_trip(small, solver):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(hidden_layer_sizes=(10,), solver=solver, max_iter=3,
                            random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    assert_array_equal(restored.predict(X), est.predict(X))
    assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    assert restored.get_params() == est.get_params()
    if solver == "adam":
        # the optimizer state survives: training goes on identically
        est.partial_fit(X, y)
        restored.partial_fit(X, y)
        assert_array_equal(flat(restored), flat(est))


def test_pickle_regressor(small):
    X, _ = small
    Y = regression_targets(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressor(hidden_layer_sizes=(10,), max_iter=3, random_state=0).fit(X, Y)
    restored = pickle.loads(pickle.dumps(est))
    assert_array_equal(restored.predict(X), est.predict(X))


def _grid(n_jobs):
    pipe = Pipeline([("scale", StandardScaler()),
                     ("mlp", MLPClassifier(max_iter=20, learning_rate_init=0.01,
                                           random_state=0))])
    grid = {"mlp__hidden_layer_sizes": [(8,), (16,)], "mlp__alpha": [1e-4, 1e-1]}
    return GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs)


def test_pipeline_grid_search(small):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = _grid(n_jobs=1).fit(X, y)
    assert set(search.best_params_) == {"mlp__hidden_layer_sizes", "mlp__alpha"}
    assert search.best_score_ > 0.7
    assert search.score(X, y) > 0.8
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_grid_search_threading_backend_matches_serial(small):
    from joblib import parallel_config

    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = _grid(n_jobs=1).fit(X, y)
        with parallel_config(backend="threading"):
            threaded = _grid(n_jobs=2).fit(X, y)
    assert_array_equal(threaded.cv_results_["mean_test_score"],
                       serial.cv_results_["mean_test_score"])
    assert_array_equal(threaded.cv_results_["split0_test_score"],
                       serial.cv_results_["split0_test_score"])
    assert threaded.best_params_ == serial.best_params_
    mlp_s = serial.best_estimator_.named_steps["mlp"]
    mlp_t = threaded.best_estimator_.named_steps["mlp"]
    assert_array_equal(flat(mlp_t), flat(mlp_s))


def test_concurrent_fits_in_threads(small):
    X, y = small
    params = [dict(hidden_layer_sizes=(h,), solver=s, max_iter=4, random_state=i)
              for i, (h, s) in enumerate([(10, "adam"), (20, "sgd"), (15, "lbfgs"),
                                          (12, "adam")])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = [flat(MLPClassifier(**p).fit(X, y)) for p in params]
        results = [None] * len(params)

        def work(i):
            results[i] = flat(MLPClassifier(**params[i]).fit(X, y))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(params))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for a, b in zip(serial, results):
        assert_array_equal(b, a)


# ---------------------------------------------------------------------------
# verbose and warnings
# ---------------------------------------------------------------------------


def test_verbose_prints_iterations(small, capsys):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sknn.MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=0,
                                 verbose=True).fit(X, y)
        expected = capsys.readouterr().out
        MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=0,
                      verbose=True).fit(X, y)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Iteration 1, loss = ")
    assert [l for l in lines if l.startswith("Iteration")] == [
        f"Iteration {i}, loss = {ref.loss_curve_[i - 1]:.8f}" for i in (1, 2, 3)]
    assert out == expected


def test_verbose_early_stopping_messages(small, capsys):
    X, y = small
    MLPClassifier(hidden_layer_sizes=(10,), max_iter=50, random_state=0, verbose=True,
                  early_stopping=True, n_iter_no_change=1, tol=0.5).fit(X, y)
    out = capsys.readouterr().out
    assert "Validation score: " in out
    assert "Validation score did not improve more than tol=0.500000 for 1 " \
           "consecutive epochs. Stopping." in out


def test_silent_by_default(small, capsys):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(10,), max_iter=2, random_state=0).fit(X, y)
        MLPClassifier(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=2,
                      random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_convergence_warning_at_max_iter(small, solver):
    X, y = small
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        MLPClassifier(hidden_layer_sizes=(10,), solver=solver, max_iter=3,
                      random_state=0).fit(X, y)


def test_convergence_warning_lbfgs(small):
    X, y = small
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=2,
                      random_state=0).fit(X, y)


def test_no_convergence_warning_when_converged(small):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=500, tol=0.5,
                            n_iter_no_change=1, random_state=0).fit(X, y)
    assert est.n_iter_ < 500


def test_partial_fit_emits_no_convergence_warning(small):
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(10,), max_iter=1).partial_fit(
            X, y, classes=np.arange(10))


def test_lbfgs_has_no_partial_fit():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")
    assert hasattr(MLPRegressor(solver="adam"), "partial_fit")


@pytest.mark.parametrize("labels", [
    np.array([0, 1]), np.array([3, 7, 9]), np.array(["a", "b"]), np.array(["x", "y", "z"]),
    np.array([-1.0, 2.0, 8.0]),
])
def test_fast_binarize_equals_label_binarizer(labels):
    from sklearn.preprocessing import LabelBinarizer

    rng = np.random.RandomState(0)
    y = labels[rng.randint(0, len(labels), 50)]
    y[: len(labels)] = labels
    est = MLPClassifier()
    est._label_binarizer = LabelBinarizer().fit(y)
    est.classes_ = est._label_binarizer.classes_
    np.testing.assert_array_equal(est._binarize(y),
                                  est._label_binarizer.transform(y).astype(bool))


@pytest.mark.parametrize("labels", [
    np.array([0, 1], dtype=np.int8), np.array([3, 7, 9]), np.array([5], dtype=np.uint16),
    np.array([2, 40000], dtype=np.uint32), np.arange(12, dtype=np.int32) - 6,
    np.array([1, 4, 6], dtype=">i8"),  # big-endian labels: the slow path's native classes_
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_fit_input_skips_validation_with_the_same_state(monkeypatch, labels, dtype):
    # A first fit on a plain float array and 1-D integer labels sets what
    # validate_data and LabelBinarizer.fit would, without them.
    from fastbp.estimators import classifier

    rng = np.random.RandomState(0)
    X = rng.standard_normal((40, 3)).astype(dtype)
    y = labels[rng.randint(0, len(labels), 40)]
    y[: len(labels)] = labels

    def state(est):
        X_out, Y = est._validate_input(X, y, incremental=False, reset=True)
        binarizer = est._label_binarizer
        return (X_out, Y, est.classes_, est.n_features_in_, hasattr(est, "feature_names_in_"),
                {k: v for k, v in vars(binarizer).items()}, binarizer.get_params())

    named = MLPClassifier()
    named.feature_names_in_ = np.array(["a", "b", "c"], dtype=object)
    fast = state(named)
    assert fast[0] is X
    monkeypatch.setattr(classifier, "_plain_fit_input", lambda X, y: False)
    named_slow = MLPClassifier()
    named_slow.feature_names_in_ = np.array(["a", "b", "c"], dtype=object)
    slow = state(named_slow)
    assert_array_equal(fast[1], slow[1])
    assert fast[1].dtype == slow[1].dtype
    assert_array_equal(fast[2], slow[2])
    assert fast[2].dtype == slow[2].dtype
    assert fast[3:5] == slow[3:5] == (3, False)
    assert fast[5].keys() == slow[5].keys()
    for key, value in slow[5].items():
        assert_array_equal(fast[5][key], value)
        assert np.asarray(fast[5][key]).dtype == np.asarray(value).dtype
    assert fast[6] == slow[6]


@pytest.mark.parametrize("labels", [np.array([0, 1], dtype=np.int8), np.array([3, 7, 9]),
                                    np.arange(12, dtype=np.uint16), np.array(["a", "b", "c"])])
def test_score_equals_accuracy_score(labels):
    from sklearn.base import ClassifierMixin
    from sklearn.metrics import accuracy_score

    rng = np.random.RandomState(0)
    X = rng.standard_normal((90, 4))
    y = labels[rng.randint(0, len(labels), 90)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, y)
    pred = clf.predict(X)
    wanted = accuracy_score(y, pred)
    assert clf.score(X, y) == wanted and type(clf.score(X, y)) is float
    # Labels the model never saw count as wrong, as in accuracy_score.
    other = y.copy()
    if other.dtype.kind in "iu":
        other[:10] = 100
    assert clf.score(X, other) == accuracy_score(other, pred)
    w = rng.rand(90)
    assert clf.score(X, y, sample_weight=w) == ClassifierMixin.score(clf, X, y, sample_weight=w)
    assert clf.score(X, list(y)) == wanted
    with pytest.raises(ValueError):
        clf.score(X, y[:-1])
    with pytest.raises(ValueError):  # not an IndexError
        clf.score(np.array(1.0), y[:1])


def test_plain_fit_input_takes_only_what_validation_would_pass_as_is():
    from fastbp.estimators.classifier import _plain_fit_input

    X = np.ones((4, 2))
    y = np.array([0, 1, 0, 1])
    assert _plain_fit_input(X, y) and _plain_fit_input(X.astype(np.float32), y)
    bad_X = [X.astype(np.float16), X.astype(int), np.asfortranarray(np.ones((4, 3)))[:, :2],
             np.ones((0, 2)), np.ones((4, 0)), X.tolist()]
    nan = X.copy()
    nan[1, 1] = np.nan
    bad_X.append(nan)
    read_only = X.copy()
    read_only.flags.writeable = False
    bad_X.append(read_only)
    for bad in bad_X:
        assert not _plain_fit_input(bad, y)
    for bad in (y.astype(float), y.astype(str), y.reshape(-1, 1), y[:3], y.astype(bool),
                y.tolist()):
        assert not _plain_fit_input(X, bad)
    # Such input still fits, through scikit-learn's validation.
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier(max_iter=1).fit(nan, y)


# ---------------------------------------------------------------------------
# prediction: the plain-array shortcut past scikit-learn's validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_arrays_predict_as_validated_input_does(small, dtype):
    # A C-contiguous array of the model's dtype skips validate_data; every
    # other form takes it. Each dense form must give the same outputs bit for bit.
    X, y = small
    X = X.astype(dtype)
    clf = MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y)
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(
        X, regression_targets(X))
    other = np.float64 if dtype == np.float32 else np.float32
    for model, method in ((clf, "predict_proba"), (clf, "predict"), (reg, "predict")):
        plain = getattr(model, method)(X)
        read_only = X.copy()
        read_only.flags.writeable = False
        for form in (np.asfortranarray(X), X.tolist(), read_only, X[::-1][::-1].copy(),
                     X.astype(other).astype(dtype).astype(other)
                     if dtype == np.float64 else X):
            assert_array_equal(getattr(model, method)(form), plain)
        # Sparse X, row by row and in blocks of odd sizes, to rounding: the
        # CSR product sums each row in column order, which BLAS's gemm
        # matches on some CPUs' kernels and not on others (1 ulp in float32
        # on AMD Zen), and BLAS sums a product of one row in another order
        # than a product of many. Outputs near zero come from cancellation,
        # so the absolute tolerance follows the outputs' scale.
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        tol = dict(rtol=rtol, atol=rtol * np.abs(plain).max())
        assert_allclose(getattr(model, method)(sp.csr_matrix(X)), plain, **tol)
        for rows in (slice(0, 1), slice(3, 4), slice(0, 100), slice(7, 300)):
            assert_allclose(getattr(model, method)(np.ascontiguousarray(X[rows])),
                            plain[rows], **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predicted_labels_are_the_binarizers_decisions(small, dtype):
    # predict decodes outputs itself rather than through
    # LabelBinarizer.inverse_transform (90 us of array-API dispatch per
    # call); the labels, their dtype and every tie and NaN must stay its.
    X, y = small
    X = X.astype(dtype)
    rng = np.random.default_rng(0)
    targets = {
        "multiclass": y,
        "binary strings": np.where(y % 2 == 0, "even", "odd"),
        "binary -1/+1": np.where(y < 5, -1, 1),
        "multiclass strings": np.array(["a", "b", "c"], dtype=object)[y % 3],
        "multilabel": np.c_[y % 2, y < 5, y == 7].astype(int),
        # helper-145: a sparse y's labels came back dense, the binarizer's CSR.
        "sparse multilabel": sp.csr_matrix(np.c_[y % 2, y < 5, y == 7].astype(int)),
    }
    for name, target in targets.items():
        clf = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, target)
        out = rng.random((50, clf.n_outputs_)).astype(dtype)
        out[:10] = 0.5                        # ties, and the threshold itself
        out[10:13] = np.nan
        out[13, 0] = np.nan
        out[14:20] = np.round(out[14:20], 1)  # more ties
        binarizer = clf._label_binarizer
        expected = binarizer.inverse_transform(out.ravel() if clf.n_outputs_ == 1 else out)
        got = clf._decode(out)
        assert type(got) is type(expected) and got.dtype == expected.dtype, name

        def dense(a):
            return a.toarray() if sp.issparse(a) else a

        assert_array_equal(dense(got), dense(expected), err_msg=name)
        predicted = clf.predict(X)
        assert type(predicted) is type(expected), name
        assert_array_equal(dense(predicted), dense(binarizer.inverse_transform(
            clf.predict_proba(X)[:, 1:] if clf.n_outputs_ == 1 else
            clf.predict_proba(X))), err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_repeated_plain_predictions_call_the_compiled_kernel_directly(small, dtype, monkeypatch):
    # Calls after the first skip the dispatcher's typing of the arguments;
    # only the plain form may, since the kept function trusts their types.
    from fastbp.training import predict as predict_module

    X, y = small
    X = np.ascontiguousarray(X, dtype=dtype)
    clf = MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y)
    reference = clf.predict_proba(X)
    direct = []
    real = predict_module.compiled_entry

    def spy(dispatcher, args):
        entry = real(dispatcher, args)
        assert entry is not None, "no compiled version found for a call just made"

        def counted(*call_args):
            direct.append(call_args[0].X.dtype)
            return entry(*call_args)
        return counted

    predict_module.inference_plan.cache_clear()
    monkeypatch.setattr(predict_module, "compiled_entry", spy)
    try:
        assert_array_equal(clf.predict_proba(X), reference)  # through the dispatcher
        assert direct == []
        assert_array_equal(clf.predict_proba(X), reference)
        assert_array_equal(clf.predict(X), clf.classes_[reference.argmax(axis=1)])
        assert direct == [np.dtype(dtype)] * 2
        # Not plain: read-only, unaligned, another dtype. The dispatcher types them.
        read_only = X.copy()
        read_only.flags.writeable = False
        raw = np.zeros(X.nbytes + 1, np.uint8)
        unaligned = np.frombuffer(raw.data, dtype, count=X.size, offset=1).reshape(X.shape)
        unaligned[...] = X
        assert not unaligned.flags.aligned
        other = X.astype(np.float64 if dtype == np.float32 else np.float32)
        for form in (read_only, unaligned):
            assert_array_equal(clf.predict_proba(form), reference)
        assert_allclose(clf.predict_proba(other), reference, rtol=1e-5, atol=1e-6)
        assert len(direct) == 2
    finally:
        predict_module.inference_plan.cache_clear()


def test_predictions_follow_coefs_changed_in_place(small):
    # The attributes are views of the buffers that prediction reads.
    X, y = small
    clf = MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y)
    before = clf.predict_proba(X[:5])
    clf.coefs_[1] *= 2.0
    clf.intercepts_[1][:] = 0.0
    after = clf.predict_proba(X[:5])
    assert not np.allclose(before, after)
    ref = sknn.MLPClassifier((16,))
    for name in ("coefs_", "intercepts_", "n_layers_", "n_outputs_", "out_activation_",
                 "classes_", "n_features_in_", "_label_binarizer"):
        setattr(ref, name, getattr(clf, name))
    ref.activation = clf.activation
    assert_allclose(after, ref.predict_proba(X[:5]), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predictions_follow_replaced_and_copied_parameters(small, dtype):
    # Prediction reuses the fit's flat buffers only while the attributes
    # are the views of them that the fit made; a replaced array, a copy
    # (pickle, deepcopy, skops) or a batch-norm statistic changed in place
    # all predict as a model built from the attributes alone.
    X, y = small
    X = np.ascontiguousarray(X, dtype=dtype)
    clf = MLPClassifier((16, 8), normalization="batch", max_iter=3,
                        random_state=0).fit(X, y)
    params, running, _ = clf._packed
    assert clf.coefs_[0].base is params and clf.running_mean_[0].base is running

    def reference(model):
        fresh = copy.copy(model)
        fresh.__dict__ = {k: v for k, v in model.__dict__.items() if k != "_packed"}
        fresh.coefs_ = [c.copy() for c in model.coefs_]
        return fresh.predict_proba(X[:7])

    before = clf.predict_proba(X[:7])
    assert_array_equal(before, reference(clf))
    clf.running_var_[0] *= 4.0  # in place: reaches the buffer
    assert not np.allclose(clf.predict_proba(X[:7]), before)
    assert_array_equal(clf.predict_proba(X[:7]), reference(clf))
    clf.coefs_[0] = clf.coefs_[0] * 2  # replaced: packed again
    assert_array_equal(clf.predict_proba(X[:7]), reference(clf))

    fitted = MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y)
    pickled = pickle.dumps(fitted)
    assert b"_packed" not in pickled  # the parameters are saved once
    for copied in (pickle.loads(pickled), copy.deepcopy(fitted)):
        assert "_packed" not in copied.__dict__
        copied.coefs_[0] *= -1
        assert_array_equal(copied.predict_proba(X[:7]), reference(copied))
    assert_array_equal(fitted.predict_proba(X[:7]), reference(fitted))
    # A NaN in a plain X is found by the kernel, then named by validation.
    bad = X[:3].copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.predict(bad)


def test_parameter_arrays_of_the_wrong_size_raise_at_predict(small):
    X, y = small
    clf = MLPClassifier((16,), max_iter=3, random_state=0).fit(X, y)
    clf.intercepts_[0] = clf.intercepts_[0][:-1]
    with pytest.raises(ValueError, match="parameter arrays do not match its architecture"):
        clf.predict(X[:2])


def test_plain_array_from_a_model_fitted_with_feature_names_still_warns(small):
    import pandas as pd
    X, y = small
    df = pd.DataFrame(X, columns=[f"p{i}" for i in range(X.shape[1])])
    clf = MLPClassifier((8,), max_iter=2, random_state=0).fit(df, y)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(np.ascontiguousarray(X[:3]))


def test_partial_fit_on_plain_arrays_trains_as_validated_input_does(small):
    # Later partial_fit calls with a plain X and integer labels skip
    # scikit-learn's validation; lists take it. Both must train alike.
    X, y = small
    classes = np.unique(y)
    fast = MLPClassifier((16,), random_state=0)
    slow = MLPClassifier((16,), random_state=0)
    for _ in range(3):
        fast.partial_fit(X, y, classes=classes)
        slow.partial_fit(X.tolist(), y.tolist(), classes=classes.tolist())
    for a, b in zip(fast.coefs_ + fast.intercepts_, slow.coefs_ + slow.intercepts_):
        assert_array_equal(a, b)
    # A label outside classes_ still fails with scikit-learn's message,
    # leaving the model as it was.
    before = [c.copy() for c in fast.coefs_]
    bad = y.copy()
    bad[3] = 99
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        fast.partial_fit(X, bad)
    with pytest.raises(ValueError, match="is not the same as on last call"):
        fast.partial_fit(X, y, classes=classes[:-1])
    for a, b in zip(before, fast.coefs_):
        assert_array_equal(a, b)


@pytest.mark.parametrize("params", [{}, {"normalization": "batch", "dropout": 0.2}],
                         ids=["lean", "toolkit"])
def test_a_partial_fit_stream_reuses_its_work_buffers_without_changing_results(small, params):
    # Each call reuses the work buffers the call before released, where
    # they fit its batch size: the results must be those of fresh buffers
    # (the dropout masks, batch statistics and dead-unit tracker included).
    X, y = small
    classes = np.unique(y)
    reused = MLPClassifier((16, 8), batch_size=64, random_state=0, **params)
    fresh = clone(reused)
    batches = [slice(0, 100), slice(100, 200), slice(200, 257), slice(300, 400),
               slice(400, 430), slice(430, 500)]  # 57 and 30 rows: smaller batches
    kept = []
    for rows in batches:
        reused.partial_fit(X[rows], y[rows], classes=classes)
        kept.append(_spare_workspaces.get(reused))
        _take(_spare_workspaces, fresh)
        fresh.partial_fit(X[rows], y[rows], classes=classes)
    assert kept[1] is kept[0] and kept[3] is not kept[2] and kept[5] is not kept[4]
    for a, b in zip(_fitted_arrays(reused), _fitted_arrays(fresh)):
        assert_array_equal(a, b)
    # A saved or copied model has no work buffers, and a fit keeps none.
    assert _spare_workspaces.get(pickle.loads(pickle.dumps(reused))) is None
    assert _spare_workspaces.get(copy.deepcopy(reused)) is None
    assert _spare_workspaces.get(copy.copy(reused)) is None
    reused.set_params(max_iter=2).fit(X[:100], y[:100])
    assert _spare_workspaces.get(reused) is None


def _fitted_arrays(model):
    return [*model.coefs_, *model.intercepts_, *model.running_mean_, *model.running_var_,
            *model.normalization_scales_, *model.normalization_shifts_]


def test_shallow_copies_of_a_stream_train_in_threads_as_one_after_the_other(small):
    # Copies of a model never share its spare work buffers, and a call takes
    # the spare out, so that a concurrent call of the same model makes its
    # own.
    from fastbp.training.workspace import Workspace

    X, y = small
    model = MLPClassifier((32,), batch_size=32, random_state=0)
    model.partial_fit(X[:64], y[:64], classes=np.unique(y))
    spare = _take(_spare_workspaces, model)  # as a call takes it
    assert spare is not None and _take(_spare_workspaces, model) is None
    spec = spare._spec
    assert Workspace.reuse(spare, spec, 32, spare.acts.dtype, True) is spare
    assert Workspace.reuse(None, spec, 32, spare.acts.dtype, True) is not spare
    _keep(_spare_workspaces, model, spare)

    def stream(m, offset):
        for i in range(40):
            start = (offset + 32 * i) % 468
            rows = slice(start, start + 32)
            m.partial_fit(X[rows], y[rows])
        return m

    expected = [stream(copy.copy(model), offset) for offset in (0, 250)]
    copies = [copy.copy(model), copy.copy(model)]
    assert _spare_workspaces.get(copies[0]) is None
    threads = [threading.Thread(target=stream, args=(m, offset))
               for m, offset in zip(copies, (0, 250))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(copies, expected):
        for a, b in zip(got.coefs_ + got.intercepts_, want.coefs_ + want.intercepts_):
            assert_array_equal(a, b)


@pytest.mark.parametrize("classes", [np.arange(4), np.array([3, 7, 100]), np.array([-5, 2]),
                                     np.array([10**12, 10**12 + 5, 10**13]),
                                     np.arange(300) * 2],  # no identity kept
                         ids=lambda c: str(c[:4]))
def test_direct_binarization_matches_label_binarizer(classes):
    from sklearn.preprocessing import LabelBinarizer

    rng = np.random.default_rng(0)
    est = MLPClassifier()
    est.classes_ = classes
    est._label_binarizer = LabelBinarizer().fit(classes)
    y = rng.choice(classes, 500)
    assert_array_equal(est._binarize(y, known_only=True),
                       est._label_binarizer.transform(y).astype(bool))
    # A label outside classes_, below, above or in a gap, is not binarized.
    for unknown in (classes.min() - 1, classes.max() + 1, classes[0] + 1):
        if unknown in classes:
            continue
        bad = y.copy()
        bad[7] = unknown
        assert est._binarize(bad, known_only=True) is None
    # The lookup is kept per classes_ array: other classes, other lookup.
    est.classes_ = classes + 1
    est._label_binarizer = LabelBinarizer().fit(classes + 1)
    assert classes[0] in y and est._binarize(y, known_only=True) is None
    shifted = y + 1
    assert_array_equal(est._binarize(shifted, known_only=True),
                       est._label_binarizer.transform(shifted).astype(bool))
    # A copy drops the lookup and builds it again.
    copied = pickle.loads(pickle.dumps(est))
    assert "_class_lookup_cache" not in vars(copied)
    assert_array_equal(copied._binarize(shifted, known_only=True),
                       est._binarize(shifted, known_only=True))


@pytest.mark.parametrize("labels", [
    np.array([-100, 100], dtype=np.int8), np.array([-100, 0, 100], dtype=np.int8),
    np.array([-20000, 20000], dtype=np.int16), np.array([-2 * 10**9, 2 * 10**9], dtype=np.int32),
    np.array([np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max]),
    np.array([0, 2**63, 2**64 - 1], dtype=np.uint64),
], ids=lambda c: f"{c.dtype}{c.tolist()}")
def test_integer_labels_whose_span_overflows_their_dtype(labels):
    # The span of the labels (and a label's offset from the lowest) does
    # not fit the labels' dtype: scikit-learn fits these, and so must fastbp.
    X, y = load_iris(return_X_y=True)
    yy = labels[y % len(labels)]
    ours = MLPClassifier((5,), max_iter=3, random_state=0)
    theirs = sknn.MLPClassifier((5,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, yy)
        theirs.fit(X, yy)
        assert_array_equal(ours.predict(X), theirs.predict(X))
        ours.partial_fit(X, yy)
        theirs.partial_fit(X, yy)
    assert_array_equal(ours.classes_, theirs.classes_)
    assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("model_dtype, other", [(np.float64, np.float32),
                                                 (np.float32, np.float64)])
def test_partial_fit_goes_on_in_the_model_dtype(model_dtype, other):
    # As its predictions do: X of the other dtype is cast to the model's,
    # the same as the caller casting it; values beyond float32 are refused.
    X, y = load_iris(return_X_y=True)
    a = MLPClassifier((4,), random_state=0).partial_fit(X.astype(model_dtype), y,
                                                        classes=[0, 1, 2])
    b = clone(a).partial_fit(X.astype(model_dtype), y, classes=[0, 1, 2])
    a.partial_fit(X.astype(other), y)
    b.partial_fit(X.astype(other).astype(model_dtype), y)
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert u.dtype == model_dtype
        assert_array_equal(u, v)
    if model_dtype == np.float32:
        before = [c.copy() for c in a.coefs_]
        with pytest.raises(ValueError, match="beyond float32's range"):
            a.partial_fit(X * 1e300, y)
        for u, v in zip(before, a.coefs_):
            assert_array_equal(u, v)


def test_label_lookup_follows_classes_changed_in_place():
    X, _ = load_iris(return_X_y=True)
    y = np.arange(150) % 3
    est = MLPClassifier((3,), max_iter=2).fit(X, y)
    est.partial_fit(X, y)
    est.classes_[1:] = [2, 3]  # the binarizer's classes_ too: the same array
    labels = np.array([0, 2, 3, 0])
    assert_array_equal(est._binarize(labels, known_only=True),
                       est._label_binarizer.transform(labels).astype(bool))


def test_int64_labels_against_uint64_classes():
    X, _ = load_iris(return_X_y=True)
    y = np.arange(150) % 3
    est = MLPClassifier((3,), max_iter=2).partial_fit(X, y, classes=np.arange(3, dtype=np.uint64))
    before = [c.copy() for c in est.coefs_]
    est.partial_fit(X, y)
    assert any(not np.array_equal(a, b) for a, b in zip(before, est.coefs_))


@pytest.mark.parametrize("labels", [[0, 1], ["b", "a"], [3, 1, 2], ["x", "z", "y", "w"]],
                         ids=["binary", "binary-str", "multiclass", "multiclass-str"])
def test_early_stopping_accuracy_matches_accuracy_score(small, labels):
    # Early stopping scores every epoch through a shortcut past
    # accuracy_score's validation; it must give the same float, ties included.
    X, _ = small
    labels = np.array(labels)
    rng = np.random.RandomState(0)
    y = labels[rng.randint(0, len(labels), len(X))]
    clf = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    n_out = clf.n_outputs_
    for n in (1, 7, 200):
        y_val = labels[rng.randint(0, len(labels), n)]
        for trial in range(5):
            out = rng.uniform(size=(n, n_out)).astype(np.float32)
            out[::3] = 0.5  # the binary threshold, and ties for argmax
            if trial % 2:
                out = out.astype(np.float64)
            fast = clf._outputs_scorer(y_val, None)(out)
            assert isinstance(fast, float)
            assert fast == clf._score_outputs(out, y_val, None)
    weights = rng.uniform(size=len(y_val))
    out = rng.uniform(size=(len(y_val), n_out))
    assert (clf._outputs_scorer(y_val, weights)(out)
            == clf._score_outputs(out, y_val, weights))
    # A label the model never saw counts as wrong, as in accuracy_score.
    unseen = np.array(["q" if labels.dtype.kind == "U" else 99] * 3, dtype=labels.dtype)
    out = rng.uniform(size=(3, n_out))
    assert clf._outputs_scorer(unseen, None)(out) == clf._score_outputs(out, unseen, None) == 0


def test_early_stopping_with_a_single_class_scores_as_scikit_learn(small):
    # One class: every output decodes to it, so every validation score is 1.
    X, _ = small
    y = np.full(len(X), 7)
    clf = MLPClassifier((8,), max_iter=5, early_stopping=True, random_state=0).fit(X, y)
    ref = sknn.MLPClassifier((8,), max_iter=5, early_stopping=True, random_state=0).fit(X, y)
    assert clf.validation_scores_ == ref.validation_scores_ == [1.0] * clf.n_iter_
    out = np.random.RandomState(0).uniform(size=(9, 1))
    assert clf._outputs_scorer(np.full(9, 7), None)(out) == 1.0


# helper-120's review found these (fixed by helper-129).


@pytest.mark.parametrize("change", [{"max_iter": 200.0}, {"random_state": 0.0},
                                    {"batch_size": 50.0}, {"shuffle": 1}])
def test_partial_fit_checks_a_changed_parameter_that_compares_equal(small, change):
    # helper-120: set_params(max_iter=200.0) between partial_fit calls went
    # unchecked because 200.0 == 200 (a TypeError deep in training; a float
    # batch_size trained on); fit refuses each.
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = small
    clf = MLPClassifier((8,), random_state=0, batch_size=50, max_iter=200,
                        learning_rate="cosine")
    clf.partial_fit(X, y, classes=np.unique(y))
    clf.partial_fit(X, y)  # keeps the checked values
    clf.set_params(**change)
    with pytest.raises(InvalidParameterError, match=f"'{next(iter(change))}' parameter"):
        clf.partial_fit(X, y)
    # Equal values of the same types still train on.
    clf.set_params(max_iter=200, random_state=0, batch_size=50, shuffle=True)
    clf.partial_fit(X, y)
    clf.partial_fit(X, y)


def _weights_by_hand(model, widths):
    rng = np.random.RandomState(0)
    model.coefs_ = [rng.randn(a, b) for a, b in zip(widths, widths[1:])]
    model.intercepts_ = [np.zeros(b) for b in widths[1:]]
    return model


@pytest.mark.parametrize("bad", [{"normalization": "Batch"}, {"residual": "no"},
                                 {"loss": "bogus"}])
def test_weights_by_hand_check_the_parameters_and_keep_nothing_on_failure(small, bad):
    # helper-120: predict from weights set by hand used unchecked
    # parameters (a KeyError for normalization="Batch", residual="no" read
    # as True, loss="bogus" ignored) and kept them, so that no set_params
    # brought the model back.
    from sklearn.utils._param_validation import InvalidParameterError

    X, _ = small
    name = next(iter(bad))
    reg = _weights_by_hand(MLPRegressor(hidden_layer_sizes=(4, 4), **bad), [64, 4, 4, 1])
    for call in (reg.predict, lambda X: reg.to_sklearn()):
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
            call(X[:5])
    assert set(reg.__dict__) - set(reg.get_params()) == {"coefs_", "intercepts_"}
    reg.set_params(**{name: MLPRegressor().get_params()[name]})
    good = _weights_by_hand(MLPRegressor(hidden_layer_sizes=(4, 4)), [64, 4, 4, 1])
    assert_allclose(reg.predict(X[:5]), good.predict(X[:5]))
    reg.partial_fit(X[:50], X[:50, 0])


def test_a_stored_unknown_normalization_is_named():
    # helper-120: the kernels' code for an unknown normalization was a
    # KeyError that did not say what was wrong.
    from fastbp.estimators import architecture as arch

    with pytest.raises(ValueError, match="normalization must be 'batch', 'layer' or None; "
                                         "got 'Batch'"):
        arch.normalization_code("Batch")
    with pytest.raises(ValueError, match="normalization must be"):
        arch.normalization_code(["batch"])


@pytest.mark.parametrize("fraction, advice", [(0.999, "Lower validation_fraction"),
                                              (0.985, "Lower validation_fraction"),
                                              (0.001, "Raise validation_fraction")])
def test_early_stopping_split_error_says_which_way_to_move_the_fraction(small, fraction,
                                                                         advice):
    # helper-120: a split that left the training side empty (or with fewer
    # rows than classes) advised raising validation_fraction.
    X, y = small
    y = (y[:100] > 4).astype(int)
    with pytest.raises(ValueError, match=f"could not split .*{advice}, pass more samples"):
        MLPClassifier((8,), early_stopping=True, validation_fraction=fraction).fit(X[:100], y)


def test_hidden_layer_sizes_as_a_zero_d_array_is_one_layer(small):
    # helper-120: np.array(8) passed the "array-like" constraint, then
    # failed with "iteration over a 0-d array", naming nothing.
    X, y = small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(np.array(8), max_iter=2, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(64, 8), (8, 10)]
    with pytest.raises(ValueError, match="hidden_layer_sizes must hold integers"):
        MLPClassifier(np.array(8.5), max_iter=2).fit(X, y)


def test_weights_by_hand_refill_after_set_params_but_a_fit_keeps_its_own(small):
    # helper-131 (found by helper-121): predict from weights set by hand
    # kept what it filled in for good, so a later set_params was ignored
    # (and not checked). A fit's model keeps what it was trained with.
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = small
    reg = _weights_by_hand(MLPRegressor(hidden_layer_sizes=(4, 4)), [64, 4, 4, 1])
    relu = reg.predict(X[:5])
    with pytest.raises(InvalidParameterError, match="'normalization' parameter"):
        reg.set_params(normalization="Batch").predict(X[:5])
    tanh = reg.set_params(normalization=None, activation="tanh").predict(X[:5])
    assert not np.allclose(tanh, relu)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.set_params(max_iter=2, random_state=0).fit(X, y)
    fitted = reg.predict(X[:5])
    assert_allclose(reg.set_params(activation="relu", normalization="layer").predict(X[:5]),
                    fitted)
    assert reg._activations == ["tanh", "tanh"] and reg.n_features_in_ == 64
    assert "_filled_state" not in reg.__dict__
