"""Output functions fused with their loss and the output-layer delta (the
CPU's array kernels; the per-row maths is in :mod:`fastbp.kernels.scalar`).

Every output function is paired with its canonical loss (identity with half
squared error, softmax with cross-entropy, logistic with binary
cross-entropy, exp with half Poisson deviance), so the gradient of the loss
with respect to the output pre-activation is ``prediction - target``. One
pass adds the bias, applies the output function, accumulates the weighted
loss and writes the delta.

Losses follow scikit-learn's definitions exactly, including its clipping of
probabilities to ``[eps, 1 - eps]``. Softmax's cross-entropy logs through
log-sum-exp; the binary cross-entropy logs the clipped probability and its
complement, as scikit-learn does, rather than the exact log-sigmoid: L-BFGS's
line search reads the loss, and where the model is confident the two differ
(see :func:`fastbp.kernels.scalar.loss_delta_row`).
"""

import math

import numpy as np

from .._config import entry_kernel, kernel
from .activations import cpu_scalar, same_memory
from .codes import OUT_EXP, OUT_IDENTITY, OUT_LOGISTIC, OUT_SOFTMAX
from .dtypes import like
from .elementary import exp
from .views import flat_view

sigmoid = cpu_scalar.sigmoid
clamp = cpu_scalar.clamp
softmax_shift_row = cpu_scalar.softmax_shift_row
softmax_normalise_row = cpu_scalar.softmax_normalise_row
softmax_finish_row = cpu_scalar.softmax_finish_row
logistic_loss_row = cpu_scalar.logistic_loss_row
poisson_loss_row = cpu_scalar.poisson_loss_row
squared_loss_row = cpu_scalar.squared_loss_row
cross_entropy_term = cpu_scalar.cross_entropy_term
binary_cross_entropy_term = cpu_scalar.binary_cross_entropy_term
poisson_term = cpu_scalar.poisson_term
half_square = cpu_scalar.half_square


@kernel
def exp_block(src, dst):
    """``dst = exp(src)`` over C-contiguous blocks of one shape, as one flat
    loop (vectorised; rows of a few outputs are too short to be). ``dst``
    may be ``src``."""
    s = flat_view(src)
    d = flat_view(dst)
    if same_memory(s, d):
        # One array: a two-array loop would take its scalar path when they alias.
        for k in range(d.shape[0]):
            d[k] = exp(d[k])
    else:
        for k in range(d.shape[0]):
            d[k] = exp(s[k])


# Each output function has kernels of its own, with one signature: the
# default path (kernels.lean) compiles a copy of the whole-network kernels
# for each output function, calling these directly, so that a fit compiles
# the loss it uses and not the other three (0.6 s of a cold first fit).
# Here ``output_activation`` and ``output_loss_delta`` choose among them at
# run time, for the toolkit's kernels.

@kernel
def softmax_output(z, bias, code):
    """In place ``z = softmax(z + bias)`` row by row (``code`` unused: see
    :func:`output_activation`)."""
    # Each phase runs over the whole block, the exponentials as one
    # vectorised loop (rows of a few classes are too short to vectorise).
    n = z.shape[0]
    for i in range(n):
        softmax_shift_row(z, i, bias)
    exp_block(z, z)
    for i in range(n):
        softmax_normalise_row(z, i)


@kernel
def logistic_output(z, bias, code):
    """In place ``z = sigmoid(z + bias)`` (see :func:`output_activation`)."""
    n, m = z.shape
    for i in range(n):
        for j in range(m):
            z[i, j] += bias[j]
    flat = flat_view(z)
    for k in range(flat.shape[0]):
        flat[k] = sigmoid(flat[k])


@kernel
def exp_output(z, bias, code):
    """In place ``z = exp(z + bias)`` (see :func:`output_activation`)."""
    n, m = z.shape
    for i in range(n):
        for j in range(m):
            z[i, j] += bias[j]
    exp_block(z, z)


