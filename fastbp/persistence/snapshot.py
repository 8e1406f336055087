"""The copy of a model that save checks and writes: whole, as a fit or
partial_fit call left it, never one that a call is training."""

import numpy as np

from .encoding import _RUN_ONLY


def _being_fitted(obj, est):
    """The error that refuses ``est``, in ``obj``, as being fitted."""
    inside = "" if est is obj else f" (in this {type(obj).__name__})"
    return ValueError(
        f"{type(est).__name__}{inside} is being fitted (a fit or partial_fit call, "
        "in this thread or another, is training it and has not set its model yet): "
        "save the fitted_estimator a callback hook receives (a snapshot of that "
        "epoch's model), or save after the call returns.")


def _refuse_being_fitted(obj, estimators):
    """Refuse a fastbp model that a fit or partial_fit call is training.

    Until the call has set the model, the estimator holds what it held
    before (the initial weights of a first fit, the last fit's history):
    saved from an epoch hook, that file would load as a trained model.
    """
    from ..estimators.fit_calls import is_being_fitted

    for est in estimators:
        if is_being_fitted(est):
            raise _being_fitted(obj, est)


def _is_copied(item):
    # What _objects and _held_within look into: the objects whose
    # attributes save reads, and edits for writing.
    from sklearn.base import BaseEstimator

    return (hasattr(item, "__dict__") and not isinstance(item, type)
            and (isinstance(item, BaseEstimator)
                 or type(item).__module__.split(".")[0] in ("sklearn", "fastbp")))


def _copied(item, memo):
    """``item`` as it is now, in objects of its own: each scikit-learn and
    fastbp object in it a shallow copy, its lists, tuples and dicts new
    ones, a training record (``Series``) and a ``RandomState`` copies; the
    arrays and other values shared (a fit sets new arrays, never writes
    into a model's). What a fit in another thread goes on to change
    in place (the loss curve it appends to, a caller's generator it draws
    from) does not reach the copy, and what save edits for writing is not
    the user's. ``memo`` maps ids to ``(original, copy)``: an object held
    twice is copied once (and, kept alive, leaves its id to no other)."""
    from ..training.progress import Series

    key = id(item)
    if key in memo:
        return memo[key][1]
    kind = type(item)
    if kind in (list, tuple):
        new = [_copied(v, memo) for v in item]
        new = new if kind is list else tuple(new)
    elif kind is dict:
        # (One C-level copy first: a fit adding keys meanwhile is no
        # "changed size during iteration".)
        new = {k: _copied(v, memo) for k, v in dict(item).items()}
    elif kind is Series:
        new = item.copy()
    elif isinstance(item, np.random.RandomState):
        import copy

        new = copy.deepcopy(item)
    elif _is_copied(item):
        try:
            new = object.__new__(kind)
        except TypeError:  # a type object.__new__ cannot make: shared, as before
            return item
        memo[key] = (item, new)
        # A running fit's attributes shared, not copied: save drops them
        # before writing, and tells a checkpoint of the fit's own hooks by
        # the identity of its callbacks (rev-214: copies of a scikit-learn
        # or fastbp callback made every such save warn).
        new.__dict__.update({k: v if k in _RUN_ONLY else _copied(v, memo)
                             for k, v in dict(vars(item)).items()})
        return new
    else:
        return item
    memo[key] = (item, new)
    return new


# How many times save copies a model that calls in other threads keep
# changing before it refuses it as being fitted.
_SNAPSHOT_TRIES = 5


def _snapshot(obj, estimators):
    """A copy of ``obj`` (:func:`_copied`) that holds each fastbp model of
    ``estimators`` (``obj``'s, :func:`_objects`) whole, as a call left it:
    no fit or partial_fit call changed any of them while it was copied.

    Each model's mark and generation (:func:`~fastbp.estimators.fit_calls.
    training_state`) are read before and after copying: a call in another
    thread that started, ran or ended meanwhile replaced one of them, and
    the copy is taken anew.

    Raises
    ------
    ValueError
        If a model is being fitted, or calls kept changing a model through
        :data:`_SNAPSHOT_TRIES` copies.
    """
    from ..estimators.fit_calls import training_state

    for _ in range(_SNAPSHOT_TRIES):
        before = [training_state(est) for est in estimators]
        _refuse_being_fitted(obj, estimators)
        snapshot = _copied(obj, {})
        changed = [est for est, (mark, generation) in zip(estimators, before)
                   if (now := training_state(est))[0] is not mark
                   or now[1] is not generation]
        if not changed:
            return snapshot
    _refuse_being_fitted(obj, estimators)
    raise _being_fitted(obj, changed[0])
