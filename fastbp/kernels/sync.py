"""A spin barrier for the threads that share one mini-batch step
(:mod:`fastbp.kernels.split`).

Each part of a split step publishes how many barriers it has reached in a
counter of its own, on a cache line of its own, and waits until every other
part's counter has caught up. The counters only grow within one call, so no
sense reversal is needed; the caller zeroes them before each call.

A waiting thread spins with the CPU's ``pause`` hint, then gives its core
away (``sched_yield``) if the other part is late: on a shared machine the
other thread may have been descheduled, and spinning would keep it from
the core it needs. A nonzero :data:`ABORT` slot, set by the Python driver
when a part could not start, makes every waiting part return instead of
waiting for ever.

The counters are read and written as atomics (acquire and release), which
also orders each part's writes to the shared work buffers before the other
parts' reads of them.
"""

import ctypes
import platform

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._config import kernel

#: int64 slots per counter: each on a 64-byte cache line of its own.
STRIDE = 8
#: Slot of the abort flag; part ``p``'s counter is at ``(p + 1) * STRIDE``.
ABORT = 0
#: Pauses before a waiting part yields its core (a few microseconds).
SPINS = 2000

# Bound like the BLAS symbols (fastbp._cblas): cached kernels name it, and
# every import binds the name again before any kernel loads.
_libc = ctypes.CDLL(None)
llvm.add_symbol("fastbp_sched_yield", ctypes.cast(_libc.sched_yield, ctypes.c_void_p).value)
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def sync_size(n_parts):
    """Length of the int64 array that :func:`barrier` takes for ``n_parts``."""
    return (n_parts + 1) * STRIDE


def _slot_pointer(context, builder, arr_ty, arr, index, index_ty):
    array = context.make_array(arr_ty)(context, builder, arr)
    return builder.gep(array.data, [context.cast(builder, index, index_ty, types.intp)])


def _is_counter_array(arr):
    return (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"
            and arr.dtype == types.int64)


@intrinsic
def load_acquire(typingctx, arr, index):
    """``arr[index]``, read atomically with acquire ordering (no bounds check)."""
    if not (_is_counter_array(arr) and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ptr = _slot_pointer(context, builder, signature.args[0], args[0], args[1],
                            signature.args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(arr, index), codegen


@intrinsic
def store_release(typingctx, arr, index, value):
    """``arr[index] = value``, written atomically with release ordering."""
    if not (_is_counter_array(arr) and isinstance(index, types.Integer)
            and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ptr = _slot_pointer(context, builder, signature.args[0], args[0], args[1],
                            signature.args[1])
        val = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(val, ptr, "release", 8)
        return context.get_dummy_value()

    return types.void(arr, index, value), codegen


@intrinsic
def relax(typingctx):
    """The spin-wait hint (``pause`` on x86; nothing elsewhere)."""
    def codegen(context, builder, signature, args):
        if _X86:
            builder.call(cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause"), [])
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def yield_core(typingctx):
    """``sched_yield()``: let the scheduler run another thread here."""
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(32), [])
        builder.call(cgutils.get_or_insert_function(builder.module, fnty,
                                                    "fastbp_sched_yield"), [])
        return context.get_dummy_value()

    return types.void(), codegen


@kernel
def barrier(sync, part, n_parts, count):
    """Wait until every part has reached barrier number ``count``.

    Parameters
    ----------
    sync : ndarray of int64, shape (sync_size(n_parts),)
        The counters and the abort flag, shared by the parts.
    part, n_parts : int
    count : int
        This barrier's number in the call: 1, 2, ...

    Returns
    -------
    bool
        False if the abort flag was raised while waiting.
    """
    store_release(sync, (part + 1) * STRIDE, count)
    for q in range(n_parts):
        if q == part:
            continue
        spins = 0
        while load_acquire(sync, (q + 1) * STRIDE) < count:
            if load_acquire(sync, ABORT) != 0:
                return False
            if spins < SPINS:
                spins += 1
                relax()
            else:
                yield_core()
    return True
