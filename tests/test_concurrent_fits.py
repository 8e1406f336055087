"""fix-280: an estimator used by a second call while a fit of it runs.

rev-275: predictions asked of an estimator while a fit or partial_fit call
trains it came from the fit's untrained initial weights (a pickle at the
same moment held the model as before the call); they now come from that
model too. rev-275: concurrent fit calls of one estimator each trained a
copy and the last to end threw the others' training away; an overlapping
call is now refused. rev-273: a hook that fitted the very estimator being
fitted had its epoch put in the middle of the outer fit's loss curve and
its training thrown away; it is now refused, and the outer fit fails and
rolls back as on any hook error.
"""

import pickle
import threading
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from fastbp import MLPClassifier, MLPRegressor
from fastbp.estimators import fit_calls

try:
    from .support import Hook, fit_in_thread, quiet
except ImportError:  # run as a plain module
    from support import Hook, fit_in_thread, quiet

pytest.importorskip("sklearn.callback")

# A hook waits this long at most for the other thread: a bug that never
# sets an event fails the test instead of hanging it.
_WAIT = 60


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _paused_fit(model, X, y, via="hook"):
    """Start ``model.fit`` in a thread that stops in its first epoch, in a
    callback hook (``via="hook"``) or in its validation scorer (``via=
    "scorer"``: no callbacks), until the returned ``resume`` is set.
    Returns (thread, resume, errors)."""
    inside, resume = threading.Event(), threading.Event()

    def pause():
        if not inside.is_set():
            inside.set()
            assert resume.wait(_WAIT)

    if via == "hook":
        model.set_callbacks(Hook(lambda estimator, fitted, context: pause()))
    else:
        def scorer(estimator, X_val, y_val):
            pause()
            return 0.0

        model.set_params(early_stopping=True, scoring=scorer)

    thread, errors = fit_in_thread(model, X, y, inside)
    assert inside.wait(_WAIT) and not errors, errors
    return thread, resume, errors


# ------------------------------------- 1: predictions during a fit (rev-275)


def test_a_refit_serves_the_old_model_to_other_threads(data):
    X, y = data
    model = quiet(MLPClassifier((8,), max_iter=5, random_state=0).fit, X, y)
    old = pickle.loads(pickle.dumps(model))
    expected = (old.predict(X), old.predict_proba(X), old.predict_log_proba(X),
                old.score(X, y))
    # A fit from scratch with another seed: its initial weights predict
    # otherwise than the old model.
    model.set_params(random_state=1)
    thread, resume, errors = _paused_fit(model, X, y)
    try:
        got = (model.predict(X), model.predict_proba(X), model.predict_log_proba(X),
               model.score(X, y))
    finally:
        resume.set()
        thread.join(_WAIT)
    assert not errors, errors
    for a, b in zip(got[:3], expected[:3]):
        np.testing.assert_array_equal(a, b)  # bit for bit
    assert got[3] == expected[3]
    # The new model is served once the call has set it.
    assert model.n_iter_ == 5 and not fit_calls.is_being_fitted(model)
    assert not np.array_equal(model.predict_proba(X), expected[1])


def test_a_first_fit_is_not_fitted_to_other_threads(data):
    X, y = data
    model = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    thread, resume, errors = _paused_fit(model, X, y.astype(float))
    try:
        with pytest.raises(NotFittedError):
            model.predict(X)
        with pytest.raises(NotFittedError):
            model.score(X, y.astype(float))
    finally:
        resume.set()
        thread.join(_WAIT)
    assert not errors, errors
    assert model.predict(X).shape == (len(X),)


def test_a_regressor_refit_serves_the_old_model(data):
    X, y = data
    y = X[:, 0] - X[:, 2]
    model = quiet(MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit, X, y)
    expected, r2 = model.predict(X), model.score(X, y)
    model.set_params(random_state=3)
    thread, resume, errors = _paused_fit(model, X, y)
    try:
        got, got_r2 = model.predict(X), model.score(X, y)
    finally:
        resume.set()
        thread.join(_WAIT)
    assert not errors, errors
    np.testing.assert_array_equal(got, expected)
    assert got_r2 == r2


def test_a_hook_predicting_with_the_live_estimator_gets_the_model_before_the_call(data):
    X, y = data
    model = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)
    before = model.predict_proba(X)
    seen = []

    def on_epoch(estimator, fitted, context):
        seen.append((estimator.predict_proba(X), fitted.predict_proba(X)))

    quiet(model.set_params(random_state=1).set_callbacks(Hook(on_epoch)).fit, X, y)
    assert len(seen) == 3
    for live, current in seen:
        np.testing.assert_array_equal(live, before)
    # (The hook's fitted_estimator holds the epoch's model.)
    np.testing.assert_array_equal(seen[-1][1], model.predict_proba(X))

    # On a first fit there was no model: the error says where to look.
    errors = []

    def on_first(estimator, fitted, context):
        try:
            estimator.predict(X)
        except NotFittedError as exc:
            errors.append(str(exc))

    quiet(MLPClassifier((8,), max_iter=2, random_state=0).set_callbacks(Hook(on_first)).fit,
          X, y)
    assert len(errors) == 2 and "fitted_estimator" in errors[0]


