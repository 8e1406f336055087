"""Whole-network kernels: one training epoch, full-batch loss and gradient,
and prediction.

The network lives in flat buffers described by small integer arrays:

``units`` : (n_layers,)
    Widths, input first, output last.
``w_off``, ``b_off`` : (n_layers - 1,)
    Where layer ``l``'s weights (``units[l] x units[l+1]``, C order) and
    bias start in ``params`` (and in ``grads``, which mirrors it).
``a_off``, ``d_off`` : (n_layers,)
    Where layer ``l``'s activations and deltas start in the ``acts`` and
    ``deltas`` work buffers; each holds ``batch_size x units[l]`` values.

Layer views are reshaped slices of these buffers, so one compiled function
serves every depth and width, and nothing is allocated per mini-batch.

The first layer reads either a dense ``X`` or CSR arrays (``is_sparse``);
both are always passed (the unused one empty) so that one specialisation per
dtype covers both.
"""

import math

import numpy as np

from .._config import kernel
from .activations import activation_backward, bias_activation
from .codes import ADAM
from .losses import output_activation, output_loss_delta
from .optimizers import adam_step, penalised_gradient, sgd_step
from .sparse import csr_rows_dot, csr_rows_tdot


@kernel
def layer_view(buf, offset, n_rows, n_cols):
    """The ``(n_rows, n_cols)`` C-ordered view of ``buf`` at ``offset``."""
    return buf[offset:offset + n_rows * n_cols].reshape((n_rows, n_cols))


@kernel
def gather_rows(src, rows, dst):
    """``dst[r] = src[rows[r]]`` (explicit loops: no broadcasting checks)."""
    for r in range(rows.shape[0]):
        row = rows[r]
        for j in range(src.shape[1]):
            dst[r, j] = src[row, j]


@kernel
def forward_backward(x0, data, indices, indptr, is_sparse, rows, y, sw, has_sw,
                     params, grads, units, w_off, b_off, acts, a_off, deltas, d_off,
                     hidden, out_code, log_eps, log1m_eps):
    """Forward and backward pass of one batch; raw gradients into ``grads``.

    Parameters
    ----------
    x0 : ndarray of shape (n_batch, n_features)
        The dense batch (ignored when ``is_sparse``).
    data, indices, indptr : ndarray
        CSR arrays of the whole sparse ``X`` (empty when dense).
    is_sparse : bool
    rows : ndarray of shape (n_batch,)
        The batch's row numbers in the sparse ``X``.
    y : ndarray of shape (n_batch, n_outputs)
    sw : ndarray of shape (n_batch,)
    has_sw : bool
    params, grads : ndarray of shape (n_params,)
    units, w_off, b_off, a_off, d_off : ndarray of int64
        Network layout (see module docstring).
    acts, deltas : ndarray
        Work buffers.
    hidden, out_code : int
        Activation codes.
    log_eps, log1m_eps : float
        Probability clipping bounds, as logs.

    Returns
    -------
    loss_sum : float
        Weighted data loss summed over the batch (no penalty).
    """
    nb = y.shape[0]
    nl = units.shape[0] - 1
    for l in range(nl):
        w = layer_view(params, w_off[l], units[l], units[l + 1])
        z = layer_view(acts, a_off[l + 1], nb, units[l + 1])
        if l == 0:
            if is_sparse:
                csr_rows_dot(data, indices, indptr, rows, w, z)
            else:
                np.dot(x0, w, z)
        else:
            np.dot(layer_view(acts, a_off[l], nb, units[l]), w, z)
        if l < nl - 1:
            bias_activation(z, params[b_off[l]:b_off[l] + units[l + 1]], hidden)

    out = layer_view(acts, a_off[nl], nb, units[nl])
    loss_sum = output_loss_delta(
        out, params[b_off[nl - 1]:b_off[nl - 1] + units[nl]], y, sw, has_sw,
        out_code, log_eps, log1m_eps, layer_view(deltas, d_off[nl], nb, units[nl]))

    for l in range(nl - 1, -1, -1):
        d = layer_view(deltas, d_off[l + 1], nb, units[l + 1])
        gw = layer_view(grads, w_off[l], units[l], units[l + 1])
        if l == 0:
            if is_sparse:
                csr_rows_tdot(data, indices, indptr, rows, d, gw)
            else:
                np.dot(x0.T, d, gw)
        else:
            np.dot(layer_view(acts, a_off[l], nb, units[l]).T, d, gw)
        gb = grads[b_off[l]:b_off[l] + units[l + 1]]
        for j in range(units[l + 1]):
            gb[j] = 0
        for i in range(nb):
            for j in range(units[l + 1]):
                gb[j] += d[i, j]
        if l > 0:
            w = layer_view(params, w_off[l], units[l], units[l + 1])
            d_prev = layer_view(deltas, d_off[l], nb, units[l])
            np.dot(d, w.T, d_prev)
            activation_backward(d_prev, layer_view(acts, a_off[l], nb, units[l]), hidden)
    return loss_sum


