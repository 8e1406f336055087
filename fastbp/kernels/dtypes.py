"""Keeping every kernel in one floating dtype.

Numba types ``int + float32`` and ``float32 * python_float`` as float64, so
an innocent literal silently turns float32 arithmetic into float64 (scalar,
unvectorised, and mixed). ``like(value, ref)`` makes a constant of ``ref``'s
type; LLVM folds it away.
"""

import numpy as np
from numba import types
from numba.extending import lower_builtin, type_callable


def like(value, ref):
    """``value`` converted to the floating type of ``ref`` (scalar or array)."""
    dtype = ref.dtype if hasattr(ref, "dtype") else np.asarray(ref).dtype
    return dtype.type(value)


# Compiled code gets ``like`` as a builtin, typed and lowered to one cast in
# place. (As an ``@overload``, each type combination compiled a function of
# its own: six of them, 0.1 s, in a cold first fit.) Both the CPU and the
# CUDA target read these registries.

def _float_of(ref):
    kind = ref.dtype if isinstance(ref, types.Array) else ref
    return types.float32 if kind == types.float32 else types.float64


@type_callable(like)
def _type_like(context):
    def typer(value, ref):
        if isinstance(value, (types.Number, types.Boolean)):
            return _float_of(ref)
        return None
    return typer


@lower_builtin(like, types.Any, types.Any)
def _lower_like(context, builder, sig, args):
    return context.cast(builder, args[0], sig.args[0], sig.return_type)
