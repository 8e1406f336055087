"""Whole-network kernels: one training epoch, full-batch loss and gradient,
and prediction.

The network lives in flat buffers described by two small int64 tables, so
one compiled function serves every depth, width and feature combination,
and nothing is allocated per mini-batch.

``net`` : (N_NET_ROWS, n_layers)
    Per layer ``l`` (0 = input): ``UNITS`` width; ``W_OFF``/``B_OFF`` where
    the weights ``(units[l-1], units[l])`` and bias of layer ``l`` start in
    ``params`` (column ``l - 1``); ``G_OFF``/``BE_OFF`` where its
    normalisation scale and shift start (-1: none); ``ACT`` its activation
    code; ``RES`` 1 if it adds a skip connection from layer ``l - 1``.
``buf`` : (N_BUF_ROWS, n_layers)
    Offsets of layer ``l``'s work arrays (``batch x units[l]`` each) in
    ``acts``: ``O_OFF`` output (input of the next layer), ``A_OFF`` f(u),
    ``Z_OFF`` pre-activation u, ``H_OFF`` the linear output (``xhat`` under
    normalisation); in ``masks``: ``M_OFF``; in ``deltas``: ``D_OFF``; in
    ``stats``: ``S_OFF``; in ``running``: ``R_OFF`` (mean, then variance);
    in ``alive``: ``AL_OFF`` (-1: not tracked). Offsets that coincide alias
    the arrays: on the default path ``H = Z = A = O`` and every step runs in
    place.

The first layer reads either a dense ``X`` or CSR arrays (``is_sparse``);
both are always passed (the unused one empty) so that one specialisation per
dtype covers both.

The entry points run with subnormals flushed to zero
(:mod:`fastbp.kernels.fpenv`) and put the caller's mode back before they
return.
"""

import numpy as np

from .._config import NRT, entry_kernel, inline_kernel, kernel
from .activations import activation_backward, bias_activation, cpu_scalar, track_alive
from .prefetch import prefetch_line
from .blas import matmul, matmul_nt, matmul_tn
from .codes import (
    ADAM, ADAMW, INPUT_NOT_FINITE, NORM_BATCH, NORM_NONE, OUTPUT_NOT_FINITE, PARAMS_NOT_FINITE,
)
from .dropout import dropout_forward
from .dtypes import like
from .fpenv import flush_denormals, restore_denormals
from .refcount import borrowed
from .views import flat_view, layer_view
from .losses import output_activation, output_loss_delta
from .normalization import (
    batch_norm_backward,
    batch_norm_forward,
    layer_norm_backward,
    layer_norm_forward,
)
from .optimizers import gradient_norm, optimizer_step, penalised_gradient
from .sparse import csr_rows_dot, csr_rows_tdot

clip_coefficient = cpu_scalar.clip_coefficient
add_penalty = cpu_scalar.add_penalty
adam_step_size = cpu_scalar.adam_step_size
adamw_epsilon = cpu_scalar.adamw_epsilon

#: Whether the toolkit's branches are compiled: normalisation, dropout,
#: residual connections, gradient clipping and sparse input. True here;
#: :mod:`fastbp.kernels.lean` compiles these functions again with it False,
#: and Numba then prunes those branches before typing them.
TOOLKIT = True

UNITS, W_OFF, B_OFF, G_OFF, BE_OFF, ACT, RES = range(7)
N_NET_ROWS = 7
O_OFF, A_OFF, Z_OFF, H_OFF, M_OFF, D_OFF, S_OFF, R_OFF, AL_OFF = range(9)
N_BUF_ROWS = 9


@kernel
def flag(value):
    """``value`` as a run-time bool. A constant ``True``/``False`` passed
    straight to a kernel is typed as a literal and compiles a specialisation
    of its own; passed through here, training and inference share one.
    (Returning ``value`` itself would keep the literal type; a comparison
    is typed as a plain bool.)"""
    return value != 0


@kernel
def gather_rows(src, rows, dst, upcoming):
    """``dst[r] = src[rows[r]]`` (explicit loops: no broadcasting checks),
    then a prefetch of the rows ``src[upcoming]``, the next batch's, which
    its gather will then find in L2 (see :mod:`fastbp.kernels.prefetch`):
    the first, middle and last elements' cache lines, all of a row of up
    to 192 bytes (a fixed few per row: a loop over a row's lines, optimised
    again in every entry point, cost a cold first fit 0.25 s)."""
    m = src.shape[1]
    for r in range(rows.shape[0]):
        row = rows[r]
        for j in range(m):
            dst[r, j] = src[row, j]
    for r in range(upcoming.shape[0]):
        row = upcoming[r]
        prefetch_line(src, row, 0)
        prefetch_line(src, row, m >> 1)
        prefetch_line(src, row, m - 1)


