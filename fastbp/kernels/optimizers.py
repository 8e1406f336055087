"""Parameter updates over the flat parameter buffer.

The buffer holds every layer's weights first (scikit-learn's ``_pack``
order), then biases, then normalisation scales and shifts. Penalties (L2
``alpha``, ``l1``) apply to weights only, so each update is two branch-free
loops that LLVM vectorises. ``grads`` holds the raw summed gradient
``sum_i sw_i dloss_i/dparam``; the update adds the penalties, scales by
``1 / sum(sw)`` and by the clipping coefficient on the fly, so penalty,
clipping and optimizer are one pass over memory. The same pass records each
layer's squared weight-gradient norm for diagnostics.

Update rules (``g`` the penalised, scaled gradient):

* sgd: ``v = momentum v - lr g``; ``p += v`` or, Nesterov,
  ``p += momentum v - lr g`` (scikit-learn's form).
* adam: ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
  ``p -= lr_t m / (sqrt(v) + eps)``, ``lr_t = lr sqrt(1-b2^t) / (1-b1^t)``
  (scikit-learn's form: epsilon outside the square root, bias correction
  folded into the step).
* adamw: adam on the unpenalised gradient, after the decoupled decay
  ``p -= lr alpha p`` of the weights; the caller passes
  ``eps sqrt(1-b2^t)`` as ``eps``, which makes the step PyTorch's AdamW,
  ``lr m_hat / (sqrt(v_hat) + eps)`` with bias-corrected moments.
* rmsprop: ``v = b2 v + (1-b2) g^2``, ``p -= lr g / (sqrt(v) + eps)``
  (PyTorch's form, epsilon outside the square root; decay rate ``beta_2``).
* adagrad: ``s += g^2``, ``p -= lr g / (sqrt(s) + eps)`` (epsilon outside).
"""

import math

import numpy as np

from .._config import inline_kernel, kernel
from .activations import cpu_scalar
from .codes import ADAGRAD, ADAM, ADAMW, RMSPROP
from .dtypes import like

#: Whether the solvers scikit-learn lacks (rmsprop, adagrad, adamw) are
#: compiled. :mod:`fastbp.kernels.lean` compiles the update again with it
#: False: sgd and adam only, their branches typed alone.
TOOLKIT = True

penalised = cpu_scalar.penalised
adam_update = cpu_scalar.adam_update
rmsprop_update = cpu_scalar.rmsprop_update
adagrad_update = cpu_scalar.adagrad_update
sgd_update = cpu_scalar.sgd_update


@kernel
def gradient_norm_sq(params, grads, n_weights, alpha, l1, scale):
    """Squared global norm of the penalised, scaled gradient (for clipping).

    Parameters
    ----------
    params, grads : ndarray of shape (n_params,)
    n_weights : int
    alpha, l1, scale : float
        ``alpha`` is 0 for adamw (decoupled decay is not a gradient).
    """
    # Each square in float64 (Numba's float() keeps float32): a float32
    # component above 1.8e19 squared to inf, the norm with it, and
    # clipping then scaled every step to 0.
    total = 0.0
    for i in range(n_weights):
        g = np.float64(penalised(params[i], grads[i], alpha, l1, scale))
        total += g * g
    for i in range(n_weights, params.shape[0]):
        g = np.float64(grads[i] * scale)
        total += g * g
    return total


@kernel
def gradient_norm(params, grads, n_weights, alpha, l1, scale):
    """Global norm of the penalised, scaled gradient (for clipping).

    :func:`gradient_norm_sq`'s root, except where that square overflows
    while every component is finite (float64 components above about
    1.3e154): the norm is then summed again scaled by the largest component,
    so that clipping scales by the true norm rather than to 0.

    Parameters
    ----------
    params, grads : ndarray of shape (n_params,)
    n_weights : int
    alpha, l1, scale : float
        As :func:`gradient_norm_sq`.

    Returns
    -------
    float
        The norm; inf or NaN only where a component is.
    """
    total = gradient_norm_sq(params, grads, n_weights, alpha, l1, scale)
    # inf (not NaN) only: NaN means a NaN component, which no scaling mends.
    if total != math.inf:
        return math.sqrt(total)
    # Only on overflow: the normal path pays one comparison per step.
    big = 0.0
    for i in range(n_weights):
        big = max(big, abs(np.float64(penalised(params[i], grads[i], alpha, l1, scale))))
    for i in range(n_weights, params.shape[0]):
        big = max(big, abs(np.float64(grads[i] * scale)))
    if not big < math.inf:  # an infinite component (or NaN): the norm is too
        return math.sqrt(total)
    total = 0.0
    for i in range(n_weights):
        g = np.float64(penalised(params[i], grads[i], alpha, l1, scale)) / big
        total += g * g
    for i in range(n_weights, params.shape[0]):
        g = np.float64(grads[i] * scale) / big
        total += g * g
    return big * math.sqrt(total)


