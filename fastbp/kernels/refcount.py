"""Arrays the whole-network kernels borrow from their caller, without
reference counting.

Numba counts references to an array's memory with atomic increments and
decrements (NRT), so that views may outlive their parent. Inside a kernel
every layer's view of a flat buffer, and every array passed to a callee
that is not inlined, costs such a pair: on the tabular model at batch 32,
``perf`` put 15 % of a training epoch in ``NRT_incref`` and ``NRT_decref``
(each a locked add on a shared cache line), about a microsecond a step.

The entry points' arrays belong to the Python caller, who holds them for
the whole call, and no view of them outlives it (the kernels return
scalars). :func:`borrowed` gives such an array back without its owner, so
that its views skip the count: NRT's increment and decrement return at once
for an array without one.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def borrowed(typingctx, arr):
    """``arr`` without its memory owner: the same data, shape and strides,
    whose views and callees do no reference counting. It must not outlive
    the kernel call that borrowed it (never return or store it)."""
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        (aryty,), (value,) = signature.args, args
        ary = context.make_array(aryty)(context, builder, value=value)
        ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
        ary.parent = cgutils.get_null_value(ary.parent.type)
        return ary._getvalue()

    return arr(arr), codegen
