"""A bool where a number is meant is refused (fix-245).

``bool`` is an ``Integral`` and a ``Real``, so scikit-learn's ``Interval``
constraints let ``max_iter=True`` train one epoch, after which
``fastbp.save`` refused the model; ``tol=True`` and ``batch_size=True``
trained silently as 1.
"""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

import fastbp
from fastbp import MLPClassifier, MLPRegressor

# Every parameter that takes a number (or, for hidden_layer_sizes and
# dropout, a number or a sequence of them).
NUMERIC = ["max_iter", "batch_size", "tol", "alpha", "learning_rate_init", "power_t",
           "momentum", "validation_fraction", "beta_1", "beta_2", "epsilon",
           "n_iter_no_change", "max_fun", "step_size", "gamma", "l1", "dropout",
           "clip_grad_norm", "hidden_layer_sizes"]


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(40, 3))
    return X, (X[:, 0] > 0.5).astype(int)


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("flag", [True, np.True_], ids=["bool", "np.bool_"])
def test_a_bool_for_a_numeric_parameter_is_refused_before_training(data, name, flag):
    X, y = data
    # learning_rate="step" is where step_size is read.
    params = {"hidden_layer_sizes": (4,), "learning_rate": "step", name: flag}
    clf = MLPClassifier(**params)
    with pytest.raises(InvalidParameterError,
                       match=rf"The '{name}' parameter of MLPClassifier must be .*"
                             rf"Got {flag!r} instead\."):
        clf.fit(X, y)
    assert not hasattr(clf, "coefs_") and not hasattr(clf, "n_iter_")


def test_the_message_keeps_scikit_learns_form(data):
    X, y = data
    with pytest.raises(InvalidParameterError) as info:
        MLPClassifier(max_iter=True).fit(X, y)
    assert str(info.value) == ("The 'max_iter' parameter of MLPClassifier must be an int in "
                               "the range [1, inf). Got True instead.")
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


@pytest.mark.parametrize("name", ["max_iter", "tol", "batch_size"])
def test_the_regressor_refuses_a_bool_too(data, name):
    X, y = data
    reg = MLPRegressor(hidden_layer_sizes=(4,), **{name: True})
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of MLPRegressor"):
        reg.fit(X, y.astype(float))
    assert not hasattr(reg, "coefs_")


def test_a_fitted_model_is_left_as_it_was(data):
    X, y = data
    clf = MLPClassifier((4,), max_iter=3, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning):  # stops at max_iter, not converged
        clf.fit(X, y)
    coefs = [c.copy() for c in clf.coefs_]
    n_iter = clf.n_iter_
    clf.set_params(warm_start=True, max_iter=True)
    with pytest.raises(InvalidParameterError, match="'max_iter' parameter"):
        clf.fit(X, y)
    clf.set_params(max_iter=3, batch_size=True)
    with pytest.raises(InvalidParameterError, match="'batch_size' parameter"):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == n_iter
    assert all(np.array_equal(a, b) for a, b in zip(clf.coefs_, coefs))


def test_numpy_numbers_are_still_accepted_and_the_model_saves(data, tmp_path):
    X, y = data
    clf = MLPClassifier(hidden_layer_sizes=np.int64(4), max_iter=np.int64(5),
                        batch_size=np.int64(16), learning_rate_init=np.float32(0.1),
                        alpha=np.float32(0.1), tol=np.float64(0.0),
                        n_iter_no_change=np.int32(10), random_state=0)
    with pytest.warns(ConvergenceWarning):  # stops at max_iter, not converged
        clf.fit(X, y)
    assert clf.n_iter_ == 5
    path = tmp_path / "m.fastbp"
    fastbp.save(clf, path)
    assert np.array_equal(fastbp.load(path).predict(X), clf.predict(X))


@pytest.mark.parametrize("name, value", [
    ("hidden_layer_sizes", (True, 4)), ("hidden_layer_sizes", [True]),
    ("hidden_layer_sizes", np.array([True, True])),
    ("dropout", [True, 0.1]), ("dropout", [np.True_, 0.1]),
])
def test_a_bool_inside_a_sequence_is_refused_naming_the_parameter(data, name, value):
    X, y = data
    clf = MLPClassifier(**{"hidden_layer_sizes": (4, 4), name: value})
    with pytest.raises(ValueError, match=name):
        clf.fit(X, y)
    assert not hasattr(clf, "coefs_")


def test_cli_set_max_iter_true_exits_2_and_writes_no_model(tmp_path):
    rng = np.random.RandomState(0)
    rows = ["a,b,label"] + [f"{a:.3f},{b:.3f},{int(a > 0.5)}"
                            for a, b in rng.uniform(size=(20, 2))]
    csv = tmp_path / "c1.csv"
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "mi.fastbp"
    done = subprocess.run(
        [sys.executable, "-m", "fastbp.cli", "train", "--data", str(csv), "--target", "label",
         "--set", "max_iter=true", "--model-out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "'max_iter' parameter of MLPClassifier" in done.stderr
    assert "Got True instead" in done.stderr
    assert not out.exists()
