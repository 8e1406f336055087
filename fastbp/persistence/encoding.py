"""What save writes otherwise than the model holds it, for skops: plain
arrays for memory-mapped ones, the attributes of a running fit left out."""

import numpy as np


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
