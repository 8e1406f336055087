"""Tiled matrix products on the GPU, each with its epilogue fused.

Every product runs in blocks of ``(tile_m / reg_m) x (tile_n / reg_n)``
threads; a block computes a ``tile_m x tile_n`` tile of the result, staging
``tile_m x tile_k`` and ``tile_k x tile_n`` panels of the operands in shared
memory (the next panels are fetched into registers while the current ones
are multiplied), and each thread keeps a ``reg_m x reg_n`` block of the
result in registers. Tile sizes are compile-time constants of :func:`build`
(the simulator tests use tiny ones).

A product whose tiles are too few to fill the GPU is split along its depth
over ``gridDim.z`` blocks per tile (split-K); the last block of each tile to
finish adds the partial tiles in a fixed order and runs the epilogue, so the
result does not depend on which block finished first.

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
    (column sums of ``g``) reduced by the first row of blocks of the first
    split.
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
        ``forward``, ``weight_grad``, ``delta`` kernels; ``block``, the
        threads per block ``(tile_n // reg_n, tile_m // reg_m)``; ``tile``,
        ``(tile_m, tile_n)``; ``depth``, ``tile_k``.
    """
    from types import SimpleNamespace

    if tile_m % reg_m or tile_n % reg_n:
        raise ValueError("register blocks must divide the tiles")
    nbt = numba.from_dtype(np.dtype(dtype))
    TM, TN, TK, RM, RN = tile_m, tile_n, tile_k, reg_m, reg_n
    THREADS_N = TN // RN
    THREADS_M = TM // RM
    THREADS = THREADS_M * THREADS_N

    # Elements of each panel a thread fetches (the last round may be partial).
    PER_A = (TM * TK + THREADS - 1) // THREADS
    PER_B = (TK * TN + THREADS - 1) // THREADS
    # Shared panels get one padding column: a transposed operand is stored
    # column by column (see ``fetch``), and an odd row stride keeps those
    # stores on distinct banks.
    TKP = TK + 1
    TNP = TN + 1

    @cuda_device
    def fetch(reg, per, rows, cols, src, off, ld, trans, perm, p0, use_perm, r0, c0, n_r, n_c,
              tid):
        """Load this thread's elements of ``op(src)[r0:r0+rows, c0:c0+cols]``
        into registers ``reg`` (zeros outside ``n_r x n_c``).

        ``op`` is the identity or, with ``trans``, the transpose; the stored
        matrix's rows map through ``perm``. Neighbouring threads take
        neighbouring elements of the stored matrix (coalesced reads): along
        a panel row for a plain operand, down a panel column for a
        transposed one. The loads are independent, so all of a thread's are
        in flight at once."""
        for q in range(per):
            e = tid + q * THREADS
            if trans:
                c = e // rows
                i = e - c * rows
            else:
                i = e // cols
                c = e - i * cols
            gi = r0 + i
            gc = c0 + c
            v = like(0, src)
            if e < rows * cols and gi < n_r and gc < n_c:
                if trans:
                    stored_row = perm[p0 + gc] if use_perm else gc
                    v = src[off + stored_row * ld + gi]
                else:
                    stored_row = perm[p0 + gi] if use_perm else gi
                    v = src[off + stored_row * ld + gc]
            reg[q] = v

    @cuda_device
    def store(panel, reg, per, rows, cols, trans, tid):
        """Write the registers of :func:`fetch` into the shared ``panel``."""
        for q in range(per):
            e = tid + q * THREADS
            if trans:
                c = e // rows
                i = e - c * rows
            else:
                i = e // cols
                c = e - i * cols
            if e < rows * cols:
                panel[i, c] = reg[q]

    @cuda_device
    def product(acc, sa, sb, a, a_off, lda, a_t, a_perm, a_p0, a_use_perm,
                b, b_off, ldb, b_t, b_perm, b_p0, b_use_perm, M, N, kb, ke, r0, c0, ty, tx,
                tid):
        """``acc = op(A)[rows of this thread, kb:ke] @ op(B)[kb:ke, columns of
        this thread]``.

        The next panels are fetched into registers while the current ones
        are multiplied from shared memory: each panel's global-memory
        latency (about a microsecond on an H200, paid in full when a block
        waited for it) hides behind the previous panel's arithmetic."""
        ra = cuda.local.array(PER_A, nbt)
        rb = cuda.local.array(PER_B, nbt)
        for u in range(RM):
            for v in range(RN):
                acc[u, v] = 0
        fetch(ra, PER_A, TM, TK, a, a_off, lda, a_t, a_perm, a_p0, a_use_perm, r0, kb, M, ke,
              tid)
        fetch(rb, PER_B, TK, TN, b, b_off, ldb, b_t, b_perm, b_p0, b_use_perm, kb, c0, ke, N,
              tid)
        for k0 in range(kb, ke, TK):
            store(sa, ra, PER_A, TM, TK, a_t, tid)
            store(sb, rb, PER_B, TK, TN, b_t, tid)
            cuda.syncthreads()
            k1 = k0 + TK
            if k1 < ke:
                fetch(ra, PER_A, TM, TK, a, a_off, lda, a_t, a_perm, a_p0, a_use_perm,
                      r0, k1, M, ke, tid)
                fetch(rb, PER_B, TK, TN, b, b_off, ldb, b_t, b_perm, b_p0, b_use_perm,
                      k1, c0, ke, N, tid)
            for kk in range(TK):
                for u in range(RM):
                    x = sa[ty * RM + u, kk]
                    for v in range(RN):
                        acc[u, v] += x * sb[kk, tx * RN + v]
            cuda.syncthreads()

    @cuda_device
    def layer_input(l, x, x_off, ldx, p0, use_perm, acts, tab):
        """Layer ``l``'s input as a product operand ``(src, offset, row
        stride, perm offset, use_perm)``: ``x`` (rows through ``perm`` when
        ``use_perm``) for the first layer, else the previous layer's output
        in ``acts``. One product call site per kernel, not one per source:
        each call inlines a whole product."""
        if l == 1:
            return x, x_off, ldx, p0, use_perm
        return acts, tab[B + O_OFF, l - 1], tab[UNITS, l - 1], 0, False

    @cuda_device
    def k_range(K):
        """This block's share ``[kb, ke)`` of a depth-``K`` product: whole
        panels, split evenly over ``gridDim.z`` (empty for trailing splits
        when ``K`` is short)."""
        splits = cuda.gridDim.z
        span = (((K + TK - 1) // TK + splits - 1) // splits) * TK
        kb = cuda.blockIdx.z * span
        return kb, min(K, kb + span)

    @cuda_device
    def split_done(acc, ws, counts, flag, ty, tx, tid):
        """Combine a split product's partial tiles; True in the one block
        per tile that goes on to the epilogue, with ``acc`` the whole sum.

        Each block stores its partial tile in ``ws``, then counts itself in
        ``counts`` (an atomic add after a memory fence, so that the stores
        are visible first). The block that counts last adds the partials in
        split order, which keeps the result deterministic, and resets the
        count for the next launch."""
        splits = cuda.gridDim.z
        if splits == 1:
            return True
        tile = cuda.blockIdx.y * cuda.gridDim.x + cuda.blockIdx.x
        at = (tile * splits + cuda.blockIdx.z) * (TM * TN)
        for u in range(RM):
            for v in range(RN):
                ws[at + (ty * RM + u) * TN + tx * RN + v] = acc[u, v]
        cuda.threadfence()
        cuda.syncthreads()
        if tid == 0:
            flag[0] = cuda.atomic.add(counts, tile, 1) == splits - 1
        cuda.syncthreads()
        if not flag[0]:
            return False
        # The acquire side: the other blocks' partials, fenced before their
        # counts, are read only after this block saw the last count.
        cuda.threadfence()
        for u in range(RM):
            for v in range(RN):
                acc[u, v] = 0
        for z in range(splits):
            at = (tile * splits + z) * (TM * TN)
            for u in range(RM):
                for v in range(RN):
                    acc[u, v] += ws[at + (ty * RM + u) * TN + tx * RN + v]
        if tid == 0:
            counts[tile] = 0
        return True

    @cuda_kernel
    def forward(l, nb, tab, x, x_off, ldx, perm, p0, use_perm, params, acts, masks, alive,
                drop, seed, step, training, epilogue, ws, counts):
        """Layer ``l``'s product and epilogue for ``nb`` rows (see module
        docstring). Layer 1 reads ``x`` (flat, row stride ``ldx``, from
        ``x_off``, rows through ``perm[p0:]`` when ``use_perm``); later
        layers read the previous layer's output in ``acts``. ``ws`` and
        ``counts`` serve a split product (see ``split_done``)."""
        sa = cuda.shared.array((TM, TKP), nbt)
        sb = cuda.shared.array((TK, TNP), nbt)
        acc = cuda.local.array((RM, RN), nbt)
        flag = cuda.shared.array(1, numba.int32)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * THREADS_N + tx
        r0 = cuda.blockIdx.y * TM
        c0 = cuda.blockIdx.x * TN
        K = tab[UNITS, l - 1]
        N = tab[UNITS, l]
        w_off = tab[W_OFF, l - 1]
        kb, ke = k_range(K)
        src, off, ld, q0, through_perm = layer_input(l, x, x_off, ldx, p0, use_perm, acts, tab)
        product(acc, sa, sb, src, off, ld, False, perm, q0, through_perm,
                params, w_off, N, False, perm, 0, False, nb, N, kb, ke, r0, c0, ty, tx, tid)
        if not split_done(acc, ws, counts, flag, ty, tx, tid):
            return
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
                    accumulate, bias_grad, ws, counts):
        """``grads[W_l] (+)= layer_input.T @ g`` and the bias gradient
        (column sums of ``g``; zero when not ``bias_grad``). ``g`` is the
        output delta for the last layer, else ``acts`` at ``Z_OFF``."""
        sa = cuda.shared.array((TM, TKP), nbt)
        sb = cuda.shared.array((TK, TNP), nbt)
        shares = cuda.shared.array((THREADS_M, TN), nbt)
        acc = cuda.local.array((RM, RN), nbt)
        flag = cuda.shared.array(1, numba.int32)
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
        if cuda.blockIdx.y == 0 and cuda.blockIdx.z == 0:
            # Column sums of g by the first row of blocks of the first split
            # (a block-uniform branch, so its barrier is safe): each thread
            # adds a strided share of the rows, then one thread per column
            # adds the shares in a fixed order (deterministic, unlike
            # atomics). One thread per column alone ran nb dependent loads:
            # 0.9 ms a step at batch 1024 on an H200.
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
        kb, ke = k_range(nb)
        src, off, ld, q0, through_perm = layer_input(l, x, x_off, ldx, p0, use_perm, acts, tab)
        product(acc, sa, sb, src, off, ld, True, perm, q0, through_perm,
                g, g_off, N, False, perm, 0, False, fan_in, N, kb, ke, r0, c0, ty, tx, tid)
        if not split_done(acc, ws, counts, flag, ty, tx, tid):
            return
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

    @cuda_kernel
    def delta(l, nb, tab, params, acts, masks, deltas, drop_prev, ws, counts):
        """``d_{l-1} = g_l @ W_l.T`` (plus ``d_l`` through a residual
        connection) into ``deltas``, and ``g_{l-1} = d_{l-1} * mask *
        f'(z_{l-1})`` into ``acts`` at layer ``l - 1``'s ``Z_OFF``.

        ``drop_prev`` is the dropout rate of layer ``l - 1`` (its mask is
        read when positive)."""
        sa = cuda.shared.array((TM, TKP), nbt)
        sb = cuda.shared.array((TK, TNP), nbt)
        acc = cuda.local.array((RM, RN), nbt)
        flag = cuda.shared.array(1, numba.int32)
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
        kb, ke = k_range(m)
        product(acc, sa, sb, g, g_off, m, False, tab[0], 0, False,
                params, tab[W_OFF, l - 1], m, True, tab[0], 0, False,
                nb, fan_in, kb, ke, r0, c0, ty, tx, tid)
        if not split_done(acc, ws, counts, flag, ty, tx, tid):
            return
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
                           block=(THREADS_N, TM // RM), tile=(TM, TN), depth=TK)