@kernel
def bias_gradient(g, gb):
    """``gb = g.sum(axis=0)``: a layer's summed bias gradient from its
    delta ``g`` of shape (n_samples, n_units)."""
    # Four rows per pass over ``gb``: row by row, each row's additions
    # waited for the previous row's stores (a chain through memory), and
    # the sum cost more than the relu backward pass over the same array.
    nb, m = g.shape
    for j in range(m):
        gb[j] = 0
    i = 0
    while i + 4 <= nb:
        for j in range(m):
            gb[j] += (g[i, j] + g[i + 1, j]) + (g[i + 2, j] + g[i + 3, j])
        i += 4
    for r in range(i, nb):
        for j in range(m):
            gb[j] += g[r, j]


@kernel
def linear(l, x0, data, indices, indptr, is_sparse, rows, nb, params, net, buf, acts, out):
    """``out = input_of_layer_l @ W_l`` (no bias)."""
    w = layer_view(params, net[W_OFF, l - 1], net[UNITS, l - 1], net[UNITS, l])
    if l == 1:
        if TOOLKIT and is_sparse:
            csr_rows_dot(data, indices, indptr, rows, w, out)
        else:
            matmul(x0, w, out)
    else:
        matmul(layer_view(acts, buf[O_OFF, l - 1], nb, net[UNITS, l - 1]), w, out)


@kernel
def forward_hidden(x0, data, indices, indptr, is_sparse, rows, nb, params, net, buf,
                   drops, norm, acts, masks, stats, running, alive, rng, training,
                   bn_momentum, norm_eps):
    """Forward pass through the hidden layers into the work buffers.

    Parameters
    ----------
    x0 : ndarray of shape (nb, n_features)
        Dense batch (unused when ``is_sparse``).
    data, indices, indptr, is_sparse, rows
        CSR ``X`` and the batch's row numbers in it.
    nb : int
        Rows in the batch.
    params : ndarray of shape (n_params,)
    net, buf : ndarray of int64
        Layout tables (see module docstring).
    drops : ndarray of shape (n_layers,)
        Dropout rate of each layer's output.
    norm : int
        Normalisation code.
    acts, masks, stats, running, alive : ndarray
        Work buffers, batch-norm running statistics, dead-unit tracker.
    rng : ndarray of uint64, shape (1,)
        Dropout generator state.
    training : bool
        Training mode: batch statistics, dropout, unit tracking.
    bn_momentum, norm_eps : float
    """
    nl = net.shape[1] - 1
    for l in range(1, nl):
        m = net[UNITS, l]
        h = layer_view(acts, buf[H_OFF, l], nb, m)
        z = layer_view(acts, buf[Z_OFF, l], nb, m)
        a = layer_view(acts, buf[A_OFF, l], nb, m)
        o = layer_view(acts, buf[O_OFF, l], nb, m)
        linear(l, x0, data, indices, indptr, is_sparse, rows, nb, params, net, buf, acts, h)
        code = net[ACT, l]
        if not TOOLKIT or norm == NORM_NONE:
            bias_activation(h, params[net[B_OFF, l - 1]:net[B_OFF, l - 1] + m], code, z, a)
        else:
            gamma = params[net[G_OFF, l]:net[G_OFF, l] + m]
            beta = params[net[BE_OFF, l]:net[BE_OFF, l] + m]
            if norm == NORM_BATCH:
                r = buf[R_OFF, l]
                batch_norm_forward(h, gamma, beta, norm_eps, training, running[r:r + m],
                                   running[r + m:r + 2 * m], bn_momentum,
                                   stats[buf[S_OFF, l]:buf[S_OFF, l] + m], code, z, a)
            else:
                layer_norm_forward(h, gamma, beta, norm_eps,
                                   stats[buf[S_OFF, l]:buf[S_OFF, l] + nb], code, z, a)
        if training and buf[AL_OFF, l] >= 0:
            track_alive(a, alive[buf[AL_OFF, l]:buf[AL_OFF, l] + m])
        if TOOLKIT and training and drops[l] > 0:
            dropout_forward(a, drops[l], rng, layer_view(masks, buf[M_OFF, l], nb, m), o)
        elif buf[O_OFF, l] != buf[A_OFF, l]:
            for i in range(nb):
                for j in range(m):
                    o[i, j] = a[i, j]
        if TOOLKIT and net[RES, l] == 1:
            prev = layer_view(acts, buf[O_OFF, l - 1], nb, m)
            for i in range(nb):
                for j in range(m):
                    o[i, j] += prev[i, j]