# ------------------------------ 2: fits of one estimator in two threads (rev-275)


def test_a_fit_overlapping_another_threads_fit_is_refused_and_changes_nothing(data):
    X, y = data
    model = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)
    other = MLPClassifier((8,), max_iter=3, random_state=0)
    # (Paused in its scorer, a fit without callbacks; see
    # test_a_refused_call_leaves_the_running_fits_callbacks_alone for one.)
    thread, resume, errors = _paused_fit(model, X, y, via="scorer")
    try:
        state = dict(model.__dict__)
        generation = fit_calls.training_state(model)
        for call in (lambda: model.fit(X, y), lambda: model.partial_fit(X, y)):
            with pytest.raises(RuntimeError, match="being fitted in another thread") as info:
                call()
            assert "sklearn.base.clone" in str(info.value)
            assert "MLPClassifier" in str(info.value)
            assert model.__dict__.keys() == state.keys()
            assert all(model.__dict__[key] is value for key, value in state.items())
            assert fit_calls.training_state(model) == generation
    finally:
        resume.set()
        thread.join(_WAIT)
    assert not errors, errors
    # The running fit went on unharmed: the same model as an undisturbed one.
    quiet(other.set_params(early_stopping=True, scoring=lambda *a: 0.0).fit, X, y)
    assert model.n_iter_ == other.n_iter_ and model.loss_curve_ == other.loss_curve_
    for a, b in zip(model.coefs_, other.coefs_):
        np.testing.assert_array_equal(a, b)
    # Once it has ended, the estimator can be fitted again.
    model.set_params(early_stopping=False).partial_fit(X, y)
    assert len(model.loss_curve_) == other.n_iter_ + 1


# ---------------------------- 3: a hook fitting its own estimator (rev-273)


@pytest.mark.parametrize("method", ["partial_fit", "fit"])
def test_a_hook_fitting_its_own_estimator_is_refused_and_the_fit_rolled_back(data, method):
    X, y = data
    model = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)
    before = pickle.dumps(model)
    coefs = [c.copy() for c in model.coefs_]

    def on_epoch(estimator, fitted, context):
        if context.task_id == 1:
            getattr(estimator, method)(X, y)

    model.set_callbacks(Hook(on_epoch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="nested in it") as info:
            model.fit(X, y)
    message = str(info.value)
    assert "fitted_estimator" in message and "clone" in message
    # The outer fit failed as a whole: the model is as before it.
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 3
    assert len(model.history_["loss"]) == 3
    for a, b in zip(model.coefs_, coefs):
        np.testing.assert_array_equal(a, b)
    assert not fit_calls.is_being_fitted(model) and not fit_calls._TRAINING
    restored = pickle.loads(before)
    np.testing.assert_array_equal(model.predict_proba(X), restored.predict_proba(X))


def test_a_hook_may_fit_a_clone_or_its_fitted_estimator(data):
    X, y = data
    trained = []

    def on_epoch(estimator, fitted, context):
        if context.task_id == 0:
            trained.append(fitted.set_callbacks().partial_fit(X, y))
            trained.append(quiet(clone(estimator).set_callbacks().fit, X, y))

    model = MLPClassifier((8,), max_iter=3, random_state=0).set_callbacks(Hook(on_epoch))
    quiet(model.fit, X, y)
    plain = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 3
    for a, b in zip(model.coefs_, plain.coefs_):
        np.testing.assert_array_equal(a, b)
    assert len(trained[0].loss_curve_) == 2 and trained[1].n_iter_ == 3


def test_a_refused_call_leaves_the_running_fits_callbacks_alone(data):
    # (lead, stop 52) fix-280's refusal ran inside scikit-learn's
    # _fit_context, whose cleanup tore the running fit's callbacks down
    # and took its callback context: it is made before that context.
    X, y = data
    model = MLPClassifier((8,), max_iter=3, random_state=0)
    inside, resume = threading.Event(), threading.Event()

    def pause():
        if not inside.is_set():
            inside.set()
            assert resume.wait(_WAIT)

    recorder = Hook(lambda estimator, fitted, context: pause())
    model.set_callbacks(recorder)
    thread, errors = fit_in_thread(model, X, y, inside)
    try:
        assert inside.wait(_WAIT) and not errors, errors
        context = model.__dict__.get("_callback_fit_ctx")
        for call in (lambda: model.fit(X, y), lambda: model.partial_fit(X, y, classes=[0, 1])):
            with pytest.raises(RuntimeError, match="being fitted in another thread"):
                call()
        assert [what for what, _ in recorder.calls] == ["setup"]
        assert model.__dict__.get("_callback_fit_ctx") is context
    finally:
        resume.set()
        thread.join(_WAIT)
    assert not errors, errors
    assert [what for what, _ in recorder.calls] == ["setup", "teardown"]
    assert model.n_iter_ == 3
