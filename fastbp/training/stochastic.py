"""The epoch loop of the stochastic solvers.

Python draws each epoch's sample order, calls one compiled function for the
whole epoch, then applies scikit-learn's stopping rules. Nothing here runs
per mini-batch.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .threads import blas_threads
from .workspace import Workspace


def clipping_bounds(dtype):
    """``log(eps)`` and ``log(1 - eps)`` for ``dtype``: scikit-learn clips
    probabilities to ``[eps, 1 - eps]`` in its log losses."""
    eps = np.finfo(dtype).eps
    return dtype.type(np.log(eps)), dtype.type(np.log1p(-eps))


def fit_stochastic(kernels, layout, params, inp, Y, sw, optimizer, progress, *,
                   hidden, out_code, alpha, batch_size, shuffle, max_iter, tol,
                   n_iter_no_change, random_state, incremental, train_rows=None,
                   validation_score=None, verbose=False):
    """Train ``params`` in place with mini-batch SGD or Adam.

    Parameters
    ----------
    kernels : module
        Backend kernels (``training.backend.network_kernels``).
    layout : NetworkLayout
    params : ndarray of shape (n_params,)
        Flat parameters, updated in place.
    inp : KernelInput
        The whole input ``X``, shape (n_samples, n_features).
    Y : ndarray of shape (n_samples, n_outputs)
        Targets in ``params.dtype``.
    sw : ndarray of shape (n_samples,) or None
    optimizer : StochasticOptimizer
    progress : Progress
        Updated in place.
    hidden, out_code : int
        Activation codes.
    alpha, tol : float
    batch_size, max_iter : int
    n_iter_no_change : int or float
    shuffle : bool
    random_state : numpy.random.RandomState
        Draws the epoch orders, as scikit-learn's ``shuffle`` does.
    incremental : bool
        Run a single epoch (``partial_fit``).
    train_rows : ndarray of int64, optional
        The rows of ``X`` to train on (the rest is the validation set).
    validation_score : callable, optional
        ``validation_score(params) -> float``; enables early stopping.
    verbose : bool
    """
    dtype = params.dtype
    dt = dtype.type
    early_stopping = validation_score is not None
    n_train = inp.n_samples if train_rows is None else len(train_rows)
    ws = Workspace(layout, batch_size, dtype, dense_input=not inp.is_sparse)
    has_sw = sw is not None
    sw_arg = sw if has_sw else np.empty(0, dtype=dtype)
    log_eps, log1m_eps = clipping_bounds(dtype)
    sample_idx = np.arange(n_train, dtype=np.int64)
    if early_stopping and progress.best_params is None:
        # scikit-learn restores the initial weights if no epoch improves.
        progress.best_params = params.copy()

    try:
        progress.n_iter = 0
        for _ in range(max_iter):
            if shuffle:
                order = np.arange(n_train)
                random_state.shuffle(order)
                sample_idx = sample_idx[order]
            rows = sample_idx if train_rows is None else train_rows[sample_idx]
            with blas_threads():
                loss_sum, optimizer.t = kernels.train_epoch(
                    *inp.args(), Y, sw_arg, has_sw, rows, batch_size,
                    params, ws.grads, optimizer.state_1, optimizer.state_2,
                    layout.n_weights, layout.units, layout.w_off, layout.b_off,
                    ws.acts, ws.a_off, ws.deltas, ws.d_off, ws.y_buf, ws.sw_buf,
                    hidden, out_code, log_eps, log1m_eps, optimizer.code,
                    dt(optimizer.learning_rate), dt(optimizer.momentum),
                    optimizer.nesterov, dt(optimizer.beta_1), dt(optimizer.beta_2),
                    dt(optimizer.epsilon), dt(alpha), optimizer.t)
            progress.n_iter += 1
            progress.loss = loss_sum / n_train
            progress.t += n_train
            progress.loss_curve.append(progress.loss)
            if verbose:
                print("Iteration %d, loss = %.8f" % (progress.n_iter, progress.loss))

            val_score = validation_score(params) if early_stopping else None
            progress.update_no_improvement(early_stopping, tol, val_score, params, verbose)
            optimizer.iteration_ends(progress.t)

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

    if early_stopping and progress.best_params is not None:
        params[:] = progress.best_params