@kernel
def backward(x0, data, indices, indptr, is_sparse, rows, nb, params, grads, net, buf,
             drops, norm, acts, masks, deltas, stats):
    """Backward pass from the output delta (in ``deltas`` at layer ``nl``);
    raw summed gradients into ``grads``."""
    nl = net.shape[1] - 1
    for l in range(nl, 0, -1):
        m = net[UNITS, l]
        fan_in = net[UNITS, l - 1]
        d = layer_view(deltas, buf[D_OFF, l], nb, m)
        if l == nl:
            g = d
        else:
            g = layer_view(acts, buf[Z_OFF, l], nb, m)
            has_mask = TOOLKIT and drops[l] > 0
            mask = layer_view(masks, buf[M_OFF, l], nb, m) if has_mask else g
            activation_backward(d, mask, has_mask, g, layer_view(acts, buf[A_OFF, l], nb, m),
                                net[ACT, l], g)
            if TOOLKIT and norm != NORM_NONE:
                xhat = layer_view(acts, buf[H_OFF, l], nb, m)
                gamma = params[net[G_OFF, l]:net[G_OFF, l] + m]
                dgamma = grads[net[G_OFF, l]:net[G_OFF, l] + m]
                dbeta = grads[net[BE_OFF, l]:net[BE_OFF, l] + m]
                if norm == NORM_BATCH:
                    batch_norm_backward(g, xhat, gamma,
                                        stats[buf[S_OFF, l]:buf[S_OFF, l] + m], dgamma, dbeta)
                else:
                    layer_norm_backward(g, xhat, gamma,
                                        stats[buf[S_OFF, l]:buf[S_OFF, l] + nb], dgamma, dbeta)
        gw = layer_view(grads, net[W_OFF, l - 1], fan_in, m)
        if l == 1:
            if TOOLKIT and is_sparse:
                csr_rows_tdot(data, indices, indptr, rows, g, gw)
            else:
                matmul_tn(x0, g, gw)
        else:
            matmul_tn(layer_view(acts, buf[O_OFF, l - 1], nb, fan_in), g, gw)
        gb = grads[net[B_OFF, l - 1]:net[B_OFF, l - 1] + m]
        # A normalised layer has no bias (beta shifts it): its gradient stays 0.
        if l == nl or not TOOLKIT or norm == NORM_NONE:
            bias_gradient(g, gb)
        else:
            for j in range(m):
                gb[j] = 0
        if l > 1:
            w = layer_view(params, net[W_OFF, l - 1], fan_in, m)
            d_prev = layer_view(deltas, buf[D_OFF, l - 1], nb, fan_in)
            matmul_nt(g, w, d_prev)
            if TOOLKIT and net[RES, l] == 1:
                for i in range(nb):
                    for j in range(m):
                        d_prev[i, j] += d[i, j]


@inline_kernel
def all_finite(a):
    """Whether the C-contiguous 2-D ``a`` holds neither NaN nor infinity."""
    # ``v * 0`` is NaN exactly for those, and a sum of products over the
    # flat view vectorises where an early exit, or an inner loop over a
    # few columns, would not (FASTMATH keeps NaN and inf semantics).
    flat = flat_view(a)
    acc = like(0, a)
    for k in range(flat.size):
        acc += flat[k] * like(0, a)
    return acc == 0


