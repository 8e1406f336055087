"""Scalar maths, written once and compiled for both targets.

Activations and their derivatives, the penalised gradient of one weight, the
gradient-clipping coefficient, the optimizers' update of one parameter (with
Adam's bias-corrected step size and AdamW's epsilon), the penalised loss,
batch norm's running statistics (with the GPU's float32 fallback) and
gradient, the scaled fallback of ``1 / sqrt(var + eps)``, layer norm's
gradient, splitmix64's mixing step for dropout, each output's loss term (the
training rows' and the validation loss's) and one row of every output
function with its loss and delta are plain Python functions here. :func:`compile_for` compiles them with a given decorator:
``fastbp.kernels.activations`` and ``fastbp.kernels.losses`` compile them for
the CPU, ``fastbp.kernels.cuda`` as CUDA device functions. There is no second
copy of any formula.

Every constant goes through ``like(value, ref)`` and every accumulator starts
in the argument's type, so that float32 code stays float32 on both targets
(``tests/test_cuda_backend.py`` checks the PTX for float64 instructions).

Activations are differentiated from their output ``a = f(z)`` where that is
cheaper, so that the forward pass may overwrite ``z``; swish, mish and gelu
need ``z`` (``codes.NEEDS_PREACTIVATION``).
"""

import math
import types

import numpy as np

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
# splitmix64's increment and mixing constants (Steele, Lea and Flood),
# uint64 so that both targets wrap modulo 2**64.
SPLITMIX_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)


def sigmoid(z):
    """Logistic sigmoid ``1 / (1 + exp(-z))``."""
    one = like(1, z)
    return one / (one + math.exp(-z))


def softplus(z):
    """``log(1 + exp(z))`` without overflow."""
    if z > like(0, z):
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


def clamp(x, lo, hi):
    """``min(max(x, lo), hi)``, spelled out: Numba's builtins compile an
    overload of their own (0.2 s of a cold first fit). A NaN stays NaN."""
    x = lo if lo > x else x
    return hi if hi < x else x


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


def clip_coefficient(gnorm, clip):
    """PyTorch's ``clip_grad_norm_`` coefficient, ``min(1, clip / (gnorm +
    1e-6))``, in ``gnorm``'s type (``clip`` is converted to it).

    Applied to every step: a norm within 1e-6 below ``clip`` is scaled by
    slightly less than 1, and with ``clip`` below 1e-6 every step is
    scaled, as PyTorch does. One division, which both targets round alike
    for the same arguments (PyTorch's float32 reciprocal times ``clip`` is
    within an ulp of it). The CPU passes its float64 norm (a float32
    gradient's norm may pass float32's range) and rounds the coefficient
    once, the GPU its float32 norm: in float32 the two kernels' coefficients
    differ by an ulp about one step in ten (rev-218), less than their norms
    do. A NaN norm gives 1: the NaN gradient is left to the divergence
    check, as before.
    """
    one = like(1, gnorm)
    coef = like(clip, gnorm) / (gnorm + like(1e-6, gnorm))
    return coef if coef < one else one


def add_penalty(loss, alpha, l1, sumsq, sumabs):
    """``loss + 0.5 alpha sumsq + l1 sumabs``, the penalised loss, with
    only the penalties that apply.

    A term whose coefficient is 0 is left out rather than added as 0: 0
    times an overflowing ``sumsq`` (float32 weights above about 1.8e19) is
    NaN, a false divergence. The terms are added one at a time, in this
    order, in ``sumsq``'s type (float64 on both targets).
    """
    if alpha != 0:
        loss = loss + like(0.5, sumsq) * alpha * sumsq
    if l1 != 0:
        loss = loss + l1 * sumabs
    return loss


def running_update(old, add, momentum):
    """``(1 - momentum) old + add``: a running statistic after a batch,
    ``add`` being ``momentum`` times the batch's statistic (PyTorch's
    convention).

    The caller forms ``add``, so that the GPU's float32 fallback
    (:func:`running_var_rescaled`) can order its product to stay finite.
    ``1 - momentum`` is computed in ``add``'s type, which is that of the
    batch statistic and ``momentum`` together.
    """
    return (like(1, add) - momentum) * old + add