@kernel
def identity_output(z, bias, code):
    """In place ``z = z + bias`` (see :func:`output_activation`)."""
    n, m = z.shape
    for i in range(n):
        for j in range(m):
            z[i, j] += bias[j]


@kernel
def output_activation(z, bias, code):
    """In place ``z = out(z + bias)`` for prediction.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_outputs)
        C-contiguous.
    bias : ndarray of shape (n_outputs,)
    code : int
        Output-function code from :mod:`fastbp.kernels.codes`.
    """
    if code == OUT_SOFTMAX:
        softmax_output(z, bias, code)
    elif code == OUT_LOGISTIC:
        logistic_output(z, bias, code)
    elif code == OUT_EXP:
        exp_output(z, bias, code)
    else:
        identity_output(z, bias, code)


@kernel
def softmax_loss_delta(z, bias, y, sw, has_sw, code, prob_lo, prob_hi, delta):
    """Softmax with cross-entropy: see :func:`output_loss_delta` (``code``
    unused)."""
    # Shift every row, exponentiate the block into ``delta`` in one
    # vectorised loop, then finish each row from it.
    n = z.shape[0]
    for i in range(n):
        softmax_shift_row(z, i, bias)
    exp_block(z, delta)
    total = 0.0
    for i in range(n):
        w = sw[i] if has_sw else like(1, z)
        total += w * softmax_finish_row(z, i, delta, y, w, prob_lo, prob_hi, delta)
    return total


@kernel
def logistic_loss_delta(z, bias, y, sw, has_sw, code, prob_lo, prob_hi, delta):
    """Logistic with binary cross-entropy: see :func:`output_loss_delta`."""
    total = 0.0
    for i in range(z.shape[0]):
        w = sw[i] if has_sw else like(1, z)
        total += w * logistic_loss_row(z, i, bias, y, w, prob_lo, prob_hi, delta)
    return total


@kernel
def poisson_loss_delta(z, bias, y, sw, has_sw, code, prob_lo, prob_hi, delta):
    """Exp with half Poisson deviance: see :func:`output_loss_delta`."""
    total = 0.0
    for i in range(z.shape[0]):
        w = sw[i] if has_sw else like(1, z)
        total += w * poisson_loss_row(z, i, bias, y, w, delta)
    return total


@kernel
def squared_loss_delta(z, bias, y, sw, has_sw, code, prob_lo, prob_hi, delta):
    """Identity with half squared error: see :func:`output_loss_delta`."""
    total = 0.0
    for i in range(z.shape[0]):
        w = sw[i] if has_sw else like(1, z)
        total += w * squared_loss_row(z, i, bias, y, w, delta)
    return total


@kernel
def output_loss_delta(z, bias, y, sw, has_sw, code, prob_lo, prob_hi, delta):
    """Output function, summed loss and output delta in one pass.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_outputs)
        Output pre-activations without bias; overwritten by predictions.
    bias : ndarray of shape (n_outputs,)
    y : ndarray of shape (n_samples, n_outputs)
        Targets (one-hot or 0/1 indicators for classification).
    sw : ndarray of shape (n_samples,)
        Sample weights, read only when ``has_sw``.
    has_sw : bool
    code : int
        Output-function code; it selects the loss too.
    prob_lo, prob_hi : float
        The clipping bounds of ``code``'s loss, in the dtype
        (:func:`fastbp.training.spec.clipping_bounds`): scikit-learn clips
        probabilities to ``[eps, 1 - eps]`` before taking logs, so softmax
        clips its log-probabilities to ``log(eps)`` and ``log(1 - eps)``,
        the logistic loss its probability to ``eps`` and ``1 - eps``.
    delta : ndarray of shape (n_samples, n_outputs)
        Receives ``sw * (prediction - y)``.

    Returns
    -------
    loss_sum : float
        ``sum_i sw_i * loss_i``: divide by the weight sum for the mean.
    """
    if code == OUT_SOFTMAX:
        return softmax_loss_delta(z, bias, y, sw, has_sw, code, prob_lo, prob_hi, delta)
    if code == OUT_LOGISTIC:
        return logistic_loss_delta(z, bias, y, sw, has_sw, code, prob_lo, prob_hi, delta)
    if code == OUT_EXP:
        return poisson_loss_delta(z, bias, y, sw, has_sw, code, prob_lo, prob_hi, delta)
    return squared_loss_delta(z, bias, y, sw, has_sw, code, prob_lo, prob_hi, delta)


