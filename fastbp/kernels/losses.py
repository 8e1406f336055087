"""Output functions fused with their loss and the output-layer delta.

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

import numpy as np

from .._config import kernel
from .activations import softplus
from .dtypes import like
from .codes import OUT_EXP, OUT_LOGISTIC, OUT_SOFTMAX


@kernel
def output_activation(z, bias, code):
    """In place ``z = out(z + bias)`` for prediction.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_outputs)
    bias : ndarray of shape (n_outputs,)
    code : int
        Output-function code from :mod:`fastbp.kernels.codes`.
    """
    n, m = z.shape
    for i in range(n):
        if code == OUT_SOFTMAX:
            zmax = -np.inf
            for j in range(m):
                z[i, j] += bias[j]
                zmax = max(zmax, z[i, j])
            s = like(0, z)
            for j in range(m):
                z[i, j] = math.exp(z[i, j] - zmax)
                s += z[i, j]
            for j in range(m):
                z[i, j] /= s
        elif code == OUT_LOGISTIC:
            for j in range(m):
                z[i, j] = 1 / (1 + math.exp(-(z[i, j] + bias[j])))
        elif code == OUT_EXP:
            for j in range(m):
                z[i, j] = math.exp(z[i, j] + bias[j])
        else:
            for j in range(m):
                z[i, j] += bias[j]


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
    n, m = z.shape
    total = 0.0
    for i in range(n):
        w = sw[i] if has_sw else like(1, z)
        row = 0.0
        if code == OUT_SOFTMAX:
            zmax = -np.inf
            for j in range(m):
                z[i, j] += bias[j]
                zmax = max(zmax, z[i, j])
            s = like(0, z)
            for j in range(m):
                s += math.exp(z[i, j] - zmax)
            log_s = math.log(s)
            for j in range(m):
                logp = z[i, j] - zmax - log_s
                if y[i, j] != 0:
                    row -= y[i, j] * min(max(logp, log_eps), log1m_eps)
                z[i, j] = math.exp(logp)
                delta[i, j] = w * (z[i, j] - y[i, j])
        elif code == OUT_LOGISTIC:
            for j in range(m):
                t = z[i, j] + bias[j]
                logp = -softplus(-t)
                log1mp = -softplus(t)
                logp = min(max(logp, log_eps), log1m_eps)
                log1mp = min(max(log1mp, log_eps), log1m_eps)
                if y[i, j] != 0:
                    row -= y[i, j] * logp
                if y[i, j] != 1:
                    row -= (1 - y[i, j]) * log1mp
                z[i, j] = 1 / (1 + math.exp(-t))
                delta[i, j] = w * (z[i, j] - y[i, j])
        elif code == OUT_EXP:
            for j in range(m):
                t = z[i, j] + bias[j]
                p = math.exp(t)
                if y[i, j] > 0:
                    row += y[i, j] * (math.log(y[i, j]) - t)
                row += p - y[i, j]
                z[i, j] = p
                delta[i, j] = w * (p - y[i, j])
        else:
            for j in range(m):
                p = z[i, j] + bias[j]
                r = p - y[i, j]
                row += 0.5 * r * r
                z[i, j] = p
                delta[i, j] = w * r
            # scikit-learn averages the squared error over outputs.
            row /= m
        total += w * row
    return total


@kernel
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
