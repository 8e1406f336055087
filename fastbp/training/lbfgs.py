"""L-BFGS over the flat parameter buffer.

scipy's L-BFGS-B drives a compiled full-batch loss and gradient. The buffer
keeps the input's dtype: a float32 model stays float32 (scipy works in
float64 internally; only its iterate is cast back for each evaluation).
"""

import numpy as np
import scipy.optimize

from .stochastic import clipping_bounds
from .threads import blas_threads
from .workspace import Workspace

# Rows per chunk of the full-batch pass: bounds the work buffers' size.
CHUNK = 4096


def fit_lbfgs(kernels, layout, params, inp, Y, sw, *, hidden, out_code, alpha,
              max_iter, max_fun, tol, verbose=False):
    """Minimise the penalised loss with L-BFGS-B, updating ``params`` in place.

    Parameters
    ----------
    kernels : module
    layout : NetworkLayout
    params : ndarray of shape (n_params,)
    inp : KernelInput
    Y : ndarray of shape (n_samples, n_outputs)
    sw : ndarray of shape (n_samples,) or None
    hidden, out_code : int
    alpha, tol : float
    max_iter, max_fun : int
    verbose : bool

    Returns
    -------
    result : scipy.optimize.OptimizeResult
    """
    dtype = params.dtype
    chunk = min(CHUNK, max(inp.n_samples, 1))
    ws = Workspace(layout, chunk, dtype, dense_input=not inp.is_sparse)
    grads_chunk = np.empty_like(ws.grads)
    has_sw = sw is not None
    sw_arg = sw if has_sw else np.empty(0, dtype=dtype)
    log_eps, log1m_eps = clipping_bounds(dtype)
    alpha = dtype.type(alpha)

    def loss_grad(x):
        params[:] = x
        with blas_threads():
            loss = kernels.loss_and_gradient(
                *inp.args(), Y, sw_arg, has_sw, chunk, params, ws.grads, grads_chunk,
                layout.n_weights, layout.units, layout.w_off, layout.b_off,
                ws.acts, ws.a_off, ws.deltas, ws.d_off, hidden, out_code,
                log_eps, log1m_eps, alpha)
        return loss, ws.grads.astype(np.float64)

    iprint = 1 if verbose is True or verbose >= 1 else -1
    options = {"maxfun": max_fun, "maxiter": max_iter, "gtol": tol}
    if iprint > 0:
        options["iprint"] = iprint
    result = scipy.optimize.minimize(
        loss_grad, params.astype(np.float64), method="L-BFGS-B", jac=True,
        options=options)
    params[:] = result.x
    return result
