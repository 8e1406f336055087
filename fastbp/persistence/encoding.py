"""What save writes otherwise than the model holds it, for skops, and load
restores: plain arrays for memory-mapped ones, the weights as predict
packs them, dicts whose keys skops would change and routing requests
encoded, the attributes of a running fit (its callbacks) left out."""

import os
import zipfile
from contextlib import contextmanager

import numpy as np

from .keyed_dicts import _KEYED, _keyed_dicts, _refuse_nested_keyed_dicts, _set_keyed_dicts
from .objects import _held_within
from .routing import _REQUESTS, _plain_requests, _set_requests

# Estimator attributes of a running fit, never saved.
_RUN_ONLY = ("_skl_callbacks", "_skl_callbacks_to_teardown", "_callback_fit_ctx",
             "_parent_callback_ctx", "_on_epoch_end", "_announce_compile")


def _plain_array(value):
    """``value`` with each memory-mapped array in it (joblib's
    ``mmap_mode``), in lists, tuples and dicts too, as a plain ndarray (a
    view, no copy): skops would write the type ``numpy.memmap``, which load
    does not rebuild. ``value`` itself where it holds none."""
    if isinstance(value, np.ndarray):
        return np.asarray(value) if isinstance(value, np.memmap) else value
    if type(value) in (list, tuple):
        new = [_plain_array(v) for v in value]
        if all(a is b for a, b in zip(new, value)):
            return value
        return new if type(value) is list else tuple(new)
    if type(value) is dict:
        new = {k: _plain_array(v) for k, v in value.items()}
        if all(new[k] is v for k, v in value.items()):
            return value
        return new
    return value


def _plain_arrays(obj):
    """``{attribute: value}`` for the attributes of ``obj`` that hold a
    memory-mapped array (:func:`_plain_array`), with plain arrays instead."""
    state = getattr(obj, "__dict__", {})
    return {name: new for name, value in state.items()
            if (new := _plain_array(value)) is not value}


def _dropped_callbacks(objects):
    """``"MLPClassifier's ProgressBar, ..."`` for each of ``objects`` that
    holds callbacks save leaves out, for its warning.

    Callbacks and their contexts belong to a running fit, not to the model
    (a Pipeline's or a search's too: set_callbacks(ProgressBar()) on it).
    Said rather than done silently: pickle and clone keep them, and the
    loaded model would train without its monitor, early stop or
    TensorBoard writer. Not from a hook of the fit they drive (a
    checkpoint callback saving its fitted_estimator, which holds them too):
    said at every epoch, the warning would only be noise to the callback
    that saves.
    """
    from ..estimators.callbacks import saved_from_own_hook

    dropped = []
    for est in objects:
        callbacks = est.__dict__.get("_skl_callbacks") or []
        if callbacks and not saved_from_own_hook(est):
            names = ", ".join(type(c).__name__ for c in callbacks)
            dropped.append(f"{type(est).__name__}'s {names}")
    return dropped


def _serialised(sio, obj, objects, weights):
    """``obj`` as skops writes it (bytes), in the form :func:`_as_written`
    gives it for the time of writing.

    Parameters
    ----------
    sio : module
        ``skops.io``.
    obj : object
        The snapshot save writes.
    objects : list
        The scikit-learn and fastbp objects in ``obj``
        (:func:`~fastbp.persistence.objects._objects`).
    weights : dict
        ``{id(model): {attribute: arrays}}``, the weights as predict packs
        them (:func:`~fastbp.persistence.checks._weights_as_predicted`).

    Raises
    ------
    ValueError
        If a dict nested in an attribute has keys skops would change.
    """
    with _as_written(sio, objects, weights):
        return sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)


@contextmanager
def _as_written(sio, objects, weights):
    """``objects`` edited into what the file holds while the block runs, and
    put back as they were after it, however it ends: the attributes of a
    running fit and the routing requests set aside, plain arrays and the
    weights as predict packs them (:func:`_write_arrays_plain`), dicts
    whose keys skops would change and the routing requests encoded
    (:func:`_encode_keyed_dicts`, :func:`_encode_requests`)."""
    held = [(est, {k: est.__dict__.pop(k) for k in _RUN_ONLY + ("_metadata_request",)
                   if k in est.__dict__})
            for est in objects]
    nested = []
    try:
        _write_arrays_plain(objects, held, weights, nested)
        _encode_keyed_dicts(sio, held)
        _encode_requests(held)
        yield
    finally:
        for sub, attributes in nested:
            sub.__dict__.update(attributes)
        for est, attributes in held:
            est.__dict__.pop(_REQUESTS, None)
            est.__dict__.pop(_KEYED, None)
            est.__dict__.update(attributes)


def _write_arrays_plain(objects, held, weights, nested):
    """Give the objects of ``held`` plain arrays and the weights as predict
    packs them, and what their fastbp models hold (optimizer, training
    record, label binarizer), which :func:`~fastbp.persistence.objects._objects`
    does not list, plain arrays: the attributes replaced are kept in each
    object's dict of ``held``, and in ``(object, attributes)`` pairs
    appended to ``nested``, to be put back."""
    for est, attributes in held:
        replaced = {**_plain_arrays(est), **weights.get(id(est), {})}
        attributes.update({name: est.__dict__[name] for name in replaced})
        est.__dict__.update(replaced)
    for sub in _held_within(objects):
        replaced = _plain_arrays(sub)
        if replaced:
            nested.append((sub, {name: sub.__dict__[name] for name in replaced}))
            sub.__dict__.update(replaced)


def _encode_keyed_dicts(sio, held):
    """Move the dict attributes of ``held``'s objects whose keys skops would
    change into their :data:`~fastbp.persistence.keyed_dicts._KEYED`
    attribute, after refusing such a dict nested deeper."""
    memo = {}
    for est, attributes in held:
        keyed = _keyed_dicts(sio, est, memo)
        # Before the attributes are moved: the paths named are the user's.
        _refuse_nested_keyed_dicts(sio, est, keyed, memo)
        for name in keyed:
            value = est.__dict__.pop(name)
            attributes.setdefault(name, value)
        if keyed:
            est.__dict__[_KEYED] = keyed


def _encode_requests(held):
    """Give the objects of ``held`` that had routing requests set
    (set_fit_request, ...) their plain form: skops recurses without end on
    scikit-learn's MetadataRequest (a RecursionError), and load sets them
    again."""
    for est, attributes in held:
        if "_metadata_request" in attributes:
            est.__dict__[_REQUESTS] = _plain_requests(attributes["_metadata_request"])


def _restore_encoded(path, objects):
    """Set the keyed dicts and routing requests that save encoded on the
    loaded ``objects`` again, from the file ``path``.

    Raises
    ------
    ValueError
        If what is encoded is not what save writes (the file is not
        trusted).
    """
    for item in objects:
        plain = getattr(item, "__dict__", {}).pop(_REQUESTS, None)
        keyed = getattr(item, "__dict__", {}).pop(_KEYED, None)
        try:
            if keyed is not None:
                _set_keyed_dicts(item, keyed)
            if plain is not None:
                _set_requests(item, plain)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{os.fspath(path)} is damaged or was edited: {exc}") from exc
