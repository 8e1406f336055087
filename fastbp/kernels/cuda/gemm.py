"""Tiled matrix products on the GPU, each with its epilogue fused.

Every product runs in blocks of ``(tile_m / reg_m) x (tile_n / reg_n)``
threads; a block computes a ``tile_m x tile_n`` tile of the result, staging
``tile_m x tile_k`` and ``tile_k x tile_n`` panels of the operands in shared
memory, and each thread keeps a ``reg_m x reg_n`` block of the result in
registers. Tile sizes are compile-time constants of :func:`build` (the
simulator tests use tiny ones).

The three products of a layer, all reading the flat buffers through the
layout table ``tab`` (``net`` over ``buf``, see ``kernels.network``):

``forward``
    ``layer_input @ W``; the first layer reads the rows of ``X`` through
    the epoch's permutation (no gather). Epilogue: bias, activation,
    dead-unit tracking, dropout and the residual connection (hidden layers
    without normalisation), or a plain store (output layer, normalised
    layers, whose kernels do the rest).
``weight_grad``
    ``layer_input.T @ g`` into the layer's gradient, with the bias gradient
    (column sums of ``g``) reduced by the first row of blocks.
``delta``
    ``g @ W.T``, the gradient for the previous layer's output, plus the
    residual path; epilogue: dropout mask and the activation derivative.
"""

import numba
import numpy as np
from numba import cuda

from ..._config import cuda_device, cuda_kernel
from ..dtypes import like
from ..network import (
    A_OFF, ACT, B_OFF, D_OFF, H_OFF, M_OFF, O_OFF, RES, UNITS, W_OFF, Z_OFF,
)
from .activations import B, activate, derivative, finish_unit

# Epilogues of ``forward``.
EPI_STORE = 0
EPI_HIDDEN = 1


