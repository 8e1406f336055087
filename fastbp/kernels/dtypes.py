"""Keeping every kernel in one floating dtype.

Numba types ``int + float32`` and ``float32 * python_float`` as float64, so
an innocent literal silently turns float32 arithmetic into float64 (scalar,
unvectorised, and mixed). ``like(value, ref)`` makes a constant of ``ref``'s
type; LLVM folds it away.
"""

import numpy as np
from numba import types
from numba.extending import overload


def like(value, ref):
    """``value`` converted to the floating type of ``ref`` (scalar or array)."""
    dtype = ref.dtype if hasattr(ref, "dtype") else np.asarray(ref).dtype
    return dtype.type(value)


@overload(like, inline="always")
def _like(value, ref):
    kind = ref.dtype if isinstance(ref, types.Array) else ref
    if kind == types.float32:
        return lambda value, ref: np.float32(value)
    return lambda value, ref: np.float64(value)
