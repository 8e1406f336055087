"""Hidden-layer activations: scalar maths once, array kernels on top.

Each activation is written once as a scalar function of the pre-activation
(``activate``) and once as its exact derivative (``derivative``). The
derivative takes both the pre-activation ``z`` and the output ``a = f(z)``
and uses whichever is cheaper: most activations are differentiated from
their output (so the forward pass can overwrite ``z``); swish, mish and gelu
need ``z`` (see ``codes.NEEDS_PREACTIVATION``). The array kernels below, and
any future backend, reuse these two functions.
"""

import math

import numpy as np

from .._config import inline_kernel, kernel
from .dtypes import like
from .codes import (
    ELU,
    GELU,
    LEAKY_RELU,
    LOGISTIC,
    MISH,
    RELU,
    SELU,
    SOFTPLUS,
    SWISH,
    TANH,
)

LEAKY_SLOPE = 0.01
SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
_INV_SQRT2 = 0.70710678118654752440
_INV_SQRT_2PI = 0.39894228040143267794


@kernel
def sigmoid(z):
    """Logistic sigmoid ``1 / (1 + exp(-z))``."""
    one = like(1, z)
    return one / (one + np.exp(-z))


@kernel
def softplus(z):
    """``log(1 + exp(z))`` without overflow."""
    if z > 0:
        return z + np.log1p(np.exp(-z))
    return np.log1p(np.exp(z))


@kernel
def activate(z, code):
    """Activation ``f(z)`` for one scalar ``z`` (computed in ``z``'s type)."""
    zero = like(0, z)
    if code == RELU:
        return z if z > zero else zero
    if code == TANH:
        return np.tanh(z)
    if code == LOGISTIC:
        return sigmoid(z)
    if code == LEAKY_RELU:
        return z if z > zero else z * like(LEAKY_SLOPE, z)
    if code == ELU:
        return z if z > zero else np.expm1(z)
    if code == SELU:
        scale = like(SELU_SCALE, z)
        return scale * z if z > zero else scale * like(SELU_ALPHA, z) * np.expm1(z)
    if code == SOFTPLUS:
        return softplus(z)
    if code == SWISH:
        return z * sigmoid(z)
    if code == MISH:
        return z * np.tanh(softplus(z))
    if code == GELU:
        return like(0.5, z) * z * (like(1, z) + like(math.erf(z * _INV_SQRT2), z))
    return z


@kernel
def derivative(z, a, code):
    """Exact derivative ``f'(z)``, given ``z`` and ``a = f(z)``.

    Codes outside ``NEEDS_PREACTIVATION`` read only ``a``, so ``z`` may be
    any value for them (the forward pass may have overwritten it).
    """
    one = like(1, a)
    zero = like(0, a)
    if code == RELU:
        return one if a > zero else zero
    if code == TANH:
        return one - a * a
    if code == LOGISTIC:
        return a * (one - a)
    if code == LEAKY_RELU:
        return one if a > zero else like(LEAKY_SLOPE, a)
    if code == ELU:
        return one if a > zero else a + one
    if code == SELU:
        return like(SELU_SCALE, a) if a > zero else a + like(SELU_SCALE * SELU_ALPHA, a)
    if code == SOFTPLUS:
        # sigmoid(z) = 1 - exp(-softplus(z))
        return -np.expm1(-a)
    if code == SWISH:
        s = sigmoid(z)
        return s * (one + z * (one - s))
    if code == MISH:
        t = np.tanh(softplus(z))
        return t + z * sigmoid(z) * (one - t * t)
    if code == GELU:
        cdf = like(0.5, z) * (one + like(math.erf(z * _INV_SQRT2), z))
        return cdf + z * like(_INV_SQRT_2PI, z) * np.exp(like(-0.5, z) * z * z)
    return one


@inline_kernel
def _bias_activation_loop(h, bias, code, z, a):
    n, m = h.shape
    for i in range(n):
        for j in range(m):
            zz = h[i, j] + bias[j]
            z[i, j] = zz
            a[i, j] = activate(zz, code)


@kernel
def bias_activation(h, bias, code, z, a):
    """``z = h + bias``, ``a = f(z)``, one pass, row-broadcast bias.

    ``z`` and ``a`` may be the same array as ``h`` (in place), which is how
    the default path runs when ``z`` is not needed by the backward pass.

    Parameters
    ----------
    h : ndarray of shape (n_samples, n_units)
        Pre-activations without bias.
    bias : ndarray of shape (n_units,)
    code : int
        Activation code from :mod:`fastbp.kernels.codes`.
    z, a : ndarray of shape (n_samples, n_units)
        Receive the biased pre-activation and the activation.
    """
    # relu, the default, gets a loop of its own calling ``activate`` with a
    # constant code: LLVM folds the dispatch away and vectorises it. The
    # other activations share one loop; a dedicated loop would not vectorise
    # them anyway (their exp/tanh are scalar library calls) and each one
    # costs compile time.
    if code == RELU:
        _bias_activation_loop(h, bias, RELU, z, a)
    else:
        _bias_activation_loop(h, bias, code, z, a)


@inline_kernel
def _activation_backward_loop(delta, mask, has_mask, z, a, code, out):
    n, m = delta.shape
    if has_mask:
        for i in range(n):
            for j in range(m):
                out[i, j] = delta[i, j] * mask[i, j] * derivative(z[i, j], a[i, j], code)
    else:
        for i in range(n):
            for j in range(m):
                out[i, j] = delta[i, j] * derivative(z[i, j], a[i, j], code)


@kernel
def activation_backward(delta, mask, has_mask, z, a, code, out):
    """``out = delta * mask * f'(z)``, with ``f'`` from ``z`` and/or ``a = f(z)``.

    Parameters
    ----------
    delta : ndarray of shape (n_samples, n_units)
        Gradient of the loss with respect to the layer's (dropped-out)
        output.
    mask : ndarray of shape (n_samples, n_units)
        Dropout mask of the forward pass, read when ``has_mask``.
    has_mask : bool
    z, a : ndarray of shape (n_samples, n_units)
        Pre-activation and activation from the forward pass (``z`` is read
        only for codes in ``NEEDS_PREACTIVATION``).
    code : int
    out : ndarray of shape (n_samples, n_units)
        Receives the gradient with respect to ``z``; may alias ``z``/``a``.
    """
    # As in bias_activation: a vectorised loop of its own for relu.
    if code == RELU:
        _activation_backward_loop(delta, mask, has_mask, z, a, RELU, out)
    else:
        _activation_backward_loop(delta, mask, has_mask, z, a, code, out)


@kernel
def track_alive(a, alive):
    """``alive[j] = max(alive[j], max_i a[i, j])``: a relu unit that stays 0
    for every sample of an epoch is dead."""
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            alive[j] = max(alive[j], a[i, j])