#: The kernels of each output function, by code: ``(loss_delta, output)``,
#: each with the signature of :func:`output_loss_delta` and
#: :func:`output_activation`.
BY_OUTPUT = {
    OUT_SOFTMAX: (softmax_loss_delta, softmax_output),
    OUT_LOGISTIC: (logistic_loss_delta, logistic_output),
    OUT_EXP: (poisson_loss_delta, exp_output),
    OUT_IDENTITY: (squared_loss_delta, identity_output),
}


@entry_kernel
def loss_from_output(p, y, sw, has_sw, code, eps, pre_exp=False):
    """Weighted mean loss of finished predictions (validation loss).

    Parameters
    ----------
    p : ndarray of shape (n_samples, n_outputs)
        Outputs of :func:`output_activation` (probabilities for
        classifiers); for ``code`` ``OUT_EXP`` with ``pre_exp``, the output
        pre-activations ``t`` instead (predictions ``exp(t)``).
    y : ndarray of shape (n_samples, n_outputs)
    sw : ndarray of shape (n_samples,)
    has_sw : bool
    code : int
        Output-function code; it selects the loss.
    eps : float
        Probability clipping bound, as in scikit-learn.
    pre_exp : bool, default=False
        Whether ``p`` holds the exp output's pre-activations (``OUT_EXP``
        only). The half Poisson deviance then takes ``log(prediction)`` as
        ``t`` exactly, as training does (:func:`poisson_loss_delta`): from
        predictions, a row whose ``exp(t)`` underflowed to 0 (``t`` below
        about -745 in float64, -103 in float32) with a positive target has
        an infinite loss, though its deviance is finite.

    Returns
    -------
    loss : float
        ``sum_i sw_i loss_i / sum_i sw_i`` (no penalty).
    """
    n, m = p.shape
    total = 0.0
    wsum = 0.0
    # In p's type: ``1 - eps`` alone is a float64, which made clamp mix
    # widths. The logs stay in float64, as the sums are (and as they were
    # when that bound made clamp return a float64).
    hi = like(1, p) - eps
    for i in range(n):
        w = sw[i] if has_sw else like(1, p)
        row = 0.0
        for j in range(m):
            pij = p[i, j]
            yij = y[i, j]
            # The terms of training's rows (scalar.py), their logs and sums
            # in float64. A log that a zero target leaves unused is not
            # taken (a vector log, with SVML, would reorder the row's sum).
            if code == OUT_SOFTMAX:
                if yij != 0:
                    row = cross_entropy_term(row, yij,
                                             math.log(np.float64(clamp(pij, eps, hi))))
            elif code == OUT_LOGISTIC:
                row = binary_cross_entropy_term(row, yij, np.float64(clamp(pij, eps, hi)))
            elif code == OUT_EXP and pre_exp:
                # In float64: a float32 exp(t) may round to 0 or inf where
                # the row's deviance is finite.
                t = np.float64(pij)
                row = poisson_term(row, np.float64(yij), t, math.exp(t) - yij)
            elif code == OUT_EXP:
                # Two float64 logs: a float32 quotient overflows (a tiny
                # prediction of a large count) where the loss does not.
                t = math.log(np.float64(pij)) if yij > 0 else np.float64(0)
                row = poisson_term(row, np.float64(yij), t, pij - yij)
            else:
                # Divided by m output by output, unlike the training row,
                # which divides its sum (the validation loss's rounding
                # since before the terms were shared).
                row += half_square(np.float64(pij - yij)) / m
        total += w * row
        wsum += w
    return total / wsum
