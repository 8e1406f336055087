"""fix-183: an L-BFGS warm fit's stale optimizer, learning_rate changes that
only act on SGD within a stream, sparse integer X at prediction, and a 3-D
sparse X's message."""

import gc
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

from fastbp import MLPClassifier, MLPRegressor
from fastbp.estimators import base


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _adam_then_lbfgs(X, y):
    model = quiet(MLPClassifier((4,), solver="adam", max_iter=20, warm_start=True,
                                random_state=0).fit, X, y)
    assert model._optimizer.solver == "adam" and model._optimizer.t > 0
    return model


# ------------------------------------------------- 1. L-BFGS warm start


def test_a_warm_lbfgs_fit_leaves_no_stochastic_optimizer(blobs):
    X, y = blobs
    model = _adam_then_lbfgs(X, y)
    curve = list(model.loss_curve_)
    quiet(model.set_params(solver="lbfgs").fit, X, y)
    assert model._optimizer is None
    # The stochastic record goes on (README: history_, loss_curve_).
    assert model.loss_curve_ == curve
    # As after a cold L-BFGS fit: another solver starts a fresh stream
    # (it was refused as a solver changed within the stream) ...
    quiet(model.set_params(solver="sgd").partial_fit, X, y)
    assert model._optimizer.solver == "sgd" and model._optimizer.epoch == 1


def test_adam_after_a_warm_lbfgs_fit_starts_afresh(blobs):
    X, y = blobs
    model = _adam_then_lbfgs(X, y)
    quiet(model.set_params(solver="lbfgs").fit, X, y)
    quiet(model.set_params(solver="adam").partial_fit, X, y)
    # One epoch of a fresh Adam: the step count of this call alone (it
    # resumed at the 20 epochs' count, with their moments).
    batches = -(-len(X) // min(200, len(X)))
    assert model._optimizer.epoch == 1 and model._optimizer.t == batches


def test_a_failed_warm_lbfgs_fit_keeps_the_old_optimizer(blobs, monkeypatch):
    X, y = blobs
    model = _adam_then_lbfgs(X, y)
    optimizer = model._optimizer
    coefs = [c.copy() for c in model.coefs_]

    def fail(self):
        raise RuntimeError("after the L-BFGS fit")

    # Fails after _fit_lbfgs has returned, within the call's transaction.
    monkeypatch.setattr(MLPClassifier, "_drop_fit_inputs", fail)
    with pytest.raises(RuntimeError, match="after the L-BFGS fit"):
        quiet(model.set_params(solver="lbfgs").fit, X, y)
    assert model._optimizer is optimizer
    for a, b in zip(coefs, model.coefs_):
        assert_array_equal(a, b)
