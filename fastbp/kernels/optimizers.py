"""Parameter updates over the flat parameter buffer.

The buffer holds every layer's weights first (scikit-learn's ``_pack``
order), then biases, then normalisation scales and shifts. Penalties (L2
``alpha``, ``l1``) apply to weights only, so each update is two branch-free
loops that LLVM vectorises. ``grads`` holds the raw summed gradient
``sum_i sw_i dloss_i/dparam``; the update adds the penalties, scales by
``1 / sum(sw)`` and by the clipping coefficient on the fly, so penalty,
clipping and optimizer are one pass over memory. The same pass records each
layer's squared weight-gradient norm for diagnostics.

Update rules (``g`` the penalised, scaled gradient):

* sgd: ``v = momentum v - lr g``; ``p += v`` or, Nesterov,
  ``p += momentum v - lr g`` (scikit-learn's form).
* adam: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
  ``p -= lr_t m / (sqrt(v) + eps)``, ``lr_t = lr sqrt(1-b2^t) / (1-b1^t)``
  (scikit-learn's form: epsilon outside the square root, bias correction
  folded into the step).
* adamw: adam on the unpenalised gradient, after the decoupled decay
  ``p -= lr alpha p`` of the weights (PyTorch's AdamW).
* rmsprop: ``v = b2 v + (1-b2) g^2``, ``p -= lr g / (sqrt(v) + eps)``
  (PyTorch's form, epsilon outside the square root; decay rate ``beta_2``).
* adagrad: ``s += g^2``, ``p -= lr g / (sqrt(s) + eps)`` (epsilon outside).
"""

import math

from .._config import kernel
from .codes import ADAGRAD, ADAM, ADAMW, RMSPROP


@kernel
def update_one(p, g, s1, s2, code, lr, lr_t, momentum, nesterov, beta_1, beta_2,
               epsilon, decay):
    """One parameter's update; returns ``(p, s1, s2)``."""
    if code == ADAM or code == ADAMW:
        if code == ADAMW:
            p = p - lr * decay * p
        s1 = beta_1 * s1 + (1 - beta_1) * g
        s2 = beta_2 * s2 + (1 - beta_2) * g * g
        p = p - lr_t * s1 / (math.sqrt(s2) + epsilon)
    elif code == RMSPROP:
        s1 = beta_2 * s1 + (1 - beta_2) * g * g
        p = p - lr * g / (math.sqrt(s1) + epsilon)
    elif code == ADAGRAD:
        s1 = s1 + g * g
        p = p - lr * g / (math.sqrt(s1) + epsilon)
    else:
        v = momentum * s1 - lr * g
        s1 = v
        p = p + (momentum * v - lr * g if nesterov else v)
    return p, s1, s2


@kernel
def penalised(p, raw, alpha, l1, scale):
    """``(raw + alpha p + l1 sign(p)) * scale`` for one weight."""
    g = raw + alpha * p
    if p > 0:
        g += l1
    elif p < 0:
        g -= l1
    return g * scale


@kernel
def gradient_norm_sq(params, grads, n_weights, alpha, l1, scale):
    """Squared global norm of the penalised, scaled gradient (for clipping).

    Parameters
    ----------
    params, grads : ndarray of shape (n_params,)
    n_weights : int
    alpha, l1, scale : float
        ``alpha`` is 0 for adamw (decoupled decay is not a gradient).
    """
    total = 0.0
    for i in range(n_weights):
        g = penalised(params[i], grads[i], alpha, l1, scale)
        total += g * g
    for i in range(n_weights, params.shape[0]):
        g = grads[i] * scale
        total += g * g
    return total


@kernel
def penalised_gradient(params, grads, n_weights, alpha, l1, scale):
    """In place ``grads = penalised gradient`` (for L-BFGS).

    Returns
    -------
    sumsq, sumabs : float
        ``sum(W**2)`` and ``sum(|W|)``.
    """
    sumsq = 0.0
    sumabs = 0.0
    for i in range(n_weights):
        p = params[i]
        sumsq += p * p
        sumabs += abs(p)
        grads[i] = penalised(p, grads[i], alpha, l1, scale)
    for i in range(n_weights, params.shape[0]):
        grads[i] *= scale
    return sumsq, sumabs


@kernel
def optimizer_step(params, grads, state_1, state_2, units, w_off, n_weights,
                   code, alpha, l1, scale, clip_coef, lr, lr_t, momentum, nesterov,
                   beta_1, beta_2, epsilon, layer_sq):
    """Penalise, scale and apply one update to every parameter.

    Parameters
    ----------
    params, grads, state_1, state_2 : ndarray of shape (n_params,)
        ``state_1``/``state_2``: velocity (sgd), moments (adam, adamw), mean
        square (rmsprop), sum of squares (adagrad).
    units, w_off : ndarray of int64
        Layer widths and weight offsets (per-layer ranges for diagnostics).
    n_weights : int
    code : int
        Solver code.
    alpha, l1 : float
        Penalties (``alpha`` is the decoupled decay for adamw).
    scale : float
        ``1 / sum(sw)``.
    clip_coef : float
        Gradient-clipping coefficient (1 when not clipping); the recorded
        norms are those before clipping.
    lr, lr_t, momentum : float
    nesterov : bool
    beta_1, beta_2, epsilon : float
    layer_sq : ndarray of shape (n_layers - 1,)
        Each layer's squared weight-gradient norm is added here.

    Returns
    -------
    sumsq, sumabs : float
        ``sum(W**2)`` and ``sum(|W|)`` before the update.
    """
    decoupled = code == ADAMW
    alpha_g = alpha * 0 if decoupled else alpha
    sumsq = 0.0
    sumabs = 0.0
    for l in range(units.shape[0] - 1):
        lsq = 0.0
        start = w_off[l]
        for i in range(start, start + units[l] * units[l + 1]):
            p = params[i]
            sumsq += p * p
            sumabs += abs(p)
            g = penalised(p, grads[i], alpha_g, l1, scale)
            lsq += g * g
            g *= clip_coef
            params[i], state_1[i], state_2[i] = update_one(
                p, g, state_1[i], state_2[i], code, lr, lr_t, momentum, nesterov,
                beta_1, beta_2, epsilon, alpha)
        layer_sq[l] += lsq
    for i in range(n_weights, params.shape[0]):
        g = grads[i] * scale * clip_coef
        params[i], state_1[i], state_2[i] = update_one(
            params[i], g, state_1[i], state_2[i], code, lr, lr_t, momentum, nesterov,
            beta_1, beta_2, epsilon, alpha * 0)
    return sumsq, sumabs
