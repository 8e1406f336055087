"""Plain NumPy reference implementations for testing the fastbp kernels.

Everything here is written independently of ``fastbp.kernels`` (STUMPY
style): whole-array NumPy, or explicit Python loops where that is clearer.
The scikit-learn parts follow scikit-learn 1.9 formula by formula
(``sklearn/neural_network/_base.py``, ``_stochastic_optimizers.py`` and
``BaseMultilayerPerceptron._backprop`` / ``_fit_stochastic``); the toolkit
parts follow their textbook / PyTorch definitions (activations, batch and
layer normalisation, RMSprop, Adagrad, AdamW, gradient-norm clipping, the
splitmix64 generator). Speed is irrelevant; clarity is the point.

Conventions
-----------
* A network's parameters are a dict ``P`` with lists ``coefs`` (``(fan_in,
  fan_out)`` arrays), ``intercepts``, and, with normalisation, ``scales``
  and ``shifts`` (one per hidden layer).
* Activations, outputs, losses, normalisations and solvers are named by
  strings, as in scikit-learn.
* Functions keep the dtype of their inputs: callers that want a float64
  reference for float32 data upcast first and pass the float32 ``eps``.
"""


import numpy as np
import scipy.sparse as sp
from scipy.special import erf, expit, xlogy

SKLEARN_HIDDEN = ("identity", "logistic", "tanh", "relu")
HIDDEN = SKLEARN_HIDDEN + ("leaky_relu", "elu", "selu", "softplus", "swish", "mish",
                           "gelu")
OUTPUTS = ("identity", "softmax", "logistic", "exp")

# Each output function with the loss scikit-learn pairs it with.
OUTPUT_LOSS = {
    "identity": "squared_error",
    "softmax": "log_loss",
    "logistic": "binary_log_loss",
    "exp": "poisson",
}

LEAKY_SLOPE = 0.01
# Klambauer et al. (2017), as in torch.nn.SELU.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------------
# Hidden activations f(z) and their derivatives f'(z)
# ---------------------------------------------------------------------------

def _softplus(z):
    return np.logaddexp(0.0, z)


def activate(z, name):
    """``f(z)`` element-wise."""
    z = np.asarray(z)
    if name == "identity":
        return z.copy()
    if name == "logistic":
        return expit(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_SLOPE * z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0)))
    if name == "softplus":
        return _softplus(z)
    if name == "swish":
        return z * expit(z)
    if name == "mish":
        return z * np.tanh(_softplus(z))
    if name == "gelu":
        return 0.5 * z * (1 + erf(z / np.sqrt(2)))
    raise ValueError(name)


def derivative(z, name):
    """``f'(z)`` element-wise, from the pre-activation (exact formulas).

    At the kinks: relu'(0) = 0 (scikit-learn zeroes the delta where the
    output is 0), leaky'(0) = slope, selu'(0) is the left derivative.
    """
    z = np.asarray(z)
    if name == "identity":
        return np.ones_like(z)
    if name == "logistic":
        s = expit(z)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)
    if name == "elu":
        return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0))).astype(z.dtype)
    if name == "selu":
        return SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0)))
    if name == "softplus":
        return expit(z)
    if name == "swish":
        s = expit(z)
        return s + z * s * (1 - s)
    if name == "mish":
        t = np.tanh(_softplus(z))
        return t + z * (1 - t ** 2) * expit(z)
    if name == "gelu":
        pdf = np.exp(-0.5 * z ** 2) / np.sqrt(2 * np.pi)
        return 0.5 * (1 + erf(z / np.sqrt(2))) + z * pdf
    raise ValueError(name)


def derivative_from_output(a, name):
    """scikit-learn's ``inplace_*_derivative``: ``f'`` from ``a = f(z)``."""
    a = np.asarray(a)
    if name == "identity":
        return np.ones_like(a)
    if name == "logistic":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a ** 2
    if name == "relu":
        return np.where(a == 0, 0, 1).astype(a.dtype)
    raise ValueError(f"scikit-learn has no {name!r} activation")


def bias_activation(h, b, name):
    """``(z, f(z))`` with ``z = h + b``, ``b`` broadcast over rows."""
    z = np.asarray(h) + np.asarray(b)[None, :]
    return z, activate(z, name)


