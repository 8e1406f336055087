"""L-BFGS over the flat parameter buffer.

scipy's L-BFGS-B drives a compiled full-batch loss and gradient. The buffer
keeps the input's dtype: a float32 model stays float32 (scipy works in
float64 internally; only its iterate is cast back for each evaluation).
"""

import time

import numpy as np
import scipy.optimize

from ..exceptions import training_begins, warn_at_caller
from ..kernels.records import Targets
from .progress import INTERRUPTED
from .threads import host_blas_section
from .workspace import Workspace, chunk_rows_within

# Most rows per chunk of the full-batch pass: bounds the work buffers' size
# whatever the number of samples (wide layers get fewer: chunk_rows_within).
CHUNK = 4096

# scipy's L-BFGS-B stops once an iteration lowers the loss by no more than
# this fraction of it (``ftol``, its default): an iteration that lowered it
# by more made progress.
FTOL = 1e7 * np.finfo(float).eps


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
        Most rows per chunk: fewer where that many rows' work buffers would
        take more than :data:`~fastbp.training.workspace.CHUNK_BYTES`.

    Returns
    -------
    f : callable
        ``f(params)`` with ``params`` of shape (n_params,) in ``dtype``;
        returns the mean penalised loss and a gradient array (reused
        between calls: copy it to keep it).
    """
    layout = spec.layout
    dense_input = not inp.is_sparse
    chunk = chunk_rows_within(layout, dtype, min(chunk, max(inp.n_samples, 1)),
                              dense_input=dense_input, training=True)
    # (No batch_size for the user to lower: the chunk is as small as the
    # widths call for.)
    ws = Workspace(layout, chunk, dtype, dense_input=dense_input, lower=None)
    running = np.zeros(layout.n_running, dtype=dtype)
    has_sw = sw is not None
    sw_arg = sw if has_sw else np.empty(0, dtype=dtype)
    kernels = backend.network(spec.uses_toolkit(inp.is_sparse), spec.out_code)
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
        with host_blas_section(backend):
            loss = kernels.loss_and_gradient(inputs, targets, tables, work, params_k,
                                             grads_chunk, hyper, chunk)
        backend.fetch(work.grads, ws.grads)
        return loss, ws.grads

    return f


def _hook(call, *args):
    """``call(*args)``, with a StopIteration escaping it raised as a
    RuntimeError: scipy's ``minimize`` reads StopIteration from its callback
    as a request to stop, so a hook's bug (``next`` on an exhausted
    iterator) would end the fit quietly, as if a callback had asked to
    (PEP 479 does the same for generators)."""
    try:
        return call(*args)
    except StopIteration as exc:
        raise RuntimeError(f"A callback raised StopIteration during an L-BFGS fit: "
                           f"{exc!r}") from exc


def fit_lbfgs(backend, spec, params, inp, Y, sw, *, alpha, l1, max_iter, max_fun, tol,
              tasks=None, on_iteration_end=None, history=None):
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
    tasks : FitTasks, optional
        scikit-learn callback tasks: one subtask per iteration, begun at its
        first loss evaluation and ended from scipy's callback, so that a fit
        of ``nit`` iterations ends ``nit`` of them, each with its model; a
        stop request ends the minimisation. The caller closes a subtask an
        exception or a failed line search left open.
    on_iteration_end : callable, optional
        ``on_iteration_end(iteration, max_iter, history)`` after each
        iteration, with ``history["loss"]`` and ``history["epoch_time"]``
        the iterations' so far (the command line's progress lines).
    history : dict, optional
        ``{"loss": [], "epoch_time": []}``, lists to append each
        iteration's loss and seconds to as it ends (the callbacks'
        snapshots read them); new lists if None.

    Returns
    -------
    result : scipy.optimize.OptimizeResult
        ``fun`` is the loss at ``x`` (scipy's is the last trial step's
        where a line search failed); ``x`` is the last iterate whose loss
        is finite, where any (scipy can take one that overflowed for the
        next), and ``nit`` and the history count up to it. After Ctrl-C, ``interrupted`` is True
        and ``x`` the best iterate evaluated (``params`` holds it too);
        Ctrl-C before the first iteration ended raises the
        ``KeyboardInterrupt`` (nothing trained to keep). ``loss_curve`` and
        ``iteration_times`` hold each completed iteration's loss and
        seconds; ``stopped_by_callback`` says whether a callback's stop
        request ended it. ``start_loss`` is the loss at the starting
        weights; ``non_finite_evaluations`` counts the trial steps whose
        loss was inf or NaN; ``stalled_by_overflow`` says whether one came
        after the last iteration that lowered the loss by more than scipy's
        ``ftol`` (the stop is then the overflow's doing, whatever
        ``status`` says), and ``progressed`` whether any iteration did.
    """
    f = loss_and_gradient_function(backend, spec, inp, Y, sw, alpha=alpha, l1=l1,
                                   dtype=params.dtype)
    # The lowest finite loss evaluated so far, and where: what an
    # interrupted fit keeps.
    best = {"loss": np.inf, "x": params.astype(np.float64), "nfev": 0, "nit": 0}
    # Non-finite losses: in all, and since the last iteration that made
    # progress (see FTOL). A trial step whose loss overflows sends the line
    # search back towards the iterate, and scipy can then take the
    # iteration that did not move for convergence ("RELATIVE REDUCTION OF
    # F", status 0): stopped by the overflow, not converged.
    overflow = {"total": 0, "since_progress": 0, "progressed": False, "start": None,
                "last": None}
    # The last iterate whose loss is finite (the start until an iteration
    # ends): scipy's line search, given up on trial steps that overflowed,
    # can take one of them for the next iterate (scipy 1.17 does), and the
    # fit returns this one instead, with its loss.
    finite = {"x": best["x"], "loss": None, "nit": 0}
    # Each iteration's loss and the seconds it took: the fit's history.
    if history is None:
        history = {"loss": [], "epoch_time": []}
    curve, times = history["loss"], history["epoch_time"]
    last = [time.perf_counter()]
    # Each iteration's task begins at its first loss evaluation, from the
    # iterate held here, not as the iteration before it ends: scipy stops
    # (convergence, max_iter, max_fun, a callback's request) only after
    # the start's evaluation or at an iteration's end, and a task begun
    # there would run no iteration, left for the caller to end without a
    # model (a hook reading its fitted_estimator got None; fix-185).
    opening = {"x": None}

    def loss_grad(x):
        if opening["x"] is not None:
            start, opening["x"] = opening["x"], None
            _hook(tasks.begin, start, no_running)
        params[:] = x
        loss, grad = f(params)
        best["nfev"] += 1
        if overflow["start"] is None:
            overflow["start"] = overflow["last"] = finite["loss"] = float(loss)
            if tasks is not None:
                opening["x"] = params.copy()
        if not np.isfinite(loss):
            overflow["total"] += 1
            overflow["since_progress"] += 1
        elif loss < best["loss"]:
            best["loss"] = float(loss)
            best["x"] = np.array(x, dtype=np.float64)
        return loss, grad.astype(np.float64)

    no_running = np.zeros(0, dtype=params.dtype)

    def count_iteration(intermediate_result):
        best["nit"] += 1
        loss, before = float(intermediate_result.fun), overflow["last"]
        if before - loss > FTOL * max(abs(before), abs(loss), 1.0):
            overflow["since_progress"] = 0
            overflow["progressed"] = True
        overflow["last"] = loss
        if np.isfinite(loss):
            finite.update(x=np.array(intermediate_result.x, dtype=np.float64), loss=loss,
                          nit=best["nit"])
        now = time.perf_counter()
        curve.append(float(intermediate_result.fun))
        times.append(now - last[0])
        last[0] = now
        if on_iteration_end is not None:
            _hook(on_iteration_end, best["nit"], max_iter,
                  {"loss": curve, "epoch_time": times})
        if tasks is not None:
            # A copy: scipy updates its iterate in place.
            x = np.array(intermediate_result.x, dtype=params.dtype)
            if _hook(tasks.end, x, no_running):
                best["stopped"] = True
                raise StopIteration
            opening["x"] = x

    # From here the warnings describe the training (see held_until_committed).
    training_begins()
    try:
        result = scipy.optimize.minimize(
            loss_grad, params.astype(np.float64), method="L-BFGS-B", jac=True,
            callback=count_iteration,
            options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})
    except KeyboardInterrupt:
        params[:] = best["x"]
        if not best["nit"] or not np.isfinite(best["loss"]):
            # No iteration finished (the start's evaluation is no training:
            # kept, it read as a fit of 0 iterations, over a warm model's
            # n_iter_ and history_; helper-150), or no loss evaluation did
            # (an inf loss would read as a divergence): nothing to keep, as
            # a stochastic fit's first epoch. The caller's rollback keeps
            # the model, and the random state, from before this call.
            raise
        warn_at_caller(f"{INTERRUPTED} after {best['nit']} L-BFGS iteration(s); the model "
                       f"keeps the best iterate found (loss {best['loss']:.6g}).", UserWarning)
        return scipy.optimize.OptimizeResult(
            x=best["x"], fun=best["loss"], nit=best["nit"], nfev=best["nfev"],
            success=False, status=99, message="interrupted by user", interrupted=True,
            loss_curve=curve, iteration_times=times)
    # The loss at the returned x (helper-150): scipy's ``fun`` is the last
    # evaluation's, which after a failed line search ("ABNORMAL", status 2)
    # is a rejected trial step's (x is put back to the last iterate, f is
    # not). The last iterate's loss is overflow["last"].
    if overflow["last"] is not None:
        result.fun = overflow["last"]
        if not np.isfinite(result.fun) and np.isfinite(finite["loss"]):
            # An iterate that overflowed is no model: back to the last
            # finite one, and the history up to it.
            result.x, result.fun, result.nit = finite["x"], finite["loss"], finite["nit"]
            del curve[finite["nit"]:], times[finite["nit"]:]
    params[:] = result.x
    result.loss_curve, result.iteration_times = curve, times
    result.stopped_by_callback = best.get("stopped", False)
    result.start_loss = overflow["start"]
    result.non_finite_evaluations = overflow["total"]
    result.stalled_by_overflow = overflow["since_progress"] > 0
    result.progressed = overflow["progressed"]
    return result
