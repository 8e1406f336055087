"""scikit-learn's callback API (``sklearn.callback``, new and experimental in
1.9) on fastbp's estimators.

One callback task per epoch for the stochastic solvers, and one per
iteration for L-BFGS, driven from scipy's callback as ``LogisticRegression``
does. ``set_callbacks(ProgressBar())`` shows a progress bar (``rich``:
``pip install "fastbp[progress]"``), ``ScoringMonitor`` logs per-epoch
scores, and a callback whose ``on_fit_task_end`` returns True stops the
training after that epoch. With scikit-learn 1.7 or 1.8, which lack the
module, estimators have no ``set_callbacks`` and everything else works.

No context is created when no callback is set, so a fit without callbacks
pays nothing but one attribute lookup.
"""

import contextlib
import threading
import weakref

# What the estimators use of this module; sklearn.callback's other names
# and the modules above are not this module's to export.
__all__ = ["HAVE_CALLBACKS", "CallbackSupportMixin", "FitTasks", "active", "own_callbacks",
           "saved_from_own_hook"]

try:
    from sklearn.callback import AutoPropagatedCallback, CallbackSupportMixin
    HAVE_CALLBACKS = True
except ImportError:  # scikit-learn < 1.9
    HAVE_CALLBACKS = False

    class CallbackSupportMixin:
        """Stand-in where scikit-learn has no callback API."""


def active(estimator):
    """Whether ``estimator``'s fit must drive callbacks (set on it, or
    propagated from a meta-estimator such as ``GridSearchCV``).

    Parameters
    ----------
    estimator : BaseMLP
        The estimator about to be fitted.

    Returns
    -------
    bool
        False where scikit-learn has no callback API.
    """
    # (An empty list: a fitted_estimator whose callbacks were all
    # propagated, see own_callbacks.)
    return HAVE_CALLBACKS and (bool(getattr(estimator, "_skl_callbacks", None))
                               or hasattr(estimator, "_parent_callback_ctx"))


def own_callbacks(estimator):
    """The callbacks set on ``estimator`` itself: without those a
    meta-estimator propagated to it for the fit under way, which
    scikit-learn takes back from the estimator when that fit ends (a copy
    made during the fit would keep them, and a search given the copy
    refuses auto-propagated callbacks on its sub-estimator).

    Parameters
    ----------
    estimator : BaseMLP
        The estimator whose fit is under way (or any estimator).

    Returns
    -------
    list
        The callbacks, in the order they were set; a new list.
    """
    callbacks = list(getattr(estimator, "_skl_callbacks", []))
    if not hasattr(estimator, "_parent_callback_ctx"):
        return callbacks
    # scikit-learn's own rule (it sets up none of these for the
    # sub-estimator's fit): under a meta-estimator, an estimator holds no
    # auto-propagated callback of its own, as propagation refuses one.
    return [callback for callback in callbacks
            if not isinstance(callback, AutoPropagatedCallback)]


class _RunningHooks(threading.local):
    """Per thread, the callbacks of each fit whose hooks are being called
    (a stack: a search's fit runs its sub-estimators' within its own), and
    the fits started here whose callbacks are not torn down yet."""

    def __init__(self):
        self.stack = []
        # (estimator, its fit's root context, callback ids), the first two
        # as weak references: scikit-learn calls ``teardown`` outside
        # fastbp's code (in ``_fit_context``), and removes the context from
        # the estimator only after it; an entry lasts while it is there.
        self.fits = []


_running = _RunningHooks()


@contextlib.contextmanager
def _hooks_of(estimator):
    # Identities: the callbacks are alive (the live estimator holds them)
    # for as long as the entry is.
    _running.stack.append({id(c) for c in getattr(estimator, "_skl_callbacks", ())})
    try:
        yield
    finally:
        _running.stack.pop()


def _not_torn_down(fit):
    estimator, root = fit[0](), fit[1]()
    # (A context collected since: its fit is over.)
    return (estimator is not None and root is not None
            and estimator.__dict__.get("_callback_fit_ctx") is root)


def saved_from_own_hook(estimator):
    """Whether every callback set on ``estimator`` belongs to a fit whose
    hook is running in this thread: a checkpoint a callback saves of its
    ``fitted_estimator`` (which holds the same callbacks), or of the live
    model from the root hook (mid-fit, ``fastbp.save`` refuses it) or from
    ``setup`` or ``teardown``, which ``fastbp.save`` need not warn about at
    every epoch.

    Parameters
    ----------
    estimator : BaseMLP
        The estimator being saved.

    Returns
    -------
    bool
        False too where no callback is set on ``estimator``.
    """
    ids = {id(c) for c in estimator.__dict__.get("_skl_callbacks") or ()}
    if not ids:
        return False
    if any(ids <= running for running in _running.stack):
        return True
    # ``teardown``: scikit-learn calls it after fastbp's code has returned.
    # While a fit of this thread has its context set, this thread runs
    # nothing but that fit and its callbacks' hooks.
    return any(ids <= fit[2] for fit in _running.fits if _not_torn_down(fit))


