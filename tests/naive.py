"""Plain NumPy reference implementations for testing the fastbp kernels.

Everything here is written independently of ``fastbp.kernels``: whole-array
NumPy (or explicit Python loops where that is clearer), following
scikit-learn 1.9's ``sklearn/neural_network/_base.py``,
``_stochastic_optimizers.py`` and ``MLP._backprop`` / ``_fit_stochastic``
formula by formula. Speed is irrelevant; clarity is the point.

Conventions
-----------
* A network is a list of ``(W, b)`` pairs, ``W`` of shape ``(fan_in, fan_out)``.
* Activations and losses are named by strings, as in scikit-learn.
* Functions keep the dtype of their inputs; callers that want a float64
  reference for float32 data upcast first and pass the float32 ``eps``.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, xlogy

HIDDEN = ("identity", "logistic", "tanh", "relu")
OUTPUTS = ("identity", "softmax", "logistic", "exp")

# Each output function with the loss scikit-learn pairs it with.
OUTPUT_LOSS = {
    "identity": "squared_error",
    "softmax": "log_loss",
    "logistic": "binary_log_loss",
    "exp": "poisson",
}


# ---------------------------------------------------------------------------
# Hidden activations and their derivatives (as functions of the output)
# ---------------------------------------------------------------------------

def identity(z):
    return np.array(z, copy=True)


def logistic(z):
    return expit(z)


def tanh(z):
    return np.tanh(z)


def relu(z):
    return np.maximum(z, 0)


ACTIVATIONS = {"identity": identity, "logistic": logistic, "tanh": tanh, "relu": relu}


def identity_derivative(a):
    return np.ones_like(a)


def logistic_derivative(a):
    return a * (1 - a)


def tanh_derivative(a):
    return 1 - a ** 2


def relu_derivative(a):
    # scikit-learn zeroes the delta where the output is exactly 0.
    return np.where(a == 0, 0, 1).astype(np.asarray(a).dtype)


DERIVATIVES = {
    "identity": identity_derivative,
    "logistic": logistic_derivative,
    "tanh": tanh_derivative,
    "relu": relu_derivative,
}


def activate(z, name):
    return ACTIVATIONS[name](np.asarray(z))


def derivative(a, name):
    return DERIVATIVES[name](np.asarray(a))


def bias_activation(z, b, name):
    """``f(z + b)`` with ``b`` broadcast over rows."""
    return activate(np.asarray(z) + np.asarray(b)[None, :], name)


def activation_backward(delta, a, name):
    """``delta * f'(z)`` with ``f'`` taken from the output ``a``."""
    return np.asarray(delta) * derivative(a, name)


# ---------------------------------------------------------------------------
# Output functions
# ---------------------------------------------------------------------------

def softmax(z):
    z = np.asarray(z)
    t = np.exp(z - z.max(axis=1, keepdims=True))
    return t / t.sum(axis=1, keepdims=True)


def out_exp(z):
    return np.exp(z)


OUTPUT_FUNCTIONS = {
    "identity": identity,
    "softmax": softmax,
    "logistic": logistic,
    "exp": out_exp,
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


def l2_term(coefs, alpha, sw_sum):
    """scikit-learn's penalty: ``0.5 * alpha * sum(W**2) / sw_sum``."""
    values = 0.0
    for W in coefs:
        s = np.ravel(W)
        values += np.dot(s, s)
    return 0.5 * alpha * values / sw_sum


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
# Parameter packing (scikit-learn's _pack order: all weights, then biases)
# ---------------------------------------------------------------------------

def pack(layers):
    coefs = [np.ravel(W) for W, _ in layers]
    intercepts = [np.ravel(b) for _, b in layers]
    return np.concatenate(coefs + intercepts)


def unpack(flat, units):
    """List of ``(W, b)`` copies from a flat buffer laid out for ``units``."""
    flat = np.asarray(flat)
    layers, pos = [], 0
    shapes = list(zip(units[:-1], units[1:]))
    Ws = []
    for fi, fo in shapes:
        Ws.append(flat[pos:pos + fi * fo].reshape(fi, fo).copy())
        pos += fi * fo
    for (fi, fo), W in zip(shapes, Ws):
        layers.append((W, flat[pos:pos + fo].copy()))
        pos += fo
    assert pos == flat.size
    return layers


def random_layers(units, rng, dtype=np.float64, scale=None):
    """Glorot-like random ``(W, b)`` pairs."""
    layers = []
    for fi, fo in zip(units[:-1], units[1:]):
        s = np.sqrt(6.0 / (fi + fo)) if scale is None else scale
        W = rng.uniform(-s, s, size=(fi, fo)).astype(dtype)
        b = rng.uniform(-s, s, size=fo).astype(dtype)
        layers.append((W, b))
    return layers


# ---------------------------------------------------------------------------
# Whole network: forward pass and scikit-learn's _backprop
# ---------------------------------------------------------------------------

def _dot(X, W):
    if sp.issparse(X):
        return np.asarray(X @ W)
    return X @ W


def forward(X, layers, hidden, out):
    """Activations of every layer, input first."""
    acts = [X]
    for k, (W, b) in enumerate(layers):
        z = _dot(acts[-1], W) + b
        if k < len(layers) - 1:
            acts.append(activate(z, hidden))
        else:
            acts.append(OUTPUT_FUNCTIONS[out](z))
    return acts


def pre_activations(X, layers, hidden):
    """``z = a @ W + b`` of every layer (useful to avoid relu kinks)."""
    zs, a = [], X
    for k, (W, b) in enumerate(layers):
        z = _dot(a, W) + b
        zs.append(z)
        if k < len(layers) - 1:
            a = activate(z, hidden)
    return zs


