"""Hidden-layer activations: scalar maths once, array kernels on top.

Each activation is written once as a scalar function of the pre-activation
(``activate``) and once as its derivative expressed through the activation's
output (``derivative``); the fused kernels below, and any future backend,
reuse these two functions.
"""

import math

from .._config import kernel
from .codes import IDENTITY, LOGISTIC, RELU, TANH


@kernel
def activate(z, code):
    """Activation ``f(z)`` for one scalar ``z``."""
    if code == RELU:
        return z if z > 0 else z * 0
    if code == TANH:
        return math.tanh(z)
    if code == LOGISTIC:
        return 1 / (1 + math.exp(-z))
    return z


@kernel
def derivative(a, code):
    """Derivative ``f'(z)`` written in terms of the output ``a = f(z)``."""
    if code == RELU:
        return a * 0 + 1 if a > 0 else a * 0
    if code == TANH:
        return 1 - a * a
    if code == LOGISTIC:
        return a * (1 - a)
    return a * 0 + 1


@kernel
def bias_activation(z, bias, code):
    """In place ``z = f(z + bias)``, row-broadcast bias, one pass.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_units)
        Pre-activations without bias; overwritten by the activations.
    bias : ndarray of shape (n_units,)
    code : int
        Activation code from :mod:`fastbp.kernels.codes`.
    """
    n, m = z.shape
    for i in range(n):
        for j in range(m):
            z[i, j] = activate(z[i, j] + bias[j], code)


@kernel
def activation_backward(delta, a, code):
    """In place ``delta *= f'(z)``, with ``f'`` computed from ``a = f(z)``.

    Parameters
    ----------
    delta : ndarray of shape (n_samples, n_units)
        Gradient of the loss with respect to ``a``; becomes the gradient
        with respect to ``z``.
    a : ndarray of shape (n_samples, n_units)
        The layer's activations from the forward pass.
    code : int
    """
    if code == IDENTITY:
        return
    n, m = delta.shape
    for i in range(n):
        for j in range(m):
            delta[i, j] *= derivative(a[i, j], code)