def running_statistics(old_mean, old_var, mean, var, n, momentum):
    """Batch norm's running mean and variance after a batch of ``n`` rows
    with statistics ``mean`` and ``var`` (biased).

    ``(1 - momentum) old + momentum new``, the variance made unbiased,
    ``var n / (n - 1)`` (PyTorch's convention; a batch of one row takes
    its ``var`` as it is), computed in ``mean``'s type: the CPU passes
    its float64 statistics, the GPU its dtype's.

    Returns
    -------
    running_mean, running_var
    """
    unbiased = var * like(n, mean) / like(n - 1, mean) if n > 1 else var
    return (running_update(old_mean, momentum * mean, momentum),
            running_update(old_var, momentum * unbiased, momentum))


def running_var_rescaled(old_var, var, big, var_s, n, momentum):
    """The running variance of :func:`running_statistics`, ordered so that
    no intermediate exceeds a finite result: the GPU's fallback where, in
    float32, that came out inf (helper-170).

    The CPU needs no such fallback: it computes the statistics in float64
    and rounds the running variance once. On the GPU the float32 batch
    variance ``var`` overflows for deviations above about 1.8e19; it is
    then ``big**2 * var_s`` (``big`` the largest deviation, ``var_s`` in
    ``[1/n, 1]``, from the caller's scaled sums) and the batch's share is
    ``momentum * big * (var_s * c) * big``, ``c = n / (n - 1)``, in that
    order: GPU only, whose fastmath is off (the CPU's reassociation could
    square ``big`` first). A finite
    ``var`` whose ``var * n`` rounds past the range (it is the sum of
    squares just divided, so only at the range's edge) takes ``momentum *
    var * c``. ``big`` and ``var_s`` are read only where ``var`` is inf.
    """
    one = like(1, var)
    c = like(n, var) / like(n - 1, var) if n > 1 else one
    if var == math.inf:
        add = momentum * big * (var_s * c) * big  # inf where big is
    else:
        add = momentum * var * c
    return running_update(old_var, add, momentum)


def inv_std_scaled(big, var_s, eps):
    """``1 / sqrt(var + eps)`` of a variance ``var = big**2 var_s`` given
    scaled, ``big`` the largest deviation and ``var_s`` the variance of the
    deviations divided by it: ``1 / (big sqrt(var_s + eps / big / big))``,
    in ``big``'s type.

    The fallback where the variance summed as it is overflows (the CPU's
    float64, the GPU's float32 too): ``eps / big**2`` without the square's
    overflow. ``big`` must be positive and finite; the callers keep ``inv
    = 0`` for infinite deviations.
    """
    return like(1, big) / (big * math.sqrt(var_s + eps / big / big))


def batch_norm_delta(g, xhat, c, n, sg, sgx):
    """The gradient through batch norm of one element, ``c (n g - sg -
    xhat sgx)``, from the gradient ``g`` w.r.t. its output, its ``xhat``,
    the unit's ``c = gamma inv_std / n`` and the unit's sums ``sg`` (of
    ``g``) and ``sgx`` (of ``g xhat``) over the ``n`` rows."""
    return c * (n * g - sg - xhat * sgx)


def layer_norm_delta(g, gamma, xhat, c, m, sg, sgx):
    """The gradient through layer norm of one element, ``c (m g gamma - sg
    - xhat sgx)``, from the gradient ``g`` w.r.t. its output, the unit's
    ``gamma``, its ``xhat``, the row's ``c = inv_std / m`` and the row's
    sums ``sg`` (of ``g gamma``) and ``sgx`` (of ``g gamma xhat``) over its
    ``m`` units.

    Not :func:`batch_norm_delta` of ``g gamma``: the kernels multiply ``m g``
    by ``gamma``, which rounds differently from ``m (g gamma)``.
    """
    return c * (m * g * gamma - sg - xhat * sgx)


# The optimizers' update rules for one parameter. Each takes the penalised,
# scaled, clipped gradient ``g`` and the parameter's state, and returns the
# new parameter and state. The CPU keeps one loop per solver around them (a
# branch per element would stop LLVM from vectorising); the GPU, one thread
# per parameter, branches on the solver. ``b1c``/``b2c`` are ``1 - beta_1``
# and ``1 - beta_2`` computed in double by the host (``1 -`` the rounded
# beta would be 1.3e-5 off in float32).

