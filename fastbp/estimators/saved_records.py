"""The per-epoch records a saved model holds once: ``history_``,
``loss_curve_`` and ``validation_scores_`` left out of a model's state
where they are what its training record (``_progress``) gives, and
rebuilt from it when the state is set again.

In memory they share the record's storage (views, the same lists); a
pickle or a skops file wrote them apart, so that each epoch of a long
``partial_fit`` stream was saved twice (rev-320: a 5.5 MB schema after
10,000 calls), and a loaded model's ``history_`` no longer shared its
record's storage.
"""

import numpy as np

from ..training.progress import HISTORY_KEYS, Progress, Series

#: The state entry mapping each attribute left out, to rebuild from
#: ``_progress``, to the attribute before it (None: the first).
REBUILT = "_rebuilt_from_progress"

_RECORD_LISTS = {"loss_curve_": "loss_curve", "validation_scores_": "validation_scores"}


def _same_array(a, b):
    """Whether the array ``a`` holds what the array ``b`` does (dtype,
    shape, values, NaN equal to NaN), at once where it is a view of the
    same memory (the common case: no copy of the values made)."""
    if not isinstance(a, np.ndarray) or a.dtype != b.dtype or a.shape != b.shape:
        return False
    if (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides):
        return True
    return bool(np.array_equal(a, b, equal_nan=True))


def _same_history(history, progress):
    """Whether ``history`` (a model's ``history_``) is what ``progress``
    gives as ``history_``: the same keys in the same order, each array of
    the same dtype, shape and values."""
    if type(history) is not dict:
        return False
    expected = progress.history_arrays()
    return (list(history) == list(expected)
            and all(_same_array(history[key], values) for key, values in expected.items()))


def _is_record(progress):
    """Whether ``progress`` is a training record whose views and lists can
    be handed out (as a fit keeps it)."""
    history = getattr(progress, "history", None) if isinstance(progress, Progress) else None
    return (isinstance(history, dict) and set(history) == set(HISTORY_KEYS)
            and all(isinstance(v, Series) for v in history.values())
            and isinstance(getattr(progress, "loss_curve", None), list))


def without_rebuilt(state):
    """``state`` (a model's ``__getstate__``, a new dict) without the
    records its ``_progress`` gives, and naming them, with where they were,
    under :data:`REBUILT`.

    A ``history_`` that is not what ``_progress.history_arrays()`` gives
    (one the user replaced, an L-BFGS fit's) and a ``loss_curve_`` or
    ``validation_scores_`` that is not the record's own list (a model
    converted by ``from_sklearn``) are kept as they are.

    Parameters
    ----------
    state : dict
        Attribute name to value; changed in place.

    Returns
    -------
    state : dict
    """
    progress = state.get("_progress")
    if not _is_record(progress):
        return state
    dropped = set()
    if "history_" in state and _same_history(state["history_"], progress):
        dropped.add("history_")
    for name, record in _RECORD_LISTS.items():
        value = getattr(progress, record, None)
        if value is not None and state.get(name) is value:
            dropped.add(name)
    if not dropped:
        return state
    # Each name with the attribute kept before it (None: first), so that
    # the loaded model's attributes come in the order they were saved in.
    rebuilt, previous = {}, None
    for name in list(state):
        if name in dropped:
            rebuilt[name] = previous
            del state[name]
        else:
            previous = name
    state[REBUILT] = rebuilt
    return state


def with_rebuilt(state):
    """``state`` with the records that :func:`without_rebuilt` left out
    rebuilt from its ``_progress``: ``history_`` as views of its storage,
    ``loss_curve_`` and ``validation_scores_`` its very lists.

    Parameters
    ----------
    state : dict
        A state from :func:`without_rebuilt` (pickle, deepcopy, a skops
        file), or one without :data:`REBUILT` (an older file), returned as
        it is.

    Returns
    -------
    state : dict
        A new dict, without :data:`REBUILT`, the rebuilt attributes where
        they were in the model's state.

    Raises
    ------
    ValueError
        Where :data:`REBUILT` names other attributes, or ``_progress`` is
        no training record to rebuild them from (an edited file).
    """
    if not isinstance(state, dict) or REBUILT not in state:
        return state
    state = dict(state)
    rebuilt = state.pop(REBUILT)
    known = ("history_", *_RECORD_LISTS)
    if not (isinstance(rebuilt, dict) and set(rebuilt) <= set(known)
            and all(v is None or isinstance(v, str) for v in rebuilt.values())):
        raise ValueError(f"the model's {REBUILT} is {rebuilt!r}, where it maps which of "
                         f"{', '.join(known)} to rebuild from its training record to the "
                         "attribute before it")
    progress = state.get("_progress")
    if not _is_record(progress):
        raise ValueError(f"the model's {', '.join(rebuilt)} are to be rebuilt from its "
                         f"training record (_progress), which is a {type(progress).__name__}, "
                         "not the loss curve, validation scores and history fastbp keeps")
    values = {}
    for name in rebuilt:
        if name == "history_":
            values[name] = progress.history_arrays()
            continue
        value = getattr(progress, _RECORD_LISTS[name], None)
        if not isinstance(value, list):
            raise ValueError(f"the model's {name} is to be rebuilt from its training record's "
                             f"{_RECORD_LISTS[name]}, which is a {type(value).__name__}, not "
                             "a list")
        values[name] = value
    # In their places again (an anchor not in the state: at the end).
    after = {}
    for name, previous in rebuilt.items():
        after.setdefault(previous if previous is None or previous in state else REBUILT,
                         []).append(name)
    ordered = {name: values[name] for name in after.get(None, ())}
    for key, value in state.items():
        ordered[key] = value
        for name in after.get(key, ()):
            ordered[name] = values[name]
    for name in after.get(REBUILT, ()):
        ordered[name] = values[name]
    return ordered