# ---------------------------------------------------------------------------
# Output functions
# ---------------------------------------------------------------------------

def softmax(z):
    z = np.asarray(z)
    t = np.exp(z - z.max(axis=1, keepdims=True))
    return t / t.sum(axis=1, keepdims=True)


OUTPUT_FUNCTIONS = {
    "identity": lambda z: np.array(z, copy=True),
    "softmax": softmax,
    "logistic": expit,
    "exp": np.exp,
}


def output_activation(z, b, name):
    """``out(z + b)`` with ``b`` broadcast over rows."""
    return OUTPUT_FUNCTIONS[name](np.asarray(z) + np.asarray(b)[None, :])


# ---------------------------------------------------------------------------
# Losses, exactly as scikit-learn 1.9 defines them
# ---------------------------------------------------------------------------

def squared_loss(y_true, y_pred, sample_weight=None, eps=None):
    """Half squared error, averaged over samples (weighted) and outputs."""
    return 0.5 * np.average((y_true - y_pred) ** 2, weights=sample_weight, axis=0).mean()


def poisson_loss(y_true, y_pred, sample_weight=None, eps=None):
    """Half Poisson deviance, averaged over samples, summed over outputs."""
    return np.average(
        xlogy(y_true, y_true / y_pred) - y_true + y_pred, weights=sample_weight, axis=0
    ).sum()


def log_loss(y_true, y_prob, sample_weight=None, eps=None):
    """Categorical cross-entropy with probabilities clipped to [eps, 1-eps]."""
    if eps is None:
        eps = np.finfo(y_prob.dtype).eps
    y_prob = np.clip(y_prob, eps, 1 - eps)
    if y_prob.shape[1] == 1:
        y_prob = np.append(1 - y_prob, y_prob, axis=1)
    if y_true.shape[1] == 1:
        y_true = np.append(1 - y_true, y_true, axis=1)
    return -np.average(xlogy(y_true, y_prob), weights=sample_weight, axis=0).sum()


def binary_log_loss(y_true, y_prob, sample_weight=None, eps=None):
    """Binary cross-entropy per output, clipped to [eps, 1-eps], summed."""
    if eps is None:
        eps = np.finfo(y_prob.dtype).eps
    y_prob = np.clip(y_prob, eps, 1 - eps)
    return -np.average(
        xlogy(y_true, y_prob) + xlogy(1 - y_true, 1 - y_prob),
        weights=sample_weight,
        axis=0,
    ).sum()


LOSSES = {
    "squared_error": squared_loss,
    "poisson": poisson_loss,
    "log_loss": log_loss,
    "binary_log_loss": binary_log_loss,
}


def output_loss(y_true, y_pred, out_name, sample_weight=None, eps=None):
    """The loss scikit-learn uses with output function ``out_name``."""
    return LOSSES[OUTPUT_LOSS[out_name]](y_true, y_pred, sample_weight, eps)


def per_sample_loss(y_true, y_pred, out_name, eps=None):
    """Loss of each sample (one-row calls of the scikit-learn loss)."""
    return np.array([
        output_loss(y_true[i:i + 1], y_pred[i:i + 1], out_name, None, eps)
        for i in range(y_true.shape[0])
    ])


def penalty(coefs, alpha, l1, sw_sum):
    """``(0.5 * alpha * sum(W**2) + l1 * sum(|W|)) / sw_sum`` (scikit-learn's
    L2 term when ``l1 = 0``)."""
    values = 0.0
    absvals = 0.0
    for W in coefs:
        s = np.ravel(W)
        values += np.dot(s, s)
        absvals += np.abs(s).sum()
    return (0.5 * alpha * values + l1 * absvals) / sw_sum


# ---------------------------------------------------------------------------
# Sparse products
# ---------------------------------------------------------------------------

def csr_to_dense(data, indices, indptr, n_cols):
    """Dense array from raw CSR arrays, one stored entry at a time."""
    n_rows = len(indptr) - 1
    dense = np.zeros((n_rows, n_cols), dtype=np.asarray(data).dtype)
    for r in range(n_rows):
        for k in range(indptr[r], indptr[r + 1]):
            dense[r, indices[k]] += data[k]
    return dense


