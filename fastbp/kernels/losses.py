"""Output functions fused with their loss and the output-layer delta (the
CPU's array kernels; the per-row maths is in :mod:`fastbp.kernels.scalar`).

Every output function is paired with its canonical loss (identity with half
squared error, softmax with cross-entropy, logistic with binary
cross-entropy, exp with half Poisson deviance), so the gradient of the loss
with respect to the output pre-activation is ``prediction - target``. One
pass adds the bias, applies the output function, accumulates the weighted
loss and writes the delta.

Losses follow scikit-learn's definitions exactly, including its clipping of
probabilities to ``[eps, 1 - eps]``; logs are taken through log-sum-exp and
softplus so that no probability is formed and then logged.
"""

import math

from .._config import entry_kernel, kernel
from .activations import cpu_scalar, same_memory
from .codes import OUT_EXP, OUT_LOGISTIC, OUT_SOFTMAX
from .dtypes import like
from .elementary import exp

sigmoid = cpu_scalar.sigmoid
softmax_shift_row = cpu_scalar.softmax_shift_row
softmax_normalise_row = cpu_scalar.softmax_normalise_row
softmax_finish_row = cpu_scalar.softmax_finish_row
logistic_loss_row = cpu_scalar.logistic_loss_row
poisson_loss_row = cpu_scalar.poisson_loss_row
squared_loss_row = cpu_scalar.squared_loss_row


@kernel
def exp_block(src, dst):
    """``dst = exp(src)`` over C-contiguous blocks of one shape, as one flat
    loop (vectorised; rows of a few outputs are too short to be). ``dst``
    may be ``src``."""
    s = src.reshape(src.size)
    d = dst.reshape(dst.size)
    if same_memory(s, d):
        # One array: a two-array loop would take its scalar path when they alias.
        for k in range(d.shape[0]):
            d[k] = exp(d[k])
    else:
        for k in range(d.shape[0]):
            d[k] = exp(s[k])


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
    # Each output function runs over the whole block, the exponentials as
    # one vectorised loop. (Not through scalar.output_row, whose inlined
    # copy of every output function cost half a second of compilation.)
    n, m = z.shape
    if code == OUT_SOFTMAX:
        for i in range(n):
            softmax_shift_row(z, i, bias)
        exp_block(z, z)
        for i in range(n):
            softmax_normalise_row(z, i)
        return
    for i in range(n):
        for j in range(m):
            z[i, j] += bias[j]
    if code == OUT_LOGISTIC:
        flat = z.reshape(z.size)
        for k in range(flat.shape[0]):
            flat[k] = sigmoid(flat[k])
    elif code == OUT_EXP:
        exp_block(z, z)


@kernel
def _softmax_rows(z, bias, y, sw, has_sw, log_eps, log1m_eps, delta):
    # Shift every row, exponentiate the block into ``delta`` in one
    # vectorised loop, then finish each row from it.
    n = z.shape[0]
    for i in range(n):
        softmax_shift_row(z, i, bias)
    exp_block(z, delta)
    total = 0.0
    for i in range(n):
        w = sw[i] if has_sw else like(1, z)
        total += w * softmax_finish_row(z, i, delta, y, w, log_eps, log1m_eps, delta)
    return total


@kernel
def output_loss_delta(z, bias, y, sw, has_sw, code, log_eps, log1m_eps, delta):
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
    log_eps, log1m_eps : float
        ``log(eps)`` and ``log(1 - eps)`` for the dtype: scikit-learn clips
        probabilities to ``[eps, 1 - eps]`` before taking logs.
    delta : ndarray of shape (n_samples, n_outputs)
        Receives ``sw * (prediction - y)``.

    Returns
    -------
    loss_sum : float
        ``sum_i sw_i * loss_i``: divide by the weight sum for the mean.
    """
    # The softmax loop is a function of its own: with all four output
    # functions inlined into one body, LLVM optimised it half as well (110
    # against 72 ns per row of 4 classes). The other three stay here (as
    # fast as apart, and each function apart costs cold-compile time).
    if code == OUT_SOFTMAX:
        return _softmax_rows(z, bias, y, sw, has_sw, log_eps, log1m_eps, delta)
    n = z.shape[0]
    total = 0.0
    if code == OUT_LOGISTIC:
        for i in range(n):
            w = sw[i] if has_sw else like(1, z)
            total += w * logistic_loss_row(z, i, bias, y, w, log_eps, log1m_eps, delta)
    elif code == OUT_EXP:
        for i in range(n):
            w = sw[i] if has_sw else like(1, z)
            total += w * poisson_loss_row(z, i, bias, y, w, delta)
    else:
        for i in range(n):
            w = sw[i] if has_sw else like(1, z)
            total += w * squared_loss_row(z, i, bias, y, w, delta)
    return total


@entry_kernel
def loss_from_output(p, y, sw, has_sw, code, eps):
    """Weighted mean loss of finished predictions (validation loss).

    Parameters
    ----------
    p : ndarray of shape (n_samples, n_outputs)
        Outputs of :func:`output_activation` (probabilities for
        classifiers).
    y : ndarray of shape (n_samples, n_outputs)
    sw : ndarray of shape (n_samples,)
    has_sw : bool
    code : int
        Output-function code; it selects the loss.
    eps : float
        Probability clipping bound, as in scikit-learn.

    Returns
    -------
    loss : float
        ``sum_i sw_i loss_i / sum_i sw_i`` (no penalty).
    """
    n, m = p.shape
    total = 0.0
    wsum = 0.0
    for i in range(n):
        w = sw[i] if has_sw else like(1, p)
        row = 0.0
        for j in range(m):
            pij = p[i, j]
            yij = y[i, j]
            if code == OUT_SOFTMAX:
                if yij != 0:
                    row -= yij * math.log(min(max(pij, eps), 1 - eps))
            elif code == OUT_LOGISTIC:
                q = min(max(pij, eps), 1 - eps)
                if yij != 0:
                    row -= yij * math.log(q)
                if yij != 1:
                    row -= (1 - yij) * math.log(1 - q)
            elif code == OUT_EXP:
                if yij > 0:
                    row += yij * math.log(yij / pij)
                row += pij - yij
            else:
                row += 0.5 * (pij - yij) ** 2 / m
        total += w * row
        wsum += w
    return total / wsum