@entry_kernel
def train_epoch(inputs, targets, tables, work, solver, hyper, perm, batch_size, t,
                loss_sum, layer_sq, first_sq):
    """One epoch of mini-batch training, updating ``solver.params`` in place.

    Parameters
    ----------
    inputs : Inputs
        The whole input ``X`` (see :mod:`fastbp.kernels.records`).
    targets : Targets
        ``Y`` of shape (n_samples, n_outputs) and the sample weights.
    tables : Tables
        Layout tables (see module docstring), dropout rates, normalisation.
    work : Work
        Work buffers for batches of ``batch_size`` rows.
    solver : Solver
        Parameters and optimizer state, each of shape (n_params,).
    hyper : Hyper
        Scalar hyper-parameters.
    perm : ndarray of int64, shape (n_epoch_samples,)
        Rows of this epoch, in order (drawn by the caller).
    batch_size : int
    t : int
        Updates done before this epoch.
    loss_sum : float
        The loss sum of the epoch's earlier rows: 0 at an epoch's start, or
        what the previous call returned when the caller runs an epoch in
        slices of ``perm``, so that the sum is accumulated in one order
        however the epoch is sliced.
    layer_sq : ndarray of shape (n_layers - 1,)
        Accumulates each layer's squared weight-gradient norm over the steps
        (must be zero on entry).
    first_sq : ndarray of shape (n_layers - 1,)
        Receives the first step's squared norms when ``t == 0`` on entry
        (the baseline against which exploding gradients are judged).

    Returns
    -------
    loss_sum : float
        ``loss_sum`` plus the sum over batches of ``batch_loss *
        batch_length`` (scikit-learn's accumulation; divide by the number
        of rows for the epoch loss).
    t : int
        Updates done after this epoch.
    """
    # The caller's arrays, without reference counting below (see refcount;
    # the default path's copies are compiled without NRT, so nothing to skip).
    if NRT or TOOLKIT:
        inputs, targets, tables, work, solver = borrowed((inputs, targets, tables, work, solver))
        perm, layer_sq, first_sq = borrowed((perm, layer_sq, first_sq))
    X, data, indices, indptr, is_sparse = inputs
    Y, sw, has_sw = targets
    net, buf, drops, norm = tables
    params, state_1, state_2 = solver
    acts, masks, deltas, stats = work.acts, work.masks, work.deltas, work.stats
    running, alive, rng, grads = work.running, work.alive, work.rng, work.grads
    y_buf, sw_buf = work.y_buf, work.sw_buf
    h = hyper
    n = perm.shape[0]
    n_out = Y.shape[1]
    nl = net.shape[1] - 1
    dt = params.dtype.type
    one = dt(1)
    alpha_loss = like(0, params) if h.solver == ADAMW else h.alpha
    total = float(loss_sum)
    # Subnormals flushed to zero until the epoch's end (see fpenv): nothing
    # below returns early or raises.
    mxcsr = flush_denormals()
    for start in range(0, n, batch_size):
        stop = start + batch_size
        stop = n if n < stop else stop
        nb = stop - start
        rows = perm[start:stop]
        # The next batch's rows, prefetched by the gathers while this step runs.
        after = stop + batch_size
        upcoming = perm[stop:n if n < after else after]
        if TOOLKIT and is_sparse:
            x0 = X[:0]
        else:
            x0 = layer_view(acts, buf[O_OFF, 0], nb, net[UNITS, 0])
            gather_rows(X, rows, x0, upcoming)
        # (An int64 offset: a literal 0 would type, and compile, a layer_view
        # of its own.)
        yb = layer_view(y_buf, np.int64(0), nb, n_out)
        gather_rows(Y, rows, yb, upcoming)
        swb = sw_buf[:nb]
        if has_sw:
            sw_sum = 0.0
            for r in range(nb):
                swb[r] = sw[rows[r]]
                sw_sum += swb[r]
        else:
            sw_sum = float(nb)
        if sw_sum == 0:
            # Every weight of this batch is zero: it carries no gradient.
            continue
        # Forward, loss and backward are called from here rather than through
        # a shared helper: each level of calls re-optimises everything below
        # it, so a flat call tree compiles markedly faster.
        forward_hidden(x0, data, indices, indptr, is_sparse, rows, nb, params, net, buf,
                       drops, norm, acts, masks, stats, running, alive, rng, flag(True),
                       h.bn_momentum, h.norm_eps)
        out = layer_view(acts, buf[O_OFF, nl], nb, n_out)
        linear(nl, x0, data, indices, indptr, is_sparse, rows, nb, params, net, buf, acts, out)
        loss_sum = output_loss_delta(
            out, params[net[B_OFF, nl - 1]:net[B_OFF, nl - 1] + n_out], yb, swb, has_sw,
            h.out_code, h.prob_lo, h.prob_hi, layer_view(deltas, buf[D_OFF, nl], nb, n_out))
        backward(x0, data, indices, indptr, is_sparse, rows, nb, params, grads, net, buf,
                 drops, norm, acts, masks, deltas, stats)
        scale = one / dt(sw_sum)
        coef = one
        if TOOLKIT and h.clip > 0:
            # From the float64 norm (overflow-safe), in float64, rounded
            # once; a float64 clip keeps one compiled copy for both dtypes.
            coef = dt(clip_coefficient(
                gradient_norm(params, grads, h.n_weights, alpha_loss, h.l1, scale),
                np.float64(h.clip)))
        t += 1
        lr_t = h.lr
        if h.solver == ADAM or h.solver == ADAMW:
            lr_t = adam_step_size(h.lr, h.beta_1c, h.beta_2c, t)
        eps = h.epsilon
        if TOOLKIT and h.solver == ADAMW:
            # PyTorch's AdamW epsilon, with the bias correction in lr_t.
            eps = adamw_epsilon(h.epsilon, h.beta_2c, t)
        sumsq, sumabs = optimizer_step(
            params, grads, state_1, state_2, net[UNITS], net[W_OFF], h.n_weights, h.solver,
            h.alpha, h.l1, scale, coef, h.lr, lr_t, h.momentum, h.nesterov, h.beta_1,
            h.beta_2, h.beta_1c, h.beta_2c, eps, layer_sq)
        if t == 1:
            for l in range(first_sq.shape[0]):
                first_sq[l] = layer_sq[l]
        loss_sum = add_penalty(loss_sum, alpha_loss, h.l1, sumsq, sumabs)
        total += loss_sum / sw_sum * nb
    restore_denormals(mxcsr)
    return total, t


