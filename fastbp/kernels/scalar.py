"""Scalar maths, written once and compiled for both targets.

Activations and their derivatives, the penalised gradient of one weight, and
one row of every output function with its loss and delta are plain Python
functions here. :func:`compile_for` compiles them with a given decorator:
``fastbp.kernels.activations`` and ``fastbp.kernels.losses`` compile them for
the CPU, ``fastbp.kernels.cuda`` as CUDA device functions. There is no second
copy of any formula.

Every constant goes through ``like(value, ref)`` and every accumulator starts
in the argument's type, so that float32 code stays float32 on both targets
(``tests/cuda/test_ptx.py`` checks the PTX for float64 instructions).

Activations are differentiated from their output ``a = f(z)`` where that is
cheaper, so that the forward pass may overwrite ``z``; swish, mish and gelu
need ``z`` (``codes.NEEDS_PREACTIVATION``).
"""

import math
import types

from .codes import (
    ELU,
    GELU,
    LEAKY_RELU,
    LOGISTIC,
    MISH,
    OUT_EXP,
    OUT_LOGISTIC,
    OUT_SOFTMAX,
    RELU,
    SELU,
    SOFTPLUS,
    SWISH,
    TANH,
)
from .dtypes import like

LEAKY_SLOPE = 0.01
SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
_INV_SQRT2 = 0.70710678118654752440
_INV_SQRT_2PI = 0.39894228040143267794


def sigmoid(z):
    """Logistic sigmoid ``1 / (1 + exp(-z))``."""
    one = like(1, z)
    return one / (one + math.exp(-z))


def softplus(z):
    """``log(1 + exp(z))`` without overflow."""
    if z > like(0, z):
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


def activate(z, code):
    """Activation ``f(z)`` for one scalar ``z`` (computed in ``z``'s type)."""
    zero = like(0, z)
    if code == RELU:
        return z if z > zero else zero
    if code == TANH:
        return math.tanh(z)
    if code == LOGISTIC:
        return sigmoid(z)
    if code == LEAKY_RELU:
        return z if z > zero else z * like(LEAKY_SLOPE, z)
    if code == ELU:
        return z if z > zero else math.expm1(z)
    if code == SELU:
        scale = like(SELU_SCALE, z)
        return scale * z if z > zero else scale * like(SELU_ALPHA, z) * math.expm1(z)
    if code == SOFTPLUS:
        return softplus(z)
    if code == SWISH:
        return z * sigmoid(z)
    if code == MISH:
        return z * math.tanh(softplus(z))
    if code == GELU:
        return like(0.5, z) * z * (like(1, z) + math.erf(z * like(_INV_SQRT2, z)))
    return z


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
        return -math.expm1(-a)
    if code == SWISH:
        s = sigmoid(z)
        return s * (one + z * (one - s))
    if code == MISH:
        t = math.tanh(softplus(z))
        return t + z * sigmoid(z) * (one - t * t)
    if code == GELU:
        cdf = like(0.5, z) * (one + math.erf(z * like(_INV_SQRT2, z)))
        return cdf + z * like(_INV_SQRT_2PI, z) * math.exp(like(-0.5, z) * z * z)
    return one


def penalised(p, raw, alpha, l1, scale):
    """``(raw + alpha p + l1 sign(p)) * scale`` for one weight."""
    zero = like(0, p)
    one = like(1, p)
    sign = one if p > zero else (-one if p < zero else zero)
    return (raw + alpha * p + l1 * sign) * scale


def output_row(z, bias, code):
    """In place ``z = out(z + bias)`` for one row of outputs.

    Parameters
    ----------
    z : ndarray of shape (n_outputs,)
        One row of output pre-activations (without bias).
    bias : ndarray of shape (n_outputs,)
    code : int
        Output-function code (``codes.OUT_*``).
    """
    m = z.shape[0]
    one = like(1, z[0])
    if code == OUT_SOFTMAX:
        zmax = like(-math.inf, one)
        for j in range(m):
            z[j] += bias[j]
            zmax = max(zmax, z[j])
        s = like(0, one)
        for j in range(m):
            z[j] = math.exp(z[j] - zmax)
            s += z[j]
        for j in range(m):
            z[j] /= s
    elif code == OUT_LOGISTIC:
        for j in range(m):
            z[j] = one / (one + math.exp(-(z[j] + bias[j])))
    elif code == OUT_EXP:
        for j in range(m):
            z[j] = math.exp(z[j] + bias[j])
    else:
        for j in range(m):
            z[j] += bias[j]


