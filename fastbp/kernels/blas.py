"""Matrix products of the CPU kernels, through NumPy's own BLAS.

Numba compiles ``np.dot`` into a call to SciPy's BLAS. fastbp calls
instead the CBLAS ``sgemm``/``dgemm`` of the OpenBLAS that NumPy itself
links (and with it scikit-learn's MLP): on the products of a mini-batch
step it was 1.0-1.5x faster than SciPy's build (``python -m
bench.small_products``), the forward products equal NumPy's ``a @ b`` bit
for bit, and one external call per product compiles in a fraction of the
time of Numba's ``np.dot`` (three layouts of it cost 0.3 s of a cold first
fit).

How, and why it is safe:

- NumPy's wheels ship OpenBLAS with 64-bit integers and suffixed names
  (``scipy_cblas_sgemm64_``). The symbol is looked up in the library that
  NumPy has already loaded (``dlsym`` through NumPy's extension module,
  which links it), so it is the very code and thread pool NumPy uses:
  ``threadpoolctl`` and ``OPENBLAS_NUM_THREADS`` govern it as they govern
  NumPy.
- The address is handed to LLVM under a fixed name (``fastbp_sgemm``), so
  the kernels cached on disk refer to the name, never to an address of
  one process; the name is bound again at every import, before any kernel
  loads.
- Where no such symbol exists (NumPy built against another BLAS: MKL,
  Accelerate, a system OpenBLAS with 32-bit integers), or where the
  environment variable ``FASTBP_BLAS=scipy`` asks for it, the products use
  Numba's ``np.dot`` as before. The choice is part of every cache key
  (:func:`fastbp._cache.key.add_cache_key`), so a kernel compiled for one is
  never loaded for the other.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .._cblas import BACKEND, NUMPY_BLAS, find_numpy_cblas  # noqa: F401 (re-exported)
from .._config import kernel

# CBLAS enumerations (C ints).
_ROW_MAJOR = 101
_NO_TRANS = 111
_TRANS = 112


def _cblas_gemm_call(context, builder, signature, args, trans_a, trans_b, a_col0=None):
    """Emit ``out = op(a) @ op(b)`` as one call of NumPy's CBLAS gemm.

    With ``a_col0`` (an int64 value; ``trans_a`` only), ``op(a)`` is
    ``a[:, a_col0:a_col0 + m].T``: the columns are read in place, with
    ``a``'s row length as the leading dimension.
    """
    a_ty, b_ty, out_ty = signature.args[:3]
    a, b, out = (context.make_array(ty)(context, builder, val)
                 for ty, val in zip((a_ty, b_ty, out_ty), args[:3]))
    a_rows, a_cols = cgutils.unpack_tuple(builder, a.shape, 2)
    b_cols = cgutils.unpack_tuple(builder, b.shape, 2)[1]
    m, n = cgutils.unpack_tuple(builder, out.shape, 2)
    k = a_rows if trans_a else a_cols
    a_data = a.data if a_col0 is None else builder.gep(a.data, [a_col0])
    i32 = ir.IntType(32)
    i64 = ir.IntType(64)
    one = ir.Constant(i64, 1)

    def at_least_one(value):
        # BLAS requires leading dimensions >= 1, even of empty operands.
        return builder.select(builder.icmp_signed("<", value, one), one, value)

    float_ty = context.get_value_type(out_ty.dtype)
    ptr = float_ty.as_pointer()
    fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, float_ty, ptr, i64,
                                           ptr, i64, float_ty, ptr, i64])
    name = "fastbp_sgemm" if out_ty.dtype == types.float32 else "fastbp_dgemm"
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    builder.call(fn, [ir.Constant(i32, _ROW_MAJOR),
                      ir.Constant(i32, _TRANS if trans_a else _NO_TRANS),
                      ir.Constant(i32, _TRANS if trans_b else _NO_TRANS),
                      m, n, k, ir.Constant(float_ty, 1.0), a_data, at_least_one(a_cols),
                      b.data, at_least_one(b_cols), ir.Constant(float_ty, 0.0), out.data,
                      at_least_one(n)])
    return context.get_dummy_value()


def _cblas_gemm_typer(trans_a, trans_b):
    def typer(typingctx, a, b, out):
        arrays = (a, b, out)
        if not all(isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C"
                   for x in arrays):
            return None
        if len({x.dtype for x in arrays}) != 1 or out.dtype not in (types.float32,
                                                                    types.float64):
            return None

        def codegen(context, builder, signature, args):
            return _cblas_gemm_call(context, builder, signature, args, trans_a, trans_b)
        return types.void(a, b, out), codegen
    return typer


# One intrinsic per transposition: an intrinsic is emitted in place, with no
# compile of its own.
_cblas_nn = intrinsic(_cblas_gemm_typer(False, False))
_cblas_tn = intrinsic(_cblas_gemm_typer(True, False))
_cblas_nt = intrinsic(_cblas_gemm_typer(False, True))


@intrinsic
def _cblas_tn_cols(typingctx, a, col0, b, out):
    plain = _cblas_gemm_typer(True, False)(typingctx, a, b, out)
    if plain is None or not isinstance(col0, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        a_ty, col0_ty, b_ty, out_ty = signature.args
        col0 = context.cast(builder, args[1], col0_ty, types.int64)
        return _cblas_gemm_call(context, builder, types.void(a_ty, b_ty, out_ty),
                                (args[0], args[2], args[3]), True, False, a_col0=col0)
    return types.void(a, col0, b, out), codegen


@kernel
def _poison(out):
    """Put a NaN in ``out``.

    What a product of mismatched shapes gives, where BLAS would read and
    write out of bounds: the layout tables decide every shape, so it is a
    bug, and the NaN spreads through the step and surfaces as divergence
    rather than as corrupted memory. (Kernels do not raise: the entry
    points restore the caller's floating-point mode on their way out. One
    element, not a loop: a fill loop inlined at every product cost 0.3 s of
    a cold compile.)
    """
    if out.shape[0] > 0 and out.shape[1] > 0:
        out[0, 0] = np.nan


@kernel
def matmul(a, b, out):
    """``out = a @ b``.

    Parameters
    ----------
    a : ndarray of shape (m, k), C-contiguous
    b : ndarray of shape (k, n), C-contiguous
    out : ndarray of shape (m, n), C-contiguous
        Overwritten; must not overlap ``a`` or ``b``. Holds a NaN when the
        shapes do not match (see :func:`_poison`).
    """
    if (a.shape[1] != b.shape[0] or out.shape[0] != a.shape[0]
            or out.shape[1] != b.shape[1]):
        _poison(out)
    elif NUMPY_BLAS:
        _cblas_nn(a, b, out)
    else:
        np.dot(a, b, out)


@kernel
def matmul_tn(a, b, out):
    """``out = a.T @ b``, for ``a`` of shape (k, m) and ``b`` of shape
    (k, n) (as :func:`matmul`)."""
    if (a.shape[0] != b.shape[0] or out.shape[0] != a.shape[1]
            or out.shape[1] != b.shape[1]):
        _poison(out)
    elif NUMPY_BLAS:
        _cblas_tn(a, b, out)
    else:
        np.dot(a.T, b, out)


@kernel
def matmul_nt(a, b, out):
    """``out = a @ b.T``, for ``a`` of shape (m, k) and ``b`` of shape
    (n, k) (as :func:`matmul`)."""
    if (a.shape[1] != b.shape[1] or out.shape[0] != a.shape[0]
            or out.shape[1] != b.shape[0]):
        _poison(out)
    elif NUMPY_BLAS:
        _cblas_nt(a, b, out)
    else:
        np.dot(a, b.T, out)


@kernel
def matmul_tn_cols(a, col0, b, out):
    """``out = a[:, col0:col0 + m].T @ b``, for ``a`` of shape (k, n_a),
    ``b`` of shape (k, n) and ``out`` of shape (m, n), reading ``a``'s
    columns in place (as :func:`matmul`; a window outside ``a`` poisons
    ``out``).

    One part of a split step computes its rows of a weight gradient this
    way (:mod:`fastbp.kernels.split`).
    """
    if (a.shape[0] != b.shape[0] or col0 < 0 or col0 + out.shape[0] > a.shape[1]
            or out.shape[1] != b.shape[1]):
        _poison(out)
    elif NUMPY_BLAS:
        _cblas_tn_cols(a, col0, b, out)
    else:
        np.dot(np.ascontiguousarray(a[:, col0:col0 + out.shape[0]]).T, b, out)
