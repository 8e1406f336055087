"""Batch and layer normalisation on the GPU, fused with the activation and
the rest of the layer's forward pass, and their backward passes; the
formulas of :mod:`fastbp.kernels.normalization` (batch norm's running
statistics, with their float32 fallback, and the two gradients are the
shared scalars ``running_statistics``, ``running_var_rescaled``,
``inv_std_scaled``, ``batch_norm_delta`` and ``layer_norm_delta``).

Batch norm runs one thread per unit (its statistics are over the batch),
layer norm one thread per row. The layer's product has stored its linear
output at ``H_OFF``; these kernels overwrite it with ``xhat``.
"""

import math

from numba import cuda

from ..._config import cuda_device, cuda_kernel
from ..dtypes import like
from ..network import ACT, BE_OFF, G_OFF, H_OFF, R_OFF, S_OFF, UNITS, Z_OFF
from .activations import B, activate, finish_unit, gpu_scalar

running_statistics = gpu_scalar.running_statistics
batch_norm_delta = gpu_scalar.batch_norm_delta
layer_norm_delta = gpu_scalar.layer_norm_delta
running_var_rescaled = gpu_scalar.running_var_rescaled
inv_std_scaled = gpu_scalar.inv_std_scaled


@cuda_device
def scaled_var(acts, off, stride, n, mean):
    """``(big, var_s)``: the largest deviation of ``n`` values at
    ``acts[off::stride]`` from ``mean``, and their variance scaled by
    ``big**2`` (the variance is ``big**2 * var_s``, ``var_s`` in
    ``[1/n, 1]``); ``var_s`` is 0 where ``big`` is 0 or not finite."""
    zero = like(0, acts)
    big = zero
    for k in range(n):
        big = max(big, abs(acts[off + k * stride] - mean))
    if not big < math.inf or big == zero:
        return big, zero
    var = zero
    for k in range(n):
        d = (acts[off + k * stride] - mean) / big
        var += d * d
    return big, var / like(n, acts)


@cuda_device
def scaled_inv_std(acts, off, stride, n, mean, eps):
    """``1 / sqrt(var + eps)`` of ``n`` values at ``acts[off::stride]``,
    summed scaled by the largest deviation from ``mean``: the fallback
    where the variance overflows (:func:`fastbp.kernels.normalization.
    scaled_inv_std`; here float32 too, whose statistics are float32 on the
    GPU). Infinite deviations keep ``inv = 0``."""
    big, var_s = scaled_var(acts, off, stride, n, mean)
    if not big < math.inf:
        return like(0, acts)
    return inv_std_scaled(big, var_s, eps)


@cuda_device
def running_var_overflowed(acts, off, stride, nb, mean, var, old, momentum):
    """The running variance where, in float32, it came out inf
    (helper-170): :func:`fastbp.kernels.scalar.running_var_rescaled`, with
    the variance's scaled sums over the ``nb`` values at
    ``acts[off::stride]`` where the batch variance ``var`` overflowed."""
    big = var_s = like(0, acts)
    if var == math.inf:
        big, var_s = scaled_var(acts, off, stride, nb, mean)
    return running_var_rescaled(old, var, big, var_s, nb, momentum)


@cuda_device
def shifted_mean(acts, off, stride, n):
    """The mean of ``n`` values at ``acts[off::stride]``, in their dtype.

    Float32 sums the deviations from the first value, not the values: a
    unit far from zero mean (a "year" column, mean 1000, spread 1) summed
    as is lost several float32 steps of its mean, the normalised values
    then no longer summed to zero, and the first layer's weight gradient,
    which multiplies that leftover by the input's mean, was 20 times the
    CPU's float32 error, whose sums are float64 (rev-238, fix-247). Near
    the first value, the differences are exact and small, so that only
    the final ``shift + sum / n`` rounds at the mean's magnitude, as the
    CPU's once-rounded mean does. Float64 (a constant test) keeps a zero
    shift, which leaves its sums bit for bit as before (the CPU's order).
    """
    shift = like(0, acts)
    # Float32 only, a constant test: 2**24 + 1 rounds to 2**24 in float32
    # alone (unlike 1e39 to inf, without an overflow warning on every call
    # under the simulator).
    if like(16777217, acts) == like(16777216, acts):
        shift = acts[off]
    total = like(0, acts)
    for k in range(n):
        total += acts[off + k * stride] - shift
    if not abs(total) < math.inf:
        # A difference overflowed (values near float32's largest, of both
        # signs) where the plain sum may not: sum the values as they are.
        shift = like(0, acts)
        total = like(0, acts)
        for k in range(n):
            total += acts[off + k * stride]
    return total / like(n, acts) + shift


