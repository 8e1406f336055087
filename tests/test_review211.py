"""rev-202's findings fixed by fix-211: an L-BFGS fit that stopped before its
first iteration, a 2-D ``classes``, and a small file's ID column."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import DivergenceError
from fastbp.cli import main


def _standardised():
    X, y = make_classification(80, 4, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lbfgs_that_stops_before_its_first_iteration_is_refused(dtype):
    # rev-202: the untrained starting weights were kept (n_iter_ 0, score
    # 0.5) under "ABNORMAL: " and an empty reason.
    X, y = _standardised()
    model = fastbp.MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=50,
                                 random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(DivergenceError) as caught:
            model.fit((X * 1e6).astype(dtype), y)
    message = str(caught.value)
    assert "untrained" in message and "StandardScaler" in message, message
    assert "ABNORMAL: the line search found no step" in message, message
    assert "The model keeps its state from before this call." in message
    assert not hasattr(model, "coefs_") and not hasattr(model, "n_iter_")


def test_refused_lbfgs_fit_leaves_a_fitted_model_as_it_was():
    X, y = _standardised()
    model = fastbp.MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=1000,
                                 random_state=0).fit(X, y)
    before = pickle.dumps(model)
    with pytest.raises(DivergenceError, match="untrained"):
        model.fit(X * 1e6, y)
    assert pickle.dumps(model) == before


def test_an_empty_scipy_reason_is_explained():
    from scipy.optimize import OptimizeResult

    from fastbp.estimators.base import _warn_lbfgs_not_converged

    result = OptimizeResult(status=2, message="ABNORMAL: ", nit=0)
    with pytest.warns(ConvergenceWarning) as caught:
        _warn_lbfgs_not_converged(result, 0, 50)
    message = str(caught[0].message)
    assert "ABNORMAL: the line search found no step" in message, message
    assert "keeps the weights it started with" in message, message


@pytest.mark.parametrize("classes", [[[0, 1]], np.array([[0], [1]]), 5])
def test_classes_that_are_not_1d_are_refused_naming_their_shape(classes):
    # rev-202: [[0, 1]] blamed "a multilabel indicator of 2 outputs" this
    # model was never fitted on.
    X = np.random.default_rng(0).standard_normal((20, 3))
    y = np.arange(20) % 2
    model = fastbp.MLPClassifier(solver="sgd")
    with pytest.raises(ValueError) as caught:
        model.partial_fit(X, y, classes=classes)
    message = str(caught.value)
    assert message.startswith("classes must be a 1-D array of labels, got "), message
    shape = np.shape(classes)
    assert (f"shape {shape}" if shape else "got int 5") in message, message
    assert "multilabel" not in message
    assert not hasattr(model, "classes_")
    model.partial_fit(X, y, classes=[0, 1])  # the same labels, 1-D
    np.testing.assert_array_equal(model.classes_, [0, 1])
