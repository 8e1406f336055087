"""Batch and layer normalisation of hidden pre-activations, fused with the
activation that follows, and their backward passes.

Forward, for a hidden layer with pre-activation ``h`` (no bias: the shift
``beta`` takes its role): ``xhat = (h - mean) / sqrt(var + eps)``,
``u = gamma * xhat + beta``, ``a = f(u)``. ``xhat`` overwrites ``h`` because
the backward pass needs it and ``h`` no longer.

Batch norm normalises each unit over the batch (training) or with running
statistics (prediction), updated with PyTorch's convention:
``running = (1 - momentum) * running + momentum * batch_stat`` with the
unbiased batch variance. Layer norm normalises each sample over its units,
the same way in training and prediction.
"""

import math

from .._config import kernel
from .activations import activate, cpu_scalar

running_statistics = cpu_scalar.running_statistics
batch_norm_delta = cpu_scalar.batch_norm_delta
layer_norm_delta = cpu_scalar.layer_norm_delta
inv_std_scaled = cpu_scalar.inv_std_scaled


@kernel
def scaled_inv_std(x, mean, eps):
    """``1 / sqrt(var + eps)`` of ``x`` about ``mean``, summed scaled by the
    largest deviation.

    The fallback of the forward passes where the variance, summed as is,
    overflows to inf (float64 deviations above about 1.3e154): ``inv``
    was then 0 and every normalised value 0, so that every row got the
    same prediction. Scaled, it is the true ``inv`` (finite and positive),
    the one the backward passes read. Deviations themselves infinite keep
    ``inv = 0``.

    Parameters
    ----------
    x : ndarray of shape (n,)
        One row (layer norm) or column (batch norm) of pre-activations.
    mean : float
        In ``x``'s dtype (float32 statistics, summed in float64, do not
        overflow: only float64 ones come here).
    eps : float
    """
    big = 0.0
    for k in range(x.shape[0]):
        big = max(big, abs(x[k] - mean))
    if not big < math.inf:
        return 0.0
    var = 0.0
    for k in range(x.shape[0]):
        d = (x[k] - mean) / big
        var += d * d
    var /= x.shape[0]
    return inv_std_scaled(big, var, eps)


@kernel
def batch_norm_forward(h, gamma, beta, eps, training, running_mean, running_var,
                       momentum, inv_std, code, z, a):
    """Batch norm + activation.

    Parameters
    ----------
    h : ndarray of shape (n_samples, n_units)
        Pre-activations; overwritten by ``xhat``.
    gamma, beta : ndarray of shape (n_units,)
    eps : float
    training : bool
        Batch statistics (and update the running ones) or running statistics.
    running_mean, running_var : ndarray of shape (n_units,)
    momentum : float
    inv_std : ndarray of shape (n_units,)
        Receives ``1 / sqrt(var + eps)`` of the statistics used.
    code : int
        Activation code.
    z, a : ndarray of shape (n_samples, n_units)
        Receive ``u`` and ``f(u)`` (may alias each other).
    """
    n, m = h.shape
    for j in range(m):
        if training:
            mean = 0.0
            for i in range(n):
                mean += h[i, j]
            mean /= n
            var = 0.0
            for i in range(n):
                d = h[i, j] - mean
                var += d * d
            var /= n
            running_mean[j], running_var[j] = running_statistics(
                running_mean[j], running_var[j], mean, var, n, momentum)
        else:
            mean = running_mean[j]
            var = running_var[j]
        inv = 1 / math.sqrt(var + eps)
        if training and var == math.inf:  # once per unit and batch
            inv = scaled_inv_std(h[:, j], h.dtype.type(mean), eps)
        inv_std[j] = inv
        mj = h.dtype.type(mean)
        ij = h.dtype.type(inv)
        for i in range(n):
            xh = (h[i, j] - mj) * ij
            h[i, j] = xh
            u = gamma[j] * xh + beta[j]
            z[i, j] = u
            a[i, j] = activate(u, code)


@kernel
def batch_norm_backward(g, xhat, gamma, inv_std, dgamma, dbeta):
    """Gradient through batch norm (training statistics), in place.

    Parameters
    ----------
    g : ndarray of shape (n_samples, n_units)
        Gradient with respect to ``u``; becomes the gradient w.r.t. ``h``.
    xhat : ndarray of shape (n_samples, n_units)
    gamma, inv_std : ndarray of shape (n_units,)
    dgamma, dbeta : ndarray of shape (n_units,)
        Receive the (raw, summed) gradients of ``gamma`` and ``beta``.
    """
    n, m = g.shape
    for j in range(m):
        sg = 0.0
        sgx = 0.0
        for i in range(n):
            sg += g[i, j]
            sgx += g[i, j] * xhat[i, j]
        dgamma[j] = sgx
        dbeta[j] = sg
        c = gamma[j] * inv_std[j] / n
        for i in range(n):
            g[i, j] = batch_norm_delta(g[i, j], xhat[i, j], c, n, sg, sgx)


@kernel
def layer_norm_forward(h, gamma, beta, eps, inv_std, code, z, a):
    """Layer norm + activation (each sample over its units).

    Parameters
    ----------
    h : ndarray of shape (n_samples, n_units)
        Pre-activations; overwritten by ``xhat``.
    gamma, beta : ndarray of shape (n_units,)
    eps : float
    inv_std : ndarray of shape (n_samples,)
        Receives each sample's ``1 / sqrt(var + eps)``.
    code : int
    z, a : ndarray of shape (n_samples, n_units)
    """
    n, m = h.shape
    for i in range(n):
        mean = 0.0
        for j in range(m):
            mean += h[i, j]
        mean /= m
        var = 0.0
        for j in range(m):
            d = h[i, j] - mean
            var += d * d
        var /= m
        inv = 1 / math.sqrt(var + eps)
        if var == math.inf:  # once per row
            inv = scaled_inv_std(h[i], h.dtype.type(mean), eps)
        inv_std[i] = inv
        mi = h.dtype.type(mean)
        ii = h.dtype.type(inv)
        for j in range(m):
            xh = (h[i, j] - mi) * ii
            h[i, j] = xh
            u = gamma[j] * xh + beta[j]
            z[i, j] = u
            a[i, j] = activate(u, code)


@kernel
def layer_norm_backward(g, xhat, gamma, inv_std, dgamma, dbeta):
    """Gradient through layer norm, in place.

    Parameters
    ----------
    g : ndarray of shape (n_samples, n_units)
        Gradient with respect to ``u``; becomes the gradient w.r.t. ``h``.
    xhat : ndarray of shape (n_samples, n_units)
    gamma : ndarray of shape (n_units,)
    inv_std : ndarray of shape (n_samples,)
    dgamma, dbeta : ndarray of shape (n_units,)
        Receive the (raw, summed) gradients of ``gamma`` and ``beta``.
    """
    n, m = g.shape
    for j in range(m):
        dgamma[j] = 0
        dbeta[j] = 0
    for i in range(n):
        sg = 0.0
        sgx = 0.0
        for j in range(m):
            gx = g[i, j] * gamma[j]
            sg += gx
            sgx += gx * xhat[i, j]
            dgamma[j] += g[i, j] * xhat[i, j]
            dbeta[j] += g[i, j]
        c = inv_std[i] / m
        for j in range(m):
            g[i, j] = layer_norm_delta(g[i, j], gamma[j], xhat[i, j], c, m, sg, sgx)