@cuda_kernel
def batch_norm_forward(l, nb, tab, params, acts, stats, running, masks, alive, drop, seed,
                       step, training, momentum, eps):
    """Batch norm + activation (+ dropout, residual) of layer ``l``, one
    thread per unit. Training uses the batch statistics and updates the
    running ones (unbiased variance, PyTorch's convention); inference uses
    the running ones."""
    j = cuda.grid(1)
    m = tab[UNITS, l]
    if j >= m:
        return
    h_off = tab[B + H_OFF, l]
    one = like(1, params)
    if training:
        mean = shifted_mean(acts, h_off + j, m, nb)
        var = like(0, params)
        for i in range(nb):
            d = acts[h_off + i * m + j] - mean
            var += d * d
        var /= like(nb, params)
        r = tab[B + R_OFF, l]
        running[r + j], rv = running_statistics(running[r + j], running[r + m + j], mean,
                                                var, nb, momentum)
        # Float32 only (a constant test; the float64 CPU overflows alike):
        # once per unit and batch, where the running variance overflowed.
        if rv == math.inf and like(1e39, params) == like(math.inf, params):
            rv = running_var_overflowed(acts, h_off + j, m, nb, mean, var,
                                        running[r + m + j], momentum)
        running[r + m + j] = rv
    else:
        r = tab[B + R_OFF, l]
        mean = running[r + j]
        var = running[r + m + j]
    inv = one / math.sqrt(var + eps)
    if training and var == math.inf:  # once per unit and batch
        inv = scaled_inv_std(acts, h_off + j, m, nb, mean, eps)
    stats[tab[B + S_OFF, l] + j] = inv
    gamma = params[tab[G_OFF, l] + j]
    beta = params[tab[BE_OFF, l] + j]
    code = tab[ACT, l]
    for i in range(nb):
        k = h_off + i * m + j
        xh = (acts[k] - mean) * inv
        acts[k] = xh
        u = gamma * xh + beta
        acts[tab[B + Z_OFF, l] + i * m + j] = u
        finish_unit(l, i, j, m, activate(u, code), tab, acts, masks, alive, drop, seed, step,
                    training)


@cuda_kernel
def layer_norm_forward(l, nb, tab, params, acts, stats, masks, alive, drop, seed, step,
                       training, eps):
    """Layer norm + activation (+ dropout, residual) of layer ``l``, one
    thread per row."""
    i = cuda.grid(1)
    if i >= nb:
        return
    m = tab[UNITS, l]
    h_off = tab[B + H_OFF, l] + i * m
    one = like(1, params)
    mean = shifted_mean(acts, h_off, 1, m)
    var = like(0, params)
    for j in range(m):
        d = acts[h_off + j] - mean
        var += d * d
    var /= like(m, params)
    inv = one / math.sqrt(var + eps)
    if var == math.inf:  # once per row
        inv = scaled_inv_std(acts, h_off, 1, m, mean, eps)
    stats[tab[B + S_OFF, l] + i] = inv
    code = tab[ACT, l]
    g_off = tab[G_OFF, l]
    be_off = tab[BE_OFF, l]
    for j in range(m):
        xh = (acts[h_off + j] - mean) * inv
        acts[h_off + j] = xh
        u = params[g_off + j] * xh + params[be_off + j]
        acts[tab[B + Z_OFF, l] + i * m + j] = u
        finish_unit(l, i, j, m, activate(u, code), tab, acts, masks, alive, drop, seed, step,
                    training)


@cuda_kernel
def batch_norm_backward(l, nb, tab, params, acts, stats, grads, accumulate):
    """Gradient through batch norm, in place on ``g`` (``acts`` at
    ``Z_OFF``), one thread per unit; the scale and shift gradients go to
    ``grads`` (added when ``accumulate``)."""
    j = cuda.grid(1)
    m = tab[UNITS, l]
    if j >= m:
        return
    g_off = tab[B + Z_OFF, l]
    x_off = tab[B + H_OFF, l]
    sg = like(0, params)
    sgx = like(0, params)
    for i in range(nb):
        g = acts[g_off + i * m + j]
        sg += g
        sgx += g * acts[x_off + i * m + j]
    if accumulate:
        grads[tab[G_OFF, l] + j] += sgx
        grads[tab[BE_OFF, l] + j] += sg
    else:
        grads[tab[G_OFF, l] + j] = sgx
        grads[tab[BE_OFF, l] + j] = sg
    n = like(nb, params)
    c = params[tab[G_OFF, l] + j] * stats[tab[B + S_OFF, l] + j] / n
    for i in range(nb):
        k = i * m + j
        acts[g_off + k] = batch_norm_delta(acts[g_off + k], acts[x_off + k], c, n, sg, sgx)


@cuda_kernel
def layer_norm_param_grads(l, nb, tab, acts, grads, accumulate):
    """Scale and shift gradients of a layer-normalised layer (one thread
    per unit); runs before :func:`layer_norm_backward` overwrites ``g``."""
    j = cuda.grid(1)
    m = tab[UNITS, l]
    if j >= m:
        return
    g_off = tab[B + Z_OFF, l]
    x_off = tab[B + H_OFF, l]
    dgamma = like(0, grads)
    dbeta = like(0, grads)
    for i in range(nb):
        g = acts[g_off + i * m + j]
        dgamma += g * acts[x_off + i * m + j]
        dbeta += g
    if accumulate:
        grads[tab[G_OFF, l] + j] += dgamma
        grads[tab[BE_OFF, l] + j] += dbeta
    else:
        grads[tab[G_OFF, l] + j] = dgamma
        grads[tab[BE_OFF, l] + j] = dbeta


@cuda_kernel
def layer_norm_backward(l, nb, tab, params, acts, stats):
    """Gradient through layer norm, in place on ``g``, one thread per row."""
    i = cuda.grid(1)
    if i >= nb:
        return
    m = tab[UNITS, l]
    g_off = tab[B + Z_OFF, l] + i * m
    x_off = tab[B + H_OFF, l] + i * m
    gm_off = tab[G_OFF, l]
    sg = like(0, params)
    sgx = like(0, params)
    for j in range(m):
        gx = acts[g_off + j] * params[gm_off + j]
        sg += gx
        sgx += gx * acts[x_off + j]
    c = stats[tab[B + S_OFF, l] + i] / like(m, params)
    for j in range(m):
        acts[g_off + j] = layer_norm_delta(acts[g_off + j], params[gm_off + j],
                                           acts[x_off + j], c, like(m, params), sg, sgx)
