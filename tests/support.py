"""Helpers shared by the test modules."""

import warnings

from fastbp._config import python_twin


def quiet(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with warnings silenced (convergence warnings
    of deliberately short fits)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


class python_kernels:
    """A kernels module as Python can call it: its inner kernels (compiled
    without a CPython wrapper, see ``fastbp._config.InnerKernel``) are
    replaced by twins that have one; everything else passes through."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        return python_twin(getattr(self._module, name))
