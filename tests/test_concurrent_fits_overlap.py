"""rev-284's reading of fix-280: the end hook (root) of a fit could fit the
estimator being fitted, whose mark the call had dropped as it set its
model; a call could pass the overlap check, then lose the claim inside
scikit-learn's ``_fit_context`` and tear the winner's callbacks down; and
``to_sklearn`` mid-fit converted the new call's untrained weights.
"""

import threading

import numpy as np
import pytest

from fastbp import MLPClassifier
from fastbp.estimators import fit_calls

try:
    from .support import Hook, fit_in_thread, quiet
except ImportError:  # run as a plain module
    from support import Hook, fit_in_thread, quiet

_WAIT = 60


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def test_a_root_hook_fitting_its_own_estimator_is_refused(data):
    X, y = data
    model = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)
    coefs = [c.copy() for c in model.coefs_]
    model.set_callbacks(Hook(on_root=lambda estimator, fitted, context:
                             estimator.set_params(max_iter=5).fit(X, y)))
    with pytest.raises(RuntimeError, match="nested in it"):
        quiet(model.fit, X, y)
    # The outer fit failed as a whole, as on any error of its root hook.
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 3
    for a, b in zip(model.coefs_, coefs):
        np.testing.assert_array_equal(a, b)
    assert not fit_calls._TRAINING


def test_a_call_refused_as_another_validates_sets_nothing_up(data, monkeypatch):
    # The other thread's call holds the estimator from before scikit-learn
    # validates its parameters: this one is refused before its own
    # _fit_context, whose cleanup would tear the callbacks down.
    X, y = data
    model = MLPClassifier((8,), max_iter=2, random_state=0)
    recorder = Hook()
    model.set_callbacks(recorder)
    inside, resume = threading.Event(), threading.Event()
    validate = MLPClassifier._validate_params
    main = threading.current_thread()

    def paused(self):
        if threading.current_thread() is not main and not inside.is_set():
            inside.set()
            assert resume.wait(_WAIT)
        return validate(self)

    monkeypatch.setattr(MLPClassifier, "_validate_params", paused)
    thread, errors = fit_in_thread(model, X, y, inside)
    try:
        assert inside.wait(_WAIT) and not errors, errors
        with pytest.raises(RuntimeError, match="being fitted in another thread"):
            model.fit(X, y)
        assert recorder.calls == []
    finally:
        resume.set()
        thread.join(_WAIT)
    assert not errors, errors
    assert [what for what, _ in recorder.calls] == ["setup", "teardown"]
    assert {who for _, who in recorder.calls} == {thread.ident}
    assert model.n_iter_ == 2 and not fit_calls._TRAINING


def test_to_sklearn_mid_fit_converts_the_model_before_the_call(data):
    X, y = data
    model = quiet(MLPClassifier((8,), max_iter=3, random_state=0).fit, X, y)
    old = model.predict_proba(X)
    seen = []

    def on_epoch(estimator, fitted, context):
        seen.append(estimator.to_sklearn().predict_proba(X))

    model.set_params(random_state=1).set_callbacks(Hook(on_epoch))
    quiet(model.fit, X, y)
    assert len(seen) == 3
    for proba in seen:
        np.testing.assert_allclose(proba, old, rtol=1e-12, atol=1e-15)
    # After the call, the new model.
    np.testing.assert_allclose(model.to_sklearn().predict_proba(X), model.predict_proba(X),
                               rtol=1e-12, atol=1e-15)


def test_a_fit_run_before_the_method_takes_its_call_leaves_it_alone(data):
    # rev-286: a fit of another estimator in a subclass's _validate_params
    # (between the decorator and the fit) took the pending call's place,
    # and the outer fit was refused as "nested" in itself.
    X, y = data

    class Sub(MLPClassifier):
        def _validate_params(self):
            quiet(MLPClassifier((3,), max_iter=1, random_state=0).fit, X, y)
            return super()._validate_params()

    model = quiet(Sub((8,), max_iter=2, random_state=0).fit, X, y)
    assert model.n_iter_ == 2
    assert not fit_calls._TRAINING and fit_calls._PENDING.call is None


class _SlowTeardown(Hook):
    def __init__(self, inside, resume):
        super().__init__()
        self.inside, self.resume = inside, resume

    def teardown(self, estimator, context):
        super().teardown(estimator, context)
        if not self.inside.is_set():
            self.inside.set()
            assert self.resume.wait(_WAIT)


def test_a_call_stays_under_way_until_its_callbacks_are_torn_down(data):
    # rev-286: the mark went as the fit ended inside scikit-learn's
    # _fit_context; a call of another thread then claimed the estimator
    # during the first one's teardown, which took the second's callback
    # context, and its teardown never ran.
    X, y = data
    model = MLPClassifier((8,), max_iter=2, random_state=0)
    inside, resume = threading.Event(), threading.Event()
    recorder = _SlowTeardown(inside, resume)
    model.set_callbacks(recorder)
    thread, errors = fit_in_thread(model, X, y, inside)
    try:
        assert inside.wait(_WAIT) and not errors, errors
        with pytest.raises(RuntimeError, match="being fitted in another thread"):
            model.fit(X, y)
    finally:
        resume.set()
        thread.join(_WAIT)
    assert not errors, errors
    assert not fit_calls._TRAINING
    # Once it has ended, the estimator fits again, with its own teardown.
    quiet(model.fit, X, y)
    assert [what for what, _ in recorder.calls] == ["setup", "teardown"] * 2
    assert "_callback_fit_ctx" not in model.__dict__
