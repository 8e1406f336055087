"""Software prefetch of the next mini-batch's rows.

A step gathers its mini-batch's rows of ``X`` and ``Y`` from wherever the
epoch's order puts them. Once ``X`` is larger than a core's L2 cache (a
float64 table of 10,000 x 20 already is), and the step's own buffers evict
it, each row comes from L3 or memory: the two gathers took about a tenth of
a float64 tabular batch-200 step, more than its relu passes.
``network.gather_rows`` asks for the next batch's rows while this step's
products run, so that its gather finds them in L2. A prefetch is a hint:
it never faults and never changes a value.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# llvm.prefetch's locality 2: keep in the outer levels (L2), not L1, which
# the step's products need.
_LOCALITY = 2


@intrinsic
def prefetch_line(typingctx, arr, i, j):
    """Prefetch the cache line holding ``arr[i, j]`` (2-D ``arr``) for reading."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [context.cast(builder, v, t, types.intp)
               for v, t in zip(args[1:], signature.args[1:])]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # (address, read, locality, data cache)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(_LOCALITY), i32(1)])
        return context.get_dummy_value()

    return types.void(arr, i, j), codegen