@entry_kernel(allocates=True)  # np.arange, for sparse X only
def loss_and_gradient(inputs, targets, tables, work, params, grads_chunk, hyper, chunk):
    """Full-batch penalised loss and its gradient (L-BFGS, finite differences).

    The data are processed in chunks of ``chunk`` rows, so the work buffers
    stay one chunk large whatever the number of samples. Dropout and batch
    statistics follow the training path (L-BFGS rejects both).

    Parameters
    ----------
    inputs, targets, tables, work, hyper
        As in :func:`train_epoch`; ``work.grads`` receives the gradient of
        the mean penalised loss (``hyper.alpha`` and ``hyper.l1``).
    params : ndarray of shape (n_params,)
    grads_chunk : ndarray of shape (n_params,)
        Scratch for one chunk's gradient.
    chunk : int
        Rows per chunk; the work buffers must hold this many.

    Returns
    -------
    loss : float
        Mean weighted loss plus ``(alpha / 2 * sum(W**2) + l1 * sum(|W|)) / sum(sw)``.
    """
    # The caller's arrays, without reference counting below (see refcount;
    # the default path's copies are compiled without NRT, so nothing to skip).
    if NRT or TOOLKIT:
        inputs, targets, tables, work = borrowed((inputs, targets, tables, work))
        params, grads_chunk = borrowed((params, grads_chunk))
    X, data, indices, indptr, is_sparse = inputs
    Y, sw, has_sw = targets
    net, buf, drops, norm = tables
    acts, masks, deltas, stats = work.acts, work.masks, work.deltas, work.stats
    running, alive, rng, grads = work.running, work.alive, work.rng, work.grads
    h = hyper
    n = Y.shape[0]
    n_out = Y.shape[1]
    nl = net.shape[1] - 1
    for i in range(grads.shape[0]):
        grads[i] = 0
    total = 0.0
    # Row numbers are read for CSR input only; the default path prunes
    # np.arange, whose compilation took 0.3 s of a cold first fit. Dense
    # input reads none: an int64 row of the layer table stands in, of the
    # type of train_epoch's batch rows, so that forward_hidden, linear and
    # backward compile once for both (the int32 index arrays standing in,
    # they compiled twice: +3 % on a cold first fit).
    rows = np.arange(n) if TOOLKIT and is_sparse else net[0]
    mxcsr = flush_denormals()  # as in train_epoch
    for start in range(0, n, chunk):
        stop = start + chunk
        stop = n if n < stop else stop
        nb = stop - start
        x0 = X[:0] if is_sparse else X[start:stop]
        chunk_rows = rows[start:stop]
        forward_hidden(x0, data, indices, indptr, is_sparse, chunk_rows, nb, params, net,
                       buf, drops, norm, acts, masks, stats, running, alive, rng, flag(True),
                       h.bn_momentum, h.norm_eps)
        out = layer_view(acts, buf[O_OFF, nl], nb, n_out)
        linear(nl, x0, data, indices, indptr, is_sparse, chunk_rows, nb, params, net, buf,
               acts, out)
        total += output_loss_delta(
            out, params[net[B_OFF, nl - 1]:net[B_OFF, nl - 1] + n_out], Y[start:stop],
            sw[start:stop] if has_sw else sw, has_sw, h.out_code, h.prob_lo, h.prob_hi,
            layer_view(deltas, buf[D_OFF, nl], nb, n_out))
        backward(x0, data, indices, indptr, is_sparse, chunk_rows, nb, params, grads_chunk,
                 net, buf, drops, norm, acts, masks, deltas, stats)
        for i in range(grads.shape[0]):
            grads[i] += grads_chunk[i]
    sw_sum = 0.0
    if has_sw:
        for i in range(n):
            sw_sum += sw[i]
    else:
        sw_sum = float(n)
    scale = params.dtype.type(1.0 / sw_sum)
    sumsq, sumabs = penalised_gradient(params, grads, h.n_weights, h.alpha, h.l1, scale)
    total = add_penalty(total, h.alpha, h.l1, sumsq, sumabs)
    loss = total / sw_sum
    restore_denormals(mxcsr)
    return loss