def loss_delta_row(z, bias, y, w, code, log_eps, log1m_eps, delta):
    """One row of the output function, its loss and the output delta.

    Every output function is paired with its canonical loss, so the delta
    is ``w * (prediction - y)``. Losses follow scikit-learn's definitions,
    including its clipping of probabilities to ``[eps, 1 - eps]``; logs are
    taken through log-sum-exp and softplus.

    Parameters
    ----------
    z : ndarray of shape (n_outputs,)
        One row of output pre-activations without bias; overwritten by the
        predictions.
    bias : ndarray of shape (n_outputs,)
    y : ndarray of shape (n_outputs,)
        The row's targets (one-hot or 0/1 indicators for classification).
    w : float
        The row's sample weight.
    code : int
        Output-function code; it selects the loss too.
    log_eps, log1m_eps : float
        ``log(eps)`` and ``log(1 - eps)`` of the dtype.
    delta : ndarray of shape (n_outputs,)
        Receives ``w * (prediction - y)``.

    Returns
    -------
    loss : float
        The row's unweighted loss.
    """
    m = z.shape[0]
    zero = like(0, w)
    one = like(1, w)
    row = zero
    if code == OUT_SOFTMAX:
        zmax = like(-math.inf, w)
        for j in range(m):
            z[j] += bias[j]
            zmax = max(zmax, z[j])
        s = zero
        for j in range(m):
            s += math.exp(z[j] - zmax)
        log_s = math.log(s)
        for j in range(m):
            logp = z[j] - zmax - log_s
            if y[j] != zero:
                row -= y[j] * min(max(logp, log_eps), log1m_eps)
            z[j] = math.exp(logp)
            delta[j] = w * (z[j] - y[j])
    elif code == OUT_LOGISTIC:
        for j in range(m):
            t = z[j] + bias[j]
            logp = min(max(-softplus(-t), log_eps), log1m_eps)
            log1mp = min(max(-softplus(t), log_eps), log1m_eps)
            if y[j] != zero:
                row -= y[j] * logp
            if y[j] != one:
                row -= (one - y[j]) * log1mp
            z[j] = one / (one + math.exp(-t))
            delta[j] = w * (z[j] - y[j])
    elif code == OUT_EXP:
        for j in range(m):
            t = z[j] + bias[j]
            p = math.exp(t)
            if y[j] > zero:
                row += y[j] * (math.log(y[j]) - t)
            row += p - y[j]
            z[j] = p
            delta[j] = w * (p - y[j])
    else:
        for j in range(m):
            p = z[j] + bias[j]
            r = p - y[j]
            row += like(0.5, w) * r * r
            z[j] = p
            delta[j] = w * r
        # scikit-learn averages the squared error over outputs.
        row /= like(m, w)
    return row


# In dependency order: each is compiled after the functions it calls.
FUNCTIONS = (sigmoid, softplus, activate, derivative, penalised, output_row, loss_delta_row)


def compile_for(jit):
    """Every function of :data:`FUNCTIONS`, compiled by ``jit``.

    The functions call each other through module globals; each compiled copy
    gets a globals mapping of its own in which those names are the compiled
    functions of the same target.

    Parameters
    ----------
    jit : callable
        A decorator: ``fastbp._config.kernel`` for the CPU, or a CUDA
        device-function decorator.

    Returns
    -------
    types.SimpleNamespace
        The compiled functions, by name.
    """
    scope = dict(globals())
    compiled = {}
    for func in FUNCTIONS:
        copy = types.FunctionType(func.__code__, scope, func.__name__, func.__defaults__,
                                  func.__closure__)
        copy.__qualname__ = func.__qualname__
        copy.__doc__ = func.__doc__
        copy.__module__ = func.__module__
        compiled[func.__name__] = scope[func.__name__] = jit(copy)
    return types.SimpleNamespace(**compiled)
