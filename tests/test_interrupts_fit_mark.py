"""Ctrl-C inside the bookkeeping of a fit call (helper-195's review): the
mark that makes ``fastbp.save`` refuse an estimator being fitted must not
outlive the call, whatever line the interrupt lands on."""

import contextlib
import inspect
import sys

import numpy as np
import pytest
from sklearn.base import clone

import fastbp
from fastbp import MLPClassifier
from fastbp.estimators import base, fit_calls

try:
    from .support import Hook, quiet
except ImportError:  # run as a plain module
    from support import Hook, quiet


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    return X, (X[:, 0] > 0).astype(int)


def _line_of(*markers):
    """The number of the line of ``_transactional_fit`` holding the first
    of ``markers`` found there (each on one line only)."""
    lines, first = inspect.getsourcelines(base.BaseMLP._transactional_fit)
    for marker in markers:
        hits = [first + k for k, line in enumerate(lines) if marker in line]
        if hits:
            assert len(hits) == 1, marker
            return hits[0]
    raise AssertionError(f"none of {markers} in _transactional_fit")


@contextlib.contextmanager
def _interrupt_at(line):
    """Raise a KeyboardInterrupt as the line ``line`` of
    ``_transactional_fit`` is about to run (once, in whichever call gets
    there first), as a real Ctrl-C can between two statements; yields the
    list that records it."""
    code = base.BaseMLP._transactional_fit.__code__
    fired = []

    def local(frame, event, arg):
        if event == "line" and frame.f_lineno == line and not fired:
            fired.append(line)
            raise KeyboardInterrupt
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code is code else None

    sys.settrace(tracer)
    try:
        yield fired
    finally:
        sys.settrace(None)


@pytest.mark.parametrize("marker, undone", [("claim(call)", True),
                                            ("call.committed = True", False)])
def test_an_interrupt_in_the_bookkeeping_leaves_no_estimator_marked(data, marker, undone,
                                                                     tmp_path):
    # helper-195: the mark was set before the call's try, and cleared in two
    # steps in its finally; a real SIGINT between them left it set, and
    # save refused the estimator, and any later one given its id, for the
    # rest of the process.
    X, y = data
    model = quiet(MLPClassifier((4,), max_iter=2, random_state=0).fit, X, y)
    before = [a.copy() for a in model.coefs_]
    with _interrupt_at(_line_of(marker) + 1) as fired, pytest.raises(KeyboardInterrupt):
        model.partial_fit(X, y)
    assert fired, "the interrupt was never raised"
    assert not fit_calls.is_being_fitted(model)
    assert not any(call.active for call in fit_calls._TRAINING.values())
    # The call was undone where it had not yet trained (after it had, the
    # interrupt comes as it returns, with the model kept), and the model
    # saves, trains and saves again.
    same = all(np.array_equal(a, b) for a, b in zip(model.coefs_, before))
    assert same == undone
    fastbp.save(model, tmp_path / "m.fastbp")
    model.partial_fit(X, y)
    fastbp.save(model, tmp_path / "m.fastbp")
    # (An entry the interrupt left in this thread's stack of calls is
    # inactive: each call reads its own, the last one pushed.)
    assert not any(call.active for call in fit_calls._CALLS.stack)


def test_a_mark_names_its_estimator_not_an_id(data, tmp_path):
    # An id names another object once its estimator is gone: a call's mark
    # left behind for a collected estimator does not refuse a new one.
    X, y = data
    gone = MLPClassifier((4,))
    call = fit_calls._Call(gone)
    key = id(gone)
    del gone
    fresh = [quiet(MLPClassifier((4,), max_iter=1, random_state=0).fit, X, y)
             for _ in range(50)]
    fit_calls._TRAINING[key] = call
    try:
        for model in fresh:
            assert not fit_calls.is_being_fitted(model)
        fastbp.save(fresh[0], tmp_path / "m.fastbp")
    finally:
        fit_calls._TRAINING.pop(key, None)



def test_an_interrupted_nested_call_leaves_the_outer_fit_its_own_mark(data, tmp_path):
    # rev-199: Ctrl-C on the line of a nested call's finally that takes its
    # entry off the thread's stack of calls left that entry on top; the
    # outer fit (which keeps its training on a Ctrl-C in an epoch hook)
    # then cleared the stale entry instead of its own mark, and save
    # refused the model in the root hook, which the README says saves it.
    # (fix-280: a hook's fit of the estimator being fitted is refused now,
    # so the nested call trains another estimator, a clone.)
    X, y = data
    line = _line_of("del _CALLS.stack[depth:]", "_CALLS.stack.remove(call)")
    saved, nested = [], []
    # (An earlier test's interrupt may have left an inactive entry below.)
    entries = len(fit_calls._CALLS.stack)
    with _interrupt_at(line) as fired:

        def on_epoch(estimator, fitted_estimator, context):
            if not nested:
                # One nested call, interrupted as it ends: the trace fires
                # at the first pass of that line, the nested call's.
                nested.append(True)
                clone(estimator).set_callbacks().partial_fit(X, y)

        def on_root(estimator, fitted_estimator, context):
            fastbp.save(estimator, tmp_path / "root.fastbp")
            saved.append(True)

        model = MLPClassifier((4,), max_iter=3, random_state=0).set_callbacks(
            Hook(on_epoch, on_root))
        quiet(model.fit, X, y)  # Ctrl-C in an epoch hook: fit keeps its training
    assert fired and saved, (fired, saved)
    # The outer call took the stale entry off with its own.
    assert len(fit_calls._CALLS.stack) == entries and not fit_calls._TRAINING
    assert fastbp.load(tmp_path / "root.fastbp").n_iter_ == model.n_iter_


class _AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


@pytest.mark.parametrize("schedule", [np.array("constant"), _AlwaysEqual()],
                         ids=["0-d str array", "always equal"])
def test_the_one_pass_state_check_refuses_what_the_general_one_does(data, schedule):
    # rev-199: the one-pass test of 9f275fe took any lr_schedule that
    # compared equal to a schedule's name, where the general check wants a
    # str (or a callable).
    X, y = data
    model = quiet(MLPClassifier((4,), solver="sgd", max_iter=2, random_state=0).fit, X, y)
    model.partial_fit(X, y)
    model._optimizer.lr_schedule = schedule
    with pytest.raises(ValueError, match="lr_schedule"):
        model._optimizer._check_scalars()