def csr_rows_dot(data, indices, indptr, rows, w):
    """``X[rows] @ w`` for the CSR matrix ``X``."""
    X = csr_to_dense(data, indices, indptr, w.shape[0])
    return X[rows] @ w


def csr_rows_tdot(data, indices, indptr, rows, delta, n_features):
    """``X[rows].T @ delta`` for the CSR matrix ``X``."""
    X = csr_to_dense(data, indices, indptr, n_features)
    return X[rows].T @ delta


# ---------------------------------------------------------------------------
# Normalisation (training statistics are biased, running ones unbiased,
# as in torch.nn.BatchNorm1d / LayerNorm)
# ---------------------------------------------------------------------------

def normalise(h, axis, eps):
    """``(xhat, inv_std)`` of ``h`` over ``axis`` (biased variance)."""
    mean = h.mean(axis=axis, keepdims=True)
    with np.errstate(over="ignore"):
        var = ((h - mean) ** 2).mean(axis=axis, keepdims=True)
    inv = 1 / np.sqrt(var + eps)
    # Where the squares overflow (deviations above 1.3e154 in float64), the
    # same sums scaled by the largest deviation (helper-155).
    big = np.abs(h - mean).max(axis=axis, keepdims=True)
    over = np.isinf(var) & np.isfinite(big)
    if over.any():
        big = np.where(over, big, 1.0)
        scaled = (((h - mean) / big) ** 2).mean(axis=axis, keepdims=True)
        inv = np.where(over, 1 / (big * np.sqrt(scaled + eps / big / big)), inv)
    return (h - mean) * inv, inv, mean, var


def norm_backward(g, xhat, gamma, inv, axis):
    """Gradient w.r.t. ``h`` of ``u = gamma * xhat + beta``, and the raw
    gradients of ``gamma`` and ``beta``.

    With ``dx = g * gamma``, ``dh = inv * (dx - mean(dx) - xhat * mean(dx * xhat))``,
    means over the normalised axis.
    """
    dgamma = (g * xhat).sum(axis=0)
    dbeta = g.sum(axis=0)
    dx = g * gamma[None, :]
    dh = inv * (dx - dx.mean(axis=axis, keepdims=True)
                - xhat * (dx * xhat).mean(axis=axis, keepdims=True))
    return dh, dgamma, dbeta


# ---------------------------------------------------------------------------
# Dropout generator: splitmix64 (Steele, Lea & Flood 2014)
# ---------------------------------------------------------------------------

_M64 = (1 << 64) - 1


def splitmix_uniforms(state, count):
    """``count`` uniforms in [0, 1) (53-bit) and the advanced state."""
    s = int(state)
    out = np.empty(count)
    for k in range(count):
        s = (s + 0x9E3779B97F4A7C15) & _M64
        x = s
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
        x ^= x >> 31
        out[k] = (x >> 11) * 2.0 ** -53
    return out, s


def dropout_mask(shape, rate, state):
    """Inverted-dropout mask (0 or ``1 / (1 - rate)``), drawn row-major."""
    u, state = splitmix_uniforms(state, int(np.prod(shape)))
    mask = np.where(u >= rate, 1 / (1 - rate), 0.0).reshape(shape)
    return mask, state


# The GPU's dropout masks: no stream, each entry a hash of its coordinates
# (splitmix64's finaliser of a linear combination of seed, update number,
# layer, row and unit; the uniform keeps the hash's top 24 bits).
# helper-115: the GPU's hash had no reference, so a mask without the
# 1 / (1 - rate) rescaling passed every GPU test.

_COUNTER_STEP_MUL = 0xD1B54A32D192ED03
_COUNTER_LAYER_MUL = 0x8CB92BA72F3D8DD7
_COUNTER_ROW_MUL = 0xABC98388FB8FAC03


def _splitmix_finaliser(x):
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def counter_dropout_mask(seed, step, layer, shape, rate):
    """Inverted-dropout mask of hidden layer ``layer`` (1 for the first) at
    update ``step`` (0 for a fit's first): entry ``(i, j)`` is 0 where
    ``u < rate``, else ``1 / (1 - rate)``, with
    ``u = (h >> 40) / 2**24`` and
    ``h = mix(seed + golden + step * S + layer * L + i * R + j)`` (mod 2**64)."""
    n, m = shape
    mask = np.empty(shape)
    for i in range(n):
        for j in range(m):
            x = (int(seed) + 0x9E3779B97F4A7C15 + int(step) * _COUNTER_STEP_MUL
                 + int(layer) * _COUNTER_LAYER_MUL + i * _COUNTER_ROW_MUL + j) & _M64
            u = (_splitmix_finaliser(x) >> 40) * 2.0 ** -24
            mask[i, j] = 1 / (1 - rate) if u >= rate else 0.0
    return mask