@kernel
def train_epoch(X, data, indices, indptr, is_sparse, Y, sw, has_sw, perm, batch_size,
                params, grads, state_1, state_2, n_weights,
                units, w_off, b_off, acts, a_off, deltas, d_off, y_buf, sw_buf,
                hidden, out_code, log_eps, log1m_eps,
                solver, lr, momentum, nesterov, beta_1, beta_2, epsilon, alpha, t):
    """One epoch of mini-batch training, updating ``params`` in place.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense input (shape ``(0, n_features)`` when ``is_sparse``).
    data, indices, indptr, is_sparse
        CSR input, see :func:`forward_backward`.
    Y : ndarray of shape (n_samples, n_outputs)
    sw : ndarray of shape (n_samples,)
    has_sw : bool
    perm : ndarray of int64, shape (n_samples,)
        Sample order of this epoch (drawn by the caller).
    batch_size : int
    params, grads : ndarray of shape (n_params,)
    state_1, state_2 : ndarray of shape (n_params,)
        Optimizer state: velocity (SGD), or first and second moments (Adam).
    n_weights : int
    units, w_off, b_off, a_off, d_off, acts, deltas
        Layout and work buffers (see module docstring).
    y_buf : ndarray of shape (batch_size * n_outputs,)
    sw_buf : ndarray of shape (batch_size,)
    hidden, out_code : int
    log_eps, log1m_eps : float
    solver : int
        ``codes.SGD`` or ``codes.ADAM``.
    lr, momentum : float
    nesterov : bool
    beta_1, beta_2, epsilon, alpha : float
    t : int
        Updates done before this epoch (Adam's time step).

    Returns
    -------
    loss_sum : float
        Sum over batches of ``batch_loss * batch_length``, as scikit-learn
        accumulates it (divide by ``n_samples`` for the epoch loss).
    t : int
        Updates done after this epoch.
    """
    n = perm.shape[0]
    n_out = Y.shape[1]
    one = params.dtype.type(1)
    total = 0.0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        nb = stop - start
        rows = perm[start:stop]
        if is_sparse:
            x0 = X[:0]
        else:
            x0 = layer_view(acts, a_off[0], nb, units[0])
            gather_rows(X, rows, x0)
        yb = layer_view(y_buf, 0, nb, n_out)
        gather_rows(Y, rows, yb)
        swb = sw_buf[:nb]
        if has_sw:
            sw_sum = 0.0
            for r in range(nb):
                swb[r] = sw[rows[r]]
                sw_sum += swb[r]
        else:
            sw_sum = float(nb)
        loss_sum = forward_backward(
            x0, data, indices, indptr, is_sparse, rows, yb, swb, has_sw,
            params, grads, units, w_off, b_off, acts, a_off, deltas, d_off,
            hidden, out_code, log_eps, log1m_eps)
        scale = one / params.dtype.type(sw_sum)
        t += 1
        if solver == ADAM:
            lr_t = params.dtype.type(
                lr * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t))
            sumsq = adam_step(params, grads, state_1, state_2, n_weights, alpha,
                              scale, lr_t, beta_1, beta_2, epsilon)
        else:
            sumsq = sgd_step(params, grads, state_1, n_weights, alpha, scale, lr,
                             momentum, nesterov)
        total += (loss_sum + 0.5 * alpha * sumsq) / sw_sum * nb
    return total, t