def adam_update(p, g, m, v, beta_1, beta_2, b1c, b2c, lr, lr_t, decay, epsilon):
    """Adam (adamw with ``decay`` > 0) for one parameter.

    ``m = beta_1 m + b1c g``, ``v = beta_2 v + b2c g^2``, then ``p - lr
    decay p - lr_t m / (sqrt(v) + epsilon)`` (scikit-learn's form, the bias
    correction folded into ``lr_t``; ``decay`` is adamw's decoupled decay,
    0 for adam and for biases).

    Returns
    -------
    p, m, v
        The new parameter and moments.
    """
    m = beta_1 * m + b1c * g
    v = beta_2 * v + b2c * g * g
    return p - lr * decay * p - lr_t * m / (math.sqrt(v) + epsilon), m, v


def adam_second_correction(beta_2c, t):
    """``sqrt(1 - beta_2**t)``, Adam's second-moment bias correction after
    ``t`` updates, in double from ``beta_2 = 1 - beta_2c``.

    ``beta_2c`` is ``1 - beta_2`` computed in double and rounded once to the
    model's dtype (``Hyper.beta_2c``): ``1 -`` that gives back the beta the
    update rules use, where the float32 ``beta_2`` itself made ``1 -
    beta_2**t`` 1.3e-5 off (relative) at t = 1. C's ``pow`` on doubles, as
    scikit-learn's ``beta_2 ** t`` on Python floats: an integer power is
    Numba's repeated squaring, which rounds otherwise (and whose helper's
    module a cached kernel imports).
    """
    return math.sqrt(1.0 - math.pow(1.0 - float(beta_2c), float(t)))


def adam_step_size(lr, beta_1c, beta_2c, t):
    """Adam's bias-corrected step size at update ``t``, ``lr sqrt(1 -
    beta_2**t) / (1 - beta_1**t)`` (scikit-learn's ``learning_rate_t``),
    the ``lr_t`` of :func:`adam_update`.

    Computed in double (see :func:`adam_second_correction`) and rounded
    once to ``lr``'s type: one scalar per step, as the clipping
    coefficient. The CPU's kernels and the CUDA host (which runs this
    Python on NumPy scalars) share it, so both targets step alike.
    """
    return like(float(lr) * adam_second_correction(beta_2c, t)
                / (1.0 - math.pow(1.0 - float(beta_1c), float(t))), lr)


def adamw_epsilon(epsilon, beta_2c, t):
    """AdamW's ``epsilon`` at update ``t`` for :func:`adam_update`: ``epsilon
    sqrt(1 - beta_2**t)``, in double, rounded once to ``epsilon``'s type.

    PyTorch's AdamW divides by ``sqrt(v / (1 - beta_2**t)) + epsilon``; with
    the bias correction folded into the step size (scikit-learn's Adam,
    whose epsilon stays beside ``sqrt(v)``), that is ``sqrt(v) + epsilon
    sqrt(1 - beta_2**t)``.
    """
    return like(float(epsilon) * adam_second_correction(beta_2c, t), epsilon)


def splitmix_mix(x):
    """splitmix64's finaliser of the uint64 ``x``: a bijective avalanche of
    its 64 bits (wrapping modulo 2**64). The CPU's dropout stream mixes
    its state with it, the GPU's counter-based masks their counters."""
    x = (x ^ (x >> _S30)) * _MIX_1
    x = (x ^ (x >> _S27)) * _MIX_2
    return x ^ (x >> _S31)


def rmsprop_update(p, g, v, beta_2, b2c, lr, epsilon):
    """RMSprop for one parameter: ``v = beta_2 v + b2c g^2``, then ``p - lr
    g / (sqrt(v) + epsilon)`` (PyTorch's form, epsilon outside the root).

    Returns
    -------
    p, v
    """
    v = beta_2 * v + b2c * g * g
    return p - lr * g / (math.sqrt(v) + epsilon), v


def adagrad_update(p, g, s, lr, epsilon):
    """Adagrad for one parameter: ``s += g^2``, then ``p - lr g / (sqrt(s)
    + epsilon)`` (epsilon outside the root).

    Returns
    -------
    p, s
    """
    s = s + g * g
    return p - lr * g / (math.sqrt(s) + epsilon), s


