"""rev-287's reading of the mid-fit copies: ``to_sklearn`` during a fit
converted the weights from before the call with the running call's loss
curve, validation scores and random generator; and ``copy.copy`` from
another thread during a fit copied the live mix (a refit's untrained
weights with the old fit's curve), which ``fastbp.save`` accepted.
"""

import copy
import pickle
import threading
import warnings

import numpy as np
import pytest

from fastbp import MLPClassifier

try:
    from .support import Hook, fit_in_thread, quiet
except ImportError:  # run as a plain module
    from support import Hook, fit_in_thread, quiet

_WAIT = 30


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _generator_state(rng):
    kind, keys, pos, has_gauss, gauss = rng.get_state()
    return kind, keys.tolist(), pos, has_gauss, gauss


def _assert_same_state(converted, before, X):
    """``converted`` (to_sklearn's) holds the state of ``before`` (a pickle
    of the fastbp model taken before the call)."""
    expected = before.to_sklearn()
    assert converted.n_iter_ == before.n_iter_
    assert list(converted.loss_curve_) == list(expected.loss_curve_)
    assert len(converted.loss_curve_) == len(before.loss_curve_)
    assert (getattr(converted, "validation_scores_", None)
            == getattr(expected, "validation_scores_", None))
    assert getattr(converted, "best_loss_", None) == getattr(expected, "best_loss_", None)
    assert (getattr(converted, "best_validation_score_", None)
            == getattr(expected, "best_validation_score_", None))
    if isinstance(expected.random_state, np.random.RandomState):
        assert _generator_state(converted.random_state) == _generator_state(
            expected.random_state)
    else:
        assert converted.random_state == expected.random_state
    np.testing.assert_array_equal(converted.predict_proba(X), expected.predict_proba(X))
    # (scikit-learn's forward pass rounds apart from fastbp's.)
    np.testing.assert_allclose(converted.predict_proba(X), before.predict_proba(X),
                               rtol=1e-12, atol=1e-15)


def test_to_sklearn_from_a_hook_holds_the_state_before_the_call(data):
    X, y = data
    model = quiet(MLPClassifier((8,), max_iter=4, early_stopping=True,
                                random_state=np.random.RandomState(0)).fit, X, y)
    before = pickle.loads(pickle.dumps(model))
    assert len(before.validation_scores_) == 4
    seen = []

    def on_epoch(estimator, fitted, context):
        if len(fitted.loss_curve_) == 6:
            seen.append(estimator.to_sklearn())

    model.set_callbacks(Hook(on_epoch)).set_params(warm_start=True, max_iter=3)
    quiet(model.fit, X, y)
    assert len(seen) == 1 and len(model.loss_curve_) == 7
    _assert_same_state(seen[0], before, X)


def test_to_sklearn_from_a_hook_matches_a_pickle_taken_then(data):
    X, y = data
    model = quiet(MLPClassifier((8,), max_iter=4, early_stopping=True,
                                random_state=np.random.RandomState(0)).fit, X, y)
    seen = []

    def on_epoch(estimator, fitted, context):
        if len(fitted.loss_curve_) == 6:
            # (deepcopy: the hook, a local function, does not pickle.)
            seen.append((estimator.to_sklearn(), copy.deepcopy(estimator)))

    model.set_callbacks(Hook(on_epoch)).set_params(warm_start=True, max_iter=3)
    quiet(model.fit, X, y)
    converted, pickled = seen[0]
    assert pickled.n_iter_ == 4
    _assert_same_state(converted, pickled, X)


def test_to_sklearn_from_another_thread_holds_the_state_before_the_call(data):
    X, y = data
    model = quiet(MLPClassifier((8,), solver="sgd", max_iter=4, early_stopping=True,
                                random_state=0).fit, X, y)
    before = pickle.loads(pickle.dumps(model))
    paused, resume = threading.Event(), threading.Event()

    def on_epoch(estimator, fitted, context):
        if len(fitted.loss_curve_) == 6:
            paused.set()
            assert resume.wait(_WAIT)

    model.set_callbacks(Hook(on_epoch)).set_params(warm_start=True, max_iter=3)
    thread, errors = fit_in_thread(model, X, y, paused)
    try:
        assert paused.wait(_WAIT) and not errors
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            converted = model.to_sklearn()
    finally:
        resume.set()
        thread.join(_WAIT)
    assert not thread.is_alive() and not errors
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 7
    _assert_same_state(converted, before, X)