def backprop(X, Y, sample_weight, layers, hidden, out, alpha, eps=None):
    """Loss and gradients as scikit-learn's ``BaseMultilayerPerceptron._backprop``.

    Returns
    -------
    loss : float
        Mean (weighted) data loss plus ``0.5 * alpha * sum(W**2) / sw_sum``.
    coef_grads, intercept_grads : lists of ndarray
    """
    n_samples = X.shape[0]
    acts = forward(X, layers, hidden, out)
    loss = output_loss(Y, acts[-1], out, sample_weight, eps)
    sw_sum = n_samples if sample_weight is None else sample_weight.sum()
    coefs = [W for W, _ in layers]
    loss += l2_term(coefs, alpha, sw_sum)

    n_l = len(layers)
    coef_grads = [None] * n_l
    intercept_grads = [None] * n_l
    delta = acts[-1] - Y
    if sample_weight is not None:
        delta = delta * sample_weight.reshape(-1, 1)
    for i in range(n_l - 1, -1, -1):
        a_prev = acts[i]
        if sp.issparse(a_prev):
            gW = np.asarray(a_prev.T @ delta)
        else:
            gW = a_prev.T @ delta
        coef_grads[i] = (gW + alpha * coefs[i]) / sw_sum
        intercept_grads[i] = delta.sum(axis=0) / sw_sum
        if i > 0:
            delta = (delta @ coefs[i].T) * derivative(acts[i], hidden)
    return loss, coef_grads, intercept_grads


def penalised_loss(X, Y, sample_weight, layers, hidden, out, alpha, eps=None):
    """Only the loss of :func:`backprop` (for finite differences)."""
    acts = forward(X, layers, hidden, out)
    sw_sum = X.shape[0] if sample_weight is None else sample_weight.sum()
    return (output_loss(Y, acts[-1], out, sample_weight, eps)
            + l2_term([W for W, _ in layers], alpha, sw_sum))


# ---------------------------------------------------------------------------
# Optimizers, as scikit-learn's _stochastic_optimizers
# ---------------------------------------------------------------------------

def sgd_update(params, grads, velocities, learning_rate, momentum, nesterov):
    """One ``SGDOptimizer.update_params``; returns new params and velocities."""
    updates = [momentum * v - learning_rate * g for v, g in zip(velocities, grads)]
    velocities = updates
    if nesterov:
        updates = [momentum * v - learning_rate * g for v, g in zip(velocities, grads)]
    params = [p + u for p, u in zip(params, updates)]
    return params, velocities


def adam_update(params, grads, ms, vs, t, learning_rate_init, beta_1, beta_2, epsilon):
    """One ``AdamOptimizer.update_params`` (``t`` is the step before it)."""
    t += 1
    ms = [beta_1 * m + (1 - beta_1) * g for m, g in zip(ms, grads)]
    vs = [beta_2 * v + (1 - beta_2) * (g ** 2) for v, g in zip(vs, grads)]
    lr = learning_rate_init * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    updates = [-lr * m / (np.sqrt(v) + epsilon) for m, v in zip(ms, vs)]
    params = [p + u for p, u in zip(params, updates)]
    return params, ms, vs, t


def train_epoch(X, Y, sample_weight, layers, perm, batch_size, hidden, out, alpha,
                solver, state, *, learning_rate=0.1, momentum=0.9, nesterov=True,
                beta_1=0.9, beta_2=0.999, epsilon=1e-8, eps=None):
    """One epoch of scikit-learn's ``_fit_stochastic`` batch loop.

    ``state`` is ``{"velocities": [...]}`` for SGD or
    ``{"ms": [...], "vs": [...], "t": int}`` for Adam, in parameter order
    (coefs then intercepts); a new state is returned.

    Returns
    -------
    layers : list of (W, b)
    state : dict
    accumulated_loss : float
        ``sum(batch_loss * batch_length)`` as scikit-learn accumulates it.
    """
    n = len(perm)
    n_l = len(layers)
    params = [W for W, _ in layers] + [b for _, b in layers]
    accumulated = 0.0
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        Xb = X[idx]
        sw_b = None if sample_weight is None else sample_weight[idx]
        cur = list(zip(params[:n_l], params[n_l:]))
        loss, cg, ig = backprop(Xb, Y[idx], sw_b, cur, hidden, out, alpha, eps)
        accumulated += loss * len(idx)
        grads = cg + ig
        if solver == "sgd":
            params, state = _sgd_state(params, grads, state, learning_rate, momentum,
                                       nesterov)
        else:
            params, ms, vs, t = adam_update(params, grads, state["ms"], state["vs"],
                                            state["t"], learning_rate, beta_1, beta_2,
                                            epsilon)
            state = {"ms": ms, "vs": vs, "t": t}
    return list(zip(params[:n_l], params[n_l:])), state, accumulated


def _sgd_state(params, grads, state, learning_rate, momentum, nesterov):
    params, velocities = sgd_update(params, grads, state["velocities"], learning_rate,
                                    momentum, nesterov)
    return params, {"velocities": velocities}


def zero_state(layers, solver):
    params = [W for W, _ in layers] + [b for _, b in layers]
    if solver == "sgd":
        return {"velocities": [np.zeros_like(p) for p in params]}
    return {"ms": [np.zeros_like(p) for p in params],
            "vs": [np.zeros_like(p) for p in params], "t": 0}


def flat_state(state, key):
    """A per-parameter state list in the flat buffer's order."""
    arrs = state[key]
    return np.concatenate([np.ravel(a) for a in arrs])
