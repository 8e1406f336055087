"""L-BFGS over the flat parameter buffer.

scipy's L-BFGS-B drives a compiled full-batch loss and gradient. The buffer
keeps the input's dtype: a float32 model stays float32 (scipy works in
float64 internally; only its iterate is cast back for each evaluation).
"""

import numpy as np
import scipy.optimize

from .spec import BN_MOMENTUM, NORM_EPS
from .stochastic import clipping_bounds
from .threads import blas_threads
from .workspace import Workspace

# Rows per chunk of the full-batch pass: bounds the work buffers' size.
CHUNK = 4096


def loss_and_gradient_function(kernels, spec, inp, Y, sw, *, alpha, l1, dtype,
                               chunk=CHUNK):
    """A function ``f(params) -> (loss, grad)`` over the whole data set.

    Parameters
    ----------
    kernels : module
    spec : NetworkSpec
    inp : KernelInput
    Y : ndarray of shape (n_samples, n_outputs)
    sw : ndarray of shape (n_samples,) or None
    alpha, l1 : float
    dtype : numpy dtype
    chunk : int
        Rows per chunk.

    Returns
    -------
    f : callable
        ``f(params)`` with ``params`` of shape (n_params,) in ``dtype``;
        returns the mean penalised loss and a gradient array (reused
        between calls: copy it to keep it).
    """
    layout = spec.layout
    chunk = min(chunk, max(inp.n_samples, 1))
    ws = Workspace(layout, chunk, dtype, dense_input=not inp.is_sparse)
    grads_chunk = np.empty_like(ws.grads)
    running = np.zeros(layout.n_running, dtype=dtype)
    has_sw = sw is not None
    sw_arg = sw if has_sw else np.empty(0, dtype=dtype)
    log_eps, log1m_eps = clipping_bounds(dtype)
    dt = dtype.type

    def f(params):
        with blas_threads(chunk * layout.max_layer_size):
            loss = kernels.loss_and_gradient(
                *inp.args(), Y, sw_arg, has_sw, chunk, params, ws.grads, grads_chunk,
                layout.n_weights, ws.net, ws.buf, ws.drops, layout.norm, ws.acts, ws.masks,
                ws.deltas, ws.stats, running, ws.alive, ws.rng, dt(BN_MOMENTUM),
                dt(NORM_EPS), spec.out_code, log_eps, log1m_eps, dt(alpha), dt(l1))
        return loss, ws.grads

    return f


def fit_lbfgs(kernels, spec, params, inp, Y, sw, *, alpha, l1, max_iter, max_fun, tol):
    """Minimise the penalised loss with L-BFGS-B, updating ``params`` in place.

    Parameters
    ----------
    kernels : module
    spec : NetworkSpec
    params : ndarray of shape (n_params,)
    inp : KernelInput
    Y : ndarray of shape (n_samples, n_outputs)
    sw : ndarray of shape (n_samples,) or None
    alpha, l1, tol : float
    max_iter, max_fun : int

    Returns
    -------
    result : scipy.optimize.OptimizeResult
    """
    f = loss_and_gradient_function(kernels, spec, inp, Y, sw, alpha=alpha, l1=l1,
                                   dtype=params.dtype)

    def loss_grad(x):
        params[:] = x
        loss, grad = f(params)
        return loss, grad.astype(np.float64)

    result = scipy.optimize.minimize(
        loss_grad, params.astype(np.float64), method="L-BFGS-B", jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})
    params[:] = result.x
    return result
