"""Elementary functions that LLVM can vectorise, for the CPU kernels.

llvmlite links no vector maths library (no SVML), so ``math.exp`` in a loop
stays a call to libm's scalar ``exp`` for every element: the softmax and
logistic outputs spent most of their time there. :func:`exp` here is plain
arithmetic that LLVM inlines and vectorises: Cody-Waite range reduction, then
Cephes' minimax polynomial (float32) or Pade approximant (float64), then a
scaling by ``2**n`` built from its bits.

Accuracy (``tests/test_kernels.py`` measures it against NumPy over the whole
range): at most 2 ulp in float32 and in float64; ``inf``, ``-inf``, NaN,
overflow to ``inf`` and underflow through the subnormals to 0 behave as
``math.exp``.

The CPU's output layer calls it where the exponentials of a whole block
are taken at once (``losses.exp_block``: softmax and the Poisson output);
elsewhere the scalar formulas keep ``math.exp``, whose loops do not
vectorise anyway (they dispatch on an activation or output code), and on
the GPU ``math.exp`` is already fast.
"""

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from .._config import ELEMENTARY_FASTMATH


@intrinsic
def pow2(typingctx, n, ref):
    """``2.0 ** n`` in the floating type of ``ref``, for an integer ``n`` in
    that type's normal exponent range, made from its bits (a shift and a
    bit cast, which vectorise where ``ldexp`` would not)."""
    if not isinstance(n, types.Integer) or ref not in (types.float32, types.float64):
        return None

    def codegen(context, builder, signature, args):
        if signature.return_type == types.float32:
            int_type, bias, shift, float_type = ir.IntType(32), 127, 23, ir.FloatType()
        else:
            int_type, bias, shift, float_type = ir.IntType(64), 1023, 52, ir.DoubleType()
        value = args[0]
        width = value.type.width
        if width > int_type.width:
            value = builder.trunc(value, int_type)
        elif width < int_type.width:
            value = builder.sext(value, int_type)
        bits = builder.shl(builder.add(value, ir.Constant(int_type, bias)),
                           ir.Constant(int_type, shift))
        return builder.bitcast(bits, float_type)

    return ref(n, ref), codegen


def exp(x):
    """``e ** x``; the compiled version is the vectorisable one (see the
    module docstring). From Python, ``math.exp``."""
    return math.exp(x)


# Cody-Waite split of ln 2: ``n * LN2_HI`` is exact for the ``n`` in range.
_LN2_HI_32, _LN2_LO_32 = 0.693359375, -2.12194440e-4
_LN2_HI_64, _LN2_LO_64 = 6.93145751953125e-1, 1.42860682030941723212e-6
_LOG2E = 1.4426950408889634073599


def _exp32(x):
    f = np.float32
    # Beyond these bounds the result is inf or 0 anyway; inside them, each
    # half of n keeps 2**(n/2) a normal float32, so subnormal results and
    # overflow come out right.
    # Plain selects, not min/max (each would compile an overload of its own);
    # a NaN comes out as the upper bound, and the last line returns it.
    xc = x if x > f(-104.0) else f(-104.0)
    xc = xc if xc < f(89.0) else f(89.0)
    # Round to nearest by adding and subtracting 1.5 * 2**23 (no reassoc
    # here to fold it away): unlike floor, it stays inline arithmetic in the
    # scalar remainder of a vectorised loop too.
    fn = (xc * f(_LOG2E) + f(12582912.0)) - f(12582912.0)
    n = np.int32(fn)
    r = xc - fn * f(_LN2_HI_32)
    r = r - fn * f(_LN2_LO_32)
    p = f(1.9875691500e-4)
    p = p * r + f(1.3981999507e-3)
    p = p * r + f(8.3334519073e-3)
    p = p * r + f(4.1665795894e-2)
    p = p * r + f(1.6666665459e-1)
    p = p * r + f(5.0000001201e-1)
    p = p * (r * r) + r + f(1.0)
    half = n >> 1
    result = p * pow2(half, x) * pow2(n - half, x)
    return x if x != x else result


def _exp64(x):
    f = np.float64
    xc = x if x > f(-746.0) else f(-746.0)
    xc = xc if xc < f(710.0) else f(710.0)
    fn = (xc * f(_LOG2E) + f(6755399441055744.0)) - f(6755399441055744.0)
    n = np.int64(fn)
    r = xc - fn * f(_LN2_HI_64)
    r = r - fn * f(_LN2_LO_64)
    rr = r * r
    p = f(1.26177193074810590878e-4)
    p = p * rr + f(3.02994407707441961300e-2)
    p = (p * rr + f(9.99999999999999999910e-1)) * r
    q = f(3.00198505138664455042e-6)
    q = q * rr + f(2.52448340349684104192e-3)
    q = q * rr + f(2.27265548208155028766e-1)
    q = q * rr + f(2.00000000000000000009e0)
    e = f(1.0) + f(2.0) * (p / (q - p))
    half = n >> 1
    result = e * pow2(half, x) * pow2(n - half, x)
    return x if x != x else result


# Compiled apart from its callers and with flags of its own: ``reassoc``
# would fold the two-step range reduction into one and lose its precision.
# LLVM still inlines it into every loop that calls it.
@overload(exp, jit_options={"fastmath": ELEMENTARY_FASTMATH, "error_model": "numpy"})
def _exp(x):
    if x == types.float32:
        return _exp32
    if x == types.float64:
        return _exp64
    return None