@inline_kernel
def square_and_abs_sums(params, lo, hi):
    """``sum(p**2)`` and ``sum(|p|)`` over ``params[lo:hi]``, in float64.

    The fallback of :func:`optimizer_step` and :func:`penalised_gradient`
    where their sums, in the parameters' dtype, overflow: float32 weights
    above about 1.8e19 square to inf, and an L2 penalty of ``alpha = 0``
    times inf made the loss NaN (a false divergence). In float64 the sums
    of float32 values cannot overflow.
    """
    sumsq = 0.0
    sumabs = 0.0
    for i in range(lo, hi):
        p = np.float64(params[i])
        sumsq += p * p
        sumabs += abs(p)
    return sumsq, sumabs


@kernel
def penalised_gradient(params, grads, n_weights, alpha, l1, scale):
    """In place ``grads = penalised gradient`` (for L-BFGS).

    Returns
    -------
    sumsq, sumabs : float
        ``sum(W**2)`` and ``sum(|W|)``.
    """
    sumsq = 0.0
    sumabs = 0.0
    for i in range(n_weights):
        p = params[i]
        sumsq += p * p
        sumabs += abs(p)
        grads[i] = penalised(p, grads[i], alpha, l1, scale)
    for i in range(n_weights, params.shape[0]):
        grads[i] *= scale
    if not (sumsq < math.inf and sumabs < math.inf):
        # Once per call: the squares (in the dtype) overflowed, or a weight
        # is not finite (then so are these sums again).
        sumsq, sumabs = square_and_abs_sums(params, 0, n_weights)
    return sumsq, sumabs


@kernel
def update_range(params, grads, state_1, state_2, lo, hi, code, alpha, l1, scale,
                 clip_coef, lr, lr_t, momentum, nesterov, beta_1, beta_2, beta_1c, beta_2c,
                 epsilon, decay):
    """Update ``params[lo:hi]``; one branch-free loop per solver.

    The solver is chosen outside the loops (a branch per element would stop
    LLVM from vectorising them). ``alpha``/``l1`` are the gradient penalties
    (0 for biases), ``decay`` adamw's decoupled decay (0 for biases).

    Returns
    -------
    sumsq, sumabs, grad_sq : float
        ``sum(p**2)``, ``sum(|p|)`` before the update, and the squared norm
        of the data-loss gradient (scaled, without penalties or clipping),
        for diagnostics.
    """
    # Accumulators in the parameters' dtype: a float64 accumulator would
    # convert every element and stop the loop from vectorising.
    # Work on slices indexed from 0: with ``range(lo, hi)`` Numba cannot
    # prove indices non-negative and its wraparound branch blocks vectorising.
    params = params[lo:hi]
    grads = grads[lo:hi]
    state_1 = state_1[lo:hi]
    state_2 = state_2[lo:hi] if state_2.shape[0] >= hi else state_2[:0]
    zero = like(0, params)
    sumsq = zero
    sumabs = zero
    gsq = zero
    # ``1 - beta`` as the caller computed it in double: ``1 - beta_2`` in
    # the dtype would subtract the rounded beta (float32 0.999 is 1.3e-5
    # off in 1 - beta_2).
    b1c = beta_1c
    b2c = beta_2c
    if code == ADAM or (TOOLKIT and code == ADAMW):
        for i in range(params.shape[0]):
            p = params[i]
            sumsq += p * p
            sumabs += abs(p)
            gd = grads[i] * scale
            gsq += gd * gd
            g = penalised(p, grads[i], alpha, l1, scale) * clip_coef
            params[i], state_1[i], state_2[i] = adam_update(
                p, g, state_1[i], state_2[i], beta_1, beta_2, b1c, b2c, lr, lr_t, decay,
                epsilon)
    elif TOOLKIT and code == RMSPROP:
        for i in range(params.shape[0]):
            p = params[i]
            sumsq += p * p
            sumabs += abs(p)
            gd = grads[i] * scale
            gsq += gd * gd
            g = penalised(p, grads[i], alpha, l1, scale) * clip_coef
            params[i], state_1[i] = rmsprop_update(p, g, state_1[i], beta_2, b2c, lr, epsilon)
    elif TOOLKIT and code == ADAGRAD:
        for i in range(params.shape[0]):
            p = params[i]
            sumsq += p * p
            sumabs += abs(p)
            gd = grads[i] * scale
            gsq += gd * gd
            g = penalised(p, grads[i], alpha, l1, scale) * clip_coef
            params[i], state_1[i] = adagrad_update(p, g, state_1[i], lr, epsilon)
    else:
        # sgd, with or without Nesterov's momentum: one loop (LLVM unswitches
        # it on ``nesterov``; a copy per case cost compile time).
        for i in range(params.shape[0]):
            p = params[i]
            sumsq += p * p
            sumabs += abs(p)
            gd = grads[i] * scale
            gsq += gd * gd
            g = penalised(p, grads[i], alpha, l1, scale) * clip_coef
            params[i], state_1[i] = sgd_update(p, g, state_1[i], lr, momentum, nesterov)
    return sumsq, sumabs, gsq


