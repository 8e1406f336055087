"""Helpers shared by the test modules."""

import warnings


def quiet(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with warnings silenced (convergence warnings
    of deliberately short fits)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)
