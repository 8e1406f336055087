"""``numba.cuda`` made usable with the NumPy that is installed.

numba-cuda 0.30 (its last release: the package is in maintenance) registers
an overload of ``np.row_stack`` when its NumPy registries first load, at the
first kernel compile. NumPy 2.5 removed ``np.row_stack``, so with it every
compile fails with ``AttributeError: module 'numpy' has no attribute
'row_stack'`` (NVIDIA/numba-cuda#907, closed without a fix). numba 0.67
guards the same overload; numba-cuda never will.
"""

import importlib
import threading

_lock = threading.Lock()
_ready = False


def _row_stack(tup):
    """NumPy's removed ``row_stack``: ``vstack``."""
    import numpy as np

    return np.vstack(tup)


def numba_cuda():
    """The ``numba.cuda`` module, with its NumPy registries loaded.

    Where NumPy lacks ``row_stack``, the registries are loaded with a
    stand-in ``np.row_stack`` for the duration of that import alone: NumPy's
    namespace is left as it was. (A function of its own rather than
    ``np.vstack``, which would get its overload registered twice.)

    Returns
    -------
    module
    """
    global _ready
    from numba import config, cuda

    if _ready or config.ENABLE_CUDASIM:  # the simulator compiles nothing
        return cuda
    with _lock:
        if not _ready:
            import numpy as np

            if hasattr(np, "row_stack"):
                _ready = True
                return cuda
            np.row_stack = _row_stack
            try:
                # The module whose import registers the overload (loaded by
                # the typing context at the first compile otherwise).
                importlib.import_module("numba.cuda.np.arrayobj")
            except ModuleNotFoundError:  # a numba-cuda laid out otherwise
                pass
            finally:
                del np.row_stack
            _ready = True
    return cuda