@kernel
def optimizer_step(params, grads, state_1, state_2, units, w_off, n_weights,
                   code, alpha, l1, scale, clip_coef, lr, lr_t, momentum, nesterov,
                   beta_1, beta_2, beta_1c, beta_2c, epsilon, layer_sq):
    """Penalise, scale, clip and apply one update to every parameter.

    Parameters
    ----------
    params, grads, state_1, state_2 : ndarray of shape (n_params,)
        ``state_1``/``state_2``: velocity (sgd), moments (adam, adamw), mean
        square (rmsprop), sum of squares (adagrad).
    units, w_off : ndarray of int64
        Layer widths and weight offsets (per-layer ranges for diagnostics).
    n_weights : int
    code : int
        Solver code.
    alpha, l1 : float
        Penalties (``alpha`` is the decoupled decay for adamw).
    scale : float
        ``1 / sum(sw)``.
    clip_coef : float
        Gradient-clipping coefficient (1 when not clipping); the recorded
        norms are those before clipping.
    lr, lr_t, momentum : float
    nesterov : bool
    beta_1, beta_2, epsilon : float
    beta_1c, beta_2c : float
        ``1 - beta_1`` and ``1 - beta_2``, computed in double by the caller
        and rounded once to the dtype.
    layer_sq : ndarray of shape (n_layers - 1,)
        Each layer's squared data-loss weight-gradient norm is added here
        (penalties excluded: an L2 term alone would mask a vanishing
        gradient).

    Returns
    -------
    sumsq, sumabs : float
        ``sum(W**2)`` and ``sum(|W|)`` before the update. Where a layer's
        sums overflow the dtype (float32 weights above about 1.8e19), they
        are summed again in float64 from that layer's weights after the
        update: the pre-update values are gone, and summing every step in
        float64 slowed the float32 update loop (it stops computing in one
        width); the penalty then lags by the one step's change.
    """
    zero = like(0, params)
    decoupled = code == ADAMW
    alpha_g = zero if decoupled else alpha
    decay = alpha if decoupled else zero
    sumsq = 0.0
    sumabs = 0.0
    for l in range(units.shape[0] - 1):
        lo = w_off[l]
        hi = lo + units[l] * units[l + 1]
        sq, ab, gsq = update_range(params, grads, state_1, state_2, lo, hi, code, alpha_g,
                                   l1, scale, clip_coef, lr, lr_t, momentum, nesterov,
                                   beta_1, beta_2, beta_1c, beta_2c, epsilon, decay)
        if not (sq < math.inf and ab < math.inf):  # once per layer and step
            sq, ab = square_and_abs_sums(params, lo, hi)
        sumsq += sq
        sumabs += ab
        layer_sq[l] += gsq
    update_range(params, grads, state_1, state_2, n_weights, params.shape[0], code, zero,
                 zero, scale, clip_coef, lr, lr_t, momentum, nesterov, beta_1, beta_2,
                 beta_1c, beta_2c, epsilon, zero)
    return sumsq, sumabs