def sgd_update(p, g, v, lr, momentum, nesterov):
    """SGD with momentum for one parameter: ``v = momentum v - lr g``, then
    ``p + v``, or with Nesterov's momentum ``p + (momentum v - lr g)``
    (scikit-learn's form: the update is summed before it is added).

    Returns
    -------
    p, v
    """
    v = momentum * v - lr * g
    return p + (momentum * v - lr * g if nesterov else v), v


# One output's loss added to a row's, shared by the training rows below
# and the validation loss of finished predictions
# (``fastbp.kernels.losses.loss_from_output``), which passes float64
# operands where it sums in float64. Each takes the row's running sum and
# returns it updated: subtracting the terms one at a time from it rounds
# differently from subtracting their sum.

def cross_entropy_term(row, y, log_p):
    """``row - y log_p``: one output's cross-entropy, ``log_p`` its clipped
    log-probability. A zero ``y`` contributes nothing (xlogy)."""
    if y != like(0, y):
        row -= y * log_p
    return row


def binary_cross_entropy_term(row, y, p):
    """``row - (y log(p) + (1 - y) log(1 - p))``: one output's binary
    cross-entropy, ``p`` its clipped probability, in ``row``'s type. A zero
    ``y`` or ``1 - y`` contributes nothing (xlogy), so a 0/1 target takes
    one log."""
    one = like(1, row)
    if y != like(0, y):
        row -= y * math.log(p)
    if y != like(1, y):
        row -= (one - y) * math.log(one - p)
    return row


def poisson_term(row, y, t, d):
    """``row + y (log(y) - t) + d``: one output's half Poisson deviance,
    ``t`` the log of its prediction and ``d`` the prediction minus ``y``.
    ``y log(y)`` is 0 at ``y = 0`` (xlogy)."""
    if y > like(0, y):
        row += y * (math.log(y) - t)
    return row + d


def half_square(r):
    """``0.5 r^2``: one output's half squared error, ``r`` its residual."""
    return like(0.5, r) * r * r


def output_row(z, i, bias, code):
    """In place ``z[i] = out(z[i] + bias)`` for one row of outputs.

    The row functions take the whole 2-D array and a row index rather than
    a row view: on the CPU, building three views per row cost as much as
    the row's own work.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_outputs)
        Output pre-activations (without bias); row ``i`` is finished.
    i : int
        The row.
    bias : ndarray of shape (n_outputs,)
    code : int
        Output-function code (``codes.OUT_*``).
    """
    m = z.shape[1]
    if code == OUT_SOFTMAX:
        softmax_shift_row(z, i, bias)
        for j in range(m):
            z[i, j] = math.exp(z[i, j])
        softmax_normalise_row(z, i)
    elif code == OUT_LOGISTIC:
        for j in range(m):
            z[i, j] = sigmoid(z[i, j] + bias[j])
    elif code == OUT_EXP:
        for j in range(m):
            z[i, j] = math.exp(z[i, j] + bias[j])
    else:
        for j in range(m):
            z[i, j] += bias[j]


# Softmax comes in per-row phases around an elementwise exp: a GPU thread
# runs them for its row, the CPU runs each phase over a whole block so that
# the exp runs as one long vectorised loop (rows of a few classes are too
# short to vectorise).

def softmax_shift_row(z, i, bias):
    """``z[i] = z[i] + bias - max(z[i] + bias)`` (the largest becomes 0, so
    that ``exp`` cannot overflow)."""
    m = z.shape[1]
    zmax = like(-math.inf, z)
    for j in range(m):
        z[i, j] += bias[j]
        v = z[i, j]
        zmax = v if v > zmax else zmax
    for j in range(m):
        z[i, j] -= zmax


def softmax_normalise_row(e, i):
    """``e[i] /= sum(e[i])``: probabilities from the exponentials."""
    m = e.shape[1]
    s = like(0, e)
    for j in range(m):
        s += e[i, j]
    # An explicit reciprocal: fastmath's arcp would otherwise let LLVM
    # choose per function between dividing and multiplying, and two kernel
    # sets would round differently.
    inv = like(1, e) / s
    for j in range(m):
        e[i, j] *= inv