@entry_kernel(allocates=True)  # np.arange, for sparse X only
def predict(inputs, tables, work, params, hyper, chunk, out):
    """Network outputs for every row of ``X``, in chunks (inference mode:
    no dropout, batch norm with running statistics).

    Parameters
    ----------
    inputs, tables, work, hyper
        As in :func:`train_epoch` (``work`` needs only the forward buffers).
    params : ndarray of shape (n_params,)
    chunk : int
        Rows per chunk; the work buffers must hold this many.
    out : ndarray of shape (n_samples, n_outputs)
        Receives the output-layer values (probabilities for classifiers).

    Returns
    -------
    status : int
        ``codes.INPUT_NOT_FINITE`` if a dense ``X`` holds a NaN or an
        infinity, plus ``codes.OUTPUT_NOT_FINITE`` if ``out`` does; 0 if
        neither. ``codes.PARAMS_NOT_FINITE | codes.OUTPUT_NOT_FINITE``, with
        ``out`` not computed, if ``params`` or the running statistics do.
    """
    # The caller's arrays, without reference counting below (see refcount;
    # the default path's copies are compiled without NRT, so nothing to skip).
    if NRT or TOOLKIT:
        inputs, tables, work, params, out = borrowed((inputs, tables, work, params, out))
    X, data, indices, indptr, is_sparse = inputs
    net, buf, drops, norm = tables
    acts, stats, running = work.acts, work.stats, work.running
    n = out.shape[0]
    nl = net.shape[1] - 1
    # (As in loss_and_gradient.)
    rows = np.arange(n) if TOOLKIT and is_sparse else net[0]
    # Out of training, forward_hidden reads neither the dropout rates nor the
    # masks, the dead-unit tracker or the generator: the records' own arrays
    # serve (allocating zeroed ones here compiled np.zeros, 0.1 s cold).
    no_masks = params[:0]
    # Weights set by hand or loaded may be NaN, which relu would turn into
    # finite outputs (max(NaN, 0) is 0): one pass over them, a fraction of
    # the products that read them anyway.
    if not (all_finite(layer_view(params, 0, 1, params.shape[0]))
            and all_finite(layer_view(running, 0, 1, running.shape[0]))):
        return PARAMS_NOT_FINITE | OUTPUT_NOT_FINITE
    mxcsr = flush_denormals()  # as in train_epoch
    status = 0
    for start in range(0, n, chunk):
        stop = start + chunk
        stop = n if n < stop else stop
        nb = stop - start
        x0 = X[:0] if is_sparse else X[start:stop]
        if not all_finite(x0):
            status |= INPUT_NOT_FINITE
        forward_hidden(x0, data, indices, indptr, is_sparse, rows[start:stop], nb, params,
                       net, buf, drops, norm, acts, no_masks, stats, running, no_masks,
                       work.rng, flag(False), hyper.bn_momentum, hyper.norm_eps)
        z = out[start:stop]
        linear(nl, x0, data, indices, indptr, is_sparse, rows[start:stop], nb, params,
               net, buf, acts, z)
        output_activation(z, params[net[B_OFF, nl - 1]:net[B_OFF, nl - 1] + net[UNITS, nl]],
                          hyper.out_code)
        if not all_finite(z):
            status |= OUTPUT_NOT_FINITE
    restore_denormals(mxcsr)
    return status
