"""L-BFGS over the flat parameter buffer.

scipy's L-BFGS-B drives a compiled full-batch loss and gradient. The buffer
keeps the input's dtype: a float32 model stays float32 (scipy works in
float64 internally; only its iterate is cast back for each evaluation).
"""

import numpy as np
import scipy.optimize

from ..kernels.records import Targets
from .threads import blas_threads
from .workspace import Workspace

# Rows per chunk of the full-batch pass: bounds the work buffers' size.
CHUNK = 4096


def loss_and_gradient_function(backend, spec, inp, Y, sw, *, alpha, l1, dtype,
                               chunk=CHUNK):
    """A function ``f(params) -> (loss, grad)`` over the whole data set.

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
        On the GPU, the data stay on the device between calls; each call
        copies the parameters in and the gradient out.
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
    running = np.zeros(layout.n_running, dtype=dtype)
    has_sw = sw is not None
    sw_arg = sw if has_sw else np.empty(0, dtype=dtype)
    put = backend.put
    inputs = put(inp.inputs())
    targets = put(Targets(Y, sw_arg, has_sw))
    tables = put(ws.tables(layout.norm))
    work = put(ws.work(running))
    grads_chunk = put(np.empty_like(ws.grads))
    params_k = put(np.zeros(layout.n_params, dtype=dtype))
    hyper = spec.hyper(dtype, alpha=alpha, l1=l1)

    def f(params):
        backend.load(params_k, params)
        with blas_threads(chunk * layout.max_layer_size):
            loss = backend.kernels.loss_and_gradient(
                inputs, targets, tables, work, params_k,
                grads_chunk, hyper, chunk)
        backend.fetch(work.grads, ws.grads)
        return loss, ws.grads

    return f


def fit_lbfgs(backend, spec, params, inp, Y, sw, *, alpha, l1, max_iter, max_fun, tol):
    """Minimise the penalised loss with L-BFGS-B, updating ``params`` in place.

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
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
    f = loss_and_gradient_function(backend, spec, inp, Y, sw, alpha=alpha, l1=l1,
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