# ---------------------------------------------------------------------------
# Parameter packing: all weights, then all biases (scikit-learn's _pack
# order), then the normalisation scales, then the shifts
# ---------------------------------------------------------------------------

def pack(P):
    parts = [np.ravel(W) for W in P["coefs"]] + [np.ravel(b) for b in P["intercepts"]]
    parts += [np.ravel(g) for g in P.get("scales", [])]
    parts += [np.ravel(s) for s in P.get("shifts", [])]
    return np.concatenate(parts)


def unpack(flat, units, norm=None):
    """A parameter dict of copies from a flat buffer laid out for ``units``."""
    flat = np.asarray(flat)
    pos = 0
    P = {"coefs": [], "intercepts": [], "scales": [], "shifts": []}
    for fi, fo in zip(units[:-1], units[1:]):
        P["coefs"].append(flat[pos:pos + fi * fo].reshape(fi, fo).copy())
        pos += fi * fo
    for fo in units[1:]:
        P["intercepts"].append(flat[pos:pos + fo].copy())
        pos += fo
    if norm is not None:
        for key in ("scales", "shifts"):
            for m in units[1:-1]:
                P[key].append(flat[pos:pos + m].copy())
                pos += m
    assert pos == flat.size
    return P


def random_params(units, rng, dtype=np.float64, scale=None, norm=None):
    """Glorot-like random parameters (scales near 1 with normalisation)."""
    P = {"coefs": [], "intercepts": [], "scales": [], "shifts": []}
    for fi, fo in zip(units[:-1], units[1:]):
        s = np.sqrt(6.0 / (fi + fo)) if scale is None else scale
        P["coefs"].append(rng.uniform(-s, s, size=(fi, fo)).astype(dtype))
    for fi, fo in zip(units[:-1], units[1:]):
        s = np.sqrt(6.0 / (fi + fo)) if scale is None else scale
        P["intercepts"].append(rng.uniform(-s, s, size=fo).astype(dtype))
    if norm is not None:
        for m in units[1:-1]:
            P["scales"].append(rng.uniform(0.5, 1.5, m).astype(dtype))
        for m in units[1:-1]:
            P["shifts"].append(rng.uniform(-0.5, 0.5, m).astype(dtype))
    return P


# ---------------------------------------------------------------------------
# Whole network: forward pass and backpropagation
# ---------------------------------------------------------------------------

def _dot(X, W):
    if sp.issparse(X):
        return np.asarray(X @ W)
    return X @ W


def _tdot(A, D):
    if sp.issparse(A):
        return np.asarray(A.T @ D)
    return A.T @ D


def _per_layer(value, n_hidden):
    if value is None or isinstance(value, (str, bool, float, int)):
        return [value] * n_hidden
    assert len(value) == n_hidden
    return list(value)