def build(dtype, tile_m, tile_n, tile_k, reg_m, reg_n):
    """Compile the three products for ``dtype`` and the given tile sizes.

    Parameters
    ----------
    dtype : numpy dtype
        float32 or float64: shared and register tiles take this type.
    tile_m, tile_n, tile_k : int
        Block tile of the result (``tile_m x tile_n``) and depth of the
        shared-memory panels.
    reg_m, reg_n : int
        Register block of one thread; must divide ``tile_m`` and ``tile_n``.

    Returns
    -------
    types.SimpleNamespace
        ``forward``, ``weight_grad``, ``delta`` kernels and ``block``, the
        threads per block ``(tile_n // reg_n, tile_m // reg_m)``.
    """
    from types import SimpleNamespace

    if tile_m % reg_m or tile_n % reg_n:
        raise ValueError("register blocks must divide the tiles")
    nbt = numba.from_dtype(np.dtype(dtype))
    TM, TN, TK, RM, RN = tile_m, tile_n, tile_k, reg_m, reg_n
    THREADS_N = TN // RN
    THREADS_M = TM // RM
    THREADS = THREADS_M * THREADS_N

    @cuda_device
    def load(panel, rows, cols, src, off, ld, trans, perm, p0, use_perm, r0, c0, n_r, n_c,
             tid):
        """Stage ``op(src)[r0:r0+rows, c0:c0+cols]`` into ``panel`` (zeros
        outside ``n_r x n_c``). ``op`` is the identity or, with ``trans``,
        the transpose; the stored matrix's rows map through ``perm``."""
        for e in range(tid, rows * cols, THREADS):
            i = e // cols
            c = e - i * cols
            gi = r0 + i
            gc = c0 + c
            v = like(0, src)
            if gi < n_r and gc < n_c:
                if trans:
                    stored_row = perm[p0 + gc] if use_perm else gc
                    v = src[off + stored_row * ld + gi]
                else:
                    stored_row = perm[p0 + gi] if use_perm else gi
                    v = src[off + stored_row * ld + gc]
            panel[i, c] = v

    @cuda_device
    def product(acc, sa, sb, a, a_off, lda, a_t, a_perm, a_p0, a_use_perm,
                b, b_off, ldb, b_t, b_perm, b_p0, b_use_perm, M, N, K, r0, c0, ty, tx, tid):
        """``acc = op(A)[rows of this thread] @ op(B)[columns of this thread]``."""
        for u in range(RM):
            for v in range(RN):
                acc[u, v] = 0
        for k0 in range(0, K, TK):
            load(sa, TM, TK, a, a_off, lda, a_t, a_perm, a_p0, a_use_perm, r0, k0, M, K, tid)
            load(sb, TK, TN, b, b_off, ldb, b_t, b_perm, b_p0, b_use_perm, k0, c0, K, N, tid)
            cuda.syncthreads()
            for kk in range(TK):
                for u in range(RM):
                    x = sa[ty * RM + u, kk]
                    for v in range(RN):
                        acc[u, v] += x * sb[kk, tx * RN + v]
            cuda.syncthreads()

    @cuda_kernel
    def forward(l, nb, tab, x, x_off, ldx, perm, p0, use_perm, params, acts, masks, alive,
                drop, seed, step, training, epilogue):
        """Layer ``l``'s product and epilogue for ``nb`` rows (see module
        docstring). Layer 1 reads ``x`` (flat, row stride ``ldx``, from
        ``x_off``, rows through ``perm[p0:]`` when ``use_perm``); later
        layers read the previous layer's output in ``acts``."""
        sa = cuda.shared.array((TM, TK), nbt)
        sb = cuda.shared.array((TK, TN), nbt)
        acc = cuda.local.array((RM, RN), nbt)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * THREADS_N + tx
        r0 = cuda.blockIdx.y * TM
        c0 = cuda.blockIdx.x * TN
        K = tab[UNITS, l - 1]
        N = tab[UNITS, l]
        w_off = tab[W_OFF, l - 1]
        if l == 1:
            product(acc, sa, sb, x, x_off, ldx, False, perm, p0, use_perm,
                    params, w_off, N, False, perm, 0, False, nb, N, K, r0, c0, ty, tx, tid)
        else:
            product(acc, sa, sb, acts, tab[B + O_OFF, l - 1], K, False, perm, 0, False,
                    params, w_off, N, False, perm, 0, False, nb, N, K, r0, c0, ty, tx, tid)
        b_off = tab[B_OFF, l - 1]
        code = tab[ACT, l]
        for u in range(RM):
            i = r0 + ty * RM + u
            for v in range(RN):
                j = c0 + tx * RN + v
                if i < nb and j < N:
                    if epilogue == EPI_HIDDEN:
                        z = acc[u, v] + params[b_off + j]
                        acts[tab[B + Z_OFF, l] + i * N + j] = z
                        finish_unit(l, i, j, N, activate(z, code), tab, acts, masks, alive,
                                    drop, seed, step, training)
                    else:
                        acts[tab[B + H_OFF, l] + i * N + j] = acc[u, v]

    @cuda_kernel
    def weight_grad(l, nb, tab, x, x_off, ldx, perm, p0, use_perm, acts, deltas, grads,
                    accumulate, bias_grad):
        """``grads[W_l] (+)= layer_input.T @ g`` and the bias gradient
        (column sums of ``g``; zero when not ``bias_grad``). ``g`` is the
        output delta for the last layer, else ``acts`` at ``Z_OFF``."""
        sa = cuda.shared.array((TM, TK), nbt)
        sb = cuda.shared.array((TK, TN), nbt)
        shares = cuda.shared.array((THREADS_M, TN), nbt)
        acc = cuda.local.array((RM, RN), nbt)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * THREADS_N + tx
        r0 = cuda.blockIdx.y * TM
        c0 = cuda.blockIdx.x * TN
        fan_in = tab[UNITS, l - 1]
        N = tab[UNITS, l]
        last = l == tab.shape[1] - 1
        g = deltas if last else acts
        g_off = tab[B + D_OFF, l] if last else tab[B + Z_OFF, l]
        if l == 1:
            product(acc, sa, sb, x, x_off, ldx, True, perm, p0, use_perm,
                    g, g_off, N, False, perm, 0, False, fan_in, N, nb, r0, c0, ty, tx, tid)
        else:
            product(acc, sa, sb, acts, tab[B + O_OFF, l - 1], fan_in, True, perm, 0, False,
                    g, g_off, N, False, perm, 0, False, fan_in, N, nb, r0, c0, ty, tx, tid)
        w_off = tab[W_OFF, l - 1]
        for u in range(RM):
            i = r0 + ty * RM + u
            for v in range(RN):
                j = c0 + tx * RN + v
                if i < fan_in and j < N:
                    if accumulate:
                        grads[w_off + i * N + j] += acc[u, v]
                    else:
                        grads[w_off + i * N + j] = acc[u, v]
        if cuda.blockIdx.y == 0:
            # Column sums of g by the first row of blocks: each thread adds a
            # strided share of the rows, then one thread per column adds the
            # shares in a fixed order (deterministic, unlike atomics). One
            # thread per column alone ran nb dependent loads: 0.9 ms a step
            # at batch 1024 on an H200.
            for v in range(RN):
                j = c0 + tx * RN + v
                s = like(0, grads)
                if bias_grad and j < N:
                    for r in range(ty, nb, THREADS_M):
                        s += g[g_off + r * N + j]
                shares[ty, tx * RN + v] = s
            cuda.syncthreads()
            if ty == 0:
                b_off = tab[B_OFF, l - 1]
                for v in range(RN):
                    j = c0 + tx * RN + v
                    if j < N:
                        s = like(0, grads)
                        for k in range(THREADS_M):
                            s += shares[k, tx * RN + v]
                        if accumulate:
                            grads[b_off + j] += s
                        else:
                            grads[b_off + j] = s

    @cuda_kernel
    def delta(l, nb, tab, params, acts, masks, deltas, drop_prev):
        """``d_{l-1} = g_l @ W_l.T`` (plus ``d_l`` through a residual
        connection) into ``deltas``, and ``g_{l-1} = d_{l-1} * mask *
        f'(z_{l-1})`` into ``acts`` at layer ``l - 1``'s ``Z_OFF``.

        ``drop_prev`` is the dropout rate of layer ``l - 1`` (its mask is
        read when positive)."""
        sa = cuda.shared.array((TM, TK), nbt)
        sb = cuda.shared.array((TK, TN), nbt)
        acc = cuda.local.array((RM, RN), nbt)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * THREADS_N + tx
        r0 = cuda.blockIdx.y * TM
        c0 = cuda.blockIdx.x * TN
        m = tab[UNITS, l]
        fan_in = tab[UNITS, l - 1]
        last = l == tab.shape[1] - 1
        g = deltas if last else acts
        g_off = tab[B + D_OFF, l] if last else tab[B + Z_OFF, l]
        # B = W.T: element (r, j) is W[j, r], W of shape (fan_in, m).
        product(acc, sa, sb, g, g_off, m, False, tab[0], 0, False,
                params, tab[W_OFF, l - 1], m, True, tab[0], 0, False,
                nb, fan_in, m, r0, c0, ty, tx, tid)
        p = l - 1
        code = tab[ACT, p]
        residual = tab[RES, l] == 1
        for u in range(RM):
            i = r0 + ty * RM + u
            for v in range(RN):
                j = c0 + tx * RN + v
                if i < nb and j < fan_in:
                    k = i * fan_in + j
                    d = acc[u, v]
                    if residual:
                        d += deltas[tab[B + D_OFF, l] + k]
                    deltas[tab[B + D_OFF, p] + k] = d
                    if drop_prev > 0:
                        d *= masks[tab[B + M_OFF, p] + k]
                    z_at = tab[B + Z_OFF, p] + k
                    acts[z_at] = d * derivative(acts[z_at], acts[tab[B + A_OFF, p] + k], code)

    return SimpleNamespace(forward=forward, weight_grad=weight_grad, delta=delta,
                           block=(THREADS_N, TM // RM), tile=(TM, TN))
