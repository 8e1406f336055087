"""The epoch loop of the stochastic solvers.

Python draws each epoch's sample order, calls one compiled function for the
whole epoch, then applies the stopping rules and records diagnostics.
Nothing here runs per mini-batch.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..kernels.records import Solver, Targets
from .diagnostics import GradientMonitor
from .spec import clipping_bounds  # noqa: F401 (re-exported)
from .threads import blas_threads
from .workspace import Workspace


def fit_stochastic(backend, spec, params, running, inp, Y, sw, optimizer, progress, *,
                   alpha, l1, clip, batch_size, shuffle, max_iter, tol, n_iter_no_change,
                   random_state, incremental, train_rows=None, validator=None,
                   verbose=False):
    """Train ``params`` (and ``running``) in place with a stochastic solver.

    Parameters
    ----------
    backend : CPUBackend or CUDABackend
        Where the kernels run (``training.backend.get_backend``). On the
        GPU, the data, parameters, optimizer state and work buffers are
        copied to the device once per call, and back at the end.
    spec : NetworkSpec
    params : ndarray of shape (n_params,)
        Flat parameters, updated in place.
    running : ndarray of shape (n_running,)
        Batch-norm running statistics, updated in place.
    inp : KernelInput
        The whole input ``X``, shape (n_samples, n_features).
    Y : ndarray of shape (n_samples, n_outputs)
        Targets in ``params.dtype``.
    sw : ndarray of shape (n_samples,) or None
    optimizer : StochasticOptimizer
    progress : Progress
        Updated in place.
    alpha, l1 : float
        Penalties (``alpha`` is the decoupled decay for adamw).
    clip : float or None
        Maximum global gradient norm per step.
    batch_size, max_iter : int
    tol : float
    n_iter_no_change : int or float
    shuffle : bool
    random_state : numpy.random.RandomState
        Draws the epoch orders, as scikit-learn's ``shuffle`` does.
    incremental : bool
        Run a single epoch (``partial_fit``).
    train_rows : ndarray of int64, optional
        The rows of ``X`` to train on (the rest is the validation set).
    validator : object, optional
        ``validator.evaluate(params, running) -> (score, loss)``; enables
        early stopping.
    verbose : bool
    """
    layout = spec.layout
    dtype = params.dtype
    early_stopping = validator is not None
    n_train = inp.n_samples if train_rows is None else len(train_rows)
    ws = Workspace(layout, batch_size, dtype, dense_input=not inp.is_sparse,
                   drops=spec.drops, track_dead=spec.tracks_dead_units)
    ws.rng[0] = optimizer.rng_state
    has_sw = sw is not None
    sw_arg = sw if has_sw else np.empty(0, dtype=dtype)
    put = backend.put
    inputs = put(inp.inputs())
    targets = put(Targets(Y, sw_arg, has_sw))
    tables = put(ws.tables(layout.norm))
    work = put(ws.work(running))
    solver = put(Solver(params, optimizer.state_1, optimizer.state_2))
    sample_idx = np.arange(n_train, dtype=np.int64)
    if progress.monitor is None:
        progress.monitor = GradientMonitor(layout.n_layers - 1, dtype)
    monitor = progress.monitor
    layer_sq = np.zeros(layout.n_layers - 1, dtype=dtype)
    hist = progress.history
    if early_stopping and progress.best_params is None:
        # scikit-learn restores the initial weights if no epoch improves.
        progress.best_params = params.copy()
        progress.best_running = running.copy()

    # One BLAS-thread grant for the whole loop (validation included).
    threads = blas_threads(batch_size * layout.max_layer_size)
    threads.__enter__()
    try:
        progress.n_iter = 0
        for _ in range(max_iter):
            start_time = time.perf_counter()
            optimizer.epoch_starts()
            if shuffle:
                order = np.arange(n_train)
                random_state.shuffle(order)
                sample_idx = sample_idx[order]
            rows = sample_idx if train_rows is None else train_rows[sample_idx]
            layer_sq[:] = 0
            ws.alive[:] = 0
            backend.load(work.alive, ws.alive)
            t_before = optimizer.t
            loss_sum, optimizer.t = backend.kernels.train_epoch(
                inputs, targets, tables, work, solver,
                spec.hyper(dtype, optimizer, alpha=alpha, l1=l1, clip=clip), rows,
                batch_size, optimizer.t, layer_sq, progress.monitor.first_sq)
            # What the rest of the epoch reads on the host (on the CPU these
            # are the kernels' own arrays, and nothing is copied).
            backend.fetch(solver.params, params)
            backend.fetch(work.alive, ws.alive)
            backend.fetch(work.rng, ws.rng)
            backend.fetch(work.running, running)
            optimizer.rng_state = ws.rng[0]
            progress.n_iter += 1
            progress.loss = loss_sum / n_train
            progress.t += n_train
            progress.loss_curve.append(progress.loss)
            if verbose:
                print("Iteration %d, loss = %.8f" % (progress.n_iter, progress.loss))

            grad_norms = np.sqrt(layer_sq.astype(float) / max(optimizer.t - t_before, 1))
            hist["loss"].append(progress.loss)
            hist["learning_rate"].append(optimizer.learning_rate)
            hist["grad_norm"].append(grad_norms)
            hist["dead_fraction"].append(ws.dead_fraction())
            coefs = layout.unpack(params)[0]
            monitor.check(grad_norms, [np.linalg.norm(c) for c in coefs], progress.n_iter)

            val_score = None
            if early_stopping:
                val_score, val_loss = validator.evaluate(params, running)
                hist["val_score"].append(val_score)
                hist["val_loss"].append(val_loss)
            progress.update_no_improvement(early_stopping, tol, val_score, params, running,
                                           verbose)
            optimizer.iteration_ends(progress.t)
            hist["epoch_time"].append(time.perf_counter() - start_time)

            if progress.no_improvement_count > n_iter_no_change:
                if early_stopping:
                    msg = ("Validation score did not improve more than "
                           "tol=%f for %d consecutive epochs." % (tol, n_iter_no_change))
                else:
                    msg = ("Training loss did not improve more than tol=%f"
                           " for %d consecutive epochs." % (tol, n_iter_no_change))
                if optimizer.trigger_stopping(msg, verbose):
                    break
                progress.no_improvement_count = 0

            if incremental:
                break
            if progress.n_iter == max_iter:
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                    "optimization hasn't converged yet." % max_iter, ConvergenceWarning)
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
    finally:
        threads.__exit__(None, None, None)
        # The optimizer state and running statistics continue in the next
        # partial_fit or warm start.
        backend.fetch(solver.params, params)
        backend.fetch(solver.state_1, optimizer.state_1)
        backend.fetch(solver.state_2, optimizer.state_2)
        backend.fetch(work.running, running)

    if early_stopping and progress.best_params is not None:
        params[:] = progress.best_params
        running[:] = progress.best_running