def forward(X, P, hidden, out, *, norm=None, residual=None, masks=None,
            training=True, running=None, bn_momentum=0.1, norm_eps=1e-5):
    """Forward pass; returns the per-layer cache and the output.

    Parameters
    ----------
    hidden : str or list of str
        Activation of every hidden layer (or one per layer).
    norm : {None, "batch", "layer"}
        Normalisation of the hidden layers; a normalised layer has no bias.
    residual : list of bool, optional
        Per hidden layer: add the previous layer's output.
    masks : list of ndarray or None, optional
        Per hidden layer: dropout mask multiplying the activation.
    training : bool
        Batch norm: batch statistics (and update ``running``) or running
        statistics.
    running : dict with lists "mean" and "var", optional
        Batch-norm running statistics, updated in place when training.

    Returns
    -------
    cache : dict of per-layer lists
        ``o`` layer outputs (input first), ``z`` pre-activations, ``a``
        activations, ``xhat`` and ``inv`` (normalised layers).
    y : ndarray
        The network's output.
    """
    n_l = len(P["coefs"])
    n_hidden = n_l - 1
    hidden = _per_layer(hidden, n_hidden)
    residual = _per_layer(residual if residual is not None else False, n_hidden)
    masks = masks if masks is not None else [None] * n_hidden
    cache = {"o": [X], "z": [], "a": [], "xhat": [], "inv": []}
    for k in range(n_l):
        W = P["coefs"][k]
        h = _dot(cache["o"][-1], W)
        if k == n_l - 1:
            z = h + P["intercepts"][k]
            y = OUTPUT_FUNCTIONS[out](z)
            cache["z"].append(z)
            return cache, y
        if norm is None:
            z = h + P["intercepts"][k]
            xhat = inv = None
        else:
            axis = 0 if norm == "batch" else 1
            if norm == "batch" and not training:
                mean = running["mean"][k][None, :]
                var = running["var"][k][None, :]
                inv = 1 / np.sqrt(var + norm_eps)
                xhat = (h - mean) * inv
            else:
                xhat, inv, mean, var = normalise(h, axis, norm_eps)
                if norm == "batch" and running is not None:
                    n = h.shape[0]
                    unbiased = var.ravel() * n / (n - 1) if n > 1 else var.ravel()
                    running["mean"][k] = ((1 - bn_momentum) * running["mean"][k]
                                          + bn_momentum * mean.ravel())
                    running["var"][k] = ((1 - bn_momentum) * running["var"][k]
                                         + bn_momentum * unbiased)
            z = P["scales"][k][None, :] * xhat + P["shifts"][k][None, :]
        a = activate(z, hidden[k])
        o = a if masks[k] is None else a * masks[k]
        if residual[k]:
            o = o + cache["o"][-1]
        cache["z"].append(z)
        cache["a"].append(a)
        cache["xhat"].append(xhat)
        cache["inv"].append(inv)
        cache["o"].append(o)


def backprop(X, Y, sample_weight, P, hidden, out, alpha, eps=None, *, l1=0.0,
             norm=None, residual=None, masks=None, running=None, bn_momentum=0.1,
             norm_eps=1e-5, penalty_alpha=None):
    """Loss and gradients, as scikit-learn's ``_backprop`` plus the toolkit.

    The data loss is scikit-learn's (mean over the weighted samples); the
    penalty is ``(0.5 alpha |W|^2 + l1 |W|_1) / sw_sum`` and its gradient is
    added to the weight gradients (``penalty_alpha``, default ``alpha``,
    is the L2 strength used in the loss and gradient: 0 for AdamW).

    Returns
    -------
    loss : float
    grads : dict like ``P``
        Gradients of the mean penalised loss (scikit-learn's coef_grads and
        intercept_grads, plus scales and shifts).
    y_pred : ndarray
    """
    alpha = alpha if penalty_alpha is None else penalty_alpha
    n_samples = X.shape[0]
    n_l = len(P["coefs"])
    n_hidden = n_l - 1
    hidden = _per_layer(hidden, n_hidden)
    residual_l = _per_layer(residual if residual is not None else False, n_hidden)
    cache, y_pred = forward(X, P, hidden, out, norm=norm, residual=residual, masks=masks,
                            training=True, running=running, bn_momentum=bn_momentum,
                            norm_eps=norm_eps)
    loss = output_loss(Y, y_pred, out, sample_weight, eps)
    sw_sum = n_samples if sample_weight is None else sample_weight.sum()
    coefs = P["coefs"]
    loss += penalty(coefs, alpha, l1, sw_sum)

    grads = {"coefs": [None] * n_l, "intercepts": [None] * n_l,
             "scales": [None] * (n_hidden if norm else 0),
             "shifts": [None] * (n_hidden if norm else 0)}
    # delta: gradient of the summed weighted loss w.r.t. the layer's output o
    # (for the output layer: w.r.t. its pre-activation, prediction - target).
    delta = y_pred - Y
    if sample_weight is not None:
        delta = delta * sample_weight.reshape(-1, 1)
    for k in range(n_l - 1, -1, -1):
        if k == n_l - 1:
            g = delta
            gb = g.sum(axis=0)
        else:
            d_o = delta
            d_a = d_o if masks is None or masks[k] is None else d_o * masks[k]
            g = d_a * derivative(cache["z"][k], hidden[k])
            if norm is None:
                gb = g.sum(axis=0)
            else:
                axis = 0 if norm == "batch" else 1
                g, dgamma, dbeta = norm_backward(g, cache["xhat"][k], P["scales"][k],
                                                 cache["inv"][k], axis)
                grads["scales"][k] = dgamma / sw_sum
                grads["shifts"][k] = dbeta / sw_sum
                gb = np.zeros_like(P["intercepts"][k])
        gW = _tdot(cache["o"][k], g)
        grads["coefs"][k] = (gW + alpha * coefs[k] + l1 * np.sign(coefs[k])) / sw_sum
        grads["intercepts"][k] = gb / sw_sum
        if k > 0:
            new_delta = g @ coefs[k].T
            if k < n_l - 1 and residual_l[k]:
                # o_k = drop(f(z_k)) + o_{k-1}: the skip passes delta through.
                new_delta = new_delta + delta
            delta = new_delta
    return loss, grads, y_pred


