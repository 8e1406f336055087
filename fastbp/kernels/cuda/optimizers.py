"""Parameter updates over the flat buffer on the GPU: one thread per
parameter, every solver in one kernel, the formulas of
:mod:`fastbp.kernels.optimizers` (the per-weight penalty and the clipping
coefficient are the shared scalars ``penalised`` and ``clip_coefficient``,
each solver's update rule ``adam_update``, ``rmsprop_update``,
``adagrad_update`` and ``sgd_update``).

Reductions (the penalty's ``sum(W**2)`` and ``sum(|W|)``, each layer's
squared gradient norm, the global norm for clipping) are reduced per block
in shared memory and added to the epoch record with one atomic per block.
Each block of :func:`optimizer_step` lies within one weight layer (or the
biases and normalisation parameters), so that its layer sum is one number.

A block sum of ``2**90`` or more (float32; ``2**900`` in float64) goes,
summed again with each term scaled by ``2**-80`` (``2**-600``; squares by
its square), to a column of its own (``*_BIG``): added as they are, such
sums overflowed the record where the CPU's did not (its penalty sums are
float64, its clipping norm rescaled; helper-170). The normal path pays one
comparison per block; the rescaled sum runs only in a block past the bound.
"""

import math

import numba
import numpy as np
from numba import cuda

from ..._config import cuda_device, cuda_kernel
from .. import scalar
from ..codes import ADAGRAD, ADAM, ADAMW, RMSPROP
from ..dtypes import like
from ..network import UNITS, W_OFF

_gpu_scalar = scalar.compile_for(cuda_device)
penalised = _gpu_scalar.penalised
clip_coefficient = _gpu_scalar.clip_coefficient
adam_update = _gpu_scalar.adam_update
rmsprop_update = _gpu_scalar.rmsprop_update
adagrad_update = _gpu_scalar.adagrad_update
sgd_update = _gpu_scalar.sgd_update

# Columns of a step's row in the epoch record.
# ``REC_SUMSQ_BIG``, ``REC_SUMABS_BIG``, ``REC_GNORM_BIG``: the block sums past
# the bound, their terms scaled by ``2**-big_exp`` (see :func:`build`).
(REC_LOSS, REC_SUMSQ, REC_SUMABS, REC_GNORM_SQ, REC_SUMSQ_BIG, REC_SUMABS_BIG,
 REC_GNORM_BIG, REC_LAYERS) = range(8)


def big_exp(dtype):
    """The power of two ``k`` by which the ``*_BIG`` columns' terms are
    divided (squares by ``2**(2k)``): 80 in float32, 600 in float64."""
    return 80 if np.dtype(dtype) == np.float32 else 600


