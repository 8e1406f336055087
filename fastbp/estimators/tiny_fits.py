"""Tiny fits that compile the kernels of a configuration: a copy of an
estimator, shrunk to a 64-row problem, fitted, predicted and scored.

:func:`fastbp.warmup` runs them for every configuration of a search, and a
fit waiting for another process's compile runs one to compile its split
twins (:func:`warm_twins`, passed down to the trainer). They live with the
estimators, whose behaviour they mirror, so that neither the estimators
nor the trainer import what builds on them.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone, is_regressor

from ..exceptions import quiet_in_this_thread
from ..training.progress import INTERRUPTED
from ..training.split import forced_split
from .checks import check_hidden_layer_sizes


def tiny_targets(est, X):
    """The targets a tiny fit of ``est`` may train on ``X`` (of shape
    (64, 3)): one for a regressor, two for a classifier (3 classes, then 2),
    whose output functions have kernels of their own.

    Returns
    -------
    list of ndarray of shape (n_samples,)
    """
    if is_regressor(est):
        return [np.abs(X[:, 0]) + 0.5]  # positive: the poisson loss takes it too
    # Three classes train a softmax output, two a logistic one: the default
    # path compiles kernels of their own for each.
    return [np.arange(len(X)) % 3, np.arange(len(X)) % 2]


def tiny_widths(sizes):
    """Hidden widths of 4 and 5 that stand for ``sizes`` in a tiny fit:
    as many layers, and equal consecutive widths where, and only where,
    ``sizes`` has them (what ``residual`` connects). No kernel depends on
    the widths themselves; a large network's copy would cost the warm-up
    its memory and seconds (helper-152: 1.3 GB and 9.6 s for
    ``(4096, 4096)``, 0.15 s for ``(16, 16)``). Sizes that are not valid
    are kept, for the fit to refuse as the user's would."""
    try:
        sizes = check_hidden_layer_sizes(sizes)
    except (TypeError, ValueError):
        return sizes
    widths = []
    for i, size in enumerate(sizes):
        if i and size == sizes[i - 1]:
            widths.append(widths[-1])
        else:
            widths.append(5 if widths and widths[-1] == 4 else 4)
    return tuple(widths)


def tiny_representative(est):
    """An unfitted copy of ``est`` set for the tiny problem of
    :func:`tiny_fit`, with the same kernels to run: nothing of the user's
    that the tiny fits do not need goes with it (to a worker process, which
    must pickle it) or is called by them (helper-152: a scorer holding a
    lock failed ``n_jobs=2``, and a ``learning_rate`` callable was called
    at every tiny epoch)."""
    params = est.get_params(deep=False)
    # batch_size: every size runs the same kernels, and a split needs 16 rows.
    params.update(max_iter=2, verbose=False, warm_start=False, random_state=0,
                  batch_size="auto", **_problem_overrides(est))
    if "hidden_layer_sizes" in params:
        params["hidden_layer_sizes"] = tiny_widths(params["hidden_layer_sizes"])
    if callable(params.get("learning_rate")):
        # A schedule is the rate of each epoch, computed here in Python:
        # the kernels are those of a constant rate.
        params["learning_rate"] = "constant"
    if params.get("solver") == "lbfgs":
        params["max_fun"] = 4
    # Built from the parameters rather than cloned: a clone passes the
    # callbacks on (the user's progress bar, monitor or TensorBoard writer
    # would report these fits as theirs), and copies what is replaced.
    tiny = clone(type(est)(**params))
    if hasattr(tiny, "set_callbacks"):
        tiny.set_callbacks()
    return tiny


def _problem_overrides(est):
    """The settings of ``est`` that hold only for the user's own data: its
    labels (``class_weight``), its task's metric (``scoring``) and its row
    count (``validation_fraction``), replaced by ones the tiny problem
    meets. None of them changes which kernels run: class weights reach the
    kernels as sample weights, which ``"balanced"`` gives too, and a
    scorer calls the prediction kernels that :func:`tiny_fit` runs."""
    params = est.get_params(deep=False)
    overrides = {}
    if params.get("class_weight") is not None:
        overrides["class_weight"] = "balanced"
    if params.get("scoring") is not None:
        overrides["scoring"] = None
    if params.get("early_stopping"):
        overrides["validation_fraction"] = 0.25  # 16 of the 64 rows
    return overrides


def tiny_fit(est, dtype, kind, target):
    """Fit, predict and score a copy of ``est`` on a tiny problem of
    ``dtype``: dense, CSR, or dense with each step split between two
    threads (``kind``), with the ``target``-th target of :func:`tiny_targets`."""
    est = tiny_representative(est)
    rng = np.random.RandomState(0)
    X = rng.standard_normal((64, 3)).astype(dtype)
    y = tiny_targets(est, X)[target]
    if kind == "sparse":
        X = sp.csr_matrix(X)
    # Two iterations never converge, which is the point: the fits' own
    # warnings are kept quiet, in this thread alone (a process-wide
    # catch_warnings swallowed other threads' warnings); the cache's
    # (a damaged entry rebuilt, a lock given up) are the caller's to see.
    with quiet_in_this_thread() as seen:
        if kind == "split":
            # Large default-path fits split each step between two threads
            # (fastbp.training.split), with kernels of their own: compiled
            # here whatever this machine's BLAS pool, since the fits that
            # need them may run elsewhere (a cluster's workers, an image's
            # users).
            with forced_split(2):
                est.fit(X, y)
        else:
            est.fit(X, y)
        # A fit turns Ctrl-C into a warning and keeps its model; a warm-up
        # has no model to keep, and stops.
        if any(message.startswith(INTERRUPTED) for message, _ in seen):
            raise KeyboardInterrupt
        # The split fit's predictions run the same kernels as any other's.
        est.predict(X)
        est.score(X, y)
        if hasattr(est, "predict_proba"):
            est.predict_proba(X)


def warm_twins(est, dtype, target):
    """Compile what a fit of ``est`` in ``dtype`` will want after its own
    kernels: the kernels of the same fit split between two threads, and
    predictions (a tiny fit of a copy of ``est``, split, then predicted
    and scored).

    A cold fit that finds another process compiling its own kernels runs
    this while it waits (:class:`fastbp._cache.compile_locks.while_waiting`): in a
    parallel search from an empty cache, one worker compiles the training
    kernels, another these, and the parent's refit, whose steps are split
    between the cores that the workers shared, loads them.

    Parameters
    ----------
    est : MLPClassifier or MLPRegressor
        Not changed (a fit in progress, say).
    dtype : numpy dtype
    target : int
        Index of the target of :func:`tiny_targets` whose output function the
        fit trains (0: softmax, or the regressor's; 1: logistic).
    """
    # (tiny_fit fits a copy of its own, built from the parameters.)
    tiny_fit(est, np.dtype(dtype).name, "split", target)
