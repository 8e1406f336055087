"""Two-dimensional views of the flat work and parameter buffers.

Every layer's weights, activations and deltas are ``(rows, cols)`` windows
of a flat buffer, taken a dozen times per mini-batch step. Written as
``buf[off:off + rows * cols].reshape((rows, cols))``, each view compiled
into a call of Numba's C helper ``numba_attempt_nocopy_reshape`` (1.7 % of
a float32 tabular epoch at batch 32, by ``perf``) and a kernel of its own
(0.2 s of a cold first fit). :func:`layer_view` builds the view's array
structure in place instead: a pointer, two extents and two strides.

No kernel calls ``reshape`` at all (:func:`flat_view` is the flat view): a
cached kernel's environment names the module of every function it
compiled in, and ``reshape``'s helper lives in ``numba.np.arrayobj``,
which each process then imports, with Numba's string support, when it
loads the kernel from the cache: about 20 ms of a warm first fit.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def layer_view(typingctx, buf, offset, n_rows, n_cols):
    """The C-ordered ``(n_rows, n_cols)`` view of ``buf[offset:]``.

    Parameters
    ----------
    buf : ndarray of shape (n,), C-contiguous
    offset, n_rows, n_cols : int
        Where the window starts, and its shape.

    Returns
    -------
    ndarray of shape (n_rows, n_cols)
        Shares ``buf``'s memory (and its owner, for reference counting).
        A window that does not lie inside ``buf`` (a corrupted layout
        table) gives an empty ``(0, 0)`` view instead of reading out of
        bounds: the products then poison their output (``blas._poison``)
        and the loops over it do nothing.
    """
    if not (isinstance(buf, types.Array) and buf.ndim == 1 and buf.layout == "C"
            and all(isinstance(x, types.Integer) for x in (offset, n_rows, n_cols))):
        return None
    view_ty = buf.copy(ndim=2, layout="C", readonly=not buf.mutable)

    def codegen(context, builder, signature, args):
        buf_val, off, rows, cols = args
        i64 = ir.IntType(64)
        off, rows, cols = (context.cast(builder, v, t, types.int64)
                           for v, t in zip((off, rows, cols), signature.args[1:]))
        src = context.make_array(signature.args[0])(context, builder, value=buf_val)
        size = builder.extract_value(src.shape, 0)
        zero = ir.Constant(i64, 0)
        count = builder.mul(rows, cols)
        inside = builder.and_(
            builder.and_(builder.icmp_signed(">=", off, zero),
                         builder.and_(builder.icmp_signed(">=", rows, zero),
                                      builder.icmp_signed(">=", cols, zero))),
            builder.icmp_signed("<=", builder.add(off, count), size))
        rows = builder.select(inside, rows, zero)
        cols = builder.select(inside, cols, zero)
        off = builder.select(inside, off, zero)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(
            context.get_data_type(view_ty.dtype)))
        view = context.make_array(view_ty)(context, builder)
        context.populate_array(view, data=builder.gep(src.data, [off]),
                               shape=cgutils.pack_array(builder, [rows, cols]),
                               strides=cgutils.pack_array(
                                   builder, [builder.mul(cols, itemsize), itemsize]),
                               itemsize=itemsize, meminfo=src.meminfo, parent=src.parent)
        result = view._getvalue()
        if context.enable_nrt:
            # A new reference to buf's owner, as a slice would take.
            context.nrt.incref(builder, view_ty, result)
        return result

    return view_ty(buf, offset, n_rows, n_cols), codegen


@intrinsic
def flat_view(typingctx, arr):
    """The 1-D view of a C-contiguous 2-D ``arr``, row after row.

    A loop over it vectorises where two nested loops over a few columns
    (a dozen features) would run their short inner loop scalar.

    Parameters
    ----------
    arr : ndarray of shape (n_rows, n_cols), C-contiguous

    Returns
    -------
    ndarray of shape (n_rows * n_cols,)
        Shares ``arr``'s memory (and its owner, for reference counting).
    """
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and arr.layout == "C"):
        return None
    view_ty = arr.copy(ndim=1, layout="C")

    def codegen(context, builder, signature, args):
        src = context.make_array(signature.args[0])(context, builder, value=args[0])
        rows, cols = cgutils.unpack_tuple(builder, src.shape, 2)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(
            context.get_data_type(view_ty.dtype)))
        view = context.make_array(view_ty)(context, builder)
        context.populate_array(view, data=src.data,
                               shape=cgutils.pack_array(builder, [builder.mul(rows, cols)]),
                               strides=cgutils.pack_array(builder, [itemsize]),
                               itemsize=itemsize, meminfo=src.meminfo, parent=src.parent)
        result = view._getvalue()
        if context.enable_nrt:
            context.nrt.incref(builder, view_ty, result)
        return result

    return view_ty(arr), codegen