# ---------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------

def sgd_update(params, grads, velocities, learning_rate, momentum, nesterov):
    """One scikit-learn ``SGDOptimizer.update_params``; returns new params and
    velocities (lists of arrays)."""
    updates = [momentum * v - learning_rate * g for v, g in zip(velocities, grads)]
    velocities = updates
    if nesterov:
        updates = [momentum * v - learning_rate * g for v, g in zip(velocities, grads)]
    params = [p + u for p, u in zip(params, updates)]
    return params, velocities


def adam_update(params, grads, ms, vs, t, learning_rate_init, beta_1, beta_2, epsilon):
    """One scikit-learn ``AdamOptimizer.update_params`` (``t``: steps before)."""
    t += 1
    ms = [beta_1 * m + (1 - beta_1) * g for m, g in zip(ms, grads)]
    vs = [beta_2 * v + (1 - beta_2) * (g ** 2) for v, g in zip(vs, grads)]
    lr = learning_rate_init * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    updates = [-lr * m / (np.sqrt(v) + epsilon) for m, v in zip(ms, vs)]
    params = [p + u for p, u in zip(params, updates)]
    return params, ms, vs, t


def rmsprop_update(p, g, v, lr, rho, epsilon):
    """torch.optim.RMSprop (no momentum, not centred): eps outside the sqrt."""
    v = rho * v + (1 - rho) * g ** 2
    return p - lr * g / (np.sqrt(v) + epsilon), v


def adagrad_update(p, g, s, lr, epsilon):
    """torch.optim.Adagrad (no lr decay, zero initial accumulator)."""
    s = s + g ** 2
    return p - lr * g / (np.sqrt(s) + epsilon), s


def adamw_update(p, g, m, v, t, lr, beta_1, beta_2, epsilon, decay, decay_mask):
    """torch.optim.AdamW: decoupled weight decay ``p -= lr * decay * p``
    (where ``decay_mask``), then Adam's step on the unpenalised gradient
    with bias-corrected moments, ``eps`` added to ``sqrt(v_hat)`` (not to
    ``sqrt(v)`` as in scikit-learn's Adam)."""
    t += 1
    p = p - lr * decay * p * decay_mask
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g ** 2
    m_hat = m / (1 - beta_1 ** t)
    v_hat = v / (1 - beta_2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + epsilon), m, v, t


def clip_coefficient(g, max_norm):
    """torch.nn.utils.clip_grad_norm_'s coefficient, ``min(1, max_norm /
    (norm + 1e-6))`` (1 when not clipping): applied to every step, so a
    norm within 1e-6 below ``max_norm``, or any norm when ``max_norm`` is
    below 1e-6, is scaled too."""
    if not max_norm:
        return 1.0
    with np.errstate(over="ignore"):
        total = np.sqrt(np.sum(g ** 2))
    big = np.max(np.abs(g))
    if np.isinf(total) and np.isfinite(big):
        # The squares overflow (helper-155): the norm, scaled.
        total = big * np.sqrt(np.sum((g / big) ** 2))
    return min(1.0, max_norm / (total + 1e-6))