class FitTasks:
    """The callback tasks of one fit: the root task, and one subtask per
    epoch (or L-BFGS iteration).

    Parameters
    ----------
    estimator : BaseMLP
        The estimator being fitted.
    X, y : array-like
        The training data, passed to the hooks.
    metadata : dict or None
        ``{"sample_weight": ...}`` when weighted.
    max_subtasks : int
        Epochs (or iterations) at most.
    snapshot : callable
        ``snapshot(params, running, n_ended, final) -> dict`` of the fitted
        attributes that make a copy of the estimator ready to predict (built
        only when a callback asks for ``fitted_estimator``); ``n_ended`` is
        the number of subtasks ended so far (L-BFGS's ``n_iter_``), and
        ``final`` says the fit has ended and set its fitted attributes (the
        root task's end).
    task_name : str
        The subtasks' name: ``"epoch"``, or ``"lbfgs-iter"`` for L-BFGS.
    """

    def __init__(self, estimator, X, y, metadata, max_subtasks, snapshot, task_name):
        self.estimator, self.X, self.y, self.metadata = estimator, X, y, metadata
        self.snapshot = snapshot
        self.task_name = task_name
        # (scikit-learn calls the callbacks' ``setup`` in there.)
        with _hooks_of(estimator):
            self.root = estimator._init_callback_context(max_subtasks=max_subtasks)
        _running.fits = [fit for fit in _running.fits if _not_torn_down(fit)]
        _running.fits.append((weakref.ref(estimator), weakref.ref(self.root),
                              {id(c) for c in getattr(estimator, "_skl_callbacks", ())}))
        with _hooks_of(estimator):
            self.root.call_on_fit_task_begin(estimator=estimator, X=X, y=y, metadata=metadata)
        self.current = None
        self.n_ended = 0
        # A meta-estimator (GridSearchCV) propagates its context whether or
        # not it holds callbacks; without any, a subtask per epoch would
        # cost 30 us for nothing. (Assumed present if the context's list
        # cannot be read.)
        self.per_epoch = bool(getattr(self.root, "_callbacks", True))

    def _attributes(self, params, running, final=False):
        # Lazy: evaluated by scikit-learn only for hooks that take
        # ``fitted_estimator``; copies, as training goes on in place.
        n_ended = self.n_ended
        return lambda: self.snapshot(params.copy(), running.copy(), n_ended, final)

    def begin(self, params, running):
        """Start the next subtask.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            The flat parameter vector under training (copied for a hook
            that asks for ``fitted_estimator``, as training goes on in
            place).
        running : ndarray of shape (n_running,)
            The flat batch-norm running statistics, copied likewise (empty
            without batch normalization).
        """
        if not self.per_epoch:
            return
        self.current = self.root.subcontext(task_name=self.task_name)
        with _hooks_of(self.estimator):
            self.current.call_on_fit_task_begin(
                estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata,
                reconstruction_attributes=self._attributes(params, running))

    def end(self, params, running):
        """End the current subtask.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            The flat parameter vector under training (copied for a hook
            that asks for ``fitted_estimator``, as training goes on in
            place).
        running : ndarray of shape (n_running,)
            The flat batch-norm running statistics, copied likewise (empty
            without batch normalization).

        Returns
        -------
        bool
            True when a callback asks to stop the training.
        """
        if not self.per_epoch:
            return False
        current, self.current = self.current, None
        self.n_ended += 1
        with _hooks_of(self.estimator):
            return bool(current.call_on_fit_task_end(
                estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata,
                reconstruction_attributes=self._attributes(params, running)))

    def close_subtask(self):
        """End a subtask left open by an interrupted epoch or L-BFGS
        iteration (Ctrl-C, an exception, a failed line search) as empty,
        with no ``fitted_estimator``; whether or not the fit goes on to
        succeed."""
        if self.current is not None:
            with _hooks_of(self.estimator):
                self.current.call_on_fit_task_end(estimator=self.estimator)
            self.current = None

    def end_root(self, params, running):
        """End the root task, once the fit has succeeded and every fitted
        attribute is set: as scikit-learn's estimators, whose root hook
        gets the fitted model (a checkpoint saved there is the one ``fit``
        returns). A failed call never gets here: it is rolled back, and its
        ``fitted_estimator`` would be a model that never was.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            The fitted model's flat parameter vector (copied for a hook
            that asks for ``fitted_estimator``).
        running : ndarray of shape (n_running,)
            Its flat batch-norm running statistics, copied likewise (empty
            without batch normalization).
        """
        self.close_subtask()
        with _hooks_of(self.estimator):
            self.root.call_on_fit_task_end(
                estimator=self.estimator, X=self.X, y=self.y, metadata=self.metadata,
                reconstruction_attributes=self._attributes(params, running, final=True))