def softmax_finish_row(z, i, e, y, w, prob_lo, prob_hi, delta):
    """Cross-entropy and delta of one row, from the shifted
    pre-activations ``z[i]`` and their exponentials ``e[i]``: ``z[i]``
    receives the probabilities, ``delta[i]`` (which may be ``e``)
    ``w * (p - y)``. Returns the row's unweighted loss."""
    m = z.shape[1]
    zero = like(0, w)
    s = zero
    for j in range(m):
        s += e[i, j]
    log_s = math.log(s)
    inv = like(1, w) / s  # (as in softmax_normalise_row)
    row = zero
    for j in range(m):
        # The zero target tested here too, so that the clamp runs only
        # where it counts: run for every output, it let LLVM vectorise the
        # row's sum, reassociating it (other bits, fix-241).
        if y[i, j] != zero:
            row = cross_entropy_term(row, y[i, j], clamp(z[i, j] - log_s, prob_lo, prob_hi))
        p = e[i, j] * inv
        z[i, j] = p
        delta[i, j] = w * (p - y[i, j])
    return row


def softmax_loss_row(z, i, bias, y, w, prob_lo, prob_hi, delta):
    """Softmax with cross-entropy for one row: see :func:`loss_delta_row`.
    The exponentials pass through ``delta``."""
    softmax_shift_row(z, i, bias)
    for j in range(z.shape[1]):
        delta[i, j] = math.exp(z[i, j])
    return softmax_finish_row(z, i, delta, y, w, prob_lo, prob_hi, delta)


def logistic_loss_row(z, i, bias, y, w, prob_lo, prob_hi, delta):
    """Logistic with binary cross-entropy for one row: see
    :func:`loss_delta_row`."""
    m = z.shape[1]
    row = like(0, w)
    for j in range(m):
        p = sigmoid(z[i, j] + bias[j])
        # scikit-learn's rounding, not the exact log-sigmoid: L-BFGS's line
        # search reads the loss, and a confident row's log(1 - p) of the
        # rounded p differs from -softplus(t) by up to ~0.1, enough to send
        # the search elsewhere.
        row = binary_cross_entropy_term(row, y[i, j], clamp(p, prob_lo, prob_hi))
        z[i, j] = p
        delta[i, j] = w * (p - y[i, j])
    return row


def poisson_loss_row(z, i, bias, y, w, delta):
    """Exp with half Poisson deviance for one row: see
    :func:`loss_delta_row`."""
    m = z.shape[1]
    row = like(0, w)
    for j in range(m):
        t = z[i, j] + bias[j]
        p = math.exp(t)
        d = p - y[i, j]
        row = poisson_term(row, y[i, j], t, d)
        z[i, j] = p
        delta[i, j] = w * d
    return row


def squared_loss_row(z, i, bias, y, w, delta):
    """Identity with half squared error for one row: see
    :func:`loss_delta_row`."""
    m = z.shape[1]
    row = like(0, w)
    for j in range(m):
        p = z[i, j] + bias[j]
        r = p - y[i, j]
        row += half_square(r)
        z[i, j] = p
        delta[i, j] = w * r
    # scikit-learn averages the squared error over outputs.
    return row / like(m, w)


