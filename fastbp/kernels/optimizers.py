"""Parameter updates over the flat parameter buffer.

All weights of the network come first in the buffer and all biases after
them (scikit-learn's ``_pack`` order), so the L2 penalty, which applies to
weights only, splits each update into two branch-free loops that LLVM
vectorises. The raw gradient ``grads`` holds ``sum_i sw_i dloss_i/dparam``;
each update adds the penalty and scales by ``1 / sum(sw)`` on the fly, so the
penalty pass and the optimizer pass are one pass over memory.

Every update returns ``sum(W**2)`` of the weights *before* the update, which
is the L2 term of the loss of the batch that produced the gradient.
"""

import math

from .._config import kernel


@kernel
def penalised_gradient(params, grads, n_weights, alpha, scale):
    """In place ``grads = (grads + alpha * W) * scale`` (biases: no penalty).

    Parameters
    ----------
    params, grads : ndarray of shape (n_params,)
    n_weights : int
        Number of weights at the start of the buffer.
    alpha, scale : float
        L2 strength and ``1 / sum(sample_weight)``.

    Returns
    -------
    sumsq : float
        ``sum(W**2)``.
    """
    sumsq = 0.0
    for i in range(n_weights):
        p = params[i]
        sumsq += p * p
        grads[i] = (grads[i] + alpha * p) * scale
    for i in range(n_weights, params.shape[0]):
        grads[i] *= scale
    return sumsq


@kernel
def sgd_step(params, grads, velocity, n_weights, alpha, scale, lr, momentum, nesterov):
    """SGD with (Nesterov) momentum, scikit-learn's formulation.

    ``v = momentum * v - lr * g``; then ``p += v``, or with Nesterov
    ``p += momentum * v - lr * g``.

    Parameters
    ----------
    params, grads, velocity : ndarray of shape (n_params,)
        ``grads`` is the raw summed gradient (see module docstring).
    n_weights : int
    alpha, scale, lr, momentum : float
    nesterov : bool

    Returns
    -------
    sumsq : float
        ``sum(W**2)`` before the update.
    """
    sumsq = 0.0
    for i in range(n_weights):
        p = params[i]
        sumsq += p * p
        g = (grads[i] + alpha * p) * scale
        v = momentum * velocity[i] - lr * g
        velocity[i] = v
        params[i] = p + (momentum * v - lr * g if nesterov else v)
    for i in range(n_weights, params.shape[0]):
        g = grads[i] * scale
        v = momentum * velocity[i] - lr * g
        velocity[i] = v
        params[i] += momentum * v - lr * g if nesterov else v
    return sumsq


@kernel
def adam_step(params, grads, m, v, n_weights, alpha, scale, lr_t, beta_1, beta_2, epsilon):
    """Adam, scikit-learn's formulation (bias correction folded into ``lr_t``).

    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``;
    ``p -= lr_t * m / (sqrt(v) + epsilon)`` with
    ``lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)``.

    Parameters
    ----------
    params, grads, m, v : ndarray of shape (n_params,)
    n_weights : int
    alpha, scale, lr_t, beta_1, beta_2, epsilon : float

    Returns
    -------
    sumsq : float
        ``sum(W**2)`` before the update.
    """
    c1 = 1 - beta_1
    c2 = 1 - beta_2
    sumsq = 0.0
    for i in range(n_weights):
        p = params[i]
        sumsq += p * p
        g = (grads[i] + alpha * p) * scale
        mi = beta_1 * m[i] + c1 * g
        vi = beta_2 * v[i] + c2 * g * g
        m[i] = mi
        v[i] = vi
        params[i] = p - lr_t * mi / (math.sqrt(vi) + epsilon)
    for i in range(n_weights, params.shape[0]):
        g = grads[i] * scale
        mi = beta_1 * m[i] + c1 * g
        vi = beta_2 * v[i] + c2 * g * g
        m[i] = mi
        v[i] = vi
        params[i] -= lr_t * mi / (math.sqrt(vi) + epsilon)
    return sumsq
