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
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import fastbp
from fastbp import MLPClassifier
from fastbp.estimators import fit_calls

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


def _copy_in_another_thread(model, X, y, first_epochs):
    """``copy.copy(model)`` taken while a fit of it in another thread waits
    in its hook at epoch ``first_epochs``; the fit then goes on."""
    paused, resume = threading.Event(), threading.Event()

    def on_epoch(estimator, fitted, context):
        if fitted.n_iter_ == first_epochs:
            paused.set()
            assert resume.wait(_WAIT)

    model.set_callbacks(Hook(on_epoch))
    thread, errors = fit_in_thread(model, X, y, paused)
    try:
        assert paused.wait(_WAIT) and not errors
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            copied = copy.copy(model)
    finally:
        resume.set()
        thread.join(_WAIT)
    assert not thread.is_alive() and not errors
    # Told, as a pickle is, that the copy holds the model before the call.
    assert any("before this call" in str(w.message) for w in caught)
    return copied


def test_copy_from_another_thread_during_a_refit_holds_the_model_before(data, tmp_path):
    X, y = data
    model = quiet(MLPClassifier((8,), max_iter=4, random_state=0).fit, X, y)
    old = pickle.loads(pickle.dumps(model))
    model.set_params(random_state=1)
    copied = _copy_in_another_thread(model, X, y, 2)
    assert model.n_iter_ == 4 and not fit_calls._TRAINING
    assert copied.n_iter_ == 4 and copied.loss_curve_ == old.loss_curve_
    assert copied.loss_ == old.loss_
    for got, expected in zip(copied.coefs_ + copied.intercepts_,
                             old.coefs_ + old.intercepts_):
        np.testing.assert_array_equal(got, expected)
    # The old model, and none of the call's context: saved as the old fit.
    assert "_callback_fit_ctx" not in copied.__dict__
    path = tmp_path / "copy.fastbp"
    with pytest.warns(UserWarning, match="does not save callbacks"):
        fastbp.save(copied, path)
    loaded = fastbp.load(path)
    assert loaded.n_iter_ == 4
    np.testing.assert_array_equal(loaded.predict_proba(X), old.predict_proba(X))


def test_copy_from_another_thread_during_a_first_fit_is_unfitted(data):
    X, y = data
    model = MLPClassifier((8,), max_iter=4, random_state=0)
    copied = _copy_in_another_thread(model, X, y, 2)
    assert model.n_iter_ == 4
    # As a pickle of it then: the estimator as it was before the call.
    assert "coefs_" not in copied.__dict__ and "loss_curve_" not in copied.__dict__
    with pytest.raises(NotFittedError):
        check_is_fitted(copied)
    assert copied.get_params()["max_iter"] == 4
    with pytest.raises(NotFittedError):
        copied.predict(X)


def test_a_hooks_copies_in_the_fit_thread_stay_live(data):
    # scikit-learn builds a hook's fitted_estimator with copy.copy in the
    # fit's own thread: that copy holds the current epoch's model.
    X, y = data
    model = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)
    seen = []

    def on_epoch(estimator, fitted, context):
        seen.append((fitted.n_iter_, len(copy.copy(estimator).loss_curve_)))

    model.set_params(warm_start=True).set_callbacks(Hook(on_epoch))
    quiet(model.fit, X, y)
    assert seen == [(1, 4), (2, 5), (3, 6)]