def train_epoch(X, Y, sample_weight, P, perm, batch_size, hidden, out, alpha, solver,
                state, *, learning_rate=0.1, momentum=0.9, nesterov=True, beta_1=0.9,
                beta_2=0.999, epsilon=1e-8, eps=None, l1=0.0, clip=0.0, norm=None,
                residual=None, drops=None, rng_state=0, running=None,
                bn_momentum=0.1, norm_eps=1e-5):
    """One epoch of scikit-learn's ``_fit_stochastic`` batch loop (plus the
    toolkit: l1, clipping, normalisation, residuals, dropout, more solvers).

    ``state`` is a dict of flat arrays: ``{"s1": ..., "s2": ..., "t": int}``
    (velocity for SGD; moments for Adam/AdamW; mean square for RMSprop; sum
    of squares for Adagrad), in the flat parameter order; the returned state
    also holds ``layer_sq``, each layer's squared data-loss weight-gradient
    norm (scaled by ``1 / sw_sum``; no penalty, no clipping) summed over the
    steps, and ``first_sq``, those norms of the epoch's first step. Dropout
    masks are
    drawn per batch, layer by layer, from the splitmix64 stream
    ``rng_state``.

    Returns
    -------
    P : dict
    state : dict
    accumulated_loss : float
        ``sum(batch_loss * batch_length)``, as scikit-learn accumulates it.
    rng_state : int
    """
    units = [P["coefs"][0].shape[0]] + [W.shape[1] for W in P["coefs"]]
    n_hidden = len(units) - 2
    drops = _per_layer(drops if drops is not None else 0.0, n_hidden)
    n = len(perm)
    flat = pack(P)
    n_weights = sum(W.size for W in P["coefs"])
    wmask = np.zeros_like(flat)
    wmask[:n_weights] = 1
    s1, s2, t = state["s1"].copy(), state["s2"].copy(), state["t"]
    layer_sq = np.zeros(len(units) - 1)
    decoupled = solver == "adamw"
    alpha_g = 0.0 if decoupled else alpha
    accumulated = 0.0
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        Xb = X[idx]
        nb = len(idx)
        masks = []
        for k in range(n_hidden):
            if drops[k] > 0:
                mask, rng_state = dropout_mask((nb, units[k + 1]), drops[k], rng_state)
                masks.append(mask)
            else:
                masks.append(None)
        sw_b = None if sample_weight is None else sample_weight[idx]
        Pk = unpack(flat, units, norm)
        loss, grads, _ = backprop(Xb, Y[idx], sw_b, Pk, hidden, out, alpha, eps, l1=l1,
                                  norm=norm, residual=residual, masks=masks,
                                  running=running, bn_momentum=bn_momentum,
                                  norm_eps=norm_eps, penalty_alpha=alpha_g)
        accumulated += loss * nb
        sw_sum = nb if sw_b is None else sw_b.sum()
        for k, gW in enumerate(grads["coefs"]):
            W = Pk["coefs"][k]
            data_gW = gW - (alpha_g * W + l1 * np.sign(W)) / sw_sum
            layer_sq[k] += np.sum(data_gW ** 2)
        if start == 0:
            first_sq = layer_sq.copy()
        g = pack(grads) * clip_coefficient(pack(grads), clip)
        if solver == "sgd":
            (flat,), (s1,) = sgd_update([flat], [g], [s1], learning_rate, momentum,
                                        nesterov)
        elif solver == "adam":
            (flat,), (s1,), (s2,), t = adam_update([flat], [g], [s1], [s2], t,
                                                   learning_rate, beta_1, beta_2, epsilon)
            continue
        elif solver == "adamw":
            flat, s1, s2, t = adamw_update(flat, g, s1, s2, t, learning_rate, beta_1,
                                           beta_2, epsilon, alpha, wmask)
            continue
        elif solver == "rmsprop":
            flat, s1 = rmsprop_update(flat, g, s1, learning_rate, beta_2, epsilon)
        elif solver == "adagrad":
            flat, s1 = adagrad_update(flat, g, s1, learning_rate, epsilon)
        else:
            raise ValueError(solver)
        t += 1
    state = {"s1": s1, "s2": s2, "t": t, "layer_sq": layer_sq, "first_sq": first_sq}
    return unpack(flat, units, norm), state, accumulated, rng_state


def zero_state(n_params):
    return {"s1": np.zeros(n_params), "s2": np.zeros(n_params), "t": 0}
