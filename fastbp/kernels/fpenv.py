"""Flush-to-zero for the training kernels.

With Adam and an L2 penalty, the weights of inputs that are always zero
(MNIST's border pixels) get no data gradient: the penalty alone drives them,
and their moments, down through float32's subnormal range. Every x86 vector
instruction that reads or produces a subnormal then takes a microcode assist
of a hundred or more cycles. ``python -m bench.subnormals`` times one Adam
update over MNIST's 235,146 parameters with a tenth of them there: 3.85 ms,
against 0.32 ms with subnormals flushed; a float32 MNIST epoch at batch 32
ran 2.4 times as long as it does now, slower than a float64 one.

:func:`flush_denormals` sets the FTZ and DAZ bits of the thread's MXCSR for
the duration of a kernel (the way ``torch.set_flush_denormal(True)`` does for
the whole process) and :func:`restore_denormals` puts the caller's bits back
before the kernel returns: subnormal inputs read as zero and subnormal
results become zero, in the kernel's own loops and in the BLAS calls it
makes. Only values below the smallest normal number (1.2e-38 in float32,
2.2e-308 in float64) are affected. Elsewhere than x86-64 both are no-ops.
"""

import platform

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_X86 = platform.machine().lower() in ("x86_64", "amd64")
# MXCSR bit 15: flush to zero (FTZ); bit 6: denormals are zero (DAZ).
_FTZ_DAZ = 0x8040


def _mxcsr_call(builder, name, ptr):
    fnty = ir.FunctionType(ir.VoidType(), [ir.PointerType(ir.IntType(8))])
    fn = builder.module.declare_intrinsic(name, fnty=fnty)
    builder.call(fn, [builder.bitcast(ptr, ir.PointerType(ir.IntType(8)))])


@intrinsic
def flush_denormals(typingctx):
    """Set FTZ and DAZ; return the previous MXCSR value (0 off x86-64)."""

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        if not _X86:
            return ir.Constant(i32, 0)
        slot = builder.alloca(i32)
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        old = builder.load(slot)
        builder.store(builder.or_(old, ir.Constant(i32, _FTZ_DAZ)), slot)
        _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return old

    return types.uint32(), codegen


@intrinsic
def restore_denormals(typingctx, old):
    """Put back the MXCSR value ``old`` returned by :func:`flush_denormals`."""
    if old != types.uint32:
        return None

    def codegen(context, builder, signature, args):
        if _X86:
            slot = builder.alloca(ir.IntType(32))
            builder.store(args[0], slot)
            _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(old), codegen