def loss_delta_row(z, i, bias, y, w, code, prob_lo, prob_hi, delta):
    """One row of the output function, its loss and the output delta.

    Every output function is paired with its canonical loss, so the delta
    is ``w * (prediction - y)``. Losses follow scikit-learn's definitions,
    including its clipping of probabilities to ``[eps, 1 - eps]``. The
    cross-entropy of softmax logs through log-sum-exp, its log-probability
    clipped to ``[log(eps), log(1 - eps)]``; the binary cross-entropy of the
    logistic output rounds as scikit-learn's does: ``p = 1 / (1 + exp(-t))``
    in the dtype, clipped to ``[eps, 1 - eps]``, then ``-(y log(p) + (1 - y)
    log(1 - p))``, a zero ``y`` or ``1 - y`` contributing nothing.

    The CPU's row loop branches on ``code`` once and calls the matching
    ``*_loss_row`` function itself, which keeps the loop free of the
    branch; the GPU (one thread per row) calls this dispatcher.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_outputs)
        Output pre-activations without bias; row ``i`` is overwritten by
        its predictions.
    i : int
        The row.
    bias : ndarray of shape (n_outputs,)
    y : ndarray of shape (n_samples, n_outputs)
        Targets (one-hot or 0/1 indicators for classification).
    w : float
        The row's sample weight.
    code : int
        Output-function code; it selects the loss too.
    prob_lo, prob_hi : float
        The loss's clipping bounds in the dtype: ``log(eps)`` and ``log(1 -
        eps)`` for softmax's log-probabilities, ``eps`` and ``1 - eps``
        for the logistic output's probability; unused by the others.
    delta : ndarray of shape (n_samples, n_outputs)
        Row ``i`` receives ``w * (prediction - y)``.

    Returns
    -------
    loss : float
        The row's unweighted loss.
    """
    if code == OUT_SOFTMAX:
        return softmax_loss_row(z, i, bias, y, w, prob_lo, prob_hi, delta)
    if code == OUT_LOGISTIC:
        return logistic_loss_row(z, i, bias, y, w, prob_lo, prob_hi, delta)
    if code == OUT_EXP:
        return poisson_loss_row(z, i, bias, y, w, delta)
    return squared_loss_row(z, i, bias, y, w, delta)


# In dependency order: each is compiled after the functions it calls.
FUNCTIONS = (sigmoid, softplus, clamp, activate, derivative, penalised, clip_coefficient,
             add_penalty, running_update, running_statistics, running_var_rescaled,
             inv_std_scaled, batch_norm_delta, layer_norm_delta,
             cross_entropy_term, binary_cross_entropy_term, poisson_term, half_square,
             adam_update, adam_second_correction, adam_step_size, adamw_epsilon,
             splitmix_mix, rmsprop_update, adagrad_update, sgd_update,
             softmax_shift_row, softmax_normalise_row, softmax_finish_row, output_row,
             softmax_loss_row, logistic_loss_row, poisson_loss_row, squared_loss_row,
             loss_delta_row)

# The functions that work on a row of arrays rather than on scalars.
ROW_FUNCTIONS = frozenset({"softmax_shift_row", "softmax_normalise_row", "softmax_finish_row",
                           "output_row", "softmax_loss_row", "logistic_loss_row",
                           "poisson_loss_row", "squared_loss_row", "loss_delta_row"})

# The optimizers' update rules, the penalised loss, the normalisations'
# running statistics and gradients and the loss terms, inlined like the row
# functions into the CPU's kernels, so that each compiles as if written in
# its caller. Compiled out of line, a function is optimised alone first, and fastmath's
# reassociation rounded the lean kernel's Nesterov step differently from
# the same formula written in the loop (fix-227).
INLINE_FUNCTIONS = frozenset({"add_penalty", "running_update", "running_statistics",
                              "running_var_rescaled", "inv_std_scaled", "batch_norm_delta",
                              "layer_norm_delta",
                              "cross_entropy_term", "binary_cross_entropy_term",
                              "poisson_term", "half_square",
                              "adam_update", "adam_second_correction", "adam_step_size",
                              "adamw_epsilon", "splitmix_mix",
                              "rmsprop_update", "adagrad_update", "sgd_update"})


def compile_for(jit, row_jit=None):
    """Every function of :data:`FUNCTIONS`, compiled by ``jit``.

    The functions call each other through module globals; each compiled copy
    gets a globals mapping of its own in which those names are the compiled
    functions of the same target.

    Parameters
    ----------
    jit : callable
        A decorator: ``fastbp._config.kernel`` for the CPU, or a CUDA
        device-function decorator.
    row_jit : callable, optional
        The decorator for :data:`ROW_FUNCTIONS` and :data:`INLINE_FUNCTIONS`
        (default ``jit``). The CPU inlines them into its loops: called out
        of line, a call that builds three array views costs as much as the
        row's own work, and an update rule rounds differently.

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
        inline = func.__name__ in ROW_FUNCTIONS or func.__name__ in INLINE_FUNCTIONS
        deco = row_jit if row_jit is not None and inline else jit
        compiled[func.__name__] = scope[func.__name__] = deco(copy)
    return types.SimpleNamespace(**compiled)
