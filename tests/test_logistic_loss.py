"""The binary and multilabel log-loss rounds as scikit-learn's does (fix-198).

scikit-learn takes ``p = expit(t)`` in the model's dtype, clips it to
``[eps, 1 - eps]`` and logs ``p`` and ``1 - p``; where the model is
confident the rounded ``p`` gives a ``log(1 - p)`` up to ~0.1 away from the
exact log-sigmoid, and L-BFGS's line search reads that loss.
"""

import warnings

import numpy as np
import pytest
import sklearn.neural_network as sknn
from numpy.testing import assert_allclose
from scipy.special import expit
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._base import binary_log_loss

import fastbp
from fastbp._config import python_twin
from fastbp.kernels import codes
from fastbp.kernels import losses as kloss
from fastbp.training.spec import clipping_bounds

DTYPES = [np.float64, np.float32]
LOGITS = [-40.0, -36.5, -20.0, -1.0, 0.0, 1.0, 20.0, 35.24, 36.5, 40.0]


def _fit_pair(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sknn.MLPClassifier(**params).fit(X, y)
        est = fastbp.MLPClassifier(**params).fit(X, y)
    return ref, est


def _assert_same_weights(ref, est):
    assert est.n_iter_ == ref.n_iter_
    for a, b in zip(ref.coefs_, est.coefs_):
        assert_allclose(b, a, rtol=1e-10, atol=1e-12)
    for a, b in zip(ref.intercepts_, est.intercepts_):
        assert_allclose(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("target", [0.0, 1.0])
@pytest.mark.parametrize("t", LOGITS)
def test_row_loss_is_scikit_learns_binary_log_loss(t, target, dtype):
    """One row's loss is scikit-learn's ``binary_log_loss`` of ``expit(t)``
    in the dtype (not the exact log-sigmoid: at t = 35.24 with target 0 they
    are 35.3505 and 35.2422); the prediction and delta are ``p`` and
    ``p - y``."""
    z = np.array([[t]], dtype=dtype)
    y = np.array([[target]], dtype=dtype)
    delta = np.full_like(z, np.nan)
    lo, hi = clipping_bounds(np.dtype(dtype), codes.OUT_LOGISTIC)
    loss = python_twin(kloss.output_loss_delta)(z, np.zeros(1, dtype), y, np.empty(0, dtype),
                                                False, codes.OUT_LOGISTIC, lo, hi, delta)
    p = expit(np.array([[t]], dtype=dtype))
    ref = binary_log_loss(y, p)
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    assert_allclose(loss, ref, rtol=rtol, atol=0)
    assert_allclose(z, p, rtol=rtol, atol=0)
    assert_allclose(delta, p - y, rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("max_iter", [5, 10, 20])
def test_lbfgs_binary_matches_scikit_learn_on_unscaled_data(max_iter):
    """Unscaled features make confident logits early; with the loss rounded
    as scikit-learn rounds it the line search takes the same steps (with the
    exact log-sigmoid the weights parted by 8e-5, 2e-4 and 2.5e-2)."""
    X, y = make_classification(200, 6, random_state=0)
    ref, est = _fit_pair(X, y, hidden_layer_sizes=(8,), solver="lbfgs", random_state=0,
                         max_iter=max_iter)
    _assert_same_weights(ref, est)
    assert_allclose(est.loss_, ref.loss_, rtol=1e-12)


def test_lbfgs_multilabel_matches_scikit_learn():
    X, y = make_classification(200, 6, random_state=0)
    Y = np.c_[y, 1 - y]
    ref, est = _fit_pair(X, Y, hidden_layer_sizes=(8,), solver="lbfgs", random_state=0,
                         max_iter=5)
    _assert_same_weights(ref, est)


def test_training_loss_of_confident_rows_matches_scikit_learn():
    """The loss the trainer records on data whose rows are confident from
    the start (logits beyond 20) is scikit-learn's, and equals the
    validation-path formula."""
    X, y = make_classification(200, 6, random_state=0)
    X = 60 * X
    ref, est = _fit_pair(X, y, hidden_layer_sizes=(8,), solver="sgd", batch_size=200,
                         shuffle=False, max_iter=1, random_state=0,
                         learning_rate_init=1e-6)
    # The check needs confident rows at the initial weights.
    z = np.maximum(X @ ref.coefs_[0] + ref.intercepts_[0], 0) @ ref.coefs_[1]
    assert np.abs(z).max() > 20
    assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-12)
