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

from .._config import kernel
from .codes import (
    ELU,
    GELU,
    IDENTITY,
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
    return 1 / (1 + math.exp(-z))


@kernel
def softplus(z):
    """``log(1 + exp(z))`` without overflow."""
    if z > 0:
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


@kernel
def activate(z, code):
    """Activation ``f(z)`` for one scalar ``z``."""
    if code == RELU:
        return z if z > 0 else z * 0
    if code == TANH:
        return math.tanh(z)
    if code == LOGISTIC:
        return sigmoid(z)
    if code == LEAKY_RELU:
        return z if z > 0 else z * LEAKY_SLOPE
    if code == ELU:
        return z if z > 0 else math.expm1(z)
    if code == SELU:
        return SELU_SCALE * z if z > 0 else SELU_SCALE * SELU_ALPHA * math.expm1(z)
    if code == SOFTPLUS:
        return softplus(z)
    if code == SWISH:
        return z * sigmoid(z)
    if code == MISH:
        return z * math.tanh(softplus(z))
    if code == GELU:
        return 0.5 * z * (1 + math.erf(z * _INV_SQRT2))
    return z


@kernel
def derivative(z, a, code):
    """Exact derivative ``f'(z)``, given ``z`` and ``a = f(z)``.

    Codes outside ``NEEDS_PREACTIVATION`` read only ``a``, so ``z`` may be
    any value for them (the forward pass may have overwritten it).
    """
    one = a * 0 + 1
    if code == RELU:
        return one if a > 0 else a * 0
    if code == TANH:
        return 1 - a * a
    if code == LOGISTIC:
        return a * (1 - a)
    if code == LEAKY_RELU:
        return one if a > 0 else one * LEAKY_SLOPE
    if code == ELU:
        return one if a > 0 else a + 1
    if code == SELU:
        return one * SELU_SCALE if a > 0 else a + SELU_SCALE * SELU_ALPHA
    if code == SOFTPLUS:
        # sigmoid(z) = 1 - exp(-softplus(z))
        return -math.expm1(-a)
    if code == SWISH:
        s = sigmoid(z)
        return s * (1 + z * (1 - s))
    if code == MISH:
        t = math.tanh(softplus(z))
        return t + z * sigmoid(z) * (1 - t * t)
    if code == GELU:
        return 0.5 * (1 + math.erf(z * _INV_SQRT2)) + z * _INV_SQRT_2PI * math.exp(-0.5 * z * z)
    return one


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
    n, m = h.shape
    for i in range(n):
        for j in range(m):
            zz = h[i, j] + bias[j]
            z[i, j] = zz
            a[i, j] = activate(zz, code)


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
    n, m = delta.shape
    for i in range(n):
        for j in range(m):
            d = delta[i, j] * mask[i, j] if has_mask else delta[i, j]
            out[i, j] = d if code == IDENTITY else d * derivative(z[i, j], a[i, j], code)


@kernel
def track_alive(a, alive):
    """``alive[j] = max(alive[j], max_i a[i, j])``: a relu unit that stays 0
    for every sample of an epoch is dead."""
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            alive[j] = max(alive[j], a[i, j])
