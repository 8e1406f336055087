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
scalars). :func:`borrowed` gives such arrays back without their owner, so
that their views skip the count: NRT's increment and decrement return at
once for an array without one.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _without_owner(context, builder, typ, value):
    if isinstance(typ, types.Array):
        ary = context.make_array(typ)(context, builder, value=value)
        ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
        ary.parent = cgutils.get_null_value(ary.parent.type)
        return ary._getvalue()
    if isinstance(typ, types.BaseTuple):
        for i, member in enumerate(typ):
            item = builder.extract_value(value, i)
            value = builder.insert_value(
                value, _without_owner(context, builder, member, item), i)
    elif context.enable_nrt:
        # Anything else passes through, and the result is a new reference.
        context.nrt.incref(builder, typ, value)
    return value


@intrinsic
def borrowed(typingctx, value):
    """``value`` (an array, or a record of arrays and scalars) with every
    array in it stripped of its memory owner: the same data, shapes and
    strides, whose views and callees do no reference counting. Nothing of
    it may outlive the kernel call that borrowed it (never return or store
    it). One call per record keeps the typing work of a cold compile small.
    """
    if not isinstance(value, (types.Array, types.BaseTuple)):
        return None

    def codegen(context, builder, signature, args):
        return _without_owner(context, builder, signature.args[0], args[0])

    return value(value), codegen