@kernel
def loss_and_gradient(X, data, indices, indptr, is_sparse, Y, sw, has_sw, chunk,
                      params, grads, grads_chunk, n_weights,
                      units, w_off, b_off, acts, a_off, deltas, d_off,
                      hidden, out_code, log_eps, log1m_eps, alpha):
    """Full-batch penalised loss and its gradient (for L-BFGS).

    The data are processed in chunks of ``chunk`` rows, so the work buffers
    stay one chunk large whatever the number of samples.

    Parameters
    ----------
    X, data, indices, indptr, is_sparse, Y, sw, has_sw
        As in :func:`train_epoch`.
    chunk : int
        Rows per chunk; the work buffers must hold this many.
    params : ndarray of shape (n_params,)
    grads : ndarray of shape (n_params,)
        Receives the gradient of the mean penalised loss.
    grads_chunk : ndarray of shape (n_params,)
        Scratch for one chunk's gradient.
    n_weights, units, w_off, b_off, acts, a_off, deltas, d_off
        Layout and work buffers.
    hidden, out_code, log_eps, log1m_eps, alpha
        As in :func:`train_epoch`.

    Returns
    -------
    loss : float
        Mean weighted loss plus ``alpha / 2 * sum(W**2) / sum(sw)``.
    """
    n = Y.shape[0]
    for i in range(grads.shape[0]):
        grads[i] = 0
    total = 0.0
    sw_sum = 0.0
    rows = np.arange(n)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        x0 = X[:0] if is_sparse else X[start:stop]
        total += forward_backward(
            x0, data, indices, indptr, is_sparse, rows[start:stop], Y[start:stop],
            sw[start:stop] if has_sw else sw, has_sw,
            params, grads_chunk, units, w_off, b_off, acts, a_off, deltas, d_off,
            hidden, out_code, log_eps, log1m_eps)
        for i in range(grads.shape[0]):
            grads[i] += grads_chunk[i]
    if has_sw:
        for i in range(n):
            sw_sum += sw[i]
    else:
        sw_sum = float(n)
    scale = params.dtype.type(1.0 / sw_sum)
    sumsq = penalised_gradient(params, grads, n_weights, alpha, scale)
    return (total + 0.5 * alpha * sumsq) / sw_sum


@kernel
def predict(X, data, indices, indptr, is_sparse, chunk, params, units, w_off, b_off,
            acts, a_off, hidden, out_code, out):
    """Network outputs for every row of ``X``, in chunks.

    Parameters
    ----------
    X, data, indices, indptr, is_sparse
        Input, as in :func:`train_epoch`.
    chunk : int
        Rows per chunk; ``acts`` must hold this many per layer.
    params, units, w_off, b_off, acts, a_off
        Parameters, layout and work buffer.
    hidden, out_code : int
    out : ndarray of shape (n_samples, n_outputs)
        Receives the output-layer values (probabilities for classifiers).
    """
    n = out.shape[0]
    nl = units.shape[0] - 1
    rows = np.arange(n)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        nb = stop - start
        for l in range(nl):
            w = layer_view(params, w_off[l], units[l], units[l + 1])
            z = out[start:stop] if l == nl - 1 else layer_view(acts, a_off[l + 1], nb, units[l + 1])
            if l == 0:
                if is_sparse:
                    csr_rows_dot(data, indices, indptr, rows[start:stop], w, z)
                else:
                    np.dot(X[start:stop], w, z)
            else:
                np.dot(layer_view(acts, a_off[l], nb, units[l]), w, z)
            b = params[b_off[l]:b_off[l] + units[l + 1]]
            if l < nl - 1:
                bias_activation(z, b, hidden)
            else:
                output_activation(z, b, out_code)
