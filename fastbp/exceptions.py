"""Warnings and errors specific to fastbp, and where its warnings point."""

import contextlib
import os
import sys
import threading
import warnings
from contextlib import contextmanager

# The user-facing classes (exported by ``fastbp`` too); the warning
# helpers are fastbp's own and stay out of a star import.
__all__ = ["DivergenceError", "GradientWarning", "OversubscriptionWarning"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
# scikit-learn's fit wrapper (``_fit_context``) stands between a user's
# ``fit`` call and fastbp's, and its callback machinery between a fit and
# a callback's hooks.
_SKLEARN_BASE = os.path.join("sklearn", "base.py")
_SKLEARN_CALLBACK = os.path.join("sklearn", "callback", "")
# A warning raised while fastbp enters one of its context managers (a fit's
# slot) has contextlib's frames between it and the caller.
_CONTEXTLIB = os.path.abspath(contextlib.__file__)
# A worker thread's own frames: a warning of a fit in a thread pool names
# the pool's line rather than threading's.
_THREADING = os.path.abspath(threading.__file__)


def _numba_dir():
    """Numba's package directory where Numba is imported, else None: its
    dispatcher stands between a kernel's call and fastbp's compile under
    the cache's lock, whose waits are warned of. Looked up rather than
    imported: the estimators, which warn through this module, are free of
    Numba."""
    numba = sys.modules.get("numba")
    path = getattr(numba, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) + os.sep if path else None


# Per thread: the list recording fastbp's warnings where they are kept
# quiet (:func:`quiet_in_this_thread`), or None.
_quiet = threading.local()


@contextmanager
def quiet_in_this_thread():
    """Record the training warnings fastbp raises in this thread within the
    block, rather than show them; those of other threads show as ever.

    ``warnings.catch_warnings`` changes the filters of the whole process, so
    that a warm-up in one thread swallowed the warnings of fits in the
    others (their Ctrl-C's "interrupted" among them).

    Yields
    ------
    list of (str, type)
        The messages and categories recorded.
    """
    outer = getattr(_quiet, "record", None)
    _quiet.record = record = []
    try:
        yield record
    finally:
        _quiet.record = outer


class _Held:
    """The warnings of one fit call's training, held until the call has kept
    or undone its model (:func:`held_until_committed`)."""

    __slots__ = ("frame", "training", "warnings")

    def __init__(self, frame):
        self.frame = frame
        self.training = False
        self.warnings = []


class held_until_committed:  # noqa: N801 - a context manager, named as contextlib's
    """Hold the warnings that the training of the calling fit call gives
    (from :func:`training_begins` on), for :func:`issue_held` to give once
    the call has kept its model or undone the call.

    With warnings made errors (``-W error``, ``simplefilter("error")``), a
    ``ConvergenceWarning`` or Ctrl-C's warning raised mid-fit would fail
    the call and throw the trained model away; held, the model is kept and
    the warning still raised, as scikit-learn's MLP does. Per thread; a fit
    inside this one (in a callback's hook) holds its own, and what a
    callback's code warns stays where it is.

    A class rather than a generator: every ``partial_fit`` call enters it,
    and contextlib's machinery cost it twice as much.
    """

    __slots__ = ("_outer", "_held")

    def __enter__(self):
        """Start holding.

        Returns
        -------
        _Held
        """
        self._outer = getattr(_quiet, "held", None)
        # The frame of the fit call (the caller of ``__enter__``): a warning
        # whose caller is found through it is its own.
        _quiet.held = self._held = _Held(sys._getframe(1))
        return self._held

    def __exit__(self, *exc_info):
        _quiet.held = self._outer
        # The frame holds the record in its locals: no cycle keeps the
        # fit's data alive until the garbage collector runs.
        self._held.frame = None
        return False


def training_begins():
    """Hold fastbp's warnings in this thread from here to the end of the fit
    call (see :func:`held_until_committed`); those before (about the
    settings, the environment or the data) are given at once, so that an
    error filter stops the call before it trains."""
    held = getattr(_quiet, "held", None)
    if held is not None:
        held.training = True


def held_warnings():
    """The list holding the warnings of the calling thread's fit call's
    training (see :func:`held_until_committed`), or None where none are
    held: for an epoch that is undone to drop the ones it gave, which
    describe an epoch the model does not have.

    Returns
    -------
    list of (str, type, object) or None
    """
    held = getattr(_quiet, "held", None)
    return held.warnings if held is not None and held.training else None


# How a note of :func:`issue_held` on the error of an undone call begins,
# before "Category: message" (the command line shows them as warnings).
UNDONE_TRAINING_NOTE = "fastbp warned during the training this call undid: "


def issue_held(held, failure=None):
    """Give the warnings ``held``, attributed to the line that called the
    fit, as :func:`warn_at_caller` does.

    Parameters
    ----------
    held : _Held
    failure : BaseException, optional
        The exception the call is failing with; every failed call is undone
        (its model rolled back). The warnings are then added to
        ``failure``'s notes rather than given, as what they say of the
        training (Ctrl-C's "the model keeps the state at the end of the
        last epoch") no longer holds, while they may explain the failure (a
        gradient that exploded before a divergence). Before Python 3.11,
        which has no notes, they are given as warnings, since one that
        explains the failure must not be lost (rev-218), and one that a
        filter makes an error does not replace the failure, which is what
        the call raises.
    """
    if failure is not None and hasattr(failure, "add_note"):
        for message, category, _ in held.warnings:
            failure.add_note(f"{UNDONE_TRAINING_NOTE}{category.__name__}: {message}")
        return
    for message, category, estimator in held.warnings:
        try:
            _warn(message, category, estimator, sys._getframe(1), 3)
        except Warning:
            if failure is None:
                raise


def warn_at_caller(message, category, estimator=None, *, at_once=False):
    """``warnings.warn``, attributed to the first frame outside fastbp (and
    scikit-learn's fit wrapper and callback machinery, Numba's dispatcher,
    contextlib, threading, and Python's import machinery): the line that
    called ``fit``, the user's own or a meta-estimator's (a Pipeline's),
    or for a warning said while fastbp is imported, the line that imported
    it; filters by ``module`` and ``-W`` then match.

    Within a fit call's training, the warning is held until the call has
    kept its model (see :func:`held_until_committed`).

    Parameters
    ----------
    message : str
    category : type of Warning
    estimator : object, optional
        The estimator whose ``fit`` the warning is about, where that may be
        a meta-estimator (a callback's ``setup`` gets the Pipeline it was set
        on): the frames of its own methods are stepped over too, so the
        warning names the line that called its ``fit``.
    at_once : bool, default=False
        Give the warning now, neither held by a fit's training nor recorded
        by :func:`quiet_in_this_thread`: for warnings about the environment
        (the compile cache, ``FASTBP_BLAS``), given once per process, which
        a warm-up that keeps its fits quiet must not swallow.
    """
    if at_once:
        _warn(message, category, estimator, sys._getframe(1), 3)
        return
    record = getattr(_quiet, "record", None)
    if record is not None:
        record.append((str(message), category))
        return
    held = getattr(_quiet, "held", None)
    _warn(message, category, estimator, sys._getframe(1), 3,
          held if held is not None and held.training else None)


def _warn(message, category, estimator, frame, level, held=None):
    """Warn from the first frame at or above ``frame`` (the frame that
    ``stacklevel=level`` names) outside fastbp, or hold the warning in
    ``held`` where the way there passes the frame of ``held``'s fit call."""
    numba_dir = _numba_dir()
    while frame is not None:
        if held is not None and frame is held.frame:
            held.warnings.append((message, category, estimator))
            return
        name = frame.f_code.co_filename
        # Between a module of fastbp's imported by another (fastbp/_cache
        # by fastbp/_config) lie importlib's frames; warnings.warn skips
        # them when it counts stacklevel, so they add no level.
        internal = "importlib" in name and "_bootstrap" in name
        if not (internal or name.startswith(_PACKAGE) or name.endswith(_SKLEARN_BASE)
                or _SKLEARN_CALLBACK in name or name in (_CONTEXTLIB, _THREADING)
                or (numba_dir is not None and name.startswith(numba_dir))
                or (estimator is not None and frame.f_locals.get("self") is estimator)):
            break
        frame, level = frame.f_back, level + (not internal)
    warnings.warn(message, category, stacklevel=level)


class GradientWarning(UserWarning):
    """A layer's gradient vanished or exploded during training.

    Issued at most once per fit; the message names the layer and the
    remedies fastbp offers.
    """


class DivergenceError(ValueError):
    """Training diverged: an epoch's loss or parameters became NaN or infinite
    (or, with ``solver='lbfgs'``, a fresh fit could not leave its starting
    weights: an overflowing loss, or no step found before the first
    iteration).

    Raised at the end of the first such epoch. As every failed call, the
    call is undone: the estimator is left exactly as it was before it
    (unfitted, or the model it was). The state of the call's last finite
    epoch, which is often far from a good model (weights near overflow),
    is not lost: ``last_finite_model`` holds it, a fitted copy of the
    estimator with its weights (with ``early_stopping=True``, those of the
    best validation score, as any such fit ends), optimizer state,
    ``n_iter_``, ``loss_curve_`` and ``history_``, which can be inspected, saved, or
    trained on with ``warm_start=True`` or ``partial_fit`` once the cause
    is fixed. A ``ValueError``, as scikit-learn raises for non-finite
    weights.

    Parameters
    ----------
    message : str
        The error's message: the epoch, and the remedies fastbp offers.
    epoch : int
        The epoch of the call that diverged (1-based), kept as ``epoch``.
    last_finite_model : MLPClassifier, MLPRegressor or None, default=None
        The model of the call's last finite epoch, kept as
        ``last_finite_model``.

    Attributes
    ----------
    epoch : int
        The epoch of the call that diverged (1-based).
    last_finite_model : MLPClassifier, MLPRegressor or None
        The model of the call's last finite epoch, an estimator of its own
        (its arrays, records and ``random_state`` apart from the
        estimator's); None where the call's first epoch diverged (or for
        solver='lbfgs', whose divergence leaves nothing trained).
    """

    # Set by the fit that diverged, once: a fit around it (a hook's nested
    # fit) leaves the attribute to the model that diverged.
    _handed_over = False

    def __init__(self, message, epoch, last_finite_model=None):
        super().__init__(message)
        self.epoch = epoch
        self.last_finite_model = last_finite_model

    def __reduce__(self):
        # BaseException's rebuilds from ``args`` alone, without ``epoch``:
        # a fit in a process pool's worker (joblib) could not send its
        # divergence back.
        return type(self), (*self.args[:1], self.epoch), self.__dict__


class OversubscriptionWarning(UserWarning):
    """Fits running at once in threads ask BLAS for more threads than the
    machine has cores, which makes a parallel search slow.

    Issued once per process; the message says how to size the BLAS pool
    for the search (``threadpoolctl.threadpool_limits``).
    """