def build(dtype, threads):
    """Compile the optimizer kernels for ``dtype`` with ``threads`` threads
    per block (a power of two: the block reductions halve it).

    Returns
    -------
    types.SimpleNamespace
        ``optimizer_step``, ``gradient_norm_sq``, ``penalised_gradient``,
        ``fill``, ``blocks(tab_host, n_weights, n_params)`` (the grid of
        ``optimizer_step``), ``threads`` and ``big_exp``.
    """
    from types import SimpleNamespace

    if threads & (threads - 1):
        raise ValueError("threads per block must be a power of two")
    nbt = numba.from_dtype(np.dtype(dtype))
    T = threads
    f32 = np.dtype(dtype) == np.float32
    K = big_exp(dtype)
    # Constants of the dtype (a Python float would type the code float64).
    # Block sums below LARGE cannot overflow their column (that would take
    # 2**38 blocks in float32, 2**124 in float64). Scaled by DOWN, the
    # largest finite term squared, times 2**31 terms, stays finite; a block
    # sum past LARGE is at least 2**-70 (2**-300) scaled, so the terms that
    # underflow there are negligible beside it.
    DOWN = np.dtype(dtype).type(2.0 ** -K)
    UP = np.dtype(dtype).type(2.0 ** K)
    LARGE = np.dtype(dtype).type(2.0 ** (90 if f32 else 900))

    @cuda_device
    def reduce_row(sh, row, tid, v):
        """Block sum of ``v`` in ``sh[row, 0]`` (valid in every thread)."""
        sh[row, tid] = v
        cuda.syncthreads()
        s = T // 2
        while s > 0:
            if tid < s:
                sh[row, tid] += sh[row, tid + s]
            cuda.syncthreads()
            s //= 2

    @cuda_device
    def add_block_sum(sh, row, big_row, tid, x, square, record, col, col_big):
        """Add the block sum that :func:`reduce3` left in ``sh[row, 0]`` to
        ``record[col]``; past ``LARGE`` (or inf), add instead the block sum
        of ``x * DOWN`` (squared when ``square``; ``x`` is this thread's
        term before squaring) to ``record[col_big]``, reduced in
        ``sh[big_row]`` (a row no thread reads meanwhile)."""
        total = sh[row, 0]  # final for every thread after reduce3's barrier
        if total >= LARGE:  # the same in every thread of the block
            d = x * DOWN
            if square:
                d = d * d
            reduce_row(sh, big_row, tid, d)
            if tid == 0:
                cuda.atomic.add(record, col_big, sh[big_row, 0])
        elif tid == 0:
            cuda.atomic.add(record, col, total)

    @cuda_device
    def reduce3(sh, tid, a, b, c):
        """Block sums of ``a``, ``b``, ``c`` (valid in thread 0)."""
        sh[0, tid] = a
        sh[1, tid] = b
        sh[2, tid] = c
        cuda.syncthreads()
        s = T // 2
        while s > 0:
            if tid < s:
                sh[0, tid] += sh[0, tid + s]
                sh[1, tid] += sh[1, tid + s]
                sh[2, tid] += sh[2, tid + s]
            cuda.syncthreads()
            s //= 2

    @cuda_device
    def norm_scale(n):
        """The power of two by which :func:`gradient_norm_sq` divides each
        component of ``n`` parameters before squaring it: the least whose
        square is at least the threads of its blocks. The float32 record
        would overflow where squares sum past its range, or a component
        above 1.8e19 squared (the CPU squares and sums in float64); scaled,
        the sum stays below the largest scaled square, and a power of two
        scales exactly."""
        threads = (n + T - 1) // T * T
        scale = 1
        while scale * scale < threads:
            scale *= 2
        return scale

    @cuda_device
    def locate(tab, n_weights, blk, tid):
        """``(index, layer)`` of this thread's parameter: blocks are laid
        out layer by layer over the weights, then over the rest (layer -1)."""
        nl = tab.shape[1] - 1
        for l in range(nl):
            size = tab[UNITS, l] * tab[UNITS, l + 1]
            n_blocks = (size + T - 1) // T
            if blk < n_blocks:
                k = blk * T + tid
                return (tab[W_OFF, l] + k if k < size else -1), l
            blk -= n_blocks
        return n_weights + blk * T + tid, -1

    @cuda_kernel
    def optimizer_step(tab, n_weights, params, grads, state_1, state_2, record, at,
                       solver, alpha, l1, scale, lr, lr_t, momentum, nesterov, beta_1,
                       beta_2, beta_1c, beta_2c, epsilon, clip):
        """Penalise, scale, clip and apply one update to every parameter;
        add ``sum(W**2)``, ``sum(|W|)`` (before the update) and each layer's
        squared data-gradient norm to ``record[at:]``. Clipping reads the
        global norm that :func:`gradient_norm_sq` left in the record.
        ``beta_1c``/``beta_2c`` are ``1 - beta_1``/``1 - beta_2`` computed in
        double on the host and rounded once (not ``1 -`` the rounded beta)."""
        sh = cuda.shared.array((5, T), nbt)
        tid = cuda.threadIdx.x
        idx, layer = locate(tab, n_weights, cuda.blockIdx.x, tid)
        zero = like(0, params)
        one = like(1, params)
        coef = one
        if clip > zero:
            gsq = record[at + REC_GNORM_SQ]
            gbig = record[at + REC_GNORM_BIG]
            if gbig > zero:
                # helper-170: squares too large for the record (float64
                # gradients past 1e154) were summed scaled by DOWN**2; the
                # norm was inf and clipping froze the weights.
                gnorm = (math.sqrt(gsq * DOWN * DOWN + gbig) * UP
                         * like(norm_scale(params.shape[0]), params))
            else:
                gnorm = math.sqrt(gsq) * like(norm_scale(params.shape[0]), params)
            coef = clip_coefficient(gnorm, clip)
        pw = zero
        sq = zero
        ab = zero
        gsq = zero
        if idx >= 0 and idx < params.shape[0]:
            weight = idx < n_weights
            decoupled = solver == ADAMW
            a_g = alpha if weight and not decoupled else zero
            l1_g = l1 if weight else zero
            decay = alpha if weight and decoupled else zero
            p = params[idx]
            if weight:
                pw = p
                sq = p * p
                ab = abs(p)
                gd = grads[idx] * scale
                gsq = gd * gd
            g = penalised(p, grads[idx], a_g, l1_g, scale) * coef
            if solver == ADAM or solver == ADAMW:
                params[idx], state_1[idx], state_2[idx] = adam_update(
                    p, g, state_1[idx], state_2[idx], beta_1, beta_2, beta_1c, beta_2c, lr,
                    lr_t, decay, epsilon)
            elif solver == RMSPROP:
                params[idx], state_1[idx] = rmsprop_update(p, g, state_1[idx], beta_2,
                                                           beta_2c, lr, epsilon)
            elif solver == ADAGRAD:
                params[idx], state_1[idx] = adagrad_update(p, g, state_1[idx], lr, epsilon)
            else:
                params[idx], state_1[idx] = sgd_update(p, g, state_1[idx], lr, momentum,
                                                       nesterov)
        if layer >= 0:
            reduce3(sh, tid, sq, ab, gsq)
            add_block_sum(sh, 0, 3, tid, pw, True, record, at + REC_SUMSQ,
                          at + REC_SUMSQ_BIG)
            add_block_sum(sh, 1, 4, tid, abs(pw), False, record, at + REC_SUMABS,
                          at + REC_SUMABS_BIG)
            if tid == 0:
                cuda.atomic.add(record, at + REC_LAYERS + layer, sh[2, 0])

    @cuda_kernel
    def gradient_norm_sq(n_weights, params, grads, alpha, l1, scale, record, at):
        """Add the squared global norm of the penalised, scaled gradient,
        divided by ``norm_scale(n_params)**2``, to
        ``record[at + REC_GNORM_SQ]`` (``alpha`` is 0 for adamw)."""
        sh = cuda.shared.array((3, T), nbt)
        tid = cuda.threadIdx.x
        idx = cuda.blockIdx.x * T + tid
        g = like(0, params)
        if idx < params.shape[0]:
            if idx < n_weights:
                g = penalised(params[idx], grads[idx], alpha, l1, scale)
            else:
                g = grads[idx] * scale
        g = g / like(norm_scale(params.shape[0]), params)
        reduce3(sh, tid, g * g, like(0, params), like(0, params))
        add_block_sum(sh, 0, 1, tid, g, True, record, at + REC_GNORM_SQ, at + REC_GNORM_BIG)

    @cuda_kernel
    def penalised_gradient(n_weights, params, grads, alpha, l1, scale, record, at):
        """In place ``grads = penalised, scaled gradient`` (L-BFGS); add
        ``sum(W**2)`` and ``sum(|W|)`` to the record."""
        sh = cuda.shared.array((5, T), nbt)
        tid = cuda.threadIdx.x
        idx = cuda.blockIdx.x * T + tid
        sq = like(0, params)
        ab = like(0, params)
        pw = like(0, params)
        if idx < params.shape[0]:
            p = params[idx]
            if idx < n_weights:
                pw = p
                sq = p * p
                ab = abs(p)
                grads[idx] = penalised(p, grads[idx], alpha, l1, scale)
            else:
                grads[idx] *= scale
        reduce3(sh, tid, sq, ab, like(0, params))
        add_block_sum(sh, 0, 3, tid, pw, True, record, at + REC_SUMSQ, at + REC_SUMSQ_BIG)
        add_block_sum(sh, 1, 4, tid, abs(pw), False, record, at + REC_SUMABS,
                      at + REC_SUMABS_BIG)

    @cuda_kernel
    def fill(a, value):
        """``a[:] = value``."""
        i = cuda.grid(1)
        if i < a.shape[0]:
            a[i] = value

    def blocks(net, n_weights, n_params):
        """Grid size of :func:`optimizer_step` for the ``net`` table."""
        units = [int(u) for u in net[UNITS]]
        n = sum(-(-(a * b) // T) for a, b in zip(units[:-1], units[1:]))
        return n + -(-(n_params - n_weights) // T)

    return SimpleNamespace(optimizer_step=optimizer_step, gradient_norm_sq=gradient_norm_sq,
                           penalised_gradient=penalised_gradient, fill=fill, blocks=blocks,
                           threads=T, big_exp=K)
